"""The ledger's side of operations a target applied: what the next run plans from.

`record_applied(run, target, done)` records, for outcomes that succeeded: the account
links of creates, grants with their reasons, grants and links dropped by revokes and
deletes, the access history (accounts created, enabled, disabled and deleted, grants
made and revoked, in the order applied), and one audit entry per operation (this run, its actor, the operation's
reason). The apply stage calls it for each batch; the read stage for the operations an
interrupted run applied and this run found applied (so the trail, the grants and the
cumulative deprovision guard miss none of them).
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import Outcome
from jml.ledger import AccessChange, AuditEntry
from jml.operations import Create, Delete, Disable, Enable, Grant, Revoke
from pipeline.run import Run

__all__ = ["record_applied"]


def record_applied(run: Run, target: str, done: Sequence[Outcome]) -> None:
    """Record operations applied to `target` in the ledger (see the module docstring)."""
    links: dict[str, str] = {}
    granted: list[tuple[str, str, str]] = []
    revoked: list[tuple[str, str]] = []
    deleted: list[str] = []
    access: list[AccessChange] = []
    for outcome in done:
        match outcome.operation:
            case Create(employee_id=eid, active=active):
                if outcome.account_id:
                    links[eid] = outcome.account_id
                access.append(AccessChange(eid, active=active))
            case Enable(employee_id=eid) | Disable(employee_id=eid) as switch:
                access.append(AccessChange(eid, active=isinstance(switch, Enable)))
            case Grant(employee_id=eid, entitlement=name, reason=reason):
                granted.append((eid, name, reason))
                access.append(AccessChange(eid, name))
            case Revoke(employee_id=eid, entitlement=name):
                revoked.append((eid, name))
                access.append(AccessChange(eid, name, held=False))
            case Delete(employee_id=eid):
                deleted.append(eid)
                access.append(AccessChange(eid, held=False))
    ledger = run.ledger
    if links:
        ledger.link_accounts(run.id, target, links)
    if granted:
        ledger.record_grants(run.id, target, granted)
    if deleted:
        gone = set(deleted)
        revoked += [pair for pair in ledger.grants(target) if pair[0] in gone]
        ledger.unlink_accounts(target, deleted)
    if revoked:
        ledger.remove_grants(target, revoked)
    ledger.record_access(run.id, target, access)
    ledger.append_audit(
        AuditEntry(run.id, run.actor, o.operation.action.value, o.operation.employee_id, target,
                   o.operation.detail, o.operation.reason)
        for o in done
    )  # fmt: skip
