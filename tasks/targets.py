"""Read every target once (one paged pass each)."""

from __future__ import annotations

from dataclasses import dataclass, field

from prefect import task
from prefect.cache_policies import NONE

from connectors.base import ConnectorError
from jml.model import Issue, IssueKind, Snapshot
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
    """Read each target; a target that cannot be read is skipped for the run."""
    state = TargetState()
    for target in ctx.config.targets:
        try:
            state.snapshots[target.name] = ctx.read(target.name)
        except (ConnectorError, ValueError) as exc:
            run_logger().warning("target %s cannot be read: %s", target.name, exc)
            state.unreachable[target.name] = unreachable_issue(target.name, exc)
    return state
