"""The resolve, lifecycle and entitle stages: from valid records to desired state.

- `resolve_persons`: one record per person (several sources merged), duplicates and
  quarantined persons held back, unknown managers dropped;
- `assess_lifecycles`: each person's lifecycle on the run's as-of date, and the persons
  known from earlier runs who are absent from the feed;
- `entitle`: the policy applied (bundles, SoD, approvals decided in the ledger).
Plain functions over the core (`jml.resolve`, `jml.evaluate`); each returns a new value.
"""

from __future__ import annotations

from jml.evaluate import Assessment, Entitled, assess_persons, entitle_persons
from jml.naming import EMAIL
from jml.resolve import Resolved, resolve
from pipeline.feed import Feed
from pipeline.run import Run
from pipeline.targets import TargetState

__all__ = ["assess_lifecycles", "entitle", "resolve_persons"]


def resolve_persons(run: Run, feed: Feed) -> Resolved:
    """Merge the sources into one record per person; hold duplicates back (an HR email
    equal to an address generated for someone else too)."""
    reserved = run.ledger.reserved_identifiers(EMAIL)
    return resolve(feed.records, held=feed.held, held_endings=feed.held_endings, reserved=reserved)


def assess_lifecycles(run: Run, resolved: Resolved, targets: TargetState) -> Assessment:
    """Each person's lifecycle state on the as-of date, and the absent ones."""
    return assess_persons(
        resolved,
        as_of=run.as_of,
        config=run.config.lifecycle,
        known=run.ledger.person_states(),
        with_account=targets.with_account(),
    )


def entitle(run: Run, assessment: Assessment, targets: TargetState) -> Entitled:
    """Apply the policy: each person's grants, with the SoD and approval issues. A policy
    with approver roles but no `roles` (rosters) is warned about once per run: its
    approvers are free names, not checked against rosters."""
    policy = run.settings.policy
    if policy.rosters() is None and policy.approver_roles():
        run.log.warning(
            "approvals are not checked against rosters: the policy has no roles, so approver"
            " names are free text (they are compared after NFKC, case folding and invisible characters)"
        )
    return entitle_persons(
        assessment,
        engine=run.settings.engine,
        decisions=run.ledger.approval_decisions(),
        snapshots=targets.snapshots,
    )
