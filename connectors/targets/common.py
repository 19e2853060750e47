"""What the LDAP and SQL target connectors share: the state of one `apply` call, the
way an operation's failure carries over to the operations that depend on it, and the
value standing for an attribute a target does not hold.

No I/O here. (The SCIM connector predates this module and keeps private copies of
`propagated` and `manager_named`.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from connectors.base import NotFound, Outcome, Permanent, Retryable, TargetError
from jml.model import Action, Operation

__all__ = [
    "NOT_HELD",
    "Call",
    "attributes_of",
    "changes_of",
    "entitlement_of",
    "manager_named",
    "not_found",
    "propagated",
]


class _NotHeld:
    """The value of a canonical attribute the target has no place for.

    It compares equal to every value, so the planner, which diffs every canonical
    attribute, never asks a target to change what it cannot store (and verify never
    reports it as drift). It is falsy and prints as "" so it never passes for data.
    """

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return 0

    def __bool__(self) -> bool:
        return False

    def __str__(self) -> str:
        return ""

    def __repr__(self) -> str:
        return "NOT_HELD"


#: See `_NotHeld`.
NOT_HELD: Any = _NotHeld()


def propagated(error: TargetError, reason: str) -> TargetError:
    """An error of the same type as `error`, for an operation that depended on it."""
    message = f"{reason}: {error}"
    if isinstance(error, Retryable):
        return Retryable(message, status=error.status, retry_after=error.retry_after)
    return type(error)(message, status=error.status)


def attributes_of(op: Operation) -> dict[str, Any]:
    """The canonical attributes of a create; Permanent when it carries none."""
    attributes = op.detail.get("attributes") if isinstance(op.detail, dict) else None
    if not isinstance(attributes, dict):
        raise Permanent(f"{op.target}: create of {op.employee_id} without attributes")
    return attributes


def changes_of(op: Operation) -> dict[str, Any]:
    """{attribute: new value} of an update; Permanent when malformed."""
    changes = op.detail.get("changes") if isinstance(op.detail, dict) else None
    if not isinstance(changes, dict):
        raise Permanent(f"{op.target}: update of {op.employee_id} without changes")
    new: dict[str, Any] = {}
    for attribute, change in changes.items():
        if not isinstance(change, list | tuple) or len(change) != 2:
            raise Permanent(f"{op.target}: change of {attribute!r} is not [old, new]")
        new[attribute] = change[1]
    return new


def manager_named(op: Operation) -> str | None:
    """The employee_id of the manager a create or an update sets, if any."""
    if op.action is Action.CREATE:
        manager = (op.detail.get("attributes") or {}).get("manager")
    elif op.action is Action.UPDATE:
        manager = changes_of(op).get("manager")
    else:
        return None
    return str(manager) if manager not in (None, "") else None


class Call:
    """The outcomes of one `apply` call, filled in order.

    `done`/`fail` settle an operation (logging it by employee_id and action only).
    `create_error(eid)` is the error of that person's create when it failed earlier in
    this call: the person's later operations, and a report naming them as manager,
    fail with an error of the same type instead of being sent.
    """

    def __init__(self, target: str, operations: list[Operation], log: logging.Logger) -> None:
        self.target = target
        self.operations = operations
        self.outcomes = [Outcome(op) for op in operations]
        self.settled = [False] * len(operations)
        self._failed_creates: dict[str, TargetError] = {}
        self._log = log

    def done(self, index: int, account_id: str | None = None) -> None:
        self.outcomes[index].account_id = account_id
        self.settled[index] = True
        op = self.operations[index]
        self._log.debug("target %s: %s %s done", self.target, op.action.value, op.employee_id)

    def fail(self, index: int, error: TargetError) -> None:
        op = self.operations[index]
        self.outcomes[index].error = error
        self.settled[index] = True
        if op.action is Action.CREATE:
            self._failed_creates[op.employee_id] = error
        self._log.warning(
            "target %s: %s %s failed: %s%s",
            self.target, op.action.value, op.employee_id, type(error).__name__,
            f" (status {error.status})" if error.status else "",
        )  # fmt: skip

    def fail_all(self, indices: Iterable[int], error: TargetError) -> None:
        """Fail those of `indices` not settled yet."""
        for index in indices:
            if not self.settled[index]:
                self.fail(index, error)

    def guarded(self, indices: Iterable[int], step: Callable[[], None]) -> None:
        """Run one step of the call; a bug (any exception) fails what the step left
        unsettled, instead of losing the outcomes of the whole call."""
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - one bug must not lose the rest
            self._log.exception("target %s: unexpected error", self.target)
            self.fail_all(indices, Permanent(f"{self.target}: internal error: {type(exc).__name__}: {exc}"))

    def create_error(self, employee_id: str) -> TargetError | None:
        return self._failed_creates.get(employee_id)

    def check_dependencies(self, index: int) -> None:
        """Raise (a propagated error) when the operation's account or its manager's
        account failed to be created earlier in this call."""
        op = self.operations[index]
        own = self.create_error(op.employee_id) if op.action is not Action.CREATE else None
        if own is not None:
            raise propagated(own, f"the account of {op.employee_id} was not created")
        manager = manager_named(op)
        failed = self.create_error(manager) if manager is not None else None
        if failed is not None:
            raise propagated(failed, "the manager's account was not created")

    def failed_count(self) -> int:
        return sum(1 for outcome in self.outcomes if not outcome.ok)


def not_found(target: str, employee_id: str) -> NotFound:
    """The error of an operation on an account the target does not hold."""
    return NotFound(f"{target}: no account for employee_id {employee_id}")


def entitlement_of(op: Operation) -> str:
    """The entitlement a grant or revoke names; Permanent when it names none."""
    name = op.detail.get("entitlement") if isinstance(op.detail, Mapping) else None
    if not isinstance(name, str) or not name:
        raise Permanent(f"{op.target}: {op.action.value} of {op.employee_id} without an entitlement")
    return name
