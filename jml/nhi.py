"""Non-human identities (SPEC "Non-human identities (NHIs)"): who owns each registered
service account, API client, bot and shared admin account, and what a run does about
it. Pure: no database, no I/O (the registry file is read by `jml.config.nhi`).

An NHI is named by its target and its account's login there (`Account.login_name`;
compared case-insensitively, `account_key`). The ledger keeps one `Ownership` per NHI
between runs; `watch` takes the registry, what the ledger kept, what HR says of the
owners (`Standing`) and what the targets hold, and returns the ownerships to keep, the
changes to record in the audit trail, and the issues:

- a row new in the registry: its owner owns it from this run; a registry edit naming
  another owner makes that person the owner (no review asked);
- an owner `terminated` or `absent` (in no source, or missing from the feed): the NHI
  passes to that owner's manager when the manager is `active`, and an `nhi_review`
  issue asks the new owner to confirm it and rotate its credentials (kept open, run
  after run, until they confirm: `jml approve ID --by OWNER --role owner`); never
  further up: with no active manager an `orphan_nhi` issue, the last owner kept;
- an owner on leave (`suspended`) or not started yet (`prehire`) keeps it, and so does
  one whose HR records are held back this run (status None: nothing is known of them);
- a registered NHI whose target was read and does not hold its account: `nhi_missing`;
- a row removed from the registry: the NHI is no longer watched (its ownership is
  dropped and its exceptions close, since no issue names it any more).
jml never changes an NHI's account: the targets' snapshots leave registered accounts
out (`split_accounts`) before anything is planned, guarded or reconciled.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import date

from jml.approvals import DecisionRefused, approver_key
from jml.model import Account, Issue, IssueKind, Lifecycle, Snapshot
from jml.plan import Desired

#: The role `jml approve --role` names to confirm an `nhi_review` (its current owner).
OWNER_ROLE = "owner"
#: Lifecycle states an owner keeps an NHI in, and the one a manager must be in to take it.
KEEPS = frozenset({"active", "prehire", "suspended"})
TAKES = "active"


class NhiKind(enum.StrEnum):
    """The kinds of non-human identity a registry names."""

    SERVICE_ACCOUNT = "service_account"
    API_CLIENT = "api_client"
    BOT = "bot"
    SHARED_ADMIN = "shared_admin"


def account_key(login: str) -> str:
    """How an NHI's account name is compared with a target's logins."""
    return login.strip().casefold()


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    """One row of the registry; `line` is the file's line it is on (header: line 1)."""

    target: str
    account: str
    owner: str
    kind: NhiKind
    description: str = ""
    line: int = 0

    @property
    def key(self) -> tuple[str, str]:
        return (self.target, account_key(self.account))


@dataclass(frozen=True, slots=True)
class Ownership:
    """What the ledger keeps of one NHI: the registry's row as last seen
    (`registry_owner`), its current `owner` and since which as-of date, and whether a
    handover waits for the new owner's confirmation (`review`)."""

    target: str
    account: str
    kind: str
    description: str
    registry_owner: str
    owner: str
    since: date
    review: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.target, account_key(self.account))


@dataclass(frozen=True, slots=True)
class Standing:
    """What HR says of a person this run: their lifecycle state as the SPEC names it
    (`active`, `prehire`, `suspended`, `terminated`, `absent`; None: held back, not
    known this run) and their manager's employee_id."""

    status: str | None
    manager_id: str | None = None


#: A person HR does not know: in no source (and not known from earlier runs).
ABSENT = Standing("absent")
#: A lifecycle state as an owner's status (`jml nhi`'s owner_status).
STATUS = {
    Lifecycle.NOT_YET: "prehire", Lifecycle.PREHIRE: "prehire", Lifecycle.ACTIVE: "active",
    Lifecycle.SUSPENDED: "suspended", Lifecycle.TERMINATED: "terminated", Lifecycle.DELETE: "terminated",
}  # fmt: skip


def standings(
    desired: Mapping[str, Desired], in_feed: Collection[str], held: Collection[str], known: Mapping[str, str | None]
) -> dict[str, Standing]:
    """What HR says this run of everyone who could own an NHI: the persons of the feed
    (`in_feed`, their lifecycle in `desired`), those held back (status None, unless
    their records say they left: terminated), and the persons the ledger knows from
    earlier runs who are in no source now (`known`: employee_id -> manager): absent."""
    found = {eid: Standing("absent", manager) for eid, manager in known.items()}
    for eid in held:
        gone = eid in desired and desired[eid].lifecycle is Lifecycle.TERMINATED
        found[eid] = Standing("terminated" if gone else None, known.get(eid))
    for eid in in_feed:
        person = desired[eid]
        found[eid] = Standing(STATUS[person.lifecycle], person.record.manager_id if person.record else None)
    return found


@dataclass(frozen=True, slots=True)
class OwnerChange:
    """An ownership the run changes, for the audit trail: `before` None for an NHI new
    in the registry; `owner` None for one removed from it."""

    target: str
    account: str
    before: str | None
    owner: str | None
    reason: str


@dataclass(frozen=True, slots=True)
class Watch:
    """What a run found of the NHIs: the ownerships to keep (every registered NHI), the
    changes to audit, the removed NHIs' keys, and the issues."""

    ownerships: tuple[Ownership, ...] = ()
    changes: tuple[OwnerChange, ...] = ()
    removed: tuple[tuple[str, str], ...] = ()
    issues: tuple[Issue, ...] = ()


def split_accounts(snapshot: Snapshot, registered: Collection[str]) -> tuple[Snapshot, dict[str, Account]]:
    """`snapshot` without the accounts whose login is a registered NHI's (`registered`:
    `account_key`s on this target), and those accounts by key."""
    if not registered:
        return snapshot, {}
    people, nhis = [], {}
    for account in snapshot.accounts:
        key = account_key(account.login_name)
        if key and key in registered:
            nhis[key] = account
        else:
            people.append(account)
    return replace(snapshot, accounts=people), nhis


def watch(
    registry: Iterable[RegistryEntry],
    kept: Mapping[tuple[str, str], Ownership],
    people: Mapping[str, Standing],
    held: Mapping[str, Collection[str]],
    *,
    as_of: date,
) -> Watch:
    """The run's view of every NHI (see the module docstring). `people`: employee_id ->
    Standing (a person not in it is absent); `held`: target -> the account keys it
    holds, for each target read this run (a target not in it says nothing)."""
    ownerships, changes, issues = [], [], []
    entries = {entry.key: entry for entry in registry}
    for key, entry in entries.items():
        ownership, change = _registered(entry, kept.get(key), as_of)
        ownership, handover, issue = _owned(ownership, people, as_of)
        changes += [c for c in (change, handover) if c is not None]
        issues += [i for i in (issue, _review(ownership)) if i is not None]
        if entry.target in held and key[1] not in held[entry.target]:
            issues.append(_issue(IssueKind.NHI_MISSING, ownership, f"the target does not hold account {entry.account}"))
        ownerships.append(ownership)
    removed = tuple(sorted(key for key in kept if key not in entries))
    changes += [OwnerChange(*key, kept[key].owner, None, "removed from the registry") for key in removed]
    return Watch(tuple(ownerships), tuple(changes), removed, tuple(issues))


def _registered(entry: RegistryEntry, kept: Ownership | None, as_of: date) -> tuple[Ownership, OwnerChange | None]:
    """The ownership the registry gives: a new row's owner from today; an edited row's
    owner from today, unless they own it already (then the edit only confirms them)."""
    kind, description, named = entry.kind.value, entry.description, entry.owner
    if kept is not None and kept.registry_owner == named:
        return replace(kept, kind=kind, description=description), None
    if kept is not None and kept.owner == named:
        return replace(kept, kind=kind, description=description, registry_owner=named, review=False), None
    ownership = Ownership(entry.target, entry.account, kind, description, named, named, as_of)
    why = "registered" if kept is None else "the registry names another owner"
    return ownership, OwnerChange(entry.target, entry.account, kept.owner if kept else None, named, why)


def _owned(
    ownership: Ownership, people: Mapping[str, Standing], as_of: date
) -> tuple[Ownership, OwnerChange | None, Issue | None]:
    """The ownership after the owner's standing is judged: kept, handed to the active
    manager (a change), or kept with an `orphan_nhi` issue."""
    owner = people.get(ownership.owner, ABSENT)
    if owner.status is None or owner.status in KEEPS:
        return ownership, None, None
    manager = owner.manager_id
    if manager and manager != ownership.owner and people.get(manager, ABSENT).status == TAKES:
        handed = replace(ownership, owner=manager, since=as_of, review=True)
        why = f"owner {ownership.owner} is {owner.status}: passed to their manager"
        return handed, OwnerChange(ownership.target, ownership.account, ownership.owner, manager, why), None
    nobody = f"its owner {ownership.owner} is {owner.status} and has no active manager to take it"
    return ownership, None, _issue(IssueKind.ORPHAN_NHI, ownership, nobody)


def _review(ownership: Ownership) -> Issue | None:
    if not ownership.review:
        return None
    ask = (
        f"{ownership.owner} now owns it: confirm (jml approve ID --by {ownership.owner} --role owner)"
        " and rotate its credentials"
    )
    return _issue(IssueKind.NHI_REVIEW, ownership, ask)


def _issue(kind: IssueKind, ownership: Ownership, what: str) -> Issue:
    """An issue about one NHI; `employee_id` and `data["owner"]` name its current owner."""
    target, key = ownership.key
    return Issue(
        kind,
        f"{kind.value}:{target}:{key}",
        f"{ownership.kind} {ownership.account} on {target}: {what}",
        employee_id=ownership.owner,
        target=target,
        data={"account": ownership.account, "kind": ownership.kind, "owner": ownership.owner},
    )


def confirmer(exception_id: int, status: str, ownership: Ownership | None, by: str, role: str) -> str:
    """The owner's employee_id when `by`, acting as `role`, may confirm the open
    `nhi_review` exception `exception_id` of `ownership` (None: no longer registered);
    else `jml.approvals.DecisionRefused` with one line."""
    if status != "open":
        raise DecisionRefused(f"exception {exception_id} is {status}: there is nothing left to confirm")
    if role != OWNER_ROLE:
        raise DecisionRefused(
            f"exception {exception_id} is an NHI review: its owner confirms it with --role {OWNER_ROLE}"
        )
    if ownership is None or not ownership.review:
        raise DecisionRefused(f"exception {exception_id}: the NHI waits for no confirmation any more")
    if approver_key(by) != approver_key(ownership.owner):
        raise DecisionRefused(
            f"{by} is not the current owner of {ownership.kind} {ownership.account} on {ownership.target}"
            f" (its owner is {ownership.owner})"
        )
    return ownership.owner
