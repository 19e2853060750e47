"""The hr_sync flow: HR feed to verified access, one task per stage (and per batch in
apply), composed by `pipeline.sync`:

    validate -> resolve -> read-targets -> naming -> lifecycle -> entitle -> plan -> apply
    -> verify -> report

The final state names the outcome: Completed (converged), Completed named `Attention`
(exceptions open), Failed named `Halted` (a safety gate tripped; nothing applied).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from prefect import flow
from prefect.states import Completed, Failed, State

from flows.binding import actor, bound_config, refuse_ui_override
from jml.config import load_config
from jml.lifecycle import today
from jml.outcome import ATTENTION, FAILED, HALTED
from pipeline import sync
from pipeline.outcome import Execution, Planned, Scope
from pipeline.run import Run, open_run
from tasks.approvals import wait_for_decisions
from tasks.artifacts import ApplyProgress, publish_run
from tasks.stage import in_task

#: How an Attention run with failed operations or unreachable targets starts its message.
FAILED_PREFIX = "operations failed"


@flow(name="hr-sync", persist_result=False)
def hr_sync(
    as_of: date | None = None,
    dry_run: bool = False,
    wait_for_approvals: bool = False,
    approval_timeout: int = 3600,
    override_safety: bool = False,
) -> State:
    """Sync HR into every target: validate, plan, apply, verify, report.

    Args:
        as_of: Run as of this day (YYYY-MM-DD); empty means today (UTC).
        dry_run: Plan and report only; nothing is written to any target.
        wait_for_approvals: When high-risk grants wait for approval, pause the run
            and ask for the decisions in the Prefect UI before applying.
        approval_timeout: Seconds to wait for those decisions; then the run goes on
            without the grants still waiting.
        override_safety: Run even if a safety gate trips (audited); from the UI only
            when the config says safety.allow_ui_override.
    """
    config = bound_config()
    refused = refuse_ui_override(load_config(config), override_safety)
    if refused:
        return Failed(message=refused)
    options = {"dry_run": dry_run, "override_safety": override_safety, "actor": actor()}
    with open_run(config, as_of=as_of or today(), record=True, **options) as run:
        planned = sync.plan(run, in_task)
        if wait_for_approvals and planned.proceeds and not dry_run and planned.entitled is not None:
            if wait_for_decisions(run, planned.entitled.issues, approval_timeout):
                planned = sync.entitle_and_plan(run, planned, in_task)
        sync.audit_overrides(run, planned)
        execution = apply_and_verify(run, planned, "hr-sync") if planned.proceeds and not dry_run else Execution()
        document = finish(run, planned, execution, Scope(flow="hr-sync"))
    return final_state(document)


def apply_and_verify(run: Run, planned: Planned, flow_name: str) -> Execution:
    """Apply the plan as tasks, with a progress artifact; then verify."""
    assert planned.checked is not None
    progress = ApplyProgress(len(planned.checked.plan.operations), flow_name)
    execution = sync.apply(run, planned, in_task, progress.advance)
    progress.finish()
    return execution


def finish(run: Run, planned: Planned, execution: Execution, scope: Scope) -> dict[str, Any]:
    """The report task, then the run's artifacts; the run's JSON document."""
    document = sync.report(run, planned, execution, scope, in_task)
    publish_run(run, document, scope.flow)
    return document


def final_state(document: dict[str, Any]) -> State:
    """The flow run's state for a run document; its message carries the counts (the
    alerts quote it, and match `operations failed*` for an Attention worth an alert)."""
    status = document["status"]
    if status == HALTED:
        return Failed(data=document, name="Halted", message=document["halt"])
    if status == FAILED:
        return Failed(data=document, message=document["error"] or document["lock_lost"])
    if status == ATTENTION:
        return Completed(data=document, name="Attention", message=state_message(document))
    return Completed(data=document, message=state_message(document))


def state_message(document: dict[str, Any]) -> str:
    """One line: what failed (if anything), then the counts."""
    ops = document["operations"]
    counts = (
        f"planned {ops['planned']}, applied {ops['applied']}, failed {ops['failed']},"
        f" parked {ops['parked']}; exceptions open {document['exceptions_open']}"
    )
    skipped = document.get("skipped_targets") or []
    if ops["failed"] or ops["parked"] or skipped:
        down = f" (unreachable: {', '.join(skipped)})" if skipped else ""
        return f"{FAILED_PREFIX}{down}: {counts}"
    return f"{document['status']}: {counts}"
