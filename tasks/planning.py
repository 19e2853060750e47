"""Plan the changes and check the deprovision guard."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import task
from prefect.cache_policies import NONE

from jml.evaluate import Assessment
from jml.model import Snapshot
from jml.plan import Plan, build_plan, deprovision_guard
from tasks.context import RunContext


@dataclass(slots=True)
class Checked:
    """The plan, and the guard's verdict: `halt` is None when it may run."""

    plan: Plan
    halt: str | None
    figures: dict


@task(name="plan", cache_policy=NONE)
def plan_changes(ctx: RunContext, assessment: Assessment, snapshots: dict[str, Snapshot]) -> Checked:
    """Desired vs known -> operations; then the deprovision guard."""
    links = {name: ctx.ledger.account_links(name) for name in snapshots}
    managed = ctx.managed()
    plan = build_plan(assessment.desired, snapshots, links, managed)
    halt, figures = deprovision_guard(plan, snapshots, ctx.config.safety)
    return Checked(plan, halt, figures)
