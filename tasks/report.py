"""Close the run: record exceptions and person states, decide the outcome, publish the
run summary."""

from __future__ import annotations

from dataclasses import dataclass, field

from prefect import task
from prefect.artifacts import create_markdown_artifact
from prefect.cache_policies import NONE

from jml.evaluate import Assessment
from jml.ledger import AuditEntry
from jml.model import Action, Issue, IssueKind, Lifecycle
from jml.outcome import ATTENTION, CONVERGED, FAILED, HALTED
from jml.resolve import Resolved
from tasks.apply import BatchResult
from tasks.artifacts import publish_exceptions
from tasks.context import RunContext
from tasks.planning import Checked
from tasks.sources import Feed
from tasks.targets import TargetState

#: The exception kinds a sync run speaks for: every kind but `orphan` (reconcile's).
SYNC_KINDS = frozenset(IssueKind) - {IssueKind.ORPHAN}


@dataclass(eq=False)
class RunOutcome:
    """Everything the stages of one run produced (later stages None if it stopped)."""

    feed: Feed
    resolved: Resolved | None = None
    targets: TargetState | None = None
    assessment: Assessment | None = None
    policy_issues: list[Issue] = field(default_factory=list)
    checked: Checked | None = None
    halt: str | None = None
    error: str | None = None
    overridden: list[str] = field(default_factory=list)
    batches: list[BatchResult] = field(default_factory=list)
    parked: dict[str, int] = field(default_factory=dict)
    drift: list[Issue] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    #: The exception kinds this run speaks for: open, kept or closed by its report.
    kinds: frozenset[IssueKind] = SYNC_KINDS
    #: Live exceptions of those kinds the run does not speak for (another person's, in
    #: a one-person run), handed back unchanged so the report does not close them.
    kept: list[Issue] = field(default_factory=list)
    #: The flow that produced it (names its artifacts).
    flow: str = "hr-sync"

    def issues(self) -> list[Issue]:
        """Every issue the run found, for the ledger to open, keep or close."""
        found = list(self.kept) + list(self.feed.issues) + self.policy_issues + self.drift
        if self.resolved:
            found += self.resolved.issues
        if self.assessment:
            found += self.assessment.issues
        if self.checked:
            found += self.checked.plan.issues
        if self.targets:
            found += self.targets.unreachable.values()
        for batch in self.batches:
            found += batch.issues
            if batch.down:
                found.append(batch.down)
        return [i for i in {issue.key: issue for issue in found}.values() if i.kind in self.kinds]

    def skipped_targets(self) -> set[str]:
        """Targets that were not (fully) read or written this run."""
        skipped = set(self.targets.unreachable) if self.targets else set()
        return skipped | {b.down.target for b in self.batches if b.down}

    def movement(self) -> dict[str, int]:
        """How many joiners, movers and leavers the plan touched."""
        if not self.checked or not self.assessment:
            return {"joiners": 0, "movers": 0, "leavers": 0}
        desired = self.assessment.desired
        ops = self.checked.plan.operations
        joiners = {op.employee_id for op in ops if op.action is Action.CREATE}
        leavers = {
            op.employee_id
            for op in ops
            if desired[op.employee_id].lifecycle in (Lifecycle.TERMINATED, Lifecycle.DELETE)
        }
        movers = {op.employee_id for op in ops} - joiners - leavers
        return {"joiners": len(joiners), "movers": len(movers), "leavers": len(leavers)}


def halt_issue(message: str, figures: dict) -> Issue:
    """The `safety_halt` exception of a run a safety gate stopped."""
    return Issue(IssueKind.SAFETY_HALT, "safety_halt", message, data=figures)


@task(name="report", cache_policy=NONE)
def report_run(ctx: RunContext, outcome: RunOutcome) -> dict:
    """Record what the run found and did, finish the run in the ledger, publish the
    summary artifact; return the run's JSON document."""
    ledger = ctx.ledger
    opened = closed = 0
    if outcome.error:
        status = FAILED
    elif outcome.halt:
        opened, closed = ledger.sync_issues(
            ctx.run_id, [halt_issue(outcome.halt, _figures(outcome))], kinds={IssueKind.SAFETY_HALT}
        )
        status = HALTED
    elif ctx.dry_run:
        status = ATTENTION if ledger.count_open() or outcome.issues() else CONVERGED
    else:
        opened, closed = ledger.sync_issues(
            ctx.run_id,
            outcome.issues(),
            kinds=set(outcome.kinds),
            skip_targets=outcome.skipped_targets(),
        )
        ledger.save_person_states(ctx.run_id, outcome.assessment.states)
        for target, links in outcome.checked.plan.matched.items():
            ledger.link_accounts(ctx.run_id, target, links)
        status = ATTENTION if ledger.count_open() else CONVERGED
    document = run_document(ctx, outcome, status, opened, closed)
    ledger.finish_run(ctx.run_id, status, document)
    ledger.append_audit(
        [AuditEntry(ctx.run_id, ctx.actor, "run_finished", None, None, {"status": status}, None)]
    )
    create_markdown_artifact(
        key=f"{outcome.flow}-summary",
        markdown=summary_markdown(document),
        description=f"{outcome.flow} run summary",
    )
    if status not in (HALTED, FAILED) and not ctx.dry_run:
        publish_exceptions(ctx, outcome.flow)
    return document


def _figures(outcome: RunOutcome) -> dict:
    if outcome.checked and outcome.checked.halt:
        return outcome.checked.figures
    return {"rows": outcome.feed.rows, "invalid": outcome.feed.invalid}


def run_document(ctx: RunContext, outcome: RunOutcome, status: str, opened: int, closed: int) -> dict:
    """The run's JSON document (`jml run --json`)."""
    planned = len(outcome.checked.plan.operations) if outcome.checked else 0
    per_target: dict[str, dict[str, int]] = {}
    if outcome.checked:
        for op in outcome.checked.plan.operations:
            counts = per_target.setdefault(op.target, {})
            counts[op.action.value] = counts.get(op.action.value, 0) + 1
    return {
        "status": status,
        "flow": outcome.flow,
        "run_id": ctx.run_id,
        "as_of": ctx.as_of.isoformat(),
        "dry_run": ctx.dry_run,
        "override_safety": ctx.override_safety,
        "halt": outcome.halt,
        "error": outcome.error,
        "overridden": outcome.overridden,
        "operations": {
            "planned": planned,
            "applied": sum(b.applied for b in outcome.batches),
            "failed": sum(b.failed for b in outcome.batches),
            "retried": sum(b.retried for b in outcome.batches),
            "settled": sum(b.settled for b in outcome.batches),
            "parked": sum(outcome.parked.values()),
        },
        "per_target": per_target,
        "skipped_targets": sorted(outcome.skipped_targets()),
        "feed": {"rows": outcome.feed.rows, "invalid": outcome.feed.invalid},
        "persons": outcome.movement(),
        "exceptions_open": ctx.ledger.count_open(),
        "exceptions_opened": opened,
        "exceptions_closed": closed,
        "timings": {stage: round(seconds, 3) for stage, seconds in outcome.timings.items()},
    }


def summary_markdown(document: dict) -> str:
    """The markdown summary artifact of a run."""
    ops = document["operations"]
    lines = [
        f"# {document.get('flow', 'hr-sync')} run {document['run_id']}: {document['status']}",
        "",
        f"As of **{document['as_of']}**" + (" (dry run)" if document["dry_run"] else ""),
    ]
    if document["halt"]:
        lines += ["", f"**Halted**: {document['halt']}"]
    lines += [
        "",
        "| planned | applied | failed | parked | exceptions open | opened | closed |",
        "|---|---|---|---|---|---|---|",
        f"| {ops['planned']} | {ops['applied']} | {ops['failed']} | {ops['parked']}"
        f" | {document['exceptions_open']} | {document['exceptions_opened']}"
        f" | {document['exceptions_closed']} |",
        "",
        "| joiners | movers | leavers | feed rows | invalid rows |",
        "|---|---|---|---|---|",
        f"| {document['persons']['joiners']} | {document['persons']['movers']}"
        f" | {document['persons']['leavers']} | {document['feed']['rows']}"
        f" | {document['feed']['invalid']} |",
    ]
    if document["per_target"]:
        lines += ["", "| target | operations |", "|---|---|"]
        for target, counts in sorted(document["per_target"].items()):
            detail = ", ".join(f"{action} {n}" for action, n in sorted(counts.items()))
            lines.append(f"| {target} | {detail} |")
    if document["timings"]:
        lines += ["", "| stage | seconds |", "|---|---|"]
        lines += [f"| {stage} | {sec} |" for stage, sec in document["timings"].items()]
    return "\n".join(lines)

