"""Resolve, lifecycle and entitle: from valid records to desired state."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NONE

from jml.evaluate import Assessment, assess_persons, entitle_persons
from jml.model import Issue, Snapshot
from jml.resolve import Resolved, resolve
from tasks.context import RunContext
from tasks.sources import Feed


@task(name="resolve", cache_policy=NONE)
def resolve_persons(ctx: RunContext, feed: Feed) -> Resolved:
    """Merge sources into one record per person; hold duplicates; check managers."""
    resolved = resolve(feed.records, known_ids=feed.held)
    resolved.held |= feed.held
    return resolved


@task(name="lifecycle", cache_policy=NONE)
def assess_lifecycles(
    ctx: RunContext, resolved: Resolved, snapshots: dict[str, Snapshot]
) -> Assessment:
    """Each person's lifecycle state on the as-of date, and the absent ones."""
    with_account = {
        a.external_id for s in snapshots.values() for a in s.accounts if a.external_id
    }
    return assess_persons(
        resolved,
        as_of=ctx.as_of,
        config=ctx.config.lifecycle,
        known=ctx.ledger.person_states(),
        with_account=with_account,
    )


@task(name="entitle", cache_policy=NONE)
def entitle(ctx: RunContext, assessment: Assessment, snapshots: dict[str, Snapshot]) -> list[Issue]:
    """Apply the policy: bundles, SoD, approvals; fills in each person's grants."""
    return entitle_persons(
        assessment,
        engine=ctx.engine,
        decisions=ctx.ledger.approval_decisions(),
        snapshots=snapshots,
    )
