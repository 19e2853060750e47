"""Where a worker stands on the as-of date D (the SPEC's "Lifecycle" section).

terminated  status `terminated`, or termination_date < D, or a contractor whose
            contract_end_date < D; deleted once D > last day + delete_after_days
pre-hire    hire_date > D: inside `prehire_days` the account exists inactive, earlier
            nothing exists
suspended   status `leave`
active      otherwise
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from jml.config import LifecycleConfig
from jml.model import HrRecord, Lifecycle


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
