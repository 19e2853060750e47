"""The provision-person flow: re-evaluate one person from the current HR feed and apply
what they need now ("provision on demand", e.g. while on the phone with a new hire).

The whole feed is read and validated (duplicates and quarantine need every row), every
target is read once, and the plan is cut to this one person, whose changes are applied
and read back. Exceptions about other people are kept as they are; the deprovision
guard is applied to this person's plan alone.
"""

from __future__ import annotations

from datetime import date

from prefect import flow
from prefect.states import Failed, State

from flows.binding import actor, bound_config
from flows.hr_sync import apply_and_verify, final_state, finish
from jml.lifecycle import today
from jml.model import IssueKind
from pipeline import sync
from pipeline.outcome import Execution, Planned, Scope
from pipeline.report import live_issues
from pipeline.run import open_run
from tasks.stage import in_task

FLOW = "provision-person"
#: What a one-person run cannot judge for everyone: kept as they are for others.
PER_PERSON = (IssueKind.DRIFT, IssueKind.FAILED_OPERATION, IssueKind.SAFETY_HALT)


@flow(name=FLOW, persist_result=False)
def provision_person(employee_id: str, as_of: date | None = None) -> State:
    """Re-evaluate one person from the HR feed and apply their changes now.

    Args:
        employee_id: The person's employee_id in the HR feed.
        as_of: Evaluate the person as of this day (YYYY-MM-DD); empty means today (UTC).
    """
    employee_id = employee_id.strip()
    if not employee_id:
        return Failed(message="employee_id is empty: name the person to provision")
    with open_run(bound_config(), as_of=as_of or today(), record=True, actor=actor()) as run:
        planned = sync.plan(run, in_task)
        execution = Execution()
        if planned.checked is not None:
            planned = sync.for_person(run, planned, employee_id)
            if planned.proceeds:
                execution = apply_and_verify(run, planned, FLOW)
        kept = live_issues(run, PER_PERSON, lambda row: row.employee_id != employee_id)
        document = finish(run, planned, execution, Scope(flow=FLOW, kept=kept))
    missing = not_provisionable(planned, employee_id)
    if missing and not planned.halt:
        return Failed(data=document, message=missing)
    return final_state(document)


def not_provisionable(planned: Planned, employee_id: str) -> str | None:
    """Why the person could not be provisioned from the feed, or None."""
    if planned.resolved is None:
        return None
    if employee_id in planned.resolved.held:
        return f"{employee_id} is held back (quarantined or duplicate): see `jml exceptions`"
    if planned.assessment is not None and employee_id not in planned.assessment.desired:
        return f"{employee_id} is not in the HR feed"
    return None
