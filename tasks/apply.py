"""Apply one batch of operations to one target under the write-ahead journal."""

from __future__ import annotations

from dataclasses import dataclass, field

from prefect import task
from prefect.cache_policies import NONE

from connectors.base import Outcome
from connectors.retry import apply_with_retries
from jml.ledger import AuditEntry
from jml.model import Action, Issue, IssueKind, Operation
from tasks.context import RunContext
from tasks.logs import run_logger
from tasks.targets import unreachable_issue

#: Operations per apply task, at least: task overhead stays small next to the calls.
MIN_BATCH = 100
#: Apply tasks per target, at most: the number of task runs of a flow run is bounded,
#: however large the population (an initial load makes larger batches, not more).
MAX_BATCHES = 16


@dataclass(slots=True)
class BatchResult:
    """How a batch went: counts, the failed operations' issues, and whether the target
    turned out to be down (then its remaining batches are parked)."""

    applied: int = 0
    failed: int = 0
    retried: int = 0
    settled: int = 0
    issues: list[Issue] = field(default_factory=list)
    down: Issue | None = None
    done_persons: set[str] = field(default_factory=set)
    failed_persons: set[str] = field(default_factory=set)


def batches(operations: list[Operation]) -> dict[str, list[list[Operation]]]:
    """Target -> its operations in plan order, cut into at most MAX_BATCHES batches of
    at least MIN_BATCH operations."""
    per_target: dict[str, list[Operation]] = {}
    for op in operations:
        per_target.setdefault(op.target, []).append(op)
    cut = {}
    for target, ops in per_target.items():
        size = max(MIN_BATCH, -(-len(ops) // MAX_BATCHES))
        cut[target] = [ops[i : i + size] for i in range(0, len(ops), size)]
    return cut


def failed_issue(outcome: Outcome) -> Issue:
    """The `failed_operation` issue of one operation the target did not apply."""
    op = outcome.operation
    entitlement = op.detail.get("entitlement", "")
    what = f"{op.action.value} {entitlement}".strip()
    return Issue(
        IssueKind.FAILED_OPERATION,
        f"failed_operation:{op.target}:{op.employee_id}:{op.action.value}:{entitlement}",
        f"{op.employee_id}: {what} on {op.target} failed: {outcome.error}",
        employee_id=op.employee_id,
        target=op.target,
        data={"action": op.action.value, "error": str(outcome.error), "status": outcome.error.status},
    )


@task(name="apply", cache_policy=NONE)
def apply_batch(ctx: RunContext, target: str, operations: list[Operation]) -> BatchResult:
    """Journal the batch as pending, apply it, then journal each outcome and record
    links, grants and the audit trail for what was applied."""
    ctx.renew_lock()
    ledger = ctx.ledger
    ids = ledger.journal_pending(ctx.run_id, operations)
    outcomes, stats = apply_with_retries(
        ctx.target(target), operations, ctx.config.target(target).retry, ctx.breaker(target)
    )
    ledger.journal_finish(
        (op_id, "done" if o.ok else "failed", None if o.ok else str(o.error))
        for op_id, o in zip(ids, outcomes, strict=True)
    )
    result = BatchResult(retried=stats.retried, settled=stats.settled)
    if ctx.breaker(target).open:
        result.down = unreachable_issue(target, next(o.error for o in outcomes if o.error))
    _record(ctx, target, outcomes, result)
    run_logger().info(
        "applied %d of %d operations on %s (%d failed, %d sent again, %d lost replies settled)",
        result.applied, len(operations), target, result.failed, stats.retried, stats.settled,
    )
    return result


def _record(ctx: RunContext, target: str, outcomes: list[Outcome], result: BatchResult) -> None:
    links: dict[str, str] = {}
    granted: list[tuple[str, str, str]] = []
    revoked: list[tuple[str, str]] = []
    deleted: list[str] = []
    audit: list[AuditEntry] = []
    for outcome in outcomes:
        op = outcome.operation
        if not outcome.ok:
            result.failed += 1
            result.failed_persons.add(op.employee_id)
            if result.down is None:
                result.issues.append(failed_issue(outcome))
            continue
        result.applied += 1
        result.done_persons.add(op.employee_id)
        audit.append(
            AuditEntry(ctx.run_id, ctx.actor, op.action.value, op.employee_id, target, op.detail, op.reason)
        )
        if op.action is Action.CREATE and outcome.account_id:
            links[op.employee_id] = outcome.account_id
        elif op.action is Action.GRANT:
            granted.append((op.employee_id, op.detail["entitlement"], op.reason))
        elif op.action is Action.REVOKE:
            revoked.append((op.employee_id, op.detail["entitlement"]))
        elif op.action is Action.DELETE:
            deleted.append(op.employee_id)
    ledger = ctx.ledger
    if links:
        ledger.link_accounts(ctx.run_id, target, links)
    if granted:
        ledger.record_grants(ctx.run_id, target, granted)
    if deleted:
        gone = set(deleted)
        revoked += [pair for pair in ledger.grants(target) if pair[0] in gone]
        ledger.unlink_accounts(target, deleted)
    if revoked:
        ledger.remove_grants(target, revoked)
    ledger.append_audit(audit)
