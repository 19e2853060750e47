"""The verify stage: read back what apply touched and compare it with the desired state.

`verify(run, desired, touched, groups, before)` reads back, on each touched target (the
targets in parallel, `pipeline.parallel`), the accounts of the persons whose operations
there all succeeded, and only those, with their memberships of the groups the run
changed there (`Target.read_accounts`: by employee_id, so verify costs O(written), not a
second full read; but when they are more than `FULL_READ_FLOOR` and a quarter of the
accounts the run read, as in a first load, one full read cut to them costs less than a
lookup each), and plans anew for them: anything still to do for one of them is a `drift` issue
(keyed like reconcile's, so either closes it once the target matches). A target that
cannot be read back is unreachable (a `failed_operation` issue).

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
from dataclasses import replace

from connectors.base import ConnectorError, Target
from connectors.bounds import cheaper_in_full
from jml.model import Account, Issue, IssueKind, Snapshot
from jml.operations import Operation
from jml.plan import Desired, build_plan
from pipeline.parallel import per_target
from pipeline.run import Run
from pipeline.targets import unreachable_issue

__all__ = ["FULL_READ_FLOOR", "verify"]

#: Persons to read back on a target, at most, before a full read may cost less.
FULL_READ_FLOOR = 500


def verify(
    run: Run,
    desired: Mapping[str, Desired],
    touched: Mapping[str, Set[str]],
    groups: Mapping[str, Set[str]],
    before: Mapping[str, Snapshot],
) -> tuple[Issue, ...]:
    """The drift (and unreachable) issues of reading back the touched persons' accounts
    (target -> employee_ids) and their memberships of the groups the run changed
    (target -> group names), the targets read back in parallel."""
    names = [target for target, persons in touched.items() if persons]
    managed, mapped = run.settings.managed(), run.settings.mapped()

    def one(target: str) -> list[Issue]:
        """The issues of one target's read-back."""
        persons, changed = touched[target], groups.get(target, frozenset())
        try:
            read_back = _read_back(run.targets[target], persons, changed, before[target])
        except ConnectorError as exc:
            return [unreachable_issue(target, exc)]
        snapshot = _merged(before[target], read_back, persons, changed)
        subset = {eid: desired[eid] for eid in persons if eid in desired}
        again = build_plan(subset, {target: snapshot}, {target: run.ledger.account_links(target)}, managed, mapped)
        return _drift(target, again.operations)

    return tuple(issue for issues in per_target(names, one).values() for issue in issues)


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


def _read_back(target: Target, persons: Set[str], groups: Set[str], before: Snapshot) -> Snapshot:
    """The accounts of `persons` on `target`, with their memberships of `groups` at
    least: by employee_id, or cut from a full read when they are many (module
    docstring)."""
    if not cheaper_in_full(len(persons), len(before.accounts), FULL_READ_FLOOR):
        return target.read_accounts(sorted(persons), groups)
    full = target.read()
    return replace(full, accounts=[a for a in full.accounts if a.external_id in persons])


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
