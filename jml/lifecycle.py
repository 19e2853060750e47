"""Where a worker stands on the as-of date D (the SPEC's "Lifecycle" section).

terminated  status `terminated`, or termination_date < D, or a contractor whose
            contract_end_date < D; deleted once D > last day + delete_after_days
pre-hire    hire_date > D: inside `prehire_days` the account exists inactive, earlier
            nothing exists
suspended   status `leave`
active      otherwise

A person held back (a duplicate, a quarantined row) is still a leaver when any of their
rows says so (`Ending`, `has_ended`): fail closed, a held leaver loses access.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from jml.config import LifecycleConfig
from jml.model import HrRecord, Lifecycle


@dataclass(frozen=True, slots=True)
class Ending:
    """What one row of a held person says about the end of their access: its status
    and, where they read as dates, its termination and contract end dates."""

    status: str | None = None
    termination_date: date | None = None
    contract_end_date: date | None = None

    @classmethod
    def of(cls, record: HrRecord) -> Ending:
        return cls(record.status, record.termination_date, record.contract_end_date)


def has_ended(endings: Iterable[Ending], as_of: date) -> bool:
    """Whether any of a held person's rows says their access has ended on `as_of`:
    terminated, or a termination or contract end before it (whatever the employment
    type: a held row's type may be the broken field)."""
    for ending in endings:
        if ending.status == "terminated":
            return True
        if any(day is not None and day < as_of for day in (ending.termination_date, ending.contract_end_date)):
            return True
    return False


def today() -> date:
    """The default as-of date: today in UTC."""
    return datetime.now(UTC).date()


def last_day(record: HrRecord) -> date | None:
    """The last day with access the record states, if it states one."""
    days = [record.termination_date]
    if record.employment_type == "contractor":
        days.append(record.contract_end_date)
    known = [d for d in days if d is not None]
    return min(known) if known else None


def is_terminated(record: HrRecord, as_of: date) -> bool:
    """Whether the record is terminated on the as-of date."""
    if record.status == "terminated":
        return True
    end = last_day(record)
    return end is not None and end < as_of


def assess(
    record: HrRecord, as_of: date, config: LifecycleConfig, terminated_on: date | None = None
) -> tuple[Lifecycle, date | None]:
    """The lifecycle state on `as_of`, and the termination day to remember.

    `terminated_on` is the day an earlier run first saw the person terminated; it stands
    in for the last day when the record gives none (status `terminated` without a date),
    so the deletion grace period still runs. The returned date is None unless the
    person is terminated.
    """
    if is_terminated(record, as_of):
        end = last_day(record) or terminated_on or as_of
        return termination_state(end, as_of, config), end
    if record.hire_date > as_of:
        if (record.hire_date - as_of).days <= config.prehire_days:
            return Lifecycle.PREHIRE, None
        return Lifecycle.NOT_YET, None
    if record.status == "leave":
        return Lifecycle.SUSPENDED, None
    return Lifecycle.ACTIVE, None


def termination_state(end: date, as_of: date, config: LifecycleConfig) -> Lifecycle:
    """TERMINATED, or DELETE once the grace period after the last day `end` is over."""
    grace = config.delete_after_days
    if grace is not None and as_of > end + timedelta(days=grace):
        return Lifecycle.DELETE
    return Lifecycle.TERMINATED
