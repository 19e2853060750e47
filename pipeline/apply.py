"""The apply stage: one batch of operations to one target, under the write-ahead journal.

`batches(operations)` cuts a plan per target into at most MAX_BATCHES batches of at
least MIN_BATCH operations, in plan order, so the number of apply task runs never grows
with the population. `apply_batch(run, target, operations)`:
1. checks that the run still holds its lock (`Run.lock_lost`, the fencing token); when
   it lost it, returns at once with `lost` set, having journalled and sent nothing;
   else journals every operation `pending` before any is sent;
2. applies them through the target's kernel (retries, lost replies settled); an AD
   target's driver first learns the sAMAccountNames kept for good, and the ones it
   gives new accounts are kept (`pipeline.sams`);
3. journals each outcome `done` or `failed`, and records what was applied in the ledger
   (`pipeline.record.record_applied`: links, grants, the audit trail);
4. returns the counts, a `failed_operation` issue per failed operation, and, when the
   target turned out to be down, the issue naming it (its later batches are parked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from connectors.base import Outcome
from jml.model import Issue, IssueKind
from jml.operations import Delete, Grant, Operation, Revoke
from pipeline.record import record_applied
from pipeline.run import Run
from pipeline.sams import keep_made, prime
from pipeline.targets import unreachable_issue

__all__ = ["MAX_BATCHES", "MIN_BATCH", "BatchResult", "apply_batch", "batches", "failed_issue"]

#: Operations per apply batch, at least: task overhead stays small next to the calls.
MIN_BATCH = 100
#: Apply batches per target, at most: the number of task runs of a flow run is bounded,
#: however large the population (an initial load makes larger batches, not more).
MAX_BATCHES = 16


@dataclass(frozen=True, slots=True)
class BatchResult:
    """How a batch went (see the module docstring)."""

    applied: int = 0
    failed: int = 0
    retried: int = 0
    settled: int = 0
    issues: tuple[Issue, ...] = ()
    down: Issue | None = None
    done_persons: frozenset[str] = frozenset()
    failed_persons: frozenset[str] = frozenset()
    lost: str | None = None
    #: (target, account id) of each account the batch deleted.
    deleted: frozenset[tuple[str, str]] = frozenset()


def batches(operations: Sequence[Operation]) -> dict[str, list[list[Operation]]]:
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
    entitlement = op.entitlement if isinstance(op, Grant | Revoke) else ""
    what = f"{op.action.value} {entitlement}".strip()
    error = outcome.error
    return Issue(
        IssueKind.FAILED_OPERATION,
        f"failed_operation:{op.target}:{op.employee_id}:{op.action.value}:{entitlement}",
        f"{op.employee_id}: {what} on {op.target} failed: {error}",
        employee_id=op.employee_id,
        target=op.target,
        data={"action": op.action.value, "error": str(error), "status": error.status if error else None},
    )


def apply_batch(run: Run, target: str, operations: Sequence[Operation]) -> BatchResult:
    """Journal, apply and record one batch (see the module docstring)."""
    if (lost := run.lock_lost()) is not None:
        run.log.error("%s", lost)
        return BatchResult(lost=lost)
    ledger = run.ledger
    ids = ledger.journal_pending(run.id, list(operations))
    prime(run, target)
    applied = run.targets[target].apply(operations)
    keep_made(run, target)
    ledger.journal_finish(
        (op_id, "done" if o.ok else "failed", None if o.ok else str(o.error))
        for op_id, o in zip(ids, applied.outcomes, strict=True)
    )
    down = None
    if applied.down:
        down = unreachable_issue(target, next(o.error for o in applied.outcomes if o.error))
    failed = [o for o in applied.outcomes if not o.ok]
    done = [o for o in applied.outcomes if o.ok]
    record_applied(run, target, done)
    result = BatchResult(
        applied=len(done),
        failed=len(failed),
        retried=applied.retried,
        settled=applied.settled,
        issues=() if down else tuple(failed_issue(o) for o in failed),
        down=down,
        done_persons=frozenset(o.operation.employee_id for o in done),
        failed_persons=frozenset(o.operation.employee_id for o in failed),
        deleted=frozenset(
            (target, o.operation.account_id) for o in done if isinstance(o.operation, Delete) and o.operation.account_id
        ),
    )
    run.log.info(
        "applied %d of %d operations on %s (%d failed, %d sent again, %d lost replies settled)",
        result.applied, len(operations), target, result.failed, result.retried, result.settled,
    )  # fmt: skip
    return result
