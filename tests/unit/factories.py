"""Small builders for the unit tests: records, configs and an in-memory target state."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date

from jml.model import Account, HrRecord, Snapshot
from jml.operations import LINK, Create, Delete, Disable, Enable, Grant, Operation, Revoke, Update

_ids = itertools.count(1)


def record(employee_id: str = "E1", **fields) -> HrRecord:
    """A valid active employee; keyword arguments override fields."""
    base = HrRecord(
        employee_id=employee_id,
        first_name="Ada",
        last_name="Lovelace",
        email=f"{employee_id.lower()}@example.com",
        department="Engineering",
        job_code="ENG",
        employment_type="employee",
        status="active",
        hire_date=date(2020, 1, 1),
    )
    return replace(base, **fields)


def apply_to_snapshot(snapshot: Snapshot, operations: list[Operation]) -> Snapshot:
    """What a well-behaved target holds after applying `operations` in order: the
    reference semantics of every action, used to check the planner's fixed point."""
    accounts = {a.id: Account(a.id, a.external_id, a.active, dict(a.attributes), set(a.entitlements))
                for a in snapshot.accounts}
    by_eid = {a.external_id: a.id for a in accounts.values() if a.external_id}
    for op in operations:
        if isinstance(op, Create):
            new_id = f"id{next(_ids)}"
            accounts[new_id] = Account(new_id, op.employee_id, op.active, dict(op.attributes))
            by_eid[op.employee_id] = new_id
            continue
        account = accounts[op.account_id or by_eid[op.employee_id]]
        match op:
            case Update(changes=changes):
                for attr, change in changes.items():
                    if attr == LINK:
                        account.external_id = change.new
                        by_eid[change.new] = account.id
                    else:
                        account.attributes[attr] = change.new
            case Enable():
                account.active = True
            case Disable():
                account.active = False
            case Grant(entitlement=name):
                account.entitlements.add(name)
            case Revoke(entitlement=name):
                account.entitlements.discard(name)
            case Delete():
                del accounts[account.id]
    return Snapshot(snapshot.target, list(accounts.values()), held=snapshot.held)
