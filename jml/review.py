"""An access review (`jml review --manager ID`): whose access a manager certifies, and
what each of them holds, why and since when. Pure: the caller reads the feed and the
ledger.

- `under_review(resolved, manager, as_of, all_levels=...)`: the employee_ids of the
  manager's reports (direct ones, or the whole chain below with `all_levels`) who are
  not terminated on `as_of` (`jml.lifecycle`), each once, sorted. Held persons (a
  duplicate) count where their valid rows place them: they still hold access; one is
  terminated when any of their rows says so (`has_ended`, as the run treats them). The
  chain goes on below a terminated report (their own reports still belong to the
  manager's line); a cycle in the HR data ends where it closes, and the manager is
  never their own report. `UnknownManager` when `manager` is not an employee_id of the
  feed (neither acted on nor held back).
- `items(grants)`: one item per grant held, with the SPEC's fields `REVIEW_FIELDS`
  (`since`: when the grant was made, ISO 8601 UTC to the second).
- `csv_text(items)`: the CSV document (the csv module; a header, then one row per item),
  every cell through `jml.text.spreadsheet_cell`, so no HR text runs as a formula.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date

from jml.ledger.records import GrantRecord
from jml.lifecycle import has_ended, is_terminated
from jml.model import HrRecord
from jml.resolve import Resolved
from jml.text import spreadsheet_cell

__all__ = ["REVIEW_FIELDS", "UnknownManager", "csv_text", "items", "reports", "under_review"]

REVIEW_FIELDS = ("employee_id", "target", "entitlement", "reason", "since")


class UnknownManager(LookupError):
    """The manager asked for is no employee_id of the feed."""

    def __init__(self, manager: str) -> None:
        super().__init__(f"--manager: {manager!r} is not an employee_id of the feed")
        self.manager = manager


def reports(managers: Mapping[str, str | None], manager: str, *, all_levels: bool) -> list[str]:
    """Who reports to `manager` given each person's manager_id (`managers`): direct
    reports, or with `all_levels` every level below, level by level (sorted within a
    level), each once and never `manager`, so a cycle ends where it closes."""
    direct: dict[str, list[str]] = defaultdict(list)
    for employee_id, boss in managers.items():
        if boss is not None:
            direct[boss].append(employee_id)
    found: list[str] = []
    seen = {manager}
    level = [manager]
    while level:
        below = sorted(eid for boss in level for eid in direct[boss] if eid not in seen)
        seen.update(below)
        found += below
        level = below if all_levels else []
    return found


def under_review(resolved: Resolved, manager: str, as_of: date, *, all_levels: bool) -> list[str]:
    """The reports whose access the manager reviews (see the module docstring)."""
    if manager not in resolved.persons and manager not in resolved.held:
        raise UnknownManager(manager)
    persons = {**resolved.held_records, **resolved.persons}
    chain = reports({eid: record.manager_id for eid, record in persons.items()}, manager, all_levels=all_levels)
    return sorted(eid for eid in chain if not _terminated(resolved, persons[eid], as_of))


def _terminated(resolved: Resolved, record: HrRecord, as_of: date) -> bool:
    if record.employee_id in resolved.held:
        return has_ended(resolved.held_endings.get(record.employee_id, ()), as_of)
    return is_terminated(record, as_of)


def items(grants: Iterable[GrantRecord]) -> list[dict[str, str]]:
    """One review item per grant, its fields `REVIEW_FIELDS`, in the order given."""
    return [
        {
            "employee_id": grant.employee_id,
            "target": grant.target,
            "entitlement": grant.entitlement,
            "reason": grant.reason,
            "since": grant.granted_at.isoformat(timespec="seconds"),
        }
        for grant in grants
    ]


def csv_text(review: Iterable[Mapping[str, str]]) -> str:
    """The review as CSV: the header `REVIEW_FIELDS`, then a row per item, every cell
    safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(REVIEW_FIELDS)
    writer.writerows([spreadsheet_cell(item[name]) for name in REVIEW_FIELDS] for item in review)
    return buffer.getvalue()
