"""From resolved persons to desired state: the lifecycle stage and the entitle stage.

`assess_persons` gives each person of the feed a lifecycle state, finds persons known
from earlier runs who are missing from the feed (`absent`), and returns the person states
the ledger keeps between runs. `entitle_persons` applies the policy to those who should
hold an account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from jml.config import LifecycleConfig
from jml.ledger import PersonState
from jml.lifecycle import assess, termination_state
from jml.model import Issue, IssueKind, Lifecycle, Snapshot
from jml.plan import Desired
from jml.policy import PolicyEngine
from jml.resolve import Resolved

_ENTITLED = (Lifecycle.PREHIRE, Lifecycle.ACTIVE, Lifecycle.SUSPENDED)


@dataclass(slots=True)
class Assessment:
    """Every person to act on with their lifecycle (grants still empty), the `absent`
    issues, and the person states to save."""

    desired: dict[str, Desired]
    issues: list[Issue] = field(default_factory=list)
    states: list[PersonState] = field(default_factory=list)


def assess_persons(
    resolved: Resolved,
    *,
    as_of: date,
    config: LifecycleConfig,
    known: dict[str, PersonState],
    with_account: set[str],
) -> Assessment:
    """Lifecycle of every resolved person, and what to do about absent ones.

    `known` are the person states of earlier runs; `with_account` the employee_ids that
    hold an account on some target. A known person missing from the feed (and not held
    back) who still has an account is absent: an `absent` issue, and with
    `absent: deprovision` a termination dated from the first day they were missing.
    """
    result = Assessment(desired={})
    for eid, record in resolved.persons.items():
        previous = known.get(eid)
        state, ended = assess(record, as_of, config, previous.terminated_on if previous else None)
        result.desired[eid] = Desired(eid, state, record)
        result.states.append(PersonState(eid, state.value, ended, None))

    for eid, previous in known.items():
        if eid in resolved.persons or eid in resolved.held or eid not in with_account:
            continue
        since = previous.absent_since or as_of
        result.states.append(PersonState(eid, previous.lifecycle, previous.terminated_on, since))
        if config.absent == "deprovision":
            state = termination_state(since, as_of, config)
            result.desired[eid] = Desired(eid, state, None)
            action = "deprovisioned (lifecycle.absent: deprovision)"
        else:
            action = "nothing revoked until a person decides"
        result.issues.append(
            Issue(
                IssueKind.ABSENT,
                f"absent:{eid}",
                f"{eid}: missing from the feed since {since.isoformat()}; {action}",
                employee_id=eid,
                data={"absent_since": since.isoformat()},
            )
        )
    return result


def holdings(snapshots: dict[str, Snapshot]) -> dict[str, dict[str, set[str]]]:
    """employee_id -> target -> entitlements held now, from the targets' snapshots."""
    held: dict[str, dict[str, set[str]]] = {}
    for target, snapshot in snapshots.items():
        for account in snapshot.accounts:
            if account.external_id and account.entitlements:
                held.setdefault(account.external_id, {})[target] = account.entitlements
    return held


def entitle_persons(
    assessment: Assessment,
    *,
    engine: PolicyEngine,
    decisions: dict[str, str],
    snapshots: dict[str, Snapshot],
) -> list[Issue]:
    """Fill in the grants of every person who should hold an account; return the
    approval and SoD issues."""
    held = holdings(snapshots)
    issues: list[Issue] = []
    for desired in assessment.desired.values():
        if desired.lifecycle not in _ENTITLED:
            continue
        entitlements = engine.entitle(
            desired.record, decisions=decisions, held=held.get(desired.employee_id, {})
        )
        desired.grants = entitlements.grants
        issues.extend(entitlements.issues)
    return issues
