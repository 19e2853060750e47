"""The naming stage (SPEC "Generated identifiers"): a company email for each person HR
gives none, when the config sets `naming.email`; after read-targets, before lifecycle.

`name_persons(run, resolved, targets)` returns `Named`: the resolved persons with their
emails filled in (the plan then treats them like anyone: user_name = email), and `new`,
the addresses made this run that the ledger does not keep yet. A person gets back the
address the ledger keeps for them (a rename or a rehire changes nothing); anyone else
gets the template's address (`jml.naming`), numbered past every address another person
holds: an HR email of the feed, an address the ledger keeps for someone else, the
userName of an account on any target (NHIs' included) not linked to this person; so a
generated address never adopts an existing account. Several new people with one name
are numbered in feed order. A person whose address folds to nothing (or breaks the
feed's email rule) is quarantined, the issue naming `naming.email`. While a target is
unreachable its accounts are unknown, so no new address is made: a person without one
kept is held (nothing about them changes; the target's `failed_operation` exception
says why) until a run reads every target.

`reserve_new(run, new, operations)` keeps for good the new addresses of the persons the
plan creates an account for; the apply stage calls it first (a run that applies: not a
dry run, not halted).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from expectations.hr_feed import EMAIL_REGEX
from jml.lifecycle import Ending
from jml.model import HrRecord, Issue, IssueKind
from jml.naming import EMAIL, LOCAL_MAX, Wanted, assign, email_address, split_address
from jml.operations import Create, Operation
from jml.resolve import Resolved
from pipeline.run import Run
from pipeline.targets import TargetState

__all__ = ["COLUMN", "Named", "name_persons", "reserve_new"]

#: What a quarantine names as the column of a generated address.
COLUMN = "naming.email"
_VALID = re.compile(EMAIL_REGEX)


@dataclass(frozen=True, slots=True)
class Named:
    """The resolved persons with generated emails, and the addresses new this run."""

    resolved: Resolved
    new: Mapping[str, str] = field(default_factory=dict)


def name_persons(run: Run, resolved: Resolved, targets: TargetState) -> Named:
    """Fill in the missing emails (see the module docstring)."""
    template = run.config.naming.email_template
    missing = [eid for eid, record in resolved.persons.items() if not record.email]
    if template is None or not missing:
        return Named(resolved)
    reserved = run.ledger.reserved_identifiers(EMAIL)
    wanted: list[Wanted] = []
    bad: list[str] = []
    if targets.unreachable:
        waiting = [eid for eid in missing if eid not in reserved]
        if waiting:
            run.log.warning("%d persons wait for a generated email: a target is unreachable", len(waiting))
        missing = [eid for eid in missing if eid in reserved]
    else:
        waiting = []
    for eid in missing:
        rendered = reserved.get(eid) or template.render(resolved.persons[eid].attribute)
        address = email_address(rendered) if rendered is not None else None
        if address is None or not _VALID.match(address):
            bad.append(eid)
        else:
            wanted.append(Wanted(eid, *split_address(address)))
    assigned = assign(wanted, reserved, _holders(run, resolved, targets), LOCAL_MAX)
    persons = {
        eid: replace(record, email=assigned[eid]) if eid in assigned else record
        for eid, record in resolved.persons.items()
        if eid not in bad and eid not in waiting
    }
    quarantined = {eid: resolved.persons[eid] for eid in bad}
    held = {eid: resolved.persons[eid] for eid in (*bad, *waiting)}
    named = replace(
        resolved,
        persons=persons,
        issues=(*resolved.issues, *(_quarantine(record) for record in quarantined.values())),
        held=resolved.held | held.keys(),
        held_endings={**resolved.held_endings, **{eid: (Ending.of(r),) for eid, r in held.items()}},
        held_records={**resolved.held_records, **held},
    )
    return Named(named, {eid: address for eid, address in assigned.items() if eid not in reserved})


def reserve_new(run: Run, new: Mapping[str, str], operations: Sequence[Operation]) -> None:
    """Keep for good the new addresses of the persons `operations` create an account for."""
    creating = {op.employee_id for op in operations if isinstance(op, Create)}
    kept = {eid: address for eid, address in new.items() if eid in creating}
    if kept and run.lock_lost() is None:
        run.ledger.reserve_identifiers(run.id, EMAIL, kept)


def _holders(run: Run, resolved: Resolved, targets: TargetState) -> dict[str, set[str]]:
    """Lowercased address -> who holds it: employee_ids, "" for an unlinked account."""
    holders: dict[str, set[str]] = defaultdict(set)
    for eid, record in (*resolved.persons.items(), *resolved.held_records.items()):
        if record.email:
            holders[record.email.lower()].add(eid)
    for target, snapshot in targets.snapshots.items():
        owner_of = {account: eid for eid, account in run.ledger.account_links(target).items()}
        for account in snapshot.accounts:
            if account.user_name:
                owner = account.external_id or owner_of.get(account.id or "", "")
                holders[account.user_name.lower()].add(owner)
    for accounts in targets.nhis.values():
        for account in accounts.values():
            if account.user_name:
                holders[account.user_name.lower()].add("")
    return holders


def _quarantine(record: HrRecord) -> Issue:
    eid = record.employee_id
    return Issue(
        kind=IssueKind.QUARANTINE,
        key=f"quarantine:{record.source}:{eid}",
        detail=f"{record.source} line {record.row} (employee_id {eid}): broke email_valid (email from {COLUMN})",
        employee_id=eid,
        data={"source": record.source, "row": record.row, "rules": ["email_valid"], "from": {"email": [COLUMN]}},
    )
