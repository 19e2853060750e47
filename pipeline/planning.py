"""The plan stage: desired state against the targets' snapshots, then the safety guard.

`plan_changes` returns the plan and the deprovision guard's verdict (`halt` None: the
plan may run). `for_persons` cuts a checked plan to some persons (a one-person run)
and judges the guard again on what is left.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from jml.evaluate import Entitled
from jml.guard import deprovision_guard
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
    """Desired vs known -> operations; then the deprovision guard."""
    snapshots = targets.snapshots
    links = {name: run.ledger.account_links(name) for name in snapshots}
    plan = build_plan(entitled.desired, snapshots, links, run.settings.managed())
    halt, figures = deprovision_guard(plan, snapshots, run.config.safety)
    return Checked(plan, halt, figures)


def for_persons(run: Run, checked: Checked, persons: Set[str], targets: TargetState) -> Checked:
    """The plan cut to `persons`, the guard judged on that plan alone."""
    plan = checked.plan.only(persons)
    halt, figures = deprovision_guard(plan, targets.snapshots, run.config.safety)
    return Checked(plan, halt, figures)
