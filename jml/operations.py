"""The typed operations a plan is made of: one small change to one account on one target.

    Create   a new account: its `attributes` (the target's held attributes) and `active`
    Update   `changes`: attribute -> Change(old, new); `LINK` (externalId) adopts an account
    Enable   make the account usable
    Disable  make it unusable (access kept or stripped by the operations around it)
    Grant    add the `entitlement` (a group or role membership)
    Revoke   take the `entitlement` away
    Delete   remove the account

Every operation names its `target`, the `employee_id` it is for, the `reason` (shown in
`jml plan` and kept in the audit trail) and, when the account exists already, the
target's `account_id`. Operations are frozen values; the planner makes them, the kernel
and the drivers `match` on their class, and the journal stores them as JSON
(`to_journal` / `from_journal`), in the shape `jml plan --json` prints (`detail`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar, NamedTuple

__all__ = [
    "DEPROVISIONING",
    "LINK",
    "Action",
    "Change",
    "Create",
    "Delete",
    "Disable",
    "Enable",
    "Grant",
    "Membership",
    "Operation",
    "Revoke",
    "Update",
    "describe",
    "from_journal",
]


class Action(enum.StrEnum):
    """The kinds of operation, in the order apply runs them."""

    CREATE = "create"
    UPDATE = "update"
    ENABLE = "enable"
    GRANT = "grant"
    REVOKE = "revoke"
    DISABLE = "disable"
    DELETE = "delete"


#: Actions that take access away; the deprovision guard counts the persons they touch.
DEPROVISIONING = frozenset({Action.DISABLE, Action.REVOKE, Action.DELETE})

#: The change of an Update that links (adopts) an account: its externalId set to the
#: employee_id. It is no attribute of the account's own.
LINK = "external_id"


class Change(NamedTuple):
    """One attribute's change: the value the target holds and the value wanted (None:
    remove the value). Serialised as the JSON list `[old, new]`."""

    old: Any
    new: Any


@dataclass(frozen=True, slots=True, kw_only=True)
class Operation:
    """What every operation carries; use one of the subclasses."""

    target: str
    employee_id: str
    reason: str
    account_id: str | None = None
    action: ClassVar[Action]

    @property
    def detail(self) -> dict[str, Any]:
        """The action-specific part as JSON (`jml plan --json`, the journal)."""
        return {}

    def to_json(self) -> dict[str, Any]:
        """The operation as `jml plan --json` prints it."""
        return {
            "target": self.target,
            "employee_id": self.employee_id,
            "action": self.action.value,
            "detail": self.detail,
            "reason": self.reason,
        }

    def describe(self) -> str:
        """A short human summary with no attribute values (so no names or emails)."""
        return ""

    def manager(self) -> str | None:
        """The employee_id of the manager this operation sets, if any."""
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Create(Operation):
    """A new account with these attributes, active or not."""

    attributes: Mapping[str, Any] = field(default_factory=dict)
    active: bool = True
    action: ClassVar[Action] = Action.CREATE

    @property
    def detail(self) -> dict[str, Any]:
        return {"attributes": dict(self.attributes), "active": self.active}

    def describe(self) -> str:
        return "active" if self.active else "inactive"

    def manager(self) -> str | None:
        return _employee_id(self.attributes.get("manager"))


@dataclass(frozen=True, slots=True, kw_only=True)
class Update(Operation):
    """Attribute changes of an existing account (`LINK` among them: adoption)."""

    changes: Mapping[str, Change] = field(default_factory=dict)
    action: ClassVar[Action] = Action.UPDATE

    @property
    def detail(self) -> dict[str, Any]:
        return {"changes": {name: [change.old, change.new] for name, change in self.changes.items()}}

    def describe(self) -> str:
        return "changed " + ", ".join(sorted(self.changes))

    def manager(self) -> str | None:
        change = self.changes.get("manager")
        return _employee_id(change.new) if change is not None else None

    def new_values(self) -> dict[str, Any]:
        """Attribute -> the value wanted, for every change but `LINK`."""
        return {name: change.new for name, change in self.changes.items() if name != LINK}

    @property
    def links(self) -> bool:
        """Whether this update adopts the account (sets its externalId)."""
        return LINK in self.changes


@dataclass(frozen=True, slots=True, kw_only=True)
class Enable(Operation):
    """Make the account usable."""

    action: ClassVar[Action] = Action.ENABLE


@dataclass(frozen=True, slots=True, kw_only=True)
class Disable(Operation):
    """Make the account unusable."""

    action: ClassVar[Action] = Action.DISABLE


@dataclass(frozen=True, slots=True, kw_only=True)
class Membership(Operation):
    """What a grant and a revoke carry: the entitlement (a group or role membership)."""

    entitlement: str

    @property
    def detail(self) -> dict[str, Any]:
        return {"entitlement": self.entitlement}

    def describe(self) -> str:
        return self.entitlement


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant(Membership):
    """Add one entitlement to the account."""

    action: ClassVar[Action] = Action.GRANT


@dataclass(frozen=True, slots=True, kw_only=True)
class Revoke(Membership):
    """Take one entitlement away from the account."""

    action: ClassVar[Action] = Action.REVOKE


@dataclass(frozen=True, slots=True, kw_only=True)
class Delete(Operation):
    """Remove the account."""

    action: ClassVar[Action] = Action.DELETE


_CLASSES: dict[Action, type[Operation]] = {
    cls.action: cls for cls in (Create, Update, Enable, Disable, Grant, Revoke, Delete)
}


def from_journal(
    *,
    target: str,
    employee_id: str,
    action: str,
    detail: Mapping[str, Any] | None,
    reason: str,
    account_id: str | None = None,
) -> Operation:
    """The operation a journal row (or a `to_json` document) describes; ValueError for an
    unknown action or a detail that does not fit it."""
    kind = _CLASSES[Action(action)]
    detail = detail or {}
    on: Callable[..., Operation] = partial(
        kind, target=target, employee_id=employee_id, reason=reason, account_id=account_id
    )
    try:
        if kind is Create:
            return on(attributes=dict(detail["attributes"]), active=bool(detail["active"]))
        if kind is Update:
            return on(changes={name: Change(*pair) for name, pair in detail["changes"].items()})
        if issubclass(kind, Membership):
            return on(entitlement=str(detail["entitlement"]))
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"a {action} operation with detail {sorted(detail)} is malformed") from exc
    return on()


def _employee_id(value: object) -> str | None:
    return str(value) if value not in (None, "") else None


def describe(action: str, detail: Mapping[str, Any] | None) -> str:
    """A short summary of what a journal or audit entry did, with no attribute values:
    the operation's own description, or `key=value` pairs for other entries (an approval,
    an override)."""
    try:
        operation = from_journal(target="", employee_id="", action=action, detail=detail, reason="")
    except ValueError:
        return ", ".join(f"{key}={value}" for key, value in sorted((detail or {}).items()))
    return operation.describe()
