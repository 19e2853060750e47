"""Read back what apply touched and compare it with the desired state."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE

from connectors.base import ConnectorError
from jml.evaluate import Assessment
from jml.model import Issue, IssueKind
from jml.plan import build_plan
from tasks.context import RunContext
from tasks.targets import unreachable_issue


@task(name="verify", cache_policy=NONE)
def verify(ctx: RunContext, assessment: Assessment, touched: dict[str, set[str]]) -> list[Issue]:
    """Re-read each touched target and plan again for the persons whose operations all
    succeeded: anything still to do for them is `drift`."""
    issues: list[Issue] = []
    managed = ctx.managed()
    for target, persons in touched.items():
        try:
            snapshot = ctx.read(target)
        except ConnectorError as exc:
            issues.append(unreachable_issue(target, exc))
            continue
        subset = {eid: assessment.desired[eid] for eid in persons if eid in assessment.desired}
        again = build_plan(
            subset, {target: snapshot}, {target: ctx.ledger.account_links(target)}, managed
        )
        remaining: dict[str, list[str]] = {}
        for op in again.operations:
            remaining.setdefault(op.employee_id, []).append(op.action.value)
        for eid, actions in sorted(remaining.items()):
            issues.append(
                Issue(
                    IssueKind.DRIFT,
                    f"drift:{target}:{eid}",
                    f"{eid}: read back from {target} differs from what was applied;"
                    f" still to do: {', '.join(actions)}",
                    employee_id=eid,
                    target=target,
                    data={"actions": actions},
                )
            )
    return issues
