"""The reconcile stage: drift and orphan accounts from a full read of every target."""

from __future__ import annotations

from dataclasses import dataclass, field

from prefect import task
from prefect.cache_policies import NONE

from jml.evaluate import Assessment
from jml.model import Issue
from jml.reconcile import drift_issues, orphan_issues
from jml.resolve import Resolved
from tasks.context import RunContext
from tasks.planning import Checked
from tasks.targets import TargetState


@dataclass(slots=True)
class Findings:
    """Drift per (target, person), and orphan accounts."""

    drift: list[Issue] = field(default_factory=list)
    orphans: list[Issue] = field(default_factory=list)

    def drifted(self) -> set[str]:
        """The employee_ids with drift somewhere."""
        return {issue.employee_id for issue in self.drift}


@task(name="reconcile", cache_policy=NONE)
def find_differences(
    ctx: RunContext, resolved: Resolved, targets: TargetState, assessment: Assessment, checked: Checked
) -> Findings:
    """Compare every target's full read with the desired state and the ledger."""
    links = {name: ctx.ledger.account_links(name) for name in targets.snapshots}
    known = set(resolved.persons) | set(resolved.held) | set(ctx.ledger.person_states())
    return Findings(
        drift=drift_issues(checked.plan, assessment.desired, links),
        orphans=orphan_issues(targets.snapshots, links, checked.plan.matched, known),
    )
