"""From resolved persons to desired state: the lifecycle stage and the entitle stage.

`assess_persons` gives each person of the feed a lifecycle state, finds persons known
from earlier runs who are missing from the feed (`absent`), and returns the person states
the ledger keeps between runs. `entitle_persons` applies the policy to those who should
hold an account: it returns their desired state with grants (new values; the
assessment is not changed).
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, replace
from datetime import date

from jml.config import LifecycleConfig
from jml.ledger import PersonState
from jml.lifecycle import assess, has_ended, termination_state
from jml.model import Issue, IssueKind, Lifecycle, Snapshot
from jml.plan import Desired
from jml.policy import PolicyEngine
from jml.resolve import Resolved

_ENTITLED = (Lifecycle.PREHIRE, Lifecycle.ACTIVE, Lifecycle.SUSPENDED)


@dataclass(frozen=True, slots=True)
class Assessment:
    """Every person to act on with their lifecycle (grants still empty), the `absent`
    issues, and the person states to save."""

    desired: Mapping[str, Desired]
    issues: tuple[Issue, ...] = ()
    states: tuple[PersonState, ...] = ()


@dataclass(frozen=True, slots=True)
class Entitled:
    """Every person to act on with their grants, and the approval and SoD issues."""

    desired: Mapping[str, Desired]
    issues: tuple[Issue, ...] = ()


def assess_persons(
    resolved: Resolved,
    *,
    as_of: date,
    config: LifecycleConfig,
    known: Mapping[str, PersonState],
    with_account: Set[str],
) -> Assessment:
    """Lifecycle of every resolved person, and what to do about absent ones.

    `known` are the person states of earlier runs; `with_account` the employee_ids that
    hold an account on some target. A person held back (a duplicate, a quarantined row)
    whose rows, any of them, say their access has ended is terminated all the same (no
    record: only their access is taken away, nothing else about them changes). A known
    person missing from the feed (and not held back) who still has an account is
    absent: an `absent` issue, and with `absent: deprovision` a termination dated from
    the first day they were missing.
    """
    desired: dict[str, Desired] = {}
    issues: list[Issue] = []
    states: list[PersonState] = []
    for eid, record in resolved.persons.items():
        previous = known.get(eid)
        state, ended = assess(record, as_of, config, previous.terminated_on if previous else None)
        desired[eid] = Desired(eid, state, record)
        states.append(PersonState(eid, state.value, ended, None, record.manager_id))

    for eid in sorted(resolved.held):
        if has_ended(resolved.held_endings.get(eid, ()), as_of):
            desired[eid] = Desired(eid, Lifecycle.TERMINATED, None)  # fail closed: a held leaver loses access

    for eid, previous in known.items():
        if eid in resolved.persons or eid in resolved.held or eid not in with_account:
            continue
        since = previous.absent_since or as_of
        states.append(PersonState(eid, previous.lifecycle, previous.terminated_on, since, previous.manager_id))
        if config.absent == "deprovision":
            state = termination_state(since, as_of, config)
            desired[eid] = Desired(eid, state, None)
            action = "deprovisioned (lifecycle.absent: deprovision)"
        else:
            action = "nothing revoked until a person decides"
        issues.append(
            Issue(
                IssueKind.ABSENT,
                f"absent:{eid}",
                f"{eid}: missing from the feed since {since.isoformat()}; {action}",
                employee_id=eid,
                data={"absent_since": since.isoformat()},
            )
        )
    return Assessment(desired, tuple(issues), tuple(states))


def holdings(snapshots: Mapping[str, Snapshot]) -> dict[str, dict[str, set[str]]]:
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
    decisions: Mapping[str, str],
    snapshots: Mapping[str, Snapshot],
) -> Entitled:
    """The desired state with the grants of every person who should hold an account,
    and the approval and SoD issues."""
    held = holdings(snapshots)
    desired: dict[str, Desired] = {}
    issues: list[Issue] = []
    for eid, person in assessment.desired.items():
        if person.lifecycle not in _ENTITLED or person.record is None:
            desired[eid] = person
            continue
        entitlements = engine.entitle(person.record, decisions=decisions, held=held.get(eid, {}))
        desired[eid] = replace(person, grants=entitlements.grants)
        issues.extend(entitlements.issues)
    return Entitled(desired, tuple(issues))
