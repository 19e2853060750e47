"""Desired state vs known state -> an ordered list of operations, and the deprovision guard.

Known state is what one full read of each target returned (a Snapshot) plus the ledger's
links from employee_id to account id. A person's account on a target is found by that
link, else by externalId, else (only for a person who should have an account) by
userName: an account with no externalId is adopted, one with another externalId is a
`conflict` and left alone.

Operations come out in apply order: creates (managers before their reports), updates,
enables, grants, revokes, disables, deletes; the grants, and the revokes, by group, so
that a batch changes few groups (each change of a group's members is one request, and
a server may pay for the whole group on each). Entitlements jml does not manage (no
bundle names them on that target) are never revoked, except from a terminated person,
who loses everything. Only the attributes a target holds (`Snapshot.held`) are written
and compared, and a target's mapped attributes (its config's `attributes`, compiled:
`jml.mapping.Compiled` by target attribute) are diffed and written like the canonical
ones: the driver holds them under their own names, and an empty value removes one.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass, field
from typing import Any

from jml.mapping import Compiled
from jml.model import Account, HrRecord, Issue, IssueKind, Lifecycle, Snapshot
from jml.operations import (
    LINK,
    Action,
    Change,
    Create,
    Delete,
    Disable,
    Enable,
    Grant,
    Membership,
    Operation,
    Revoke,
    Update,
)

_WITH_ACCOUNT = (Lifecycle.PREHIRE, Lifecycle.ACTIVE, Lifecycle.SUSPENDED)
_PHASE = {action: i for i, action in enumerate(Action)}


@dataclass(frozen=True, slots=True)
class Desired:
    """What one person should have. `record` is None for a person absent from the feed
    who is being deprovisioned; `grants` maps target -> entitlement -> reason."""

    employee_id: str
    lifecycle: Lifecycle
    record: HrRecord | None
    grants: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Plan:
    """The operations, the issues found while planning, and the accounts matched
    (target -> employee_id -> account id) so the ledger can link them."""

    operations: tuple[Operation, ...] = ()
    issues: tuple[Issue, ...] = ()
    matched: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def persons(self, actions: frozenset[Action] | None = None) -> set[str]:
        """The employee_ids with an operation (of one of `actions`, if given)."""
        return {op.employee_id for op in self.operations if actions is None or op.action in actions}

    def only(self, persons: Set[str]) -> Plan:
        """This plan cut to these persons' operations and matched accounts."""
        return Plan(
            tuple(op for op in self.operations if op.employee_id in persons),
            self.issues,
            {target: {e: a for e, a in links.items() if e in persons} for target, links in self.matched.items()},
        )


def desired_attributes(record: HrRecord, manager: str | None) -> dict[str, str | None]:
    """The canonical account attributes of a person (see model.ACCOUNT_ATTRIBUTES)."""
    return {
        "user_name": record.email.lower(),
        "given_name": record.first_name,
        "family_name": record.last_name,
        "display_name": f"{record.first_name} {record.last_name}",
        "email": record.email.lower(),
        "employee_number": record.employee_id,
        "department": record.department,
        "title": record.job_code,
        "manager": manager,
    }


def account_attributes(
    record: HrRecord, manager: str | None, held: Set[str], mapped: Mapping[str, Compiled]
) -> dict[str, str | None]:
    """What a target should hold for a person: the canonical attributes it holds, then
    its mapped attributes computed from the feed row (overriding a canonical one of the
    same name; an empty value is None: no value)."""
    values = {k: v for k, v in desired_attributes(record, manager).items() if k in held}
    values.update({key: spec.value(record.attribute) or None for key, spec in mapped.items()})
    return values


def fit(attributes: Mapping[str, str | None], limits: Mapping[str, int]) -> tuple[dict[str, str | None], list[str]]:
    """`attributes` with each text longer than its limit cut to fit (then trailing
    spaces trimmed, as the target would keep it), and the names of those cut."""
    out = dict(attributes)
    over = [name for name, value in attributes.items() if value is not None and len(value) > limits.get(name, len(value))]
    for name in over:
        out[name] = (attributes[name] or "")[: limits[name]].rstrip() or None
    return out, over


class AccountIndex:
    """A snapshot's accounts by id, externalId and userName."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.by_id = {a.id: a for a in snapshot.accounts if a.id}
        self.by_external = {a.external_id: a for a in snapshot.accounts if a.external_id}
        self.by_user = {a.user_name.lower(): a for a in snapshot.accounts if a.user_name}

    def linked(self, employee_id: str, link: str | None) -> Account | None:
        """The account the ledger links to, or the one carrying the employee_id."""
        if link is not None and link in self.by_id:
            return self.by_id[link]
        return self.by_external.get(employee_id)


def manager_depths(records: Mapping[str, HrRecord]) -> dict[str, int]:
    """How many managers stand above each person (cycles are cut where they close)."""
    depths: dict[str, int] = {}
    for start in records:
        chain: list[str] = []
        seen: set[str] = set()
        current: str | None = start
        while current is not None and current not in depths and current not in seen:
            seen.add(current)
            chain.append(current)
            record = records.get(current)
            current = record.manager_id if record else None
        base = depths.get(current, -1) if current is not None and current in depths else -1
        for eid in reversed(chain):
            base += 1
            depths[eid] = base
    return depths


def build_plan(
    desired: Mapping[str, Desired],
    snapshots: Mapping[str, Snapshot],
    links: Mapping[str, Mapping[str, str]],
    managed: Mapping[str, Set[str]],
    mapped: Mapping[str, Mapping[str, Compiled]] | None = None,
) -> Plan:
    """The operations that take every target from its snapshot to the desired state
    (`mapped`: per target, its mapped attributes; none when left out).

    Only persons in `desired` are touched; held and absent persons are simply left out.
    """
    ops: list[Operation] = []
    issues: list[Issue] = []
    matched: dict[str, dict[str, str]] = {}
    records = {eid: d.record for eid, d in desired.items() if d.record is not None}
    depth = manager_depths(records)
    for target, snapshot in snapshots.items():
        matched[target] = {}
        _plan_target(
            ops, issues, matched[target], target, snapshot, desired, links.get(target, {}), managed[target],
            (mapped or {}).get(target, {}),
        )  # fmt: skip
    ops.sort(
        key=lambda op: (
            _PHASE[op.action],
            depth.get(op.employee_id, 0) if isinstance(op, Create) else 0,
            op.entitlement if isinstance(op, Membership) else "",
        )
    )
    return Plan(tuple(ops), tuple(issues), matched)


def _plan_target(
    ops: list[Operation],
    issues: list[Issue],
    matched: dict[str, str],
    target: str,
    snapshot: Snapshot,
    desired: Mapping[str, Desired],
    links: Mapping[str, str],
    managed: Set[str],
    mapped: Mapping[str, Compiled],
) -> None:
    index = AccountIndex(snapshot)
    wanted: dict[str, tuple[Desired, Account | None, bool]] = {}
    gone: set[str] = set()

    for eid, person in desired.items():
        account = index.linked(eid, links.get(eid))
        if person.lifecycle in _WITH_ACCOUNT and person.grants.get(target):
            adopt = False
            if account is None:
                account, adopt = _by_user_name(issues, target, index, person)
                if account is None and adopt:
                    continue  # conflict: left alone
            wanted[eid] = (person, account, adopt)
        elif account is not None:
            _take_away(ops, target, eid, person, account, managed)
            if person.lifecycle is Lifecycle.DELETE:
                gone.add(eid)
        if account is not None and account.id:
            matched[eid] = account.id

    with_account = (set(index.by_external) | set(wanted)) - gone
    held = snapshot.held
    for person, account, adopt in wanted.values():
        record = person.record
        assert record is not None  # a person who should hold an account is in the feed
        manager = record.manager_id if record.manager_id in with_account else None
        attributes, over = fit(account_attributes(record, manager, held, mapped), snapshot.limits)
        issues.extend(_too_long(target, person.employee_id, name, snapshot.limits[name]) for name in over)
        _converge(ops, target, person, account, adopt, attributes, managed)


def _too_long(target: str, eid: str, attribute: str, limit: int) -> Issue:
    """A `data_quality` exception: a value (never shown) was cut to fit the target."""
    return Issue(
        IssueKind.DATA_QUALITY,
        f"data_quality:{target}:{eid}:{attribute}",
        f"{eid}: {attribute} is longer than {target} holds ({limit} characters); cut to fit",
        employee_id=eid,
        target=target,
        data={"attribute": attribute, "limit": limit},
    )


def _by_user_name(
    issues: list[Issue], target: str, index: AccountIndex, person: Desired
) -> tuple[Account | None, bool]:
    """(account, True) to adopt an unlinked account with the person's userName;
    (None, True) on a conflict (an issue is added); (None, False) when there is none."""
    eid = person.employee_id
    assert person.record is not None
    account = index.by_user.get(person.record.email.lower())
    if account is None:
        return None, False
    if account.external_id is None:
        return account, True
    issues.append(
        Issue(
            IssueKind.CONFLICT,
            f"conflict:{target}:{eid}",
            f"{eid}: account {account.id} on {target} has this person's userName but"
            f" externalId {account.external_id}; left alone",
            employee_id=eid,
            target=target,
            data={"account_id": account.id, "external_id": account.external_id},
        )
    )
    return None, True


def _take_away(
    ops: list[Operation],
    target: str,
    eid: str,
    person: Desired,
    account: Account,
    managed: Set[str],
) -> None:
    """Operations for a person who should have no usable account on the target."""
    state = person.lifecycle
    if state is Lifecycle.NOT_YET:
        return  # the hire date moved later: leave what exists alone
    on: dict[str, Any] = {"target": target, "employee_id": eid, "account_id": account.id}
    if state is Lifecycle.DELETE:
        ops.append(Delete(**on, reason="terminated past delete_after_days"))
        return
    if state is Lifecycle.TERMINATED:
        why, revocable = "terminated", account.entitlements
    else:
        why, revocable = f"no bundle grants access on {target}", account.entitlements & managed
    ops.extend(Revoke(**on, reason=why, entitlement=name) for name in sorted(revocable))
    if account.active:
        ops.append(Disable(**on, reason=why))


def _converge(
    ops: list[Operation],
    target: str,
    person: Desired,
    account: Account | None,
    adopt: bool,
    attributes: dict[str, str | None],
    managed: Set[str],
) -> None:
    """Operations that make one wanted account match the desired state (`attributes`:
    the held ones)."""
    eid = person.employee_id
    active = person.lifecycle is Lifecycle.ACTIVE
    grants = person.grants[target]
    if account is None:
        on: dict[str, Any] = {"target": target, "employee_id": eid}
        ops.append(Create(**on, reason=f"joiner ({person.lifecycle.value})", attributes=attributes, active=active))
        ops.extend(Grant(**on, reason=reason, entitlement=name) for name, reason in sorted(grants.items()))
        return
    on = {"target": target, "employee_id": eid, "account_id": account.id}
    changes: dict[str, Change] = {
        attr: Change(account.attributes.get(attr), wanted)
        for attr, wanted in attributes.items()
        if account.attributes.get(attr) != wanted
    }
    if adopt:
        changes[LINK] = Change(None, eid)
    if changes:
        why = "adopt the unlinked account with this userName" if adopt else "HR attributes changed"
        ops.append(Update(**on, reason=why, changes=changes))
    if active and not account.active:
        ops.append(Enable(**on, reason="active on the as-of date"))
    elif not active and account.active:
        ops.append(Disable(**on, reason=person.lifecycle.value))
    ops.extend(
        Grant(**on, reason=grants[name], entitlement=name) for name in sorted(grants.keys() - account.entitlements)
    )
    ops.extend(
        Revoke(**on, reason="no rule grants it any more", entitlement=name)
        for name in sorted((account.entitlements & managed) - grants.keys())
    )


def is_applied(op: Operation, account: Account | None) -> bool:
    """Whether a target holding `account` (None: no account) shows `op` as done: how an
    operation of unknown outcome (its run was killed) is settled from a fresh read."""
    match op:
        case Create():
            return account is not None
        case Delete() | Revoke() if account is None:
            return True
        case _ if account is None:
            return False
        case Enable():
            return account.active
        case Disable():
            return not account.active
        case Grant(entitlement=name):
            return name in account.entitlements
        case Revoke(entitlement=name):
            return name not in account.entitlements
        case Update(changes=changes):
            return all(
                (account.external_id if attr == LINK else account.attributes.get(attr)) == change.new
                for attr, change in changes.items()
            )
    return False  # DELETE with the account still there
