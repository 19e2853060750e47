"""The reconcile flow: a full read of every target against HR, policy and the ledger.

Finds drift (a person's account differs from the desired state, including leavers whose
accounts are still active) and orphan accounts (linked to no person), each an exception.
Writes nothing to any target unless `fix=True`: then the drifted persons' operations
are applied (under the deprovision guard) and read back. Orphans are never changed.

States as hr_sync: Completed, Completed named `Attention`, Failed named `Halted`.
"""

from __future__ import annotations

from datetime import date

from prefect import flow
from prefect.states import State

from flows.binding import actor, bound_config
from flows.hr_sync import apply_and_verify, final_state, finish
from jml.lifecycle import today
from jml.model import IssueKind
from pipeline import sync
from pipeline.outcome import Execution, Scope
from pipeline.reconcile import find_differences
from pipeline.report import live_issues
from pipeline.run import open_run
from tasks.stage import in_task

FLOW = "reconcile"
#: The exception kinds reconcile speaks for (failed_operation too when it fixes).
KINDS = frozenset({IssueKind.DRIFT, IssueKind.ORPHAN})


@flow(name=FLOW, persist_result=False)
def reconcile(fix: bool = False, as_of: date | None = None) -> State:
    """Compare every target with the desired state: drift, orphans, active leavers.

    Args:
        fix: Apply the operations that remove the drift found (never touches orphan
            accounts); false means report only and write nothing to any target.
        as_of: Judge the desired state as of this day (YYYY-MM-DD); empty means today (UTC).
    """
    with open_run(bound_config(), as_of=as_of or today(), record=True, actor=actor(), read_only=not fix,
                  read_in_full=True) as run:
        planned = sync.plan(run, in_task)
        if planned.checked is None:  # the feed gate halted: nothing to compare with
            return final_state(finish(run, planned, Execution(), Scope(flow=FLOW, kinds=KINDS, save_states=False)))
        assert planned.entitled is not None
        findings = in_task(FLOW, find_differences, run, planned.resolved, planned.targets,
                           planned.entitled.desired, planned.checked)  # fmt: skip
        planned = sync.for_drift(planned, findings.drifted(), fix=fix)
        execution, kinds, kept = Execution(), KINDS, ()
        if fix and planned.proceeds:
            execution = apply_and_verify(run, planned, FLOW)
            attempted = planned.checked.plan.persons() if planned.checked else set()
            kinds = KINDS | {IssueKind.FAILED_OPERATION}
            kept = live_issues(run, [IssueKind.FAILED_OPERATION], lambda row: row.employee_id not in attempted)
            done = set().union(*(b.done_persons for b in execution.batches))
            findings = findings.without(done - set().union(*(b.failed_persons for b in execution.batches)))
        scope = Scope(flow=FLOW, kinds=kinds, kept=kept, found=findings.drift + findings.orphans, save_states=False)
        return final_state(finish(run, planned, execution, scope))
