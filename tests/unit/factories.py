"""Small builders for the unit tests: records, configs and an in-memory target state."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import date

from jml.model import Account, Action, HrRecord, Operation, Snapshot

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
        if op.action is Action.CREATE:
            new_id = f"id{next(_ids)}"
            accounts[new_id] = Account(new_id, op.employee_id, op.detail["active"], dict(op.detail["attributes"]))
            by_eid[op.employee_id] = new_id
            continue
        account = accounts[op.account_id or by_eid[op.employee_id]]
        if op.action is Action.UPDATE:
            for attr, (_old, new) in op.detail["changes"].items():
                if attr == "external_id":
                    account.external_id = new
                    by_eid[new] = account.id
                else:
                    account.attributes[attr] = new
        elif op.action is Action.ENABLE:
            account.active = True
        elif op.action is Action.DISABLE:
            account.active = False
        elif op.action is Action.GRANT:
            account.entitlements.add(op.detail["entitlement"])
        elif op.action is Action.REVOKE:
            account.entitlements.discard(op.detail["entitlement"])
        elif op.action is Action.DELETE:
            del accounts[account.id]
    return Snapshot(snapshot.target, list(accounts.values()))
