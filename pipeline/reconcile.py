"""The reconcile stage: drift and orphan accounts, from a full read of every target.

`find_differences` compares what the targets hold with the desired state and the
ledger (`jml.reconcile`): a `drift` issue per (target, person) whose account differs,
an `orphan` issue per account linked to no person. `Findings.without(persons)` drops
the drift of persons a fix has just repaired.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, replace

from jml.model import Issue
from jml.reconcile import drift_issues, orphan_issues
from jml.resolve import Resolved
from pipeline.planning import Checked
from pipeline.run import Run
from pipeline.targets import TargetState

__all__ = ["Findings", "find_differences"]


@dataclass(frozen=True, slots=True)
class Findings:
    """Drift per (target, person), and orphan accounts."""

    drift: tuple[Issue, ...] = ()
    orphans: tuple[Issue, ...] = ()

    def drifted(self) -> set[str]:
        """The employee_ids with drift somewhere."""
        return {issue.employee_id for issue in self.drift if issue.employee_id}

    def without(self, persons: Set[str]) -> Findings:
        """The same findings but the drift of `persons`."""
        return replace(self, drift=tuple(i for i in self.drift if i.employee_id not in persons))


def find_differences(run: Run, resolved: Resolved, targets: TargetState, desired, checked: Checked) -> Findings:
    """Compare every target's full read with the desired state and the ledger."""
    links = {name: run.ledger.account_links(name) for name in targets.snapshots}
    known = set(resolved.persons) | set(resolved.held) | set(run.ledger.person_states())
    return Findings(
        drift=tuple(drift_issues(checked.plan, desired, links)),
        orphans=tuple(orphan_issues(targets.snapshots, links, checked.plan.matched, known)),
    )
