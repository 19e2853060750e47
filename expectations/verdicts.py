"""What validating a feed concludes, once GX has named the bad rows: one `quarantine`
Issue per bad row, what a bad row says of the end of its person's access, and the feed
gate's verdict.

A quarantine names the source, its line, the employee_id when the row's own is usable,
the rules the row broke and, for a mapped source, the source's columns (or paths) those
rules read; never the person's name or email.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any

from expectations.hr_feed import columns_of
from jml.lifecycle import Ending
from jml.model import Issue, IssueKind

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["ending_of", "feed_gate", "quarantine_issue", "repeated_ids"]


def ending_of(prepared: pd.DataFrame, position: int) -> Ending:
    """What a bad row says of the end of access, read leniently: a status of any case,
    the dates that parse."""

    def cell(name: str) -> str | None:
        return prepared[name].iat[position] if name in prepared.columns else None

    status = cell("status")
    return Ending(status.casefold() if status else None, _date(cell("termination_date")), _date(cell("contract_end_date")))


def _date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def repeated_ids(employee_ids: list[str | None]) -> set[str]:
    """The employee_ids that more than one row holds."""
    seen: set[str] = set()
    repeated: set[str] = set()
    for employee_id in employee_ids:
        if employee_id is not None:
            if employee_id in seen:
                repeated.add(employee_id)
            seen.add(employee_id)
    return repeated


def quarantine_issue(
    source: str,
    row: int,
    employee_id: str | None,
    rules: list[str],
    repeated: set[str],
    provenance: Mapping[str, tuple[str, ...]],
) -> Issue:
    usable = (
        employee_id is not None
        and "employee_id_format" not in rules
        and "employee_id_present" not in rules
    )
    if not usable:
        key = f"quarantine:{source}:row{row}"
        who = ""
    elif employee_id in repeated:
        # Several rows share the id: one exception per row, each with its own key.
        key = f"quarantine:{source}:{employee_id}:row{row}"
        who = f" (employee_id {employee_id})"
    else:
        key = f"quarantine:{source}:{employee_id}"
        who = f" (employee_id {employee_id})"
    data: dict[str, Any] = {"source": source, "row": row, "rules": list(rules)}
    read = {column: list(provenance[column]) for rule in rules for column in columns_of(rule) if column in provenance}
    came = ""
    if read:
        data["from"] = read
        came = " (" + "; ".join(f"{column} from {', '.join(map(_quoted, names))}" for column, names in read.items()) + ")"
    return Issue(
        kind=IssueKind.QUARANTINE,
        key=key,
        detail=f"{source} line {row}{who}: broke {', '.join(rules)}{came}",
        employee_id=employee_id if usable else None,
        data=data,
    )


def _quoted(name: str) -> str:
    """A source's column or path in a detail, in double quotes (a quote inside doubled)."""
    return '"' + name.replace('"', '""') + '"'


def feed_gate(source: str, rows: int, invalid: int, max_invalid_fraction: float) -> str | None:
    """None when at most `max_invalid_fraction` of the `rows` are invalid, else the halt's one line."""
    fraction = invalid / rows
    if fraction <= max_invalid_fraction:
        return None
    shown, limit = _percentages(fraction, max_invalid_fraction)
    return (
        f"feed {source}: {invalid} of {rows} rows ({shown}) are invalid, "
        f"over max_invalid_fraction {limit}"
    )


def _percentages(fraction: float, limit: float) -> tuple[str, str]:
    """Both as percentages, with enough decimals that the first shows above the second."""
    for digits in range(1, 6):
        shown, bound = f"{fraction:.{digits}%}", f"{limit:.{digits}%}"
        if shown != bound:
            return shown, bound
    return shown, bound
