"""What a run's stages produced, as values: `Planned` (up to the plan and its gates),
`Execution` (apply and verify) and `Scope` (what the run speaks for), and the views
the report needs of them: every issue found, the targets skipped, the people moved.

A stage never changes these; composing a run makes new ones (`dataclasses.replace`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from jml.evaluate import Assessment, Entitled
from jml.model import Issue, IssueKind, Lifecycle
from jml.nhi import Watch
from jml.operations import Create
from jml.resolve import Resolved
from pipeline.apply import BatchResult
from pipeline.feed import Feed
from pipeline.planning import Checked
from pipeline.targets import TargetRead, TargetState

__all__ = ["SYNC_KINDS", "Execution", "Planned", "Scope", "all_issues", "movement", "skipped_targets"]

#: The exception kinds a sync run speaks for: every kind but `orphan` (reconcile's).
SYNC_KINDS = frozenset(IssueKind) - {IssueKind.ORPHAN}


@dataclass(frozen=True)
class Planned:
    """Every stage up to the plan; later ones are None when an earlier one stopped the
    run (`feed.error`: a source could not be read; `halt`: a gate tripped and was not
    overridden; `overridden`: the gates `--override-safety` let pass)."""

    feed: Feed
    resolved: Resolved | None = None
    targets: TargetState | None = None
    assessment: Assessment | None = None
    nhis: Watch | None = None
    entitled: Entitled | None = None
    checked: Checked | None = None
    halt: str | None = None
    overridden: tuple[str, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    #: The emails the naming stage made this run, not kept by the ledger yet (by employee_id).
    generated: Mapping[str, str] = field(default_factory=dict)

    @property
    def error(self) -> str | None:
        return self.feed.error

    @property
    def proceeds(self) -> bool:
        """Whether the plan may be applied (it exists, and nothing stopped the run)."""
        return self.checked is not None and not self.halt and not self.error


@dataclass(frozen=True)
class Execution:
    """What apply and verify did: per batch, the operations parked per target (its
    earlier batch found it down), the drift read back (none when the lock was lost),
    and the targets verify read in full (fresher than the run's reads of them)."""

    batches: tuple[BatchResult, ...] = ()
    parked: Mapping[str, int] = field(default_factory=dict)
    drift: tuple[Issue, ...] = ()
    timings: Mapping[str, float] = field(default_factory=dict)
    reads: Mapping[str, TargetRead] = field(default_factory=dict)

    @property
    def lost(self) -> str | None:
        """The line of the batch that found the run lock lost (apply stopped there)."""
        return next((batch.lost for batch in self.batches if batch.lost), None)


@dataclass(frozen=True)
class Scope:
    """What a run speaks for. `kinds`: the exception kinds it opens, keeps or closes;
    `kept`: live exceptions of those kinds outside its view (another person's, in a
    one-person run), handed back unchanged so they stay open; `found`: issues a
    reconcile found beyond the stages'; `save_states`: whether it keeps person states;
    `flow` names its artifacts."""

    flow: str = "hr-sync"
    kinds: frozenset[IssueKind] = SYNC_KINDS
    kept: tuple[Issue, ...] = ()
    found: tuple[Issue, ...] = ()
    save_states: bool = True


def all_issues(planned: Planned, execution: Execution, scope: Scope) -> list[Issue]:
    """Every issue of the scope's kinds the run found (one per key)."""
    found = [*scope.kept, *planned.feed.issues, *scope.found, *execution.drift]
    if planned.resolved:
        found += planned.resolved.issues
    if planned.assessment:
        found += planned.assessment.issues
    if planned.nhis:
        found += planned.nhis.issues
    if planned.entitled:
        found += planned.entitled.issues
    if planned.checked:
        found += planned.checked.plan.issues
    if planned.targets:
        found += planned.targets.unreachable.values()
    for batch in execution.batches:
        found += batch.issues
        if batch.down:
            found.append(batch.down)
    return [i for i in {issue.key: issue for issue in found}.values() if i.kind in scope.kinds]


def skipped_targets(planned: Planned, execution: Execution) -> set[str]:
    """Targets that were not (fully) read or written this run."""
    skipped = set(planned.targets.unreachable) if planned.targets else set()
    return skipped | {b.down.target for b in execution.batches if b.down and b.down.target}


def movement(planned: Planned) -> dict[str, int]:
    """How many joiners, movers and leavers the plan touched."""
    if not planned.checked or not planned.entitled:
        return {"joiners": 0, "movers": 0, "leavers": 0}
    desired = planned.entitled.desired
    ops = planned.checked.plan.operations
    joiners = {op.employee_id for op in ops if isinstance(op, Create)}
    leavers = {
        op.employee_id for op in ops if desired[op.employee_id].lifecycle in (Lifecycle.TERMINATED, Lifecycle.DELETE)
    }
    movers = {op.employee_id for op in ops} - joiners - leavers
    return {"joiners": len(joiners), "movers": len(movers), "leavers": len(leavers)}
