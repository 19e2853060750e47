"""The safety guards a plan must pass before anything is written (the SPEC's "Safety
gates"): the deprovision guard. Pure functions over a plan and the targets' snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jml.config import SafetyConfig
from jml.model import Snapshot
from jml.operations import DEPROVISIONING
from jml.plan import Plan


def active_persons(snapshots: Mapping[str, Snapshot]) -> set[str]:
    """The employee_ids holding an active, linked account on some target."""
    return {
        a.external_id
        for snapshot in snapshots.values()
        for a in snapshot.accounts
        if a.active and a.external_id
    }


def deprovision_guard(
    plan: Plan, snapshots: Mapping[str, Snapshot], safety: SafetyConfig
) -> tuple[str | None, dict[str, Any]]:
    """(None, figures) when the plan may run; (message, figures) when it takes access
    from more than max(deprovision_floor, max_deprovision_fraction x persons with an
    active account) distinct persons."""
    touched = len(plan.persons(DEPROVISIONING))
    active = len(active_persons(snapshots))
    limit = max(float(safety.deprovision_floor), safety.max_deprovision_fraction * active)
    figures = {"persons": touched, "limit": limit, "active_persons": active}
    if touched <= limit:
        return None, figures
    message = (
        f"deprovision guard: the plan would disable, strip or delete the access of"
        f" {touched} persons, over the limit of {limit:g} (the larger of deprovision_floor"
        f" {safety.deprovision_floor} and {safety.max_deprovision_fraction:.0%} of"
        f" {active} persons with an active account)"
    )
    return message, figures
