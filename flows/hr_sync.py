"""The hr_sync flow: HR feed to verified access, one task per stage (and per batch in
apply).

    validate -> resolve -> read-targets -> lifecycle -> entitle -> plan -> apply -> verify -> report

The final state names the outcome: Completed (converged), Completed named `Attention`
(exceptions open), Failed named `Halted` (a safety gate tripped; nothing applied).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date

from prefect import flow
from prefect.states import Completed, Failed, State
from prefect.utilities.annotations import quote

from jml.ledger import AuditEntry
from jml.lifecycle import today
from jml.outcome import ATTENTION, FAILED, HALTED
from tasks.apply import apply_batch, batches
from tasks.approvals import wait_for_decisions
from tasks.artifacts import ApplyProgress
from tasks.context import RunContext, open_context
from tasks.evaluate import assess_lifecycles, entitle, resolve_persons
from tasks.planning import plan_changes
from tasks.report import RunOutcome, report_run
from tasks.sources import read_and_validate
from tasks.targets import read_targets
from tasks.verify import verify

#: How a stage is called: `in_flow` runs it as a Prefect task, `direct` as a plain
#: function (for `jml plan`, which records nothing and needs no Prefect run).
Call = Callable[..., object]


def in_flow(stage, *args):
    """Run a stage as a Prefect task; large payloads are quoted so Prefect does not walk
    through them looking for futures."""
    return stage(*(quote(a) if not isinstance(a, (RunContext, str)) else a for a in args))


def direct(stage, *args):
    """Run a stage's function without Prefect."""
    return stage.fn(*args)


@contextmanager
def _timed(ctx: RunContext, timings: dict[str, float], stage: str) -> Iterator[None]:
    """Time a stage; renew the run lock's lease after it."""
    started = time.perf_counter()
    yield
    timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - started
    ctx.renew_lock()


def plan_stages(ctx: RunContext, call: Call) -> RunOutcome:
    """Every stage up to the plan and its safety gates; nothing is written to targets."""
    timings: dict[str, float] = {}
    with _timed(ctx, timings, "validate"):
        feed = call(read_and_validate, ctx)
    outcome = RunOutcome(feed=feed, timings=timings, error=feed.error)
    if feed.error:
        return outcome
    if feed.halt and not _override(ctx, outcome, feed.halt, possible=not feed.final):
        return outcome
    with _timed(ctx, timings, "resolve"):
        outcome.resolved = call(resolve_persons, ctx, feed)
    with _timed(ctx, timings, "read-targets"):
        outcome.targets = call(read_targets, ctx)
    snapshots = outcome.targets.snapshots
    with _timed(ctx, timings, "lifecycle"):
        outcome.assessment = call(assess_lifecycles, ctx, outcome.resolved, snapshots)
    return entitle_and_plan(ctx, outcome, call)


def entitle_and_plan(ctx: RunContext, outcome: RunOutcome, call: Call) -> RunOutcome:
    """The entitle and plan stages (again, after approvals were decided mid-run)."""
    timings, snapshots = outcome.timings, outcome.targets.snapshots
    with _timed(ctx, timings, "entitle"):
        outcome.policy_issues = call(entitle, ctx, outcome.assessment, snapshots)
    with _timed(ctx, timings, "plan"):
        outcome.checked = call(plan_changes, ctx, outcome.assessment, snapshots)
    if outcome.checked.halt:
        _override(ctx, outcome, outcome.checked.halt, possible=True)
    return outcome


def _override(ctx: RunContext, outcome: RunOutcome, gate: str, *, possible: bool) -> bool:
    """Whether a tripped gate is overridden (`--override-safety`); else the run halts."""
    if possible and ctx.override_safety:
        if gate not in outcome.overridden:  # the plan is made again after approvals
            outcome.overridden.append(gate)
        return True
    outcome.halt = gate
    return False


def apply_and_verify(ctx: RunContext, outcome: RunOutcome) -> None:
    """Apply the plan batch by batch per target, then read back what was touched."""
    touched: dict[str, set[str]] = {}
    progress = ApplyProgress(len(outcome.checked.plan.operations), outcome.flow)
    with _timed(ctx, outcome.timings, "apply"):
        for target, target_batches in batches(outcome.checked.plan.operations).items():
            failed: set[str] = set()
            for i, batch in enumerate(target_batches):
                result = in_flow(apply_batch, ctx, target, batch)
                outcome.batches.append(result)
                progress.advance(len(batch))
                touched.setdefault(target, set()).update(result.done_persons)
                failed |= result.failed_persons
                if result.down:
                    outcome.parked[target] = sum(len(b) for b in target_batches[i + 1 :])
                    break
            touched[target] -= failed
        progress.finish()
    with _timed(ctx, outcome.timings, "verify"):
        outcome.drift = in_flow(verify, ctx, outcome.assessment, touched)


@flow(name="hr-sync", persist_result=False)
def hr_sync(
    config: str = "jml.yaml",
    as_of: date | None = None,
    dry_run: bool = False,
    override_safety: bool = False,
    actor: str = "prefect",
    wait_for_approvals: bool = False,
    approval_timeout: int = 3600,
) -> State:
    """Sync HR into every target: validate, plan, apply, verify, report.

    Args:
        config: Path of the jml config file (YAML) on the machine that runs the flow.
        as_of: Run as of this day (YYYY-MM-DD); empty means today (UTC).
        dry_run: Plan and report only; nothing is written to any target.
        override_safety: Run even if a safety gate trips (audited).
        actor: Who started the run, as recorded in the audit trail.
        wait_for_approvals: When high-risk grants wait for approval, pause the run
            and ask for the decisions in the Prefect UI before applying.
        approval_timeout: Seconds to wait for those decisions; then the run goes on
            without the grants still waiting.
    """
    ctx = open_context(
        config, as_of=as_of or today(), dry_run=dry_run, override_safety=override_safety, actor=actor
    )
    try:
        with ctx.run_lock():
            ctx.run_id = ctx.ledger.start_run(
                as_of=ctx.as_of, dry_run=dry_run, override_safety=override_safety, actor=actor
            )
            outcome = plan_stages(ctx, in_flow)
            stopped = outcome.halt or outcome.error
            if wait_for_approvals and not stopped and not dry_run:
                if wait_for_decisions(ctx, outcome.policy_issues, approval_timeout):
                    entitle_and_plan(ctx, outcome, in_flow)
            ctx.ledger.append_audit(
                AuditEntry(ctx.run_id, actor, "override_safety", None, None, {"gate": gate}, None)
                for gate in outcome.overridden
            )
            if not stopped and not dry_run:
                apply_and_verify(ctx, outcome)
            document = in_flow(report_run, ctx, outcome)
    finally:
        ctx.close()
    return final_state(document)


def final_state(document: dict) -> State:
    """The flow run's state for a run document; its message carries the counts (the
    alerts quote it, and match `operations failed*` for an Attention worth an alert)."""
    status = document["status"]
    if status == HALTED:
        return Failed(data=document, name="Halted", message=document["halt"])
    if status == FAILED:
        return Failed(data=document, message=document["error"])
    if status == ATTENTION:
        return Completed(data=document, name="Attention", message=state_message(document))
    return Completed(data=document, message=state_message(document))


#: How an Attention run with failed operations or unreachable targets starts its message.
FAILED_PREFIX = "operations failed"


def state_message(document: dict) -> str:
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
