"""An LDAP target's delta reads (SPEC "Incremental runs"), without I/O: where a read
stands, what to ask for next time, and what jml knew merged with what changed.

A read's memo (`Snapshot.memo`) is `{"since": T, "newest": N, "unlinked": {id: DN}}`:
- `N` is the newest `modifyTimestamp` the reads so far have seen;
- `T` is the earlier of the read's start (jml's clock) and `N`, less
  `connectors.kernel.driver.OVERLAP`: an entry written while the read ran, or stamped by
  a clock a little behind, is read again next time rather than missed (the directory
  has no clock of its own to ask; `N` keeps a jml clock that runs ahead from skipping
  writes);
- `unlinked` names the DN of each entry not named `uid=` (a linked entry's DN is
  `uid=<external_id>` under its container, so it is not stored).

The next run searches each container for `(modifyTimestamp>=T)` (an add, a modify and a
move or rename all set it), and takes a census of what is there: each container's
entryUUIDs and DNs, the groups' DNs. The directory keeps no record of a deletion and no
link follows a moved DN (`member` and `manager` are plain DN values here), so an entry
that appeared, moved or vanished "touches" its DNs, old and new: the groups listing a
touched DN, and the entries naming one as manager, are read again too (`Moves`).

`merge` gives None, and the caller reads in full, whenever the changes cannot be merged
exactly, so a delta read never plans from less than a full read would: an entry without
entryUUID, an entry that moved between the searches or was not found when read again, a
group that appeared unlisted, or two groups of one name.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ldap3.utils.conv import escape_filter_chars

from connectors.kernel import driver as kernel_driver
from connectors.targets.ldap.entries import Entry, Found, Tree, first, linked_entry, member_key, person_rdn
from jml.dn import dn_key, rdn_value
from jml.model import Account, Snapshot

__all__ = ["STAMP", "Census", "Moves", "changed_since", "memo", "merge", "moves", "newest"]

#: The operational attribute a delta read filters on.
STAMP = "modifyTimestamp"
_FORMAT = "%Y%m%d%H%M%SZ"


@dataclass(frozen=True, slots=True)
class Census:
    """What the containers hold now: entryUUID -> (DN, active) of every person entry
    (people first, in the server's order), and the DN of every group. (The AD target's
    census is of objectGUIDs, its accounts all `active` here: their own
    userAccountControl says whether they are.)"""

    people: dict[str, tuple[str, bool]]
    groups: list[str]

    @classmethod
    def of(
        cls, containers: Iterable[tuple[bool, Sequence[Found]]], groups: Sequence[Found], key: str = "entryUUID"
    ) -> Census | None:
        """The census of these searches (`(active, entries)` of each container), entries
        known by their `key` attribute; None when an entry has none (a delta could not
        tell it from another)."""
        people: dict[str, tuple[str, bool]] = {}
        for active, found in containers:
            for dn, values in found:
                uuid = first(values, key)
                if uuid is None:
                    return None
                people.setdefault(uuid, (dn, active))
        return cls(people, [dn for dn, _ in groups])

    def linked(self) -> list[tuple[str, Entry]]:
        """(employee_id, handle) of each entry named `uid=<employee_id>`, in order."""
        return [linked for uuid, (dn, active) in self.people.items()
                if (linked := linked_entry(dn, {"entryUUID": [uuid]}, active)) is not None]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Moves:
    """What a delta must read besides the changed entries: `reread`, the entryUUIDs of
    the entries that appeared or moved and were not among them; `touched`, the DNs that
    appeared or vanished."""

    reread: list[str]
    touched: list[str]


def changed_since(kind: str, since: str) -> str:
    """The filter of the entries of `kind` (a filter) written at or after `since`."""
    return f"(&{kind}({STAMP}>={escape_filter_chars(since)}))"


def newest(entries: Iterable[Found], before: str | None = None) -> str | None:
    """The newest `modifyTimestamp` of these entries and `before` (None: none seen)."""
    stamps = [stamp for _, values in entries if (stamp := _stamp(first(values, STAMP)))]
    if before is not None and (earlier := _stamp(before)):
        stamps.append(earlier)
    return max(stamps).strftime(_FORMAT) if stamps else None


def memo(started: datetime, newest_seen: str | None, census: Census) -> dict[str, Any]:
    """The memo of a read that began at `started` (module docstring)."""
    latest = _stamp(newest_seen)
    start = min(started, latest) if latest is not None else started
    unlinked = {uuid: dn for uuid, (dn, _) in census.people.items() if rdn_value(dn)[0] != "uid"}
    return {"since": (start - kernel_driver.OVERLAP).strftime(_FORMAT), "newest": newest_seen, "unlinked": unlinked}


def moves(known: Snapshot, census: Census, changed: Iterable[str], tree: Tree) -> Moves:
    """What else a delta from `known` must read, given the census and the entryUUIDs of
    the `changed` entries (module docstring)."""
    unlinked = known.memo.get("unlinked") or {}
    listed = set(changed)
    reread: list[str] = []
    touched: list[str] = []
    for account in known.accounts:
        before = _dn_of(account, unlinked, tree)
        now = census.people.get(account.id or "")
        if now is None:
            touched += [before] if before else []
        elif before is None or dn_key(now[0]) != dn_key(before):
            touched += [dn for dn in (before, now[0]) if dn]
            reread += [] if account.id in listed else [account.id or ""]
    ids = {account.id for account in known.accounts}
    for uuid, (dn, _) in census.people.items():
        if uuid not in ids:
            touched.append(dn)
            reread += [] if uuid in listed else [uuid]
    return Moves(sorted(set(reread)), sorted(set(touched)))


def merge(
    known: Snapshot,
    census: Census,
    must: Collection[str],
    entries: Sequence[tuple[bool, Found]],
    groups: Sequence[Found],
    account_of: Callable[[str, Mapping[str, list[str]], bool, set[str]], Account],
    key: str = "entryUUID",
) -> tuple[list[Account], set[str]] | None:
    """The accounts and group names the target holds now: `known` with the entries
    and groups read again (`entries` as (active, entry), known by their `key`
    attribute; the later of one entry wins) in it; None when they cannot be merged
    exactly (module docstring), or an entry of `must` (ids) was not found.
    `account_of(dn, values, active, entitlements)` makes an Account."""
    names = {dn_key(dn): rdn_value(dn)[1] for dn in census.groups}
    current = set(names.values())
    if len(current) != len(census.groups):
        return None
    members = {names[group]: {member_key(m) for m in values.get("member", ())}
               for dn, values in groups if (group := dn_key(dn)) in names}  # fmt: skip
    if not (current - known.groups) <= members.keys():
        return None
    latest: dict[str, tuple[bool, Found]] = {}
    for active, (dn, values) in entries:
        uuid = first(values, key)
        if uuid is not None and uuid in census.people:
            latest[uuid] = (active, (dn, values))
    if not set(must) <= latest.keys():
        return None
    accounts = {a.id: a for a in known.accounts if a.id in census.people}
    for uuid, (active, (dn, values)) in latest.items():
        if (dn_key(dn), active) != (dn_key(census.people[uuid][0]), census.people[uuid][1]):
            return None
        before = accounts.get(uuid)
        accounts[uuid] = account_of(dn, values, active, set(before.entitlements) if before is not None else set())
    gone = known.groups - current
    for uuid, account in accounts.items():
        at = dn_key(census.people[uuid][0])
        held = (account.entitlements - gone - members.keys()) | {name for name, m in members.items() if at in m}
        if held != account.entitlements:
            accounts[uuid] = replace(account, entitlements=held)
    return list(accounts.values()), current


def _dn_of(account: Account, unlinked: Mapping[str, str], tree: Tree) -> str | None:
    """The DN `account` had when it was read (None: not known)."""
    if account.id is not None and account.id in unlinked:
        return unlinked[account.id]
    if account.external_id is None:
        return None
    return f"{person_rdn(account.external_id)},{tree.base(account.active)}"


def _stamp(text: str | None) -> datetime | None:
    """A GeneralizedTime of whole seconds in UTC (as slapd writes them), or None."""
    if not text:
        return None
    try:
        return datetime.strptime(text, _FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None

