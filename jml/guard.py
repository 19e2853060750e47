"""The safety guards a plan must pass before anything is written (the SPEC's "Safety
gates"): pure functions over a plan, the targets' snapshots and what earlier runs did.

The limit is max(`deprovision_floor`, `max_deprovision_fraction` x persons with an
active account), in distinct persons, whatever the number of targets and operations:
- **deprovision**: the plan would disable, strip or delete the access of more persons;
- **cumulative**: with the persons that earlier runs took access from (those whose as-of
  date is up to `window_days` before this run's, the caller's `earlier`), the plan's
  would be more persons, so that many small runs cannot strip what one big run could not;
- **identity**: the plan would change the login (userName or email) of more persons:
  a login rewritten is a lock-out.
`check` judges them all: `(None, figures)` when the plan may run, else one line naming
every guard that tripped (one override lets them all pass), and the figures counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from typing import Any

from jml.config import SafetyConfig
from jml.model import Snapshot
from jml.operations import DEPROVISIONING, Update
from jml.plan import Plan

__all__ = ["LOGIN", "active_persons", "check", "logins_changed"]

#: The attributes that are a person's login on a target.
LOGIN = frozenset({"user_name", "email"})


def active_persons(snapshots: Mapping[str, Snapshot]) -> set[str]:
    """The employee_ids holding an active, linked account on some target."""
    return {a.external_id for snapshot in snapshots.values() for a in snapshot.accounts if a.active and a.external_id}


def logins_changed(plan: Plan) -> set[str]:
    """The employee_ids whose login the plan changes on some target."""
    return {op.employee_id for op in plan.operations if isinstance(op, Update) and LOGIN & set(op.changes)}


def check(
    plan: Plan, snapshots: Mapping[str, Snapshot], safety: SafetyConfig, earlier: Set[str] = frozenset()
) -> tuple[str | None, dict[str, Any]]:
    """The guards' verdict on `plan` (see the module docstring)."""
    active = len(active_persons(snapshots))
    limit = max(float(safety.deprovision_floor), safety.max_deprovision_fraction * active)
    stripped = plan.persons(DEPROVISIONING)
    together = stripped | set(earlier)
    renamed = logins_changed(plan)
    figures = {
        "persons": len(stripped), "earlier": len(together) - len(stripped), "logins": len(renamed),
        "limit": limit, "active_persons": active,
    }  # fmt: skip
    bound = (
        f"the limit of {limit:g} (the larger of deprovision_floor {safety.deprovision_floor} and"
        f" {safety.max_deprovision_fraction:.0%} of {active} persons with an active account)"
    )
    halts = []
    if len(stripped) > limit:
        halts.append(
            f"deprovision guard: the plan would disable, strip or delete the access of"
            f" {len(stripped)} persons, over {bound}"
        )
    elif len(together) > limit:
        halts.append(
            f"cumulative deprovision guard: runs of the last {safety.window_days} day(s) took access from"
            f" {figures['earlier']} persons and the plan would from {len(stripped)} more:"
            f" {len(together)} in all, over {bound}"
        )
    if len(renamed) > limit:
        halts.append(
            f"identity guard: the plan would change the login (userName or email) of {len(renamed)} persons, over {bound}"
        )
    return ("; ".join(halts) or None), figures
