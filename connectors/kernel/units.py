"""Cutting one call's operations into units of work, with the units each waits for. Pure.

A unit is sent as one request (or one transaction step):
- an **account** unit: one account operation (create, update, enable, disable, delete),
  or, with Bulk, a run of consecutive account operations packed into one Bulk request;
- a **members** unit: consecutive grants and revokes of one group (an account operation
  in between ends the run).

Dependencies (`Unit.deps`, indices of earlier units):
- an account operation waits for the same person's earlier units (account and members);
- a members unit waits for the last account unit of each of its persons;
- a create or update naming a manager waits for the unit creating that manager;
- a members unit waits for the previous members unit of the same group, so that two
  units never change (or create) one group at the same time.
Every unit waits only for units planned before it, so plan order is a valid order.

`Links` says, per operation, which earlier create in the call it relies on: its own
person's (`own`) and its manager's (`manager`). The kernel fails an operation whose
create failed, and holds back one whose create waits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from jml.operations import Create, Grant, Operation, Revoke

__all__ = ["BulkLimits", "Links", "Unit", "links_of", "plan_units"]


@dataclass(slots=True, eq=False)
class Unit:
    """Work sent as one request: `indices` of the call's operations, in order."""

    kind: str  # "account" or "members"
    indices: list[int] = field(default_factory=list)
    group: str | None = None
    deps: set[int] = field(default_factory=set)
    size: int = 0


@dataclass(frozen=True, slots=True)
class BulkLimits:
    """How account operations pack into one Bulk request: at most `max_operations`, and
    (if set) at most `max_payload` bytes, `size(index)` being one operation's share."""

    max_operations: int
    max_payload: int | None
    size: Callable[[int], int]
    envelope: int = 256


@dataclass(frozen=True, slots=True)
class Links:
    """Per operation index: the index of its own person's earlier create (`own`) and of
    its manager's earlier create (`manager`), where the call has one."""

    own: dict[int, int]
    manager: dict[int, int]

    def creates_of(self, index: int) -> list[int]:
        """The creates `index` relies on."""
        return [c for c in (self.own.get(index), self.manager.get(index)) if c is not None]


def links_of(operations: Sequence[Operation]) -> Links:
    """Which earlier create of the call each operation relies on."""
    create_of: dict[str, int] = {}
    own: dict[int, int] = {}
    manager: dict[int, int] = {}
    for index, op in enumerate(operations):
        if isinstance(op, Create):
            create_of[op.employee_id] = index
        elif op.employee_id in create_of:
            own[index] = create_of[op.employee_id]
        boss = op.manager()
        if boss is not None and boss in create_of and create_of[boss] != index:
            manager[index] = create_of[boss]
    return Links(own, manager)


def plan_units(operations: Sequence[Operation], links: Links, bulk: BulkLimits | None = None) -> list[Unit]:
    """The units of work for `operations` (see the module docstring)."""
    units: list[Unit] = []
    unit_of: dict[int, int] = {}
    account_tail: dict[str, int] = {}  # person -> their last account unit
    member_tails: dict[str, set[int]] = {}  # person -> their members units since then
    group_tail: dict[str, int] = {}  # group -> its last members unit
    open_groups: dict[str, int] = {}  # group -> its members unit in the current run
    chunk: int | None = None  # the open bulk unit

    def new(kind: str, group: str | None = None) -> int:
        units.append(Unit(kind=kind, group=group))
        return len(units) - 1

    for index, op in enumerate(operations):
        person = op.employee_id
        if isinstance(op, Grant | Revoke):
            chunk = None
            number = open_groups.get(op.entitlement)
            if number is None:
                number = open_groups[op.entitlement] = new("members", op.entitlement)
                if op.entitlement in group_tail:
                    units[number].deps.add(group_tail[op.entitlement])
                group_tail[op.entitlement] = number
            if person in account_tail:
                units[number].deps.add(account_tail[person])
            units[number].indices.append(index)
            member_tails.setdefault(person, set()).add(number)
            unit_of[index] = number
            continue

        open_groups = {}
        deps = member_tails.pop(person, set())
        if person in account_tail:
            deps.add(account_tail[person])
        if index in links.manager:
            deps.add(unit_of[links.manager[index]])
        if bulk is None:
            number = new("account")
        else:
            size = bulk.size(index)
            refers_to_chunk = any(unit_of.get(c) == chunk for c in links.creates_of(index)) and not isinstance(op, Create)
            if (
                chunk is None
                or refers_to_chunk
                or len(units[chunk].indices) >= bulk.max_operations
                or (bulk.max_payload is not None and units[chunk].size + size + bulk.envelope > bulk.max_payload)
            ):
                chunk = new("account")
            number = chunk
            units[number].size += size + 1
        units[number].indices.append(index)
        deps.discard(number)
        units[number].deps |= deps
        account_tail[person] = number
        unit_of[index] = number
    return units
