"""From the valid records of every source to one record per person.

- Records of one employee_id from several sources merge attribute by attribute: the
  source with the best precedence (1 wins) that has a value gives it. The lifecycle
  fields (status, termination_date, contract_end_date) come together from the best
  source holding the person, so a lesser source can never end someone's access that
  the authoritative one keeps (nor date it differently).
- The same person under different employee_ids (in one source or across several) is
  recognised by one rule: the same email, compared lowercased. Each of those records is
  held (nothing about them changes, in any target) with a `duplicate` issue naming the
  employee_ids and the sources they came from, until a person resolves it in the HR
  systems. (First + last name and manager is not used: two people may share a name and
  a manager, and a false match would block both with no way to say "not the same".)
  Only HR's emails count: a record without one (email "", `naming.email` makes it)
  is nobody's duplicate; an HR email equal to an address generated and kept for
  another person (`reserved`, the ledger's) is a duplicate too, and its record is held.
- A manager_id naming nobody in the feed is dropped with a `data_quality` issue.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field, fields, replace
from types import MappingProxyType
from typing import Any

from jml.lifecycle import Ending
from jml.model import HrRecord, Issue, IssueKind

#: Taken together from the best source holding the person, never mixed.
LIFECYCLE_FIELDS = ("status", "termination_date", "contract_end_date")
_MERGED_FIELDS = [
    f.name for f in fields(HrRecord) if f.name not in ("employee_id", "extra", "source", "row", *LIFECYCLE_FIELDS)
]


@dataclass(frozen=True, slots=True)
class Resolved:
    """One record per person to act on, the issues found, the ids held back, what the
    held persons' rows (any of them) say of the end of their access, and the merged
    valid records of the held persons who have any (`held_records`: never acted on;
    who they are and whom they report to, for an access review)."""

    persons: Mapping[str, HrRecord]
    issues: tuple[Issue, ...] = ()
    held: frozenset[str] = frozenset()
    held_endings: Mapping[str, tuple[Ending, ...]] = field(default_factory=dict)
    held_records: Mapping[str, HrRecord] = field(default_factory=dict)


def merge(records: list[HrRecord]) -> HrRecord:
    """Merge one person's records, given best precedence first."""
    best = records[0]
    if len(records) == 1:
        return best
    values: dict[str, Any] = {}
    for name in _MERGED_FIELDS:
        values[name] = next((getattr(r, name) for r in records if getattr(r, name) not in (None, "")), None)
    extra: dict[str, str] = {}
    for record in reversed(records):
        extra.update({k: v for k, v in record.extra.items() if v not in (None, "")})
    return replace(best, **values, extra=extra)


def resolve(
    records_by_precedence: Sequence[Sequence[HrRecord]],
    held: Set[str] = frozenset(),
    held_endings: Mapping[str, Sequence[Ending]] = MappingProxyType({}),
    reserved: Mapping[str, str] = MappingProxyType({}),
) -> Resolved:
    """Resolve the valid records of every source, best precedence first.

    `held` are employee_ids held back already (quarantined rows, whose `held_endings`
    the caller read): they are held in the result too, and a manager_id naming one of
    them is not unknown. A held person's endings gather those and their valid records'.
    `reserved`: employee_id -> the generated email the ledger keeps for them.
    """
    grouped: dict[str, list[HrRecord]] = defaultdict(list)
    for records in records_by_precedence:
        for record in records:
            grouped[record.employee_id].append(record)
    persons = {eid: merge(recs) for eid, recs in grouped.items()}
    sources = {eid: sorted({r.source for r in recs if r.source}) for eid, recs in grouped.items()}
    issues: list[Issue] = []
    held_back: set[str] = set(held)
    resolved: dict[str, HrRecord] = {}

    by_email: dict[str, list[str]] = defaultdict(list)
    for eid, record in persons.items():
        if record.email:
            by_email[record.email.lower()].append(eid)
    keeper = {address.lower(): eid for eid, address in reserved.items()}
    for address, eids in by_email.items():
        owner = keeper.get(address)
        if len(eids) < 2 and owner in (None, *eids):
            continue
        named = sorted({*eids, *([owner] if owner else [])})
        ids = ", ".join(f"{eid} ({', '.join(sources.get(eid, ())) or '?'})" for eid in named)
        for eid in eids:  # HR's claims are held; the person the address is kept for is not
            held_back.add(eid)
            issues.append(
                Issue(
                    IssueKind.DUPLICATE,
                    f"duplicate:{eid}",
                    f"{eid}: the same email is held by {ids}; held until resolved",
                    employee_id=eid,
                    data={
                        "employee_ids": named,
                        "sources": {other: sources.get(other, []) for other in named},
                    },
                )
            )

    everyone = persons.keys() | held
    for eid, record in persons.items():
        if eid in held_back:
            continue
        manager = record.manager_id
        if manager is not None and (manager not in everyone or manager == eid):
            record = replace(record, manager_id=None)
            issues.append(
                Issue(
                    IssueKind.DATA_QUALITY,
                    f"data_quality:manager:{eid}",
                    f"{eid}: manager_id {manager} is not an employee_id of the feed; processed without a manager",
                    employee_id=eid,
                    data={"manager_id": manager, "sources": sources[eid]},
                )
            )
        resolved[eid] = record
    endings = {eid: [*held_endings.get(eid, ()), *(Ending.of(r) for r in grouped.get(eid, ()))] for eid in held_back}
    return Resolved(
        resolved,
        tuple(issues),
        frozenset(held_back),
        {eid: tuple(e) for eid, e in endings.items()},
        {eid: persons[eid] for eid in held_back if eid in persons},
    )
