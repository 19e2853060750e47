"""The verify stage: read back what apply touched and compare it with the desired state.

`verify(run, desired, touched)` reads each touched target again and plans anew for the
persons whose operations there all succeeded: anything still to do for one of them is
a `drift` issue (keyed like reconcile's, so either closes it once the target matches).
A target that cannot be read back is unreachable (a `failed_operation` issue).
"""

from __future__ import annotations

from collections.abc import Mapping, Set

from connectors.base import ConnectorError
from jml.model import Issue, IssueKind
from jml.plan import Desired, build_plan
from pipeline.run import Run
from pipeline.targets import unreachable_issue

__all__ = ["verify"]


def verify(run: Run, desired: Mapping[str, Desired], touched: Mapping[str, Set[str]]) -> tuple[Issue, ...]:
    """The drift (and unreachable) issues of reading back the touched targets."""
    issues: list[Issue] = []
    managed, mapped = run.settings.managed(), run.settings.mapped()
    for target, persons in touched.items():
        try:
            snapshot = run.targets[target].read()
        except ConnectorError as exc:
            issues.append(unreachable_issue(target, exc))
            continue
        subset = {eid: desired[eid] for eid in persons if eid in desired}
        again = build_plan(subset, {target: snapshot}, {target: run.ledger.account_links(target)}, managed, mapped)
        remaining: dict[str, list[str]] = {}
        for op in again.operations:
            remaining.setdefault(op.employee_id, []).append(op.action.value)
        for eid, actions in sorted(remaining.items()):
            issues.append(
                Issue(
                    IssueKind.DRIFT,
                    f"drift:{target}:{eid}",
                    f"{eid}: read back from {target} differs from what was applied; still to do: {', '.join(actions)}",
                    employee_id=eid,
                    target=target,
                    data={"actions": actions},
                )
            )
    return tuple(issues)
