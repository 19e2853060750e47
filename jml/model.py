"""The domain types every stage passes along: HR records, lifecycle states, accounts,
snapshots of targets and issues (the exceptions people work). The operations a plan is
made of are in `jml.operations`.

Plain dataclasses with slots: a run holds one of each per worker, so they stay small.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import date

#: The feed columns of the SPEC, in order.
REQUIRED_COLUMNS = (
    "employee_id",
    "first_name",
    "last_name",
    "email",
    "department",
    "job_code",
    "employment_type",
    "status",
    "hire_date",
)
OPTIONAL_COLUMNS = ("location", "manager_id", "termination_date", "contract_end_date")
KNOWN_COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
EMPLOYMENT_TYPES = ("employee", "contractor", "intern")
STATUSES = ("active", "leave", "terminated")


@dataclass(slots=True)
class HrRecord:
    """One valid worker row, as the sources yield it after validation.

    `extra` holds the pass-through columns policy rules may match on; `source` and
    `row` (for a CSV, the line the row starts on; the header is line 1) say where the
    record came from.
    """

    employee_id: str
    first_name: str
    last_name: str
    email: str
    department: str
    job_code: str
    employment_type: str
    status: str
    hire_date: date
    location: str | None = None
    manager_id: str | None = None
    termination_date: date | None = None
    contract_end_date: date | None = None
    extra: dict[str, str] = field(default_factory=dict)
    source: str = ""
    row: int = 0

    def attribute(self, name: str) -> str | None:
        """The value of a column by name (known or pass-through), as text."""
        if name in KNOWN_COLUMNS:
            value = getattr(self, name)
            return None if value is None else str(value)
        return self.extra.get(name)


class Lifecycle(enum.StrEnum):
    """Where a worker stands on the as-of date."""

    NOT_YET = "not_yet"  # hired later than the pre-hire window: nothing exists yet
    PREHIRE = "prehire"  # inside the window: account inactive, entitlements granted
    ACTIVE = "active"
    SUSPENDED = "suspended"  # on leave: account inactive, entitlements kept
    TERMINATED = "terminated"  # account inactive, no entitlements
    DELETE = "delete"  # terminated past the grace period: account deleted


#: The canonical account attributes every target maps to its own schema.
#: `manager` holds the manager's employee_id; the connector translates it.
ACCOUNT_ATTRIBUTES = (
    "user_name",
    "given_name",
    "family_name",
    "display_name",
    "email",
    "employee_number",
    "department",
    "title",
    "manager",
)


@dataclass(slots=True)
class Account:
    """An account as a target holds it (read back) or as the plan wants it.

    `id` is the target's own identifier (None until created); `external_id` is the
    employee_id the account is linked to (None for an unlinked account).
    `attributes` maps ACCOUNT_ATTRIBUTES to values; `entitlements` are the names of
    the groups or roles the account has. `login` is the name the target's users log in
    with when it is not the user_name (an LDAP entry's uid); see `login_name`.
    """

    id: str | None
    external_id: str | None
    active: bool
    attributes: dict[str, str | None]
    entitlements: set[str] = field(default_factory=set)
    login: str | None = None

    @property
    def user_name(self) -> str:
        return self.attributes.get("user_name") or ""

    @property
    def login_name(self) -> str:
        """The account's name in its target as a registry of NHIs names it: SCIM
        userName, an SQL username (both the user_name), LDAP uid (`login`)."""
        return self.login or self.user_name


@dataclass(slots=True)
class Snapshot:
    """Everything one read of a target returned (a full read, or what jml knew of it
    brought up to date by a delta read: the same content).

    `held` names the attributes the target holds (its schema): only those are compared
    with the desired state and written; every Account's `attributes` has exactly these
    keys (None where the account has no value). `limits`: the longest text the target
    holds in an attribute (by the same names), where its schema has a bound; the planner
    cuts a longer desired value to fit (`jml.plan.fit`). `memo` is the driver's note of
    where this read stands (JSON: where its next delta read starts); empty when the
    driver cannot read changes alone.
    """

    target: str
    accounts: list[Account]
    groups: set[str] = field(default_factory=set)
    held: frozenset[str] = frozenset(ACCOUNT_ATTRIBUTES)
    limits: dict[str, int] = field(default_factory=dict)
    memo: dict = field(default_factory=dict)


class IssueKind(enum.StrEnum):
    """The kinds of exceptions of the SPEC."""

    QUARANTINE = "quarantine"
    DATA_QUALITY = "data_quality"
    DUPLICATE = "duplicate"
    APPROVAL = "approval"
    SOD = "sod"
    CONFLICT = "conflict"
    FAILED_OPERATION = "failed_operation"
    DRIFT = "drift"
    ABSENT = "absent"
    SAFETY_HALT = "safety_halt"
    #: An account on a target linked to no person; only `reconcile` opens and closes it.
    ORPHAN = "orphan"
    #: A registered non-human identity (jml.nhi) whose account the target does not hold.
    NHI_MISSING = "nhi_missing"
    #: A non-human identity handed over to its owner's manager, waiting for them to confirm.
    NHI_REVIEW = "nhi_review"
    #: A non-human identity whose owner left with no active manager to take it.
    ORPHAN_NHI = "orphan_nhi"


@dataclass(slots=True)
class Issue:
    """Something a run found that a person must look at (an "exception" in the SPEC).

    `key` identifies the cause, so that the same cause found again by a later run is the
    same open exception, and a cause no longer found closes it.
    """

    kind: IssueKind
    key: str
    detail: str
    employee_id: str | None = None
    target: str | None = None
    data: dict = field(default_factory=dict)
