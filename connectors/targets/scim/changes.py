"""A SCIM target's delta reads (SPEC "Incremental runs"), without I/O: where a read
stands, what to ask for next time, and what jml knew merged with what changed.

A read's memo (`Snapshot.memo`) is `{"since": T, "groups": {id: displayName}}`: `T` is
the server's clock (its Date header, asked before the read began) less
`connectors.kernel.driver.OVERLAP`, so a resource written while the read ran, or
stamped by a clock a little behind, is read again next time rather than missed. The next run asks `/Users` and `/Groups` for
`meta.lastModified gt T` (RFC 7644 §3.4.2.2) and counts both endpoints (`count=0`).

`merge` gives None, and the caller reads in full, whenever the changes cannot be
merged exactly, so a delta read never plans from less than a full read would:
- the counts do not add up: something was deleted (a delta lists no deletion) or
  created beyond what the delta listed;
- an account's externalId changed (its reports' `manager`, read as that externalId, would
  be stale), or a group was renamed, or a changed group shares its name with another.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Any

from connectors.kernel import driver as kernel_driver
from connectors.targets.scim.resources import Request, list_page, scim_filter_string
from jml.model import Account, Snapshot

__all__ = ["census", "memo", "merge", "modified_since", "since_of"]

def census(endpoint: str, where: str | None = None) -> Request:
    """A page of no resources: its totalResults counts the endpoint (or the filter's matches)."""
    return list_page(endpoint, 1, 0, where)


def since_of(date_header: str | None) -> str | None:
    """Where the next delta read starts, from the server's Date header (None: the server
    sent none, or an unreadable one, and the next read is a full one)."""
    if not date_header:
        return None
    try:
        stamp = parsedate_to_datetime(date_header)
    except (TypeError, ValueError):
        return None
    if stamp.tzinfo is None:
        return None
    return (stamp.astimezone(UTC) - kernel_driver.OVERLAP).strftime("%Y-%m-%dT%H:%M:%SZ")


def memo(since: str | None, groups: Mapping[str, str]) -> dict[str, Any]:
    """The memo of a read: where the next delta starts, and the groups' names by id."""
    return {"since": since, "groups": dict(groups)} if since else {}


def modified_since(since: str) -> str:
    """The filter of the resources changed after `since`."""
    return f"meta.lastModified gt {scim_filter_string(since)}"


def merge(
    known: Snapshot,
    users: Sequence[Mapping[str, Any]],
    groups: Sequence[Mapping[str, Any]],
    totals: tuple[int | None, int | None],
    account_of: Callable[[Mapping[str, Any], set[str]], Account],
) -> tuple[list[Account], dict[str, str]] | None:
    """The accounts and the groups (id -> displayName) the target holds now: `known`
    (its memo naming the groups by id) with the changed `users` and `groups` in it;
    None when they cannot be merged exactly (module docstring). `totals` are the
    endpoints' counts (Users, Groups); `account_of(user, entitlements)` makes an Account."""
    names: dict[str, str] = dict(known.memo.get("groups") or {})
    accounts = {a.id: a for a in known.accounts if a.id is not None}
    changed_users = {str(u["id"]): u for u in users if "id" in u}
    changed_groups = {str(g["id"]): g for g in groups if "id" in g}
    for uid, user in changed_users.items():
        before = accounts.get(uid)
        if before is not None and before.external_id != _text(user.get("externalId")):
            return None
    for gid, group in changed_groups.items():
        name = _text(group.get("displayName"))
        if name is None or (gid in names and names[gid] != name):
            return None
        if any(other != gid and other_name == name for other, other_name in names.items()):
            return None
        names[gid] = name
    if totals != (len(accounts.keys() | changed_users.keys()), len(names)):
        return None
    for uid, user in changed_users.items():
        before = accounts.get(uid)
        accounts[uid] = account_of(user, set(before.entitlements) if before is not None else set())
    for group in changed_groups.values():
        name = str(group["displayName"])
        members = {str(m["value"]) for m in group.get("members") or () if isinstance(m, dict) and "value" in m}
        for uid, account in accounts.items():
            if (uid in members) != (name in account.entitlements):
                accounts[uid] = replace(account, entitlements=account.entitlements ^ {name})
    return list(accounts.values()), names


def _text(value: object) -> str | None:
    return None if value is None else str(value)
