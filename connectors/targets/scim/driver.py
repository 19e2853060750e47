"""The SCIM 2.0 driver: a service provider's Users and Groups as the kernel's primitives.

A handle is the user's SCIM id. The mapping of attributes is in
`connectors.targets.scim.resources`; the HTTP side in `...client`; Bulk in `...bulk`.

- `read` pages through /Users and /Groups (both at once); an account's `manager` is read
  back as the manager's externalId (None when unknown), its entitlements are the
  displayNames of the groups listing it. Each listing is bounded (connectors.bounds):
  more than `max_pages` pages, or a page repeating an earlier one, is Permanent.
- `read_accounts` (verify's read-back) reads users by id, or by externalId where the
  kernel knows no id, and the groups asked for by id (or displayName), else all of
  them in one listing.
- Each read request is tried again on its own (`ScimClient.read`, `retries_reads`):
  a read-back of a hundred GETs through a throttling server would, tried again whole,
  almost never get through every one of them at once.
- `lookup` is one filter query (`externalId eq "a" or ...`) per call; two users with
  one externalId are a Conflict.
- An entitlement is membership of the Group of that displayName; the driver remembers
  group ids (from the read and its lookups) and asks by displayName for one it does not
  know. A group the server does not hold, or that went away since it was read, is
  GroupMissing (the kernel then creates it with its members); a 409 on creating one is
  a group someone else created meanwhile.
- Independent requests run `config.concurrency` at once; with `config.bulk` and a
  server that advertises Bulk, account operations go in Bulk requests.
- Mapped attributes (`config.attributes`) are held beside the canonical ones
  (`connectors.targets.mapped`). When the server publishes /Schemas, they are checked
  against it once (`...schema_check`, at the first read or write): an attribute it
  does not know (or cannot hold) fails every create and update of the target with a
  Permanent error naming it, so nothing carrying it is written; disables, deletes and
  revokes still run, so a leaver loses access even while the config is wrong (fail
  closed). A server without /Schemas is trusted.

Logs name people by employee_id only and never show the token or attribute values.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from connectors.base import ConfigurationError, Conflict, GroupMissing, NotFound, Permanent, TargetSchema
from connectors.bounds import Pages, cheaper_in_full
from connectors.kernel.driver import Driver, Handle, Reading, chunked
from connectors.targets.mapped import holding
from connectors.targets.scim import changes
from connectors.targets.scim import resources as scim
from connectors.targets.scim.bulk import ScimBulk
from connectors.targets.scim.client import ScimClient
from connectors.targets.scim.schema_check import SchemaCheck
from jml.config import ScimTarget
from jml.model import Account, Snapshot
from jml.operations import Create, Delete, Disable, Enable, Operation, Update

__all__ = ["ScimDriver"]

log = logging.getLogger(__name__)


class ScimDriver(Driver):
    """A SCIM 2.0 server as the kernel's driver; see the module docstring.

    `ScimDriver(config, environ=os.environ)` opens nothing yet (a ConfigurationError
    when the token's variable is not set).
    """

    retries_reads = True

    def __init__(self, config: ScimTarget, *, environ: Mapping[str, str] = os.environ) -> None:
        self.name = config.name
        self.concurrency = config.concurrency
        try:
            self.schema = TargetSchema(holding(scim.PATCH_PATHS, config.attributes))
        except ValueError as exc:
            raise ConfigurationError(f"target {config.name}: {exc}") from None
        self._config = config
        self._client = ScimClient(config, environ)
        self._lock = threading.Lock()
        self._groups: dict[str, str] = {}  # displayName -> SCIM id
        self._schemas = SchemaCheck(config.name, self._client, config.attributes)

    def __repr__(self) -> str:
        return f"ScimDriver(name={self.name!r}, url={self._config.url!r})"

    def close(self) -> None:
        self._client.close()

    # -- reading ---------------------------------------------------------------------

    def read(self) -> Reading:
        """Every account and group, from one paged pass over each; the memo says where
        the next delta read starts (`connectors.targets.scim.changes`)."""
        self._ready()
        _, stamp = self._client.read_dated(changes.census("Users"))
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"scim-read-{self.name}") as pool:
            users_future = pool.submit(self._list, "Users")
            groups_future = pool.submit(self._list, "Groups")
            users, groups = users_future.result(), groups_future.result()
        external_of = {str(user["id"]): scim.text(user.get("externalId")) for user in users if "id" in user}
        reading = self._reading(users, groups, external_of)
        names = {str(g["id"]): name for g in groups if "id" in g and (name := _name(g))}
        reading.snapshot.memo = changes.memo(changes.since_of(stamp), names)
        self._remember_groups(names)
        return reading

    def read_changes(self, known: Snapshot) -> Reading | None:
        """`known` brought up to date: the users and groups changed since its memo's
        `since` (two filtered listings; none of the users when their count is 0), and
        both endpoints counted; None (read in
        full) when `known` has no memo, when more than a quarter of the users changed
        (a full read costs less than paging through a filter), or when the changes
        cannot be merged exactly."""
        since = known.memo.get("since")
        if not isinstance(since, str) or not isinstance(known.memo.get("groups"), dict):
            return None
        self._ready()
        counted, stamp = self._client.read_dated(changes.census("Users"))
        groups_counted = self._client.read(changes.census("Groups"))
        where = changes.modified_since(since)
        changed = _count(self._client.read(changes.census("Users", where)))
        if changed is None or cheaper_in_full(changed, len(known.accounts), self._config.page_size):
            log.info("target %s: %s users changed since the last read; reading in full", self.name, changed)
            return None
        # none changed: the count said so, and a change since is the next delta's (its
        # `since` is this read's clock, asked first)
        users = self._list("Users", where) if changed else []
        groups = self._list("Groups", where)
        external_of = {a.id: a.external_id for a in known.accounts if a.id is not None}
        external_of.update({str(u["id"]): scim.text(u.get("externalId")) for u in users if "id" in u})
        self._managers_of(users, external_of)
        mapped = list(self._config.attributes)
        totals = (_count(counted), _count(groups_counted))
        merged = changes.merge(known, users, groups, totals,
                               lambda user, held: scim.account_from_user(user, external_of, held, mapped))  # fmt: skip
        if merged is None:
            log.info("target %s: the changes since the last read do not merge; reading in full", self.name)
            return None
        accounts, names = merged
        snapshot = Snapshot(self.name, accounts, set(names.values()), self.schema.attributes,
                            memo=changes.memo(changes.since_of(stamp), names))  # fmt: skip
        self._remember_groups(names)
        return Reading(snapshot, _handles_of(accounts))

    def _managers_of(self, users: Sequence[dict], external_of: dict[str, str | None]) -> None:
        """Add to `external_of` (id -> externalId) the managers of `users` it lacks, by id."""
        missing = sorted({m for u in users if (m := scim.manager_id_of(u)) and m not in external_of})
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"scim-mgr-{self.name}") as pool:
            for manager in pool.map(self._user, missing):
                if manager and "id" in manager:
                    external_of[str(manager["id"])] = scim.text(manager.get("externalId"))

    def _remember_groups(self, names: Mapping[str, str]) -> None:
        """Remember the groups' ids by displayName (the first of a name wins)."""
        with self._lock:
            self._groups = {}
            for gid, name in names.items():
                self._groups.setdefault(name, gid)

    def read_accounts(
        self, employee_ids: Sequence[str], handles: Mapping[str, Handle], groups: Collection[str] | None = None
    ) -> Reading:
        """The users of these employee_ids: by id (GET /Users/{id}, `concurrency` at a
        time) where the kernel knows their handle, else by filter queries on externalId
        (`lookup_chunk` a query); their managers' externalIds by id the same way; and
        the groups: those of `groups` (`_named`), else every one, from one listing of
        /Groups. (A filter on `members.value` would name only the groups listing them,
        but a server without an index scans every membership once per query:
        scim2-server answered 50 ids in 1.6 s at 10,000 users, its whole /Groups
        listing in 1.4 s. At 100,000 users the listing took 13 s, one department's
        group by id 0.5 s.)"""
        wanted = set(employee_ids)
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix=f"scim-back-{self.name}") as pool:
            if groups is None:
                groups_future = pool.submit(self._list, "Groups")
            else:
                groups_future = pool.submit(self._named, sorted(groups))
            ids = sorted({str(handle) for eid, handle in handles.items() if eid in wanted})
            users = {str(u["id"]): u for u in pool.map(self._user, ids) if u and u.get("externalId") in wanted}
            missing = sorted(wanted - {u.get("externalId") for u in users.values()})
            for chunk in chunked(missing, self.lookup_chunk):
                for user in self._list("Users", scim.any_of("externalId", chunk)):
                    if user.get("externalId") in chunk and "id" in user:
                        users.setdefault(str(user["id"]), user)
            external_of = {uid: scim.text(user.get("externalId")) for uid, user in users.items()}
            self._managers_of(list(users.values()), external_of)
            found = groups_future.result()
        return self._reading(list(users.values()), found, external_of)

    def _named(self, names: Sequence[str]) -> list[dict]:
        """The groups of these displayNames, one after the other: by id (GET
        /Groups/{id}) where the driver knows it, else (or when that group is gone or
        was renamed) by one filter query on displayName; a name the server does not
        hold is left out."""
        found: list[dict] = []
        for name in names:
            with self._lock:
                group_id = self._groups.get(name)
            group = self._group(group_id) if group_id is not None else None
            if group is not None and _name(group) == name:
                found.append(group)
                continue
            body = self._client.read(scim.find_group(name))
            found += [g for g in body.get("Resources") or () if isinstance(g, dict) and _name(g) == name]
        return found

    def _group(self, group_id: str) -> dict | None:
        """The Group of this id; None when the server holds none."""
        try:
            return self._client.read(scim.get_group(group_id))
        except NotFound:
            return None

    def _user(self, account_id: str) -> dict | None:
        """The User of this id; None when the server holds none."""
        try:
            return self._client.read(scim.get_user(account_id))
        except NotFound:
            return None

    def _reading(self, users: Sequence[dict], groups: Sequence[dict], external_of: Mapping[str, str | None]) -> Reading:
        """The reading of these users (managers named through `external_of`, id ->
        externalId) with their entitlements, the displayNames of these groups that list
        them; every user with an externalId gets a handle."""
        entitlements: dict[str, set[str]] = defaultdict(set)
        for group in groups:
            name = _name(group)
            if name is None:
                continue
            for member in group.get("members") or ():
                if isinstance(member, dict) and member.get("value") is not None:
                    entitlements[str(member["value"])].add(name)
        mapped = list(self._config.attributes)
        accounts = [
            scim.account_from_user(user, external_of, entitlements.get(str(user["id"]), set()), mapped)
            for user in users
            if "id" in user
        ]
        names = {name for group in groups if (name := _name(group))}
        snapshot = Snapshot(target=self.name, accounts=accounts, groups=names, held=self.schema.attributes)
        return Reading(snapshot, _handles_of(accounts))

    def _list(self, endpoint: str, where: str | None = None) -> list[dict]:
        """Every resource of an endpoint (matching the filter `where`, if given), paged
        by index, within the page bounds."""
        page_size = self._config.page_size
        pages = Pages(f"{self.name}: GET {endpoint}", self._config.max_pages)
        resources: dict[str, dict] = {}
        start = 1
        while True:
            pages.take()
            body = self._client.read(scim.list_page(endpoint, start, page_size, where))
            page = [item for item in body.get("Resources") or () if isinstance(item, dict)]
            pages.check(page)
            for item in page:
                resources.setdefault(str(item.get("id")), item)
            start += len(page)
            total = body.get("totalResults")
            if not page or (isinstance(total, int) and start > total):
                break
            if not isinstance(total, int) and len(page) < page_size:
                break
        return list(resources.values())

    def _ready(self) -> None:
        """Before a read: the server's capabilities asked, the mapped attributes checked
        against its /Schemas (both once)."""
        self._client.capabilities()
        self._schemas.refusal()

    def lookup(self, employee_ids: Sequence[str]) -> dict[str, Handle]:
        found: dict[str, list[str]] = defaultdict(list)
        wanted = set(employee_ids)
        body = self._client.json(scim.find_users(list(employee_ids)))
        for user in body.get("Resources") or ():
            if isinstance(user, dict) and user.get("externalId") in wanted and user.get("id"):
                found[user["externalId"]].append(str(user["id"]))
        for employee_id, ids in found.items():
            if len(set(ids)) > 1:
                raise Conflict(f"{self.name}: {len(set(ids))} accounts have externalId {employee_id}")
        return {employee_id: ids[0] for employee_id, ids in found.items()}

    def resolve(self, employee_id: str, account_id: str) -> Handle | None:
        return account_id

    def account_id(self, handle: Handle) -> str:
        return str(handle)

    # -- accounts --------------------------------------------------------------------

    def create(self, employee_id: str, values: Mapping[str, Any], active: bool) -> Handle:
        self._schemas.writable()
        created = self._client.json(scim.create_user(employee_id, values, active))
        if not created.get("id"):
            raise Permanent(f"{self.name}: POST Users: the answer carries no id")
        return str(created["id"])

    def update(self, handle: Handle, employee_id: str, values: Mapping[str, Any], link: bool) -> Handle:
        self._schemas.writable()
        request = self._patch(handle, values, employee_id if link else None)
        if request is not None:
            self._client.send(request)
        return handle

    def set_active(self, handle: Handle, employee_id: str, active: bool) -> Handle:
        self._client.send(scim.set_active(handle, active))
        return handle

    def delete(self, handle: Handle, employee_id: str) -> None:
        try:
            self._client.send(scim.delete_user(handle))
        except NotFound:
            pass  # already gone

    def bulk(self) -> ScimBulk | None:
        if not self._config.bulk or self._schemas.refusal() is not None:
            return None  # refused attributes: each create and update fails on its own
        capabilities = self._client.capabilities()
        return ScimBulk(self._client, capabilities, self._request_for) if capabilities.bulk else None

    def _request_for(self, op: Operation, handle: Handle | None, values: Mapping[str, Any]) -> scim.Request | None:
        """The single request of an account operation (for Bulk); `handle` is the
        account's, for every operation but a create."""
        if isinstance(op, Create):
            return scim.create_user(op.employee_id, values, op.active)
        if handle is None:
            raise Permanent(f"{self.name}: {op.action.value} of {op.employee_id} without an account")
        match op:
            case Update():
                return self._patch(handle, values, op.employee_id if op.links else None)
            case Enable() | Disable():
                return scim.set_active(handle, isinstance(op, Enable))
            case Delete():
                return scim.delete_user(handle)
        raise Permanent(f"{self.name}: {op.action.value} is not an account operation")

    def _patch(self, handle: Handle, values: Mapping[str, Any], link: str | None) -> scim.Request | None:
        try:
            return scim.patch_user(handle, values, link)
        except ValueError as exc:
            raise Permanent(f"{self.name}: {exc}") from None

    # -- groups ----------------------------------------------------------------------

    def change_members(self, group: str, changes: Sequence[tuple[bool, Handle]]) -> None:
        group_id = self._group_id(group)
        if group_id is None:
            raise GroupMissing(f"{self.name}: no group {group!r}")
        try:
            self._client.send(scim.patch_members(group_id, changes))
        except NotFound as exc:  # the group went away since it was read
            with self._lock:
                self._groups.pop(group, None)
            raise GroupMissing(str(exc), status=exc.status) from exc

    def create_group(self, group: str, members: Sequence[Handle]) -> bool:
        try:
            created = self._client.json(scim.create_group(group, members))
        except Conflict:
            # A server with unique displayNames: someone created it meanwhile.
            if self._find_group(group) is None:
                raise
            return False
        if not created.get("id"):
            raise Permanent(f"{self.name}: POST Groups: the answer carries no id")
        with self._lock:
            self._groups[group] = str(created["id"])
        log.info("target %s: created group %r", self.name, group)
        return True

    def _group_id(self, name: str) -> str | None:
        with self._lock:
            if name in self._groups:
                return self._groups[name]
        return self._find_group(name)

    def _find_group(self, name: str) -> str | None:
        """The id of the group of that displayName, by one filter query; None if none."""
        body = self._client.json(scim.find_group(name))
        for group in body.get("Resources") or ():
            if isinstance(group, dict) and group.get("displayName") == name and group.get("id"):
                with self._lock:
                    self._groups[name] = str(group["id"])
                return str(group["id"])
        return None


def _handles_of(accounts: Sequence[Account]) -> dict[str, Handle]:
    """employee_id -> the SCIM id of their account (the first listed of an externalId)."""
    handles: dict[str, Handle] = {}
    for account in accounts:
        if account.external_id is not None and account.id is not None:
            handles.setdefault(account.external_id, account.id)
    return handles


def _count(body: Mapping[str, Any]) -> int | None:
    """A ListResponse's totalResults (None when it gives none)."""
    total = body.get("totalResults")
    return total if isinstance(total, int) and not isinstance(total, bool) else None


def _name(group: Mapping[str, Any]) -> str | None:
    """A group's displayName (None when it has none)."""
    return scim.text(group.get("displayName"))
