"""The plan stage: desired state against the targets' snapshots, then the safety guards.

`plan_changes` returns the plan and the guards' verdict (`jml.guard`: deprovision,
cumulative, identity; `halt` None: the plan may run). The cumulative guard counts the
persons the ledger says runs took access from, with an as-of date up to
`safety.window_days` before this run's. `for_persons` cuts a checked plan to some
persons (a one-person run) and judges the guards again on what is left.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from jml.evaluate import Entitled
from jml.guard import check
from jml.plan import Plan, build_plan
from pipeline.run import Run
from pipeline.targets import TargetState

__all__ = ["Checked", "for_persons", "plan_changes"]


@dataclass(frozen=True, slots=True)
class Checked:
    """The plan, and the guard's verdict: `halt` is None when it may run; `figures`
    are what the guard counted."""

    plan: Plan
    halt: str | None = None
    figures: Mapping[str, Any] = field(default_factory=dict)


def plan_changes(run: Run, entitled: Entitled, targets: TargetState) -> Checked:
    """Desired vs known -> operations; then the safety guards."""
    snapshots = targets.snapshots
    links = {name: run.ledger.account_links(name) for name in snapshots}
    plan = build_plan(entitled.desired, snapshots, links, run.settings.managed(), run.settings.mapped())
    return _guarded(run, plan, targets)


def for_persons(run: Run, checked: Checked, persons: Set[str], targets: TargetState) -> Checked:
    """The plan cut to `persons`, the guards judged on that plan alone."""
    return _guarded(run, checked.plan.only(persons), targets)


def _guarded(run: Run, plan: Plan, targets: TargetState) -> Checked:
    safety = run.config.safety
    earlier = run.ledger.deprovisioned(run.as_of - timedelta(days=safety.window_days), run.as_of)
    halt, figures = check(plan, targets.snapshots, safety, earlier)
    return Checked(plan, halt, figures)
