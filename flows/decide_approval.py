"""The decide-approval flow: approve or reject one approval exception, then apply what
the decision released (the person's high-risk grant, once every role has approved).

The decision is recorded exactly as `jml approve` / `jml reject` record it, checked
against the policy's rosters the same way. A decision the ledger refuses (unknown id, a
role the bundle does not list, one person for two roles, an approver off the role's
roster) ends the run Failed with that one line as its message, and nothing recorded.
"""

from __future__ import annotations

from typing import Literal

from prefect import flow
from prefect.states import Completed, Failed, State

from flows.binding import bound_config
from flows.provision_person import provision_person
from jml.ledger import Ledger, LedgerError
from pipeline.run import load_settings


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
        approver: The name of the person deciding (with rosters: their employee_id).
        decision: approve or reject.
        role: The approver role they act in (one the bundle lists); needed to approve,
            and with rosters to reject.
        reason: Why (kept with a rejection).
    """
    settings = load_settings(bound_config())
    rosters = settings.policy.rosters()
    ledger = Ledger.open(settings.config.state_url)
    try:
        if decision == "approve":
            row = ledger.approve(exception_id, by=approver, role=role, rosters=rosters)
        else:
            row = ledger.reject(exception_id, by=approver, reason=reason or None, role=role or None, rosters=rosters)
    except LedgerError as exc:
        return Failed(message=str(exc))
    finally:
        ledger.close()
    summary = f"exception {row.id} ({row.employee_id}): {row.status}"
    if row.status != "approved":
        return Completed(message=summary)
    return provision_person(employee_id=row.employee_id, return_state=True)
