"""Read every target once (one paged pass each)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prefect import task
from prefect.cache_policies import NONE

from connectors.base import ConnectorError
from jml.model import Action, Issue, IssueKind, Operation, Snapshot
from jml.plan import AccountIndex, is_applied
from tasks.context import RunContext
from tasks.logs import run_logger


@dataclass(slots=True)
class TargetState:
    """The snapshots of the reachable targets, and an issue per unreachable one."""

    snapshots: dict[str, Snapshot] = field(default_factory=dict)
    unreachable: dict[str, Issue] = field(default_factory=dict)


def unreachable_issue(target: str, error: Exception) -> Issue:
    """The `failed_operation` issue naming a target that cannot be read or written."""
    return Issue(
        IssueKind.FAILED_OPERATION,
        f"failed_operation:{target}:unreachable",
        f"target {target} is unreachable ({error}); its changes wait for the next run",
        target=target,
        data={"error": str(error)},
    )


@task(name="read-targets", cache_policy=NONE)
def read_targets(ctx: RunContext) -> TargetState:
    """Read each target; a target that cannot be read is skipped for the run. In a
    recorded run, operations an earlier run left `pending` (it was killed mid-apply)
    are then settled against what the targets hold."""
    state = TargetState()
    for target in ctx.config.targets:
        if getattr(target, "verify", True) is False:
            run_logger().warning(
                "target %s: TLS certificate verification is OFF (verify: false); anyone on"
                " the path can read and change what jml sends", target.name,
            )
        try:
            state.snapshots[target.name] = ctx.read(target.name)
        except (ConnectorError, ValueError) as exc:
            run_logger().warning("target %s cannot be read: %s", target.name, exc)
            state.unreachable[target.name] = unreachable_issue(target.name, exc)
    if ctx.run_id is not None and not ctx.dry_run:
        settle_journal(ctx, state.snapshots)
    return state


def settle_journal(ctx: RunContext, snapshots: dict[str, Snapshot]) -> None:
    """Mark each pending operation of earlier runs `done` if the target shows it
    applied, else `failed` (this run's plan does what is still missing)."""
    indexes = {name: AccountIndex(snapshot) for name, snapshot in snapshots.items()}
    results = []
    for row in ctx.ledger.pending_operations():
        index = indexes.get(row.target)
        if index is None or row.run_id == ctx.run_id:
            continue
        op = Operation(
            row.target, row.employee_id, Action(row.action), row.detail, row.reason,
            row.account_id,
        )
        applied = is_applied(op, index.linked(op.employee_id, op.account_id))
        note = f"settled by run {ctx.run_id}: " + ("found applied" if applied else "not applied; replanned")
        results.append((row.id, "done" if applied else "failed", note))
    if results:
        ctx.ledger.journal_finish(results)
        run_logger().warning("settled %d operations left pending by an interrupted run", len(results))

