"""The reconcile flow: a full read of every target against HR, policy and the ledger.

Finds drift (a person's account differs from the desired state, including leavers whose
accounts are still active) and orphan accounts (linked to no person), each an exception.
Writes nothing to any target unless `fix=True`: then the drifted persons' operations
are applied (under the deprovision guard) and read back. Orphans are never changed.

States as hr_sync: Completed, Completed named `Attention`, Failed named `Halted`.
"""

from __future__ import annotations

from prefect import flow
from prefect.states import State

from flows.common import recorded_run
from flows.hr_sync import apply_and_verify, final_state, in_flow, plan_stages, today
from jml.model import IssueKind
from tasks.reconcile import find_differences
from tasks.report import report_run
from tasks.scope import live_issues, only_persons

#: The exception kinds reconcile speaks for (failed_operation too when it fixes).
KINDS = frozenset({IssueKind.DRIFT, IssueKind.ORPHAN})


@flow(name="reconcile", persist_result=False)
def reconcile(config: str = "jml.yaml", fix: bool = False, actor: str = "prefect") -> State:
    """Compare every target with the desired state: drift, orphans, active leavers.

    Args:
        config: Path of the jml config file (YAML) on the machine that runs the flow.
        fix: Apply the operations that remove the drift found (never touches orphan
            accounts); false means report only and write nothing to any target.
        actor: Who started the run, as recorded in the audit trail.
    """
    with recorded_run(config, as_of=today(), actor=actor, dry_run=not fix) as ctx:
        outcome = plan_stages(ctx, in_flow)
        outcome.flow = "reconcile"
        if outcome.checked is None:  # the feed gate halted: nothing to compare with
            return final_state(in_flow(report_run, ctx, outcome))
        if not fix:
            outcome.halt = None  # the deprovision guard only matters when writing
        findings = in_flow(
            find_differences, ctx, outcome.resolved, outcome.targets, outcome.assessment, outcome.checked
        )
        drifted = findings.drifted()
        only_persons(outcome, drifted if fix else set())
        outcome.assessment.states = []  # person states are hr-sync's to keep
        outcome.kinds = KINDS
        if fix and not outcome.halt:
            apply_and_verify(ctx, outcome)
            outcome.kinds = KINDS | {IssueKind.FAILED_OPERATION}
            attempted = {op.employee_id for op in outcome.checked.plan.operations}
            outcome.kept = live_issues(
                ctx, [IssueKind.FAILED_OPERATION], lambda row: row.employee_id not in attempted
            )
            fixed = set().union(*(b.done_persons for b in outcome.batches)) - set().union(
                *(b.failed_persons for b in outcome.batches)
            )
            findings.drift = [i for i in findings.drift if i.employee_id not in fixed]
        outcome.drift = findings.drift + findings.orphans + outcome.drift
        return final_state(in_flow(report_run, ctx, outcome))
