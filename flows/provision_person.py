"""The provision-person flow: re-evaluate one person from the current HR feed and apply
what they need now ("provision on demand", e.g. while on the phone with a new hire).

The whole feed is read and validated (duplicates and quarantine need every row), every
target is read once, and the plan is cut to this one person, whose changes are applied
and read back. Exceptions about other people are kept as they are; the deprovision
guard is applied to this person's plan alone.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import Failed, State

from flows.common import recorded_run
from flows.hr_sync import apply_and_verify, final_state, in_flow, plan_stages, today
from jml.model import IssueKind
from jml.plan import deprovision_guard
from tasks.context import RunContext
from tasks.report import RunOutcome, report_run
from tasks.scope import live_issues, only_persons

#: What a one-person run cannot judge for everyone: kept as they are for others.
PER_PERSON = (IssueKind.DRIFT, IssueKind.FAILED_OPERATION, IssueKind.SAFETY_HALT)


@flow(name="provision-person", persist_result=False)
def provision_person(employee_id: str, config: str = "jml.yaml", actor: str = "prefect") -> State:
    """Re-evaluate one person from the HR feed and apply their changes now.

    Args:
        employee_id: The person's employee_id in the HR feed.
        config: Path of the jml config file (YAML) on the machine that runs the flow.
        actor: Who started the run, as recorded in the audit trail.
    """
    employee_id = employee_id.strip()
    if not employee_id:
        return Failed(message="employee_id is empty: name the person to provision")
    with recorded_run(config, as_of=today(), actor=actor) as ctx:
        outcome = plan_stages(ctx, in_flow)
        outcome.flow = "provision-person"
        if outcome.checked is not None:
            narrow(outcome, employee_id, ctx)
            if not outcome.halt:
                apply_and_verify(ctx, outcome)
        outcome.kept = live_issues(ctx, PER_PERSON, lambda row: row.employee_id != employee_id)
        document = in_flow(report_run, ctx, outcome)
    missing = not_provisionable(outcome, employee_id)
    if missing and not outcome.halt:
        return Failed(data=document, message=missing)
    return final_state(document)


def narrow(outcome: RunOutcome, employee_id: str, ctx: RunContext) -> None:
    """Cut the plan to the person and judge the deprovision guard on that plan alone."""
    only_persons(outcome, {employee_id})
    checked = outcome.checked
    checked.halt, checked.figures = deprovision_guard(
        checked.plan, outcome.targets.snapshots, ctx.config.safety
    )
    # The feed gate never gets here (no plan); any halt so far is the full plan's guard.
    outcome.halt = checked.halt if checked.halt and not ctx.override_safety else None


def not_provisionable(outcome: RunOutcome, employee_id: str) -> str | None:
    """Why the person could not be provisioned from the feed, or None."""
    if outcome.resolved is None:
        return None
    if employee_id in outcome.resolved.held:
        return f"{employee_id} is held back (quarantined or duplicate): see `jml exceptions`"
    if outcome.assessment is not None and employee_id not in outcome.assessment.desired:
        return f"{employee_id} is not in the HR feed"
    return None
