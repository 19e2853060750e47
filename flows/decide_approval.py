"""The decide-approval flow: approve or reject one approval exception, then apply what
the decision released (the person's high-risk grant, once every role has approved).

The decision is recorded exactly as `jml approve` / `jml reject` record it. A decision
the ledger refuses (unknown id, a role the bundle does not list, one person for two
roles) ends the run Failed with that one line as its message.
"""

from __future__ import annotations

from typing import Literal

from prefect import flow
from prefect.states import Completed, Failed, State

from flows.binding import bound_config
from flows.provision_person import provision_person
from jml.config import load_config
from jml.ledger import Ledger, LedgerError


@flow(name="decide-approval", persist_result=False)
def decide_approval(
    exception_id: int,
    approver: str,
    decision: Literal["approve", "reject"] = "approve",
    role: str = "",
    reason: str = "",
) -> State:
    """Approve or reject a high-risk grant, then provision what it released.

    Args:
        exception_id: The id of the approval exception (`jml exceptions`).
        approver: The name of the person deciding.
        decision: approve or reject.
        role: The approver role they act in (one the bundle lists); needed to approve.
        reason: Why (kept with a rejection).
    """
    ledger = Ledger.open(load_config(bound_config()).state_url)
    try:
        if decision == "approve":
            row = ledger.approve(exception_id, by=approver, role=role)
        else:
            row = ledger.reject(exception_id, by=approver, reason=reason or None)
    except LedgerError as exc:
        return Failed(message=str(exc))
    finally:
        ledger.close()
    summary = f"exception {row.id} ({row.employee_id}): {row.status}"
    if row.status != "approved":
        return Completed(message=summary)
    return provision_person(employee_id=row.employee_id, return_state=True)
