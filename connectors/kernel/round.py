"""One try at a list of operations against one driver: every operation sent once (or
held back), one Outcome each.

The round cuts the operations into units (`connectors.kernel.units`), runs them in
dependency order (`connectors.kernel.execute`) and, per unit, finds the accounts'
handles, makes the values ready to write, and calls the driver's primitives:
- an operation whose own create or whose manager's create failed (in this round or for
  good in an earlier one) is not sent: it fails with an error of the same type,
  marked `propagated` (nothing of it can have been applied);
- a manager without an account is left out of a create, and a change to such a manager
  is skipped, with a warning: the report is not held back;
- a grant for a person without an account fails NotFound; a revoke or a delete of an
  account that is not there is done;
- membership changes of one group go together; a group the target lacks is created
  with the members the changes leave in it (none: no group needed), and if someone
  created it meanwhile the changes are sent again;
- with a transactional driver the round is one session; when the driver says the
  session is lost (`Aborted`), what the round did is forgotten and every operation is
  applied again in a session of its own, so that each gets its own outcome; after a
  retryable failure there, the rest fail alike rather than each waiting to time out.
  When the session was lost at its commit and may have been applied, nothing is
  replayed: every operation fails with that error (the kernel settles the creates by a
  lookup before any is sent again).

Outcomes and failures are logged by employee_id and action only (no attribute values).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

from connectors.base import Aborted, GroupMissing, NotFound, Outcome, Permanent, Retryable, TargetError, propagated
from connectors.kernel.driver import Bulk, BulkItem, BulkRef, Driver, Handle
from connectors.kernel.execute import run_units
from connectors.kernel.handles import Handles
from connectors.kernel.units import BulkLimits, Links, Unit, links_of, plan_units
from jml.operations import Create, Delete, Disable, Enable, Grant, Operation, Revoke, Update

__all__ = ["Round"]

log = logging.getLogger("connectors.kernel")


class Round:
    """One try; see the module docstring. `failed_creates` are the creates that failed
    for good in earlier rounds (employee_id -> error): what relies on them fails too."""

    def __init__(
        self,
        driver: Driver,
        operations: Sequence[Operation],
        handles: Handles,
        failed_creates: Mapping[str, TargetError],
    ) -> None:
        self.driver = driver
        self.operations = list(operations)
        self.outcomes = [Outcome(op) for op in self.operations]
        #: Whether an operation's failure came from one it relied on (it was not sent).
        self.propagated = [False] * len(self.operations)
        self._handles = handles
        self._failed_creates = failed_creates
        self._links: Links = links_of(self.operations)
        self._created: dict[int, Handle] = {}  # index of a create -> the new account
        self._absent: set[str] = set()  # employee_ids a lookup found no account for
        self._lock = threading.Lock()
        self._settled = [False] * len(self.operations)

    def run(self) -> None:
        """Apply every operation once; the outcomes are in `self.outcomes`."""
        started = time.monotonic()
        try:
            bulk = self.driver.bulk()
        except TargetError as exc:  # the target could not even say what it supports
            for index in range(len(self.operations)):
                self._fail(index, exc)
            return
        units = plan_units(self.operations, self._links, _limits(bulk, self.operations))
        saved = self._handles.snapshot() if self.driver.transactional else None
        try:
            with self.driver.session():
                run_units(units, lambda unit: self._run(unit, bulk), self.driver.concurrency, name=self.driver.name)
        except Aborted as aborted:
            if saved is not None:
                self._handles.restore(saved)
            if isinstance(aborted.error, Retryable) and aborted.error.maybe_applied:
                # the commit's answer was lost: replaying would apply it twice
                self._fail_all(aborted.error)
            else:
                log.info("target %s: the batch was refused (%s); applying one by one", self.driver.name, aborted)
                self._one_by_one()
        failed = sum(1 for outcome in self.outcomes if not outcome.ok)
        log.info(
            "target %s: applied %d operations (%d failed) in %d units of work in %.2f s",
            self.driver.name, len(self.operations), failed, len(units), time.monotonic() - started,
        )  # fmt: skip

    # -- running units ---------------------------------------------------------------

    def _run(self, unit: Unit, bulk: Bulk | None) -> None:
        """One unit; a bug (any exception but Aborted) fails what the unit left unsettled,
        instead of losing the outcomes of the whole round."""
        try:
            if unit.kind == "members":
                self._members(unit.group or "", unit.indices)
            elif bulk is not None:
                self._bulk(bulk, unit.indices)
            else:
                self._account(unit.indices[0])
        except Aborted:
            raise
        except Exception as exc:  # noqa: BLE001 - one bug must not lose the rest
            log.exception("target %s: unexpected error", self.driver.name)
            error = Permanent(f"{self.driver.name}: internal error: {type(exc).__name__}: {exc}")
            for index in unit.indices:
                if not self._settled[index]:
                    self._fail(index, error)

    def _forget(self) -> None:
        """Forget what a rolled-back session did."""
        self.outcomes = [Outcome(op) for op in self.operations]
        self.propagated = [False] * len(self.operations)
        self._settled = [False] * len(self.operations)
        self._created.clear()

    def _fail_all(self, error: TargetError) -> None:
        self._forget()
        for index in range(len(self.operations)):
            self._fail(index, error)

    def _one_by_one(self) -> None:
        """Every operation in a session of its own (see the module docstring)."""
        self._forget()
        for index, op in enumerate(self.operations):
            saved = self._handles.snapshot()
            unit = Unit("members" if isinstance(op, Grant | Revoke) else "account", [index])
            unit.group = op.entitlement if isinstance(op, Grant | Revoke) else None
            try:
                with self.driver.session():
                    self._run(unit, None)
            except Aborted as aborted:
                self._handles.restore(saved)
                self._fail(index, aborted.error)
                if isinstance(aborted.error, Retryable):
                    for rest in range(index + 1, len(self.operations)):
                        self._fail(rest, aborted.error)
                    return

    def _account(self, index: int) -> None:
        """One account operation through the driver's single-operation primitives."""
        op = self.operations[index]
        eid = op.employee_id
        try:
            self._check_dependencies(index)
            match op:
                case Create():
                    handle = self.driver.create(eid, self._values(index, op.attributes), op.active)
                case Update():
                    values = self._values(index, op.new_values())
                    if not values and not op.links:
                        self._done(index, None)  # only a change to a manager without account
                        return
                    handle = self.driver.update(self._handle(index), eid, values, op.links)
                case Enable() | Disable():
                    handle = self.driver.set_active(self._handle(index), eid, isinstance(op, Enable))
                case Delete():
                    handle = self._handle(index, missing_ok=True)
                    if handle is not None:
                        self.driver.delete(handle, eid)
                case _:
                    raise Permanent(f"{self.driver.name}: {op.action.value} is not an account operation")
        except TargetError as exc:
            self._fail(index, exc)
            return
        self._done(index, handle)

    def _bulk(self, bulk: Bulk, indices: Sequence[int]) -> None:
        """A run of account operations as one Bulk request."""
        items: list[BulkItem] = []
        sent: list[int] = []
        positions: dict[int, int] = {}  # index of a create in this request -> its position
        for index in indices:
            op = self.operations[index]
            try:
                self._check_dependencies(index)
                handle = None if isinstance(op, Create) else self._handle(index, missing_ok=isinstance(op, Delete))
                values: Mapping[str, Any] = {}
                if isinstance(op, Create):
                    values = self._values(index, op.attributes, positions)
                elif isinstance(op, Update):
                    values = self._values(index, op.new_values(), positions)
            except TargetError as exc:
                self._fail(index, exc)
                continue
            if (isinstance(op, Delete) and handle is None) or (isinstance(op, Update) and not values and not op.links):
                self._done(index, handle)  # nothing to send
                continue
            if isinstance(op, Create):
                positions[index] = len(items)
            items.append(BulkItem(op, handle, values))
            sent.append(index)
        if not items:
            return
        try:
            results = bulk.send_bulk(items)
        except TargetError as exc:
            for index in sent:
                self._fail(index, exc)
            return
        for index, result in zip(sent, results, strict=True):
            if not isinstance(result, TargetError):
                self._done(index, result)
                continue
            boss = self._links.manager.get(index)
            refused = self.outcomes[boss].error if boss is not None and boss in positions else None
            if refused is not None:
                # the target refused the reference to the manager whose create failed
                self._fail(index, propagated(refused, "the manager's account was not created"), True)
            else:
                self._fail(index, result)

    def _members(self, group: str, indices: Sequence[int]) -> None:
        """Consecutive grants and revokes of one group, as one change of its members."""
        changes: list[tuple[int, bool, Handle]] = []
        for index in indices:
            op = self.operations[index]
            try:
                self._check_dependencies(index)
                handle = self._handle(index, missing_ok=True)
            except TargetError as exc:
                self._fail(index, exc)
                continue
            if handle is not None:
                changes.append((index, isinstance(op, Grant), handle))
            elif isinstance(op, Revoke):
                self._done(index, None)  # no account, so no membership
            else:
                self._fail(index, NotFound(f"{self.driver.name}: no account for employee_id {op.employee_id}"))
        if not changes:
            return
        try:
            self._change_members(group, [(add, handle) for _, add, handle in changes])
        except TargetError as exc:
            for index, _, _ in changes:
                self._fail(index, exc)
            return
        for index, _, handle in changes:
            self._done(index, handle)

    def _change_members(self, group: str, changes: list[tuple[bool, Handle]]) -> None:
        try:
            self.driver.change_members(group, changes)
            return
        except GroupMissing:
            final = {self.driver.account_id(handle): (add, handle) for add, handle in changes}
            members = [handle for add, handle in final.values() if add]
            if not members or self.driver.create_group(group, members):
                return
        self.driver.change_members(group, changes)  # someone created it meanwhile

    # -- handles and values ----------------------------------------------------------

    def _check_dependencies(self, index: int) -> None:
        """Raise (marked propagated) when the operation's own create or its manager's
        create failed, in this round or for good in an earlier one."""
        op = self.operations[index]
        own = self._links.own.get(index)
        error = self.outcomes[own].error if own is not None else None
        if error is None and not isinstance(op, Create):
            error = self._failed_creates.get(op.employee_id)
        if error is not None:
            self.propagated[index] = True
            raise propagated(error, f"the account of {op.employee_id} was not created")
        boss = self._links.manager.get(index)
        error = self.outcomes[boss].error if boss is not None else None
        if error is None and op.manager() is not None:
            error = self._failed_creates.get(op.manager() or "")
        if error is not None:
            self.propagated[index] = True
            raise propagated(error, "the manager's account was not created")

    def _handle(self, index: int, *, missing_ok: bool = False) -> Handle | None:
        """The handle of the operation's account: created earlier in this round, the
        plan's account id, the kernel's memory, or one lookup. NotFound if none (None
        with `missing_ok`)."""
        op = self.operations[index]
        own = self._links.own.get(index)
        if own is not None:
            return self._created.get(own)
        known = self._handles.get(op.employee_id)
        if op.account_id:
            if known is not None and self.driver.account_id(known) == op.account_id:
                return known
            handle = self.driver.resolve(op.employee_id, op.account_id)
        else:
            handle = known if known is not None else self._lookup(op.employee_id)
        if handle is None and not missing_ok:
            raise NotFound(f"{self.driver.name}: no account for employee_id {op.employee_id}")
        return handle

    def _lookup(self, employee_id: str) -> Handle | None:
        with self._lock:
            if employee_id in self._absent:
                return None
        found = self.driver.lookup([employee_id]).get(employee_id)
        if found is None:
            with self._lock:
                self._absent.add(employee_id)
        else:
            self._handles.put(employee_id, found)
        return found

    def _values(
        self, index: int, attributes: Mapping[str, Any], positions: Mapping[int, int] | None = None
    ) -> dict[str, Any]:
        """The values to write: `manager` becomes the manager's handle (a BulkRef to a
        create in the same Bulk request), or is left out, warned, when the manager has
        no account."""
        values = dict(attributes)
        manager = values.get("manager")
        if manager in (None, ""):
            return values
        boss = self._links.manager.get(index)
        if boss is not None and positions is not None and boss in positions:
            values["manager"] = BulkRef(positions[boss])
            return values
        handle = self._created.get(boss) if boss is not None else self._handles.get(str(manager))
        if handle is None and boss is None:
            handle = self._lookup(str(manager))
        if handle is None:
            log.warning(
                "target %s: manager %s of %s has no account on the target; manager left out",
                self.driver.name, manager, self.operations[index].employee_id,
            )  # fmt: skip
            del values["manager"]
        else:
            values["manager"] = handle
        return values

    # -- outcomes --------------------------------------------------------------------

    def _done(self, index: int, handle: Handle | None) -> None:
        op = self.operations[index]
        outcome = self.outcomes[index]
        outcome.account_id = self.driver.account_id(handle) if handle is not None else None
        self._settled[index] = True
        if isinstance(op, Delete):
            self._handles.drop(op.employee_id)
        elif handle is not None:
            self._handles.put(op.employee_id, handle)
            if isinstance(op, Create):
                self._created[index] = handle
        log.debug("target %s: %s %s done", self.driver.name, op.action.value, op.employee_id)

    def _fail(self, index: int, error: TargetError, propagated_error: bool = False) -> None:
        op = self.operations[index]
        self.outcomes[index].error = error
        self.outcomes[index].account_id = None
        self.propagated[index] = self.propagated[index] or propagated_error
        self._settled[index] = True
        log.warning(
            "target %s: %s %s failed: %s%s",
            self.driver.name, op.action.value, op.employee_id, type(error).__name__,
            f" (status {error.status})" if error.status else "",
        )  # fmt: skip


def _limits(bulk: Bulk | None, operations: Sequence[Operation]) -> BulkLimits | None:
    if bulk is None:
        return None
    return BulkLimits(bulk.max_operations, bulk.max_payload, lambda index: bulk.bulk_size(operations[index]))
