"""The verify stage: read back what apply touched and compare it with the desired state.

`verify(run, desired, touched, groups, state)` reads back, on each touched target (the
targets in parallel, `pipeline.parallel`), the accounts of the persons whose operations
there all succeeded, and only those, with their memberships of the groups the run
changed there (`Target.read_accounts`: by employee_id, so verify costs O(written), not a
second full read; but when they are more than `FULL_READ_FLOOR` and a quarter of the
accounts the run read, as in a first load, one full read cut to them costs less than a
lookup each), and plans anew for them: anything still to do for one of them is a `drift` issue
(keyed like reconcile's, so either closes it once the target matches). A target that
cannot be read back is unreachable (a `failed_operation` issue).

A full read is also a fresher read of the whole target than the run's own: it is
returned (`Verified.reads`) and kept as what the ledger knows of the target
(`pipeline.targets.keep_known`), so the run after a first load reads only what changed
after the read-back, not the load's writes again.

The plan is made against `before` (the snapshot the run planned from) with those
persons' accounts replaced by what was read back, so what a plan needs beside a
person's own account (their manager's account, the groups) is there as it would be in
a full read; their memberships of the groups the run did not change are `before`'s (a
SCIM group is read whole: reading back every group a mover is in would read
`all-staff`). What it does not see is a change made meanwhile to someone else's account,
or to a group the run did not write, which does not decide whether the run's writes
landed; the next run's read does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from connectors.base import ConnectorError, Target
from connectors.bounds import cheaper_in_full
from jml.ledger import KnownRead
from jml.model import Account, Issue, IssueKind, Snapshot
from jml.operations import Operation
from jml.plan import Desired, build_plan
from pipeline.parallel import per_target
from pipeline.run import Run
from pipeline.targets import TargetRead, TargetState, by_id, unreachable_issue

__all__ = ["FULL_READ_FLOOR", "Verified", "verify"]

#: Persons to read back on a target, at most, before a full read may cost less.
FULL_READ_FLOOR = 500


@dataclass(frozen=True, slots=True)
class Verified:
    """The drift (and unreachable) issues, and the targets verify read in full (their
    NHIs' accounts too), each read as read-targets gives one."""

    issues: tuple[Issue, ...] = ()
    reads: Mapping[str, TargetRead] = field(default_factory=dict)


def verify(
    run: Run,
    desired: Mapping[str, Desired],
    touched: Mapping[str, Set[str]],
    groups: Mapping[str, Set[str]],
    state: TargetState,
) -> Verified:
    """Read back the touched persons' accounts (target -> employee_ids) and their
    memberships of the groups the run changed (target -> group names), the targets in
    parallel, against `state` (the targets as the run read them)."""
    names = [target for target, persons in touched.items() if persons]
    managed, mapped = run.settings.managed(), run.settings.mapped()

    def one(target: str) -> tuple[list[Issue], TargetRead | None]:
        """The issues of one target's read-back, and its full read if it made one."""
        persons, changed, before = touched[target], groups.get(target, frozenset()), state.snapshots[target]
        try:
            read_back, full = _read_back(run.targets[target], persons, changed, before, state.reads[target].how)
        except ConnectorError as exc:
            return [unreachable_issue(target, exc)], None
        snapshot = _merged(before, read_back, persons, changed)
        subset = {eid: desired[eid] for eid in persons if eid in desired}
        again = build_plan(subset, {target: snapshot}, {target: run.ledger.account_links(target)}, managed, mapped)
        return _drift(target, again.operations), full

    done = per_target(names, one)
    return Verified(
        tuple(issue for issues, _ in done.values() for issue in issues),
        {target: full for target, (_, full) in done.items() if full is not None},
    )


def _drift(target: str, operations: Sequence[Operation]) -> list[Issue]:
    """A `drift` issue per person with operations still to do on `target`."""
    remaining: dict[str, list[str]] = {}
    for op in operations:
        remaining.setdefault(op.employee_id, []).append(op.action.value)
    return [
        Issue(
            IssueKind.DRIFT,
            f"drift:{target}:{eid}",
            f"{eid}: read back from {target} differs from what was applied; still to do: {', '.join(actions)}",
            employee_id=eid,
            target=target,
            data={"actions": actions},
        )
        for eid, actions in sorted(remaining.items())
    ]


def _read_back(
    target: Target, persons: Set[str], groups: Set[str], before: Snapshot, how: KnownRead
) -> tuple[Snapshot, TargetRead | None]:
    """The accounts of `persons` on `target`, with their memberships of `groups` at
    least: by employee_id, or cut from a full read when they are many (module
    docstring), and then that read too, as a full read made now by the config `how`
    names, of a target of which the ledger holds `how.since`."""
    if not cheaper_in_full(len(persons), len(before.accounts), FULL_READ_FLOOR):
        return target.read_accounts(sorted(persons), groups), None
    started = datetime.now(UTC)
    full = target.read()
    read = TargetRead(by_id(full), KnownRead(started, started, how.config, since=how.since))
    return replace(full, accounts=[a for a in full.accounts if a.external_id in persons]), read


def _merged(before: Snapshot, read_back: Snapshot, persons: Set[str], groups: Set[str]) -> Snapshot:
    """`before` with the accounts of `persons` (and any account read back) replaced by
    those read back, each with its memberships of `groups` as read back and of every
    other group as `before` had them (that account's by id, else by employee_id)."""
    by_id: dict[str | None, Account] = {a.id: a for a in before.accounts if a.id is not None}
    by_person: dict[str | None, Account] = {a.external_id: a for a in before.accounts if a.external_id is not None}

    def held(account: Account) -> Account:
        earlier = by_id.get(account.id) or by_person.get(account.external_id)
        unchanged = earlier.entitlements - groups if earlier is not None else set()
        return replace(account, entitlements=(account.entitlements & groups) | unchanged)

    fresh = {account.id for account in read_back.accounts}
    kept = [a for a in before.accounts if a.external_id not in persons and a.id not in fresh]
    accounts = kept + [held(account) for account in read_back.accounts]
    return replace(before, accounts=accounts, groups=before.groups | read_back.groups)
