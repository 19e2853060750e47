"""A SCIM 2.0 service provider (RFC 7643, RFC 7644) as a jml target.

Public surface: `ScimTargetConnector` (the `connectors.base.Target` protocol) and
`scim_filter_string`. Everything else is private.

Mapping of the canonical account (jml.model.ACCOUNT_ATTRIBUTES) to a SCIM User:

    user_name        userName                 (sent as given: the plan holds the
                                               lowercased email already)
    given_name       name.givenName
    family_name      name.familyName
    display_name     displayName
    email            emails = [{value, type: "work", primary: true}]
    title            title
    employee_number  enterprise:employeeNumber
    department       enterprise:department
    manager          enterprise:manager.value = the manager's SCIM id
    Account.external_id   externalId (the employee_id)
    Account.active        active

`manager` is canonically the manager's employee_id. Writing, the connector translates
it to the manager's SCIM id (from its map employee_id -> id, built by `read` and by its
own creates, else one filter query per unknown manager). A manager with no account on
the target is left out of a create, and a change to such a manager is skipped, with a
warning: the report is not held back, and the next read shows the drift. Reading, the
id is translated back to that user's externalId (None when unknown).

An entitlement is membership of the SCIM Group of that displayName; a group missing is
created by the first grant.

Errors (connectors.base) per operation land in `Outcome.error`, never raised:
429 and 503 -> Retryable with the Retry-After seconds; other 5xx, 408, timeouts and
connection errors -> Retryable; 404 -> NotFound; 409 and 412 -> Conflict; any other 4xx
-> Permanent, with the server's SCIM `detail` in the message. `read` raises them. This
module never retries; a retry layer wraps it.

Logs name people by employee_id only, and never show the token or attribute values.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import httpx

from connectors.base import (
    ClosesOnExit,
    Conflict,
    NotFound,
    Outcome,
    Permanent,
    Retryable,
    TargetError,
)
from connectors.http import RETRY_AFTER_STATUSES, is_retryable_status, retry_after_seconds
from jml.config import ScimTarget
from jml.model import ACCOUNT_ATTRIBUTES, Account, Action, Operation, Snapshot

__all__ = ["ScimTargetConnector", "scim_filter_string"]

log = logging.getLogger(__name__)

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
MEDIA_TYPE = "application/scim+json"

# The success statuses each request accepts; anything else is an error.
OK_DISCOVERY = frozenset({200})  # RFC 7644 §4: GET /ServiceProviderConfig
OK_SEARCH = frozenset({200})  # RFC 7644 §3.4.2: a ListResponse, even when empty
OK_CREATE = frozenset({200, 201})  # RFC 7644 §3.3: 201 Created (some servers say 200)
OK_PATCH = frozenset({200, 204})  # RFC 7644 §3.5.2: 200 with the resource, or 204
OK_DELETE = frozenset({200, 204})  # RFC 7644 §3.6: 204 No Content
OK_BULK = frozenset({200})  # RFC 7644 §3.7.3: 200 with one result per operation

# How a failed status is typed (connectors.base).
CONFLICT_STATUSES = frozenset({409, 412})  # RFC 7644 §3.12: uniqueness, etag mismatch

# Canonical attribute (or the account's externalId / active) -> its PATCH path.
_PATCH_PATHS = {
    "user_name": "userName",
    "given_name": "name.givenName",
    "family_name": "name.familyName",
    "display_name": "displayName",
    "email": "emails",
    "title": "title",
    "employee_number": f"{ENTERPRISE_SCHEMA}:employeeNumber",
    "department": f"{ENTERPRISE_SCHEMA}:department",
    "manager": f"{ENTERPRISE_SCHEMA}:manager",
    "external_id": "externalId",
    "active": "active",
}
_ACCOUNT_ACTIONS = frozenset({Action.CREATE, Action.UPDATE, Action.ENABLE, Action.DISABLE, Action.DELETE})
_GROUP_ACTIONS = frozenset({Action.GRANT, Action.REVOKE})
# Stands for an identifier not known yet when the size of a bulk request is estimated.
_PLACEHOLDER_ID = "x" * 64
FIND_CHUNK = 50  # externalIds per filter query in `find`
# Room kept in a bulk request for its envelope ({"schemas": [...], "Operations": []}).
_BULK_ENVELOPE = 256


def scim_filter_string(value: str) -> str:
    """`value` as a SCIM filter string literal, double quotes included.

    RFC 7644 §3.4.2.2 compares attributes with JSON string values: a backslash and a
    double quote are escaped with a backslash (control characters as JSON escapes), so
    the value can never end the literal early and inject filter syntax:
    `O"Brien` -> `"O\\"Brien"`.
    """
    return json.dumps(value, ensure_ascii=False)


class ScimTargetConnector(ClosesOnExit):
    """A SCIM 2.0 server as a jml target (the `connectors.base.Target` protocol).

    `ScimTargetConnector(config, environ=os.environ)` opens nothing yet: it builds one
    pooled `httpx.Client` (keep-alive, `config.verify`, `config.timeout`, at most
    `config.concurrency` connections) that sends `Authorization: Bearer <token>` where
    the token is `environ[config.token_env]`. A `token_env` naming a variable that is
    not set (or empty) is a `ValueError` here, not later.

    - `read()` returns the whole target from one paged pass over /Users and /Groups.
    - `apply(operations)` returns one Outcome per operation, in the same order.
    - `close()` closes the client; the connector is also a context manager.

    An instance remembers the server's capabilities (discovered once) and a map
    employee_id -> SCIM id, filled by `read` and by its own creates, so that operations
    of a later `apply` on the same instance find the accounts created earlier. A
    fresh instance finds an account the plan gave no id for with one filter query.
    """

    def __init__(self, config: ScimTarget, *, environ: Mapping[str, str] = os.environ) -> None:
        headers = {"Accept": f"{MEDIA_TYPE}, application/json"}
        if config.token_env is not None:
            token = environ.get(config.token_env)
            if not token:
                raise ValueError(
                    f"target {config.name}: environment variable {config.token_env} is not set"
                )
            headers["Authorization"] = f"Bearer {token}"
        self.name = config.name
        self._config = config
        self._client = httpx.Client(
            base_url=config.url.rstrip("/") + "/",
            headers=headers,
            timeout=config.timeout,
            verify=config.verify,
            limits=httpx.Limits(
                max_connections=config.concurrency,
                max_keepalive_connections=config.concurrency,
            ),
        )
        self._capabilities: _Capabilities | None = None
        self._lock = threading.Lock()
        self._ids: dict[str, str] = {}  # employee_id (externalId) -> SCIM id
        self._groups: dict[str, str] = {}  # displayName -> SCIM id
        self._group_locks: dict[str, threading.Lock] = {}

    def __repr__(self) -> str:
        return f"ScimTargetConnector(name={self.name!r}, url={self._config.url!r})"

    def close(self) -> None:
        """Close the HTTP client and its connections."""
        self._client.close()

    # -- read --------------------------------------------------------------------

    def read(self) -> Snapshot:
        """Every account and group of the target, from one paged pass over each.

        Each Account has all ACCOUNT_ATTRIBUTES (None where the user has no value),
        `manager` as the manager's employee_id (None when the manager is unknown or has
        no externalId), and `entitlements` = the displayNames of the groups listing
        it. `Snapshot.groups` holds every group displayName.

        Raises the typed TargetError when the target cannot be read.
        """
        started = time.monotonic()
        self._discover()
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"scim-read-{self.name}") as pool:
            users_future = pool.submit(self._list, "Users")
            groups_future = pool.submit(self._list, "Groups")
            users = users_future.result()
            groups = groups_future.result()

        external_of = {
            str(user["id"]): _text(user.get("externalId")) for user in users if "id" in user
        }
        entitlements: dict[str, set[str]] = defaultdict(set)
        group_ids: dict[str, str] = {}
        for group in groups:
            name = _text(group.get("displayName"))
            if name is None:
                continue
            if "id" in group:
                group_ids.setdefault(name, str(group["id"]))
            for member in group.get("members") or ():
                if isinstance(member, dict) and member.get("value") is not None:
                    entitlements[str(member["value"])].add(name)

        accounts = [
            _account_from_user(user, external_of, entitlements.get(str(user["id"]), set()))
            for user in users
            if "id" in user
        ]
        ids: dict[str, str] = {}
        for account in accounts:
            if account.external_id is not None and account.id is not None:
                ids.setdefault(account.external_id, account.id)
        with self._lock:
            self._ids = ids
            self._groups = group_ids
        log.info(
            "target %s: read %d accounts and %d groups in %.2f s",
            self.name, len(accounts), len(group_ids), time.monotonic() - started,
        )  # fmt: skip
        return Snapshot(target=self.name, accounts=accounts, groups=set(group_ids))

    def _list(self, endpoint: str) -> list[dict]:
        """Every resource of an endpoint, paged by index (RFC 7644 §3.4.2.4)."""
        page_size = self._config.page_size
        resources: dict[str, dict] = {}
        start = 1
        while True:
            body = self._json(
                self._send(
                    "GET",
                    endpoint,
                    ok=OK_SEARCH,
                    params={"startIndex": start, "count": page_size},
                ),
                f"GET {endpoint}",
            )
            page = [item for item in body.get("Resources") or () if isinstance(item, dict)]
            for item in page:
                resources.setdefault(str(item.get("id")), item)
            start += len(page)
            total = body.get("totalResults")
            if not page:
                break
            if isinstance(total, int) and start > total:
                break
            if not isinstance(total, int) and len(page) < page_size:
                break
        return list(resources.values())

    def find(self, employee_ids: list[str]) -> dict[str, str]:
        """employee_id -> SCIM id of the users whose externalId is one of `employee_ids`:
        one filter query per FIND_CHUNK ids (`externalId eq "a" or ...`), remembered in
        the connector's map. Raises the typed TargetError when the target can't answer."""
        found: dict[str, str] = {}
        for start in range(0, len(employee_ids), FIND_CHUNK):
            chunk = employee_ids[start : start + FIND_CHUNK]
            wanted = set(chunk)
            query = " or ".join(f"externalId eq {scim_filter_string(eid)}" for eid in chunk)
            params = {"filter": query, "count": 2 * len(chunk)}
            body = self._json(self._send("GET", "Users", ok=OK_SEARCH, params=params), "GET Users")
            for user in body.get("Resources") or ():
                if isinstance(user, dict) and user.get("externalId") in wanted and user.get("id"):
                    found.setdefault(user["externalId"], str(user["id"]))
        with self._lock:
            self._ids.update(found)
        return found

    # -- apply -------------------------------------------------------------------

    def apply(self, operations: list[Operation]) -> list[Outcome]:
        """Apply the operations; one Outcome per operation, in the same order.

        Operations come in plan order: a manager's create before its reports' creates,
        a person's create before the person's other operations. Independent requests
        run concurrently (at most `config.concurrency`); an operation waits for the
        earlier operations of the same person, and a create or update naming a manager
        created in the same call waits for that create. An operation whose person's (or
        manager's) create failed in the same call fails with an error of the same type.

        Creates, updates, enables, disables and deletes go in Bulk requests when the
        server advertises Bulk and `config.bulk` is true; consecutive grants and
        revokes on one group go in one PATCH of that group.

        Errors are typed per operation in `Outcome.error`; nothing is raised for them.
        """
        if not operations:
            return []
        started = time.monotonic()
        call = _Call(operations)
        try:
            capabilities = self._discover()
        except TargetError as exc:
            for index in range(len(operations)):
                self._fail(call, index, exc)
            return call.outcomes
        bulk = capabilities if (self._config.bulk and capabilities.bulk) else None
        units = self._plan(call, bulk)
        self._execute(call, units)
        failed = sum(1 for outcome in call.outcomes if not outcome.ok)
        log.info(
            "target %s: applied %d operations (%d failed) in %d units of work in %.2f s",
            self.name, len(operations), failed, len(units), time.monotonic() - started,
        )  # fmt: skip
        return call.outcomes

    # Planning: no I/O. The operations become units of work (one request each, or one
    # bulk request, or one group PATCH) with the units they wait for. Every unit waits
    # only for units planned before it, so the order of planning is a valid order.

    def _plan(self, call: _Call, bulk: _Capabilities | None) -> list[_Unit]:
        units: list[_Unit] = []
        create_of: dict[str, int] = {}  # employee_id -> index of its create so far
        account_tail: dict[str, int] = {}  # employee_id -> unit of its last account op
        group_tail: dict[str, set[int]] = defaultdict(set)  # group units since then
        open_groups: dict[str, int] = {}  # group name -> unit, in the current run
        chunk: int | None = None  # the open bulk unit

        def new_unit(kind: str, group: str | None = None) -> int:
            units.append(_Unit(kind=kind, group=group))
            return len(units) - 1

        for index, op in enumerate(call.operations):
            person = op.employee_id
            if op.action in _GROUP_ACTIONS:
                chunk = None
                name = op.detail.get("entitlement") if isinstance(op.detail, dict) else None
                if not isinstance(name, str) or not name:
                    self._fail(call, index, Permanent(f"{self.name}: {op.action.value} without an entitlement"))
                    continue
                unit = open_groups.get(name)
                if unit is None:
                    unit = open_groups[name] = new_unit("group", name)
                units[unit].indices.append(index)
                if person in account_tail:
                    units[unit].deps.add(account_tail[person])
                if person in create_of:
                    call.own_create[index] = create_of[person]
                group_tail[person].add(unit)
                continue

            open_groups = {}
            if op.action is not Action.CREATE and person in create_of:
                call.own_create[index] = create_of[person]
            manager = _manager_named(op)
            if manager is not None and manager in create_of:
                call.manager_create[index] = create_of[manager]
            deps = set(group_tail.pop(person, set()))
            if person in account_tail:
                deps.add(account_tail[person])
            if index in call.manager_create:
                deps.add(call.unit_of[call.manager_create[index]])

            if bulk is None:
                unit = new_unit("single")
            else:
                size = self._estimate(call, index)
                refers_to_chunk = op.action is not Action.CREATE and any(
                    call.unit_of.get(source) == chunk
                    for source in (call.own_create.get(index), call.manager_create.get(index))
                    if source is not None
                )
                if (
                    chunk is None
                    or refers_to_chunk
                    or len(units[chunk].indices) >= bulk.max_operations
                    or (
                        bulk.max_payload_size is not None
                        and units[chunk].size + size + _BULK_ENVELOPE > bulk.max_payload_size
                    )
                ):
                    chunk = new_unit("bulk")
                unit = chunk
                units[unit].size += size + 1
            units[unit].indices.append(index)
            deps.discard(unit)
            units[unit].deps |= deps
            account_tail[person] = unit
            if op.action is Action.CREATE:
                create_of[person] = index
            call.unit_of[index] = unit

        for number, unit in enumerate(units):
            for index in unit.indices:
                call.unit_of[index] = number
        return units

    def _estimate(self, call: _Call, index: int) -> int:
        """An upper bound of the size of one operation in a bulk request, in bytes."""
        try:
            request = self._request_for(call, index, estimate=True)
        except Exception:  # noqa: BLE001 - a bad operation fails when it runs
            return 0
        if request is None:
            return 0
        return len(_dumps(request.bulk_operation(f"op{index}")))

    # Execution.

    def _execute(self, call: _Call, units: list[_Unit]) -> None:
        """Run the units, each once the units it waits for are done."""
        if self._config.concurrency == 1 or len(units) == 1:
            for unit in units:
                self._run_unit(call, unit)
            return
        dependents: dict[int, list[int]] = defaultdict(list)
        waiting = [len(unit.deps) for unit in units]
        for number, unit in enumerate(units):
            for dep in unit.deps:
                dependents[dep].append(number)
        with ThreadPoolExecutor(
            max_workers=self._config.concurrency, thread_name_prefix=f"scim-{self.name}"
        ) as pool:
            running: dict[Future[None], int] = {
                pool.submit(self._run_unit, call, unit): number
                for number, unit in enumerate(units)
                if not unit.deps
            }
            while running:
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in done:
                    number = running.pop(future)
                    future.result()
                    for dependent in dependents[number]:
                        waiting[dependent] -= 1
                        if waiting[dependent] == 0:
                            running[pool.submit(self._run_unit, call, units[dependent])] = dependent

    def _run_unit(self, call: _Call, unit: _Unit) -> None:
        try:
            if unit.kind == "single":
                self._run_single(call, unit.indices[0])
            elif unit.kind == "bulk":
                self._run_bulk(call, unit.indices)
            else:
                self._run_group(call, unit.group or "", unit.indices)
        except Exception as exc:  # a bug: fail what is left, keep the outcomes of the rest
            log.exception("target %s: unexpected error", self.name)
            error = Permanent(f"{self.name}: internal error: {type(exc).__name__}: {exc}")
            for index in unit.indices:
                if not call.settled[index]:
                    self._fail(call, index, error)

    def _run_single(self, call: _Call, index: int) -> None:
        try:
            request = self._request_for(call, index)
            if request is None:
                self._done(call, index)
                return
            try:
                response = self._send(request.method, request.path, ok=request.ok, body=request.body)
            except NotFound:
                if request.method != "DELETE":
                    raise
                self._done(call, index, request.account_id)  # already gone: done
                return
            if call.operations[index].action is Action.CREATE:
                created = self._json(response, "POST Users")
                if not created.get("id"):
                    raise Permanent(f"{self.name}: POST Users: the answer carries no id")
                self._done(call, index, str(created["id"]))
            else:
                self._done(call, index, request.account_id)
        except TargetError as exc:
            self._fail(call, index, exc)

    def _run_bulk(self, call: _Call, indices: list[int]) -> None:
        """One Bulk request (RFC 7644 §3.7) for the account operations of a unit."""
        bulk_ids = {
            index: f"op{index}"
            for index in indices
            if call.operations[index].action is Action.CREATE
        }
        sent: list[tuple[int, _Request]] = []
        for index in indices:
            try:
                request = self._request_for(call, index, bulk_ids=bulk_ids)
            except TargetError as exc:
                self._fail(call, index, exc)
                continue
            if request is None:
                self._done(call, index)
            else:
                sent.append((index, request))
        if not sent:
            return
        payload = {
            "schemas": [BULK_REQUEST_SCHEMA],
            "Operations": [request.bulk_operation(f"op{index}") for index, request in sent],
        }
        log.debug("target %s: bulk request with %d operations", self.name, len(sent))
        try:
            body = self._json(self._send("POST", "Bulk", ok=OK_BULK, body=payload), "POST Bulk")
        except TargetError as exc:
            for index, _ in sent:
                self._fail(call, index, exc)
            return
        results = _match_bulk_results([f"op{index}" for index, _ in sent], body.get("Operations"))
        for (index, request), result in zip(sent, results, strict=True):
            self._settle_bulk_result(call, index, request, result)

    def _settle_bulk_result(self, call: _Call, index: int, request: _Request, result: dict | None) -> None:
        what = f"bulk {request.method} {request.path}"
        if result is None:
            self._fail(call, index, Retryable(f"{self.name}: {what}: no result in the bulk response"))
            return
        try:
            status = int(result.get("status"))
        except (TypeError, ValueError):
            self._fail(call, index, Permanent(f"{self.name}: {what}: bulk result without a status"))
            return
        if 200 <= status < 300:
            account_id = request.account_id
            if request.method == "POST":
                account_id = _id_of_bulk_result(result)
                if account_id is None:
                    self._fail(call, index, Permanent(f"{self.name}: {what}: no location for the created user"))
                    return
            self._done(call, index, account_id)
            return
        if status == 404 and request.method == "DELETE":
            self._done(call, index, request.account_id)  # already gone: done
            return
        source = request.manager_bulk_source
        if source is not None and call.settled[source] and call.outcomes[source].error is not None:
            # The server refused the reference to the manager whose create failed.
            self._fail(call, index, _propagated(call.outcomes[source].error, "the manager's account was not created"))
            return
        self._fail(call, index, _error_for(self.name, what, status, result.get("response"), None))

    def _run_group(self, call: _Call, name: str, indices: list[int]) -> None:
        """One PATCH of the group `name` for consecutive grants and revokes on it."""
        with self._group_lock(name):
            entries: list[tuple[int, Action, str]] = []
            for index in indices:
                action = call.operations[index].action
                try:
                    account_id = self._account_id(call, index, missing_ok=action is Action.REVOKE)
                except TargetError as exc:
                    self._fail(call, index, exc)
                    continue
                if account_id is None:
                    self._done(call, index)  # revoking from an account that is not there
                else:
                    entries.append((index, action, account_id))
            if not entries:
                return
            try:
                group_id = self._group_id(name)
                if group_id is None:
                    group_id = self._create_group(name, entries)
                    if group_id is None:  # created with its members, or nothing to do
                        for index, _, account_id in entries:
                            self._done(call, index, account_id)
                        return
                patch = {"schemas": [PATCH_SCHEMA], "Operations": _member_operations(entries)}
                path = f"Groups/{quote(group_id, safe='')}"
                try:
                    self._send("PATCH", path, ok=OK_PATCH, body=patch)
                except NotFound as exc:  # the group went away since it was read
                    with self._lock:
                        self._groups.pop(name, None)
                    for index, action, account_id in entries:
                        if action is Action.REVOKE:
                            self._done(call, index, account_id)
                        else:
                            self._fail(call, index, exc)
                    return
            except TargetError as exc:
                for index, _, _ in entries:
                    self._fail(call, index, exc)
                return
            for index, _, account_id in entries:
                self._done(call, index, account_id)

    def _create_group(self, name: str, entries: list[tuple[int, Action, str]]) -> str | None:
        """Create the group with the members the entries leave in it (nothing when they
        leave none) and return None; or return the id of a group of that name another
        client created meanwhile (the server answered 409), which still needs a PATCH."""
        final: dict[str, Action] = {}
        for _, action, account_id in entries:
            final[account_id] = action
        members = [account_id for account_id, action in final.items() if action is Action.GRANT]
        if not members:
            return None
        body = {
            "schemas": [GROUP_SCHEMA],
            "displayName": name,
            "members": [{"value": account_id} for account_id in members],
        }
        try:
            created = self._json(self._send("POST", "Groups", ok=OK_CREATE, body=body), "POST Groups")
        except Conflict:
            # A server with unique displayNames: someone created it meanwhile.
            group_id = self._find_group(name)
            if group_id is None:
                raise
            return group_id
        if not created.get("id"):
            raise Permanent(f"{self.name}: POST Groups: the answer carries no id")
        with self._lock:
            self._groups[name] = str(created["id"])
        log.info("target %s: created group %r", self.name, name)
        return None

    # Building requests: no I/O except finding ids (a map, then one filter query).

    def _request_for(
        self,
        call: _Call,
        index: int,
        *,
        bulk_ids: Mapping[int, str] | None = None,
        estimate: bool = False,
    ) -> _Request | None:
        """The request an account operation needs; None when nothing is to be sent.

        `bulk_ids` maps the creates of the same bulk request to their bulkIds, so that
        a report's create refers to its manager as "bulkId:<id>". With `estimate`,
        unknown ids are placeholders and nothing is looked up.
        """
        op = call.operations[index]
        detail = op.detail if isinstance(op.detail, dict) else {}
        if op.action is Action.CREATE:
            attributes = detail.get("attributes")
            if not isinstance(attributes, dict):
                raise Permanent(f"{self.name}: create of {op.employee_id} without attributes")
            manager = self._manager_ref(call, index, attributes.get("manager"), bulk_ids, estimate)
            body = _user_resource(attributes, external_id=op.employee_id, active=bool(detail.get("active", True)), manager_ref=manager)
            source = call.manager_create.get(index)
            return _Request(
                "POST", "Users", OK_CREATE, body,
                manager_bulk_source=source if bulk_ids and source in bulk_ids else None,
            )  # fmt: skip
        if op.action is Action.DELETE:
            account_id = _PLACEHOLDER_ID if estimate else self._account_id(call, index, missing_ok=True)
            if account_id is None:
                return None  # no such account: nothing to delete
            return _Request("DELETE", f"Users/{quote(account_id, safe='')}", OK_DELETE, None, account_id)
        if op.action in (Action.ENABLE, Action.DISABLE):
            operations = [{"op": "replace", "path": "active", "value": op.action is Action.ENABLE}]
        elif op.action is Action.UPDATE:
            changes = detail.get("changes")
            if not isinstance(changes, dict):
                raise Permanent(f"{self.name}: update of {op.employee_id} without changes")
            operations = self._update_operations(call, index, changes, estimate)
            if not operations:
                return None
        else:
            raise Permanent(f"{self.name}: {op.action.value} is not an account operation")
        account_id = _PLACEHOLDER_ID if estimate else self._account_id(call, index)
        assert account_id is not None
        body = {"schemas": [PATCH_SCHEMA], "Operations": operations}
        return _Request("PATCH", f"Users/{quote(account_id, safe='')}", OK_PATCH, body, account_id)

    def _update_operations(self, call: _Call, index: int, changes: dict, estimate: bool) -> list[dict]:
        """PATCH operations for {attribute: [old, new]}: replace, or remove when new is None."""
        operations = []
        for attribute, change in changes.items():
            path = _PATCH_PATHS.get(attribute)
            if path is None:
                raise Permanent(f"{self.name}: cannot update unknown attribute {attribute!r}")
            if not isinstance(change, list | tuple) or len(change) != 2:
                raise Permanent(f"{self.name}: change of {attribute!r} is not [old, new]")
            new = change[1]
            if new is None:
                operations.append({"op": "remove", "path": path})
                continue
            if attribute == "manager":
                ref = self._manager_ref(call, index, new, None, estimate)
                if ref is None:
                    continue  # manager without account: skipped, warned
                value: Any = {"value": ref}
            elif attribute == "email":
                value = [_work_email(new)]
            elif attribute == "active":
                value = bool(new)
            else:
                value = new
            operations.append({"op": "replace", "path": path, "value": value})
        return operations

    def _manager_ref(
        self,
        call: _Call,
        index: int,
        manager: object,
        bulk_ids: Mapping[int, str] | None,
        estimate: bool,
    ) -> str | None:
        """The manager's SCIM id (or "bulkId:<id>") for an operation; None if unknown."""
        if manager is None or manager == "":
            return None
        manager = str(manager)
        source = call.manager_create.get(index)
        if source is not None:
            if bulk_ids and source in bulk_ids:
                return f"bulkId:{bulk_ids[source]}"
            if estimate:
                return _PLACEHOLDER_ID
            prior = call.outcomes[source]
            if prior.error is not None:
                raise _propagated(prior.error, "the manager's account was not created")
            return prior.account_id
        if estimate:
            return _PLACEHOLDER_ID
        found = self._lookup(call, manager)
        if found is None:
            log.warning(
                "target %s: manager %s of %s has no account on the target; manager left out",
                self.name, manager, call.operations[index].employee_id,
            )  # fmt: skip
        return found

    def _account_id(self, call: _Call, index: int, *, missing_ok: bool = False) -> str | None:
        """The SCIM id of the operation's account: the plan's, the one created earlier
        in this call, the map's, or one filter query's. NotFound if none (or None
        with `missing_ok`); the error of its create when that failed in this call."""
        op = call.operations[index]
        source = call.own_create.get(index)
        if source is not None:
            prior = call.outcomes[source]
            if prior.error is not None:
                raise _propagated(prior.error, f"the account of {op.employee_id} was not created")
            return prior.account_id
        if op.account_id:
            return op.account_id
        found = self._lookup(call, op.employee_id)
        if found is None and not missing_ok:
            raise NotFound(f"{self.name}: no account has externalId {op.employee_id}")
        return found

    def _lookup(self, call: _Call, employee_id: str) -> str | None:
        """The SCIM id of the user whose externalId is `employee_id`, or None.

        The map first; else one filter query (RFC 7644 §3.4.2.2), remembered. More
        than one user with that externalId is a Conflict.
        """
        with self._lock:
            if employee_id in self._ids:
                return self._ids[employee_id]
        if employee_id in call.absent:
            return None
        params = {"filter": f"externalId eq {scim_filter_string(employee_id)}", "count": 2}
        body = self._json(self._send("GET", "Users", ok=OK_SEARCH, params=params), "GET Users")
        found = [
            str(user["id"])
            for user in body.get("Resources") or ()
            if isinstance(user, dict) and user.get("externalId") == employee_id and user.get("id")
        ]
        if len(found) > 1:
            raise Conflict(f"{self.name}: {len(found)} accounts have externalId {employee_id}")
        if not found:
            call.absent.add(employee_id)
            return None
        with self._lock:
            self._ids.setdefault(employee_id, found[0])
        return found[0]

    def _group_id(self, name: str) -> str | None:
        with self._lock:
            if name in self._groups:
                return self._groups[name]
        return self._find_group(name)

    def _find_group(self, name: str) -> str | None:
        """The id of the group of that displayName, by one filter query; None if none."""
        params = {"filter": f"displayName eq {scim_filter_string(name)}", "count": 10}
        body = self._json(self._send("GET", "Groups", ok=OK_SEARCH, params=params), "GET Groups")
        for group in body.get("Resources") or ():
            if isinstance(group, dict) and group.get("displayName") == name and group.get("id"):
                with self._lock:
                    self._groups[name] = str(group["id"])
                return str(group["id"])
        return None

    def _group_lock(self, name: str) -> threading.Lock:
        with self._lock:
            return self._group_locks.setdefault(name, threading.Lock())

    # Outcomes.

    def _done(self, call: _Call, index: int, account_id: str | None = None) -> None:
        op = call.operations[index]
        outcome = call.outcomes[index]
        outcome.account_id = account_id
        call.settled[index] = True
        with self._lock:
            if op.action is Action.CREATE and account_id is not None:
                self._ids[op.employee_id] = account_id
                call.absent.discard(op.employee_id)
            elif op.action is Action.DELETE:
                if account_id is not None and self._ids.get(op.employee_id) == account_id:
                    del self._ids[op.employee_id]
            elif op.action is Action.UPDATE and account_id is not None:
                change = (op.detail.get("changes") or {}).get("external_id")
                if change and change[1]:
                    self._ids[str(change[1])] = account_id
        log.debug("target %s: %s %s done", self.name, op.action.value, op.employee_id)

    def _fail(self, call: _Call, index: int, error: TargetError) -> None:
        op = call.operations[index]
        call.outcomes[index].error = error
        call.settled[index] = True
        log.warning(
            "target %s: %s %s failed: %s%s",
            self.name, op.action.value, op.employee_id, type(error).__name__,
            f" (HTTP {error.status})" if error.status else "",
        )  # fmt: skip

    # HTTP.

    def _discover(self) -> _Capabilities:
        """The server's Bulk capability, from /ServiceProviderConfig (RFC 7643 §5), once.

        A server without that endpoint (404) is taken to have no Bulk.
        """
        if self._capabilities is not None:
            return self._capabilities
        try:
            config = self._json(
                self._send("GET", "ServiceProviderConfig", ok=OK_DISCOVERY),
                "GET ServiceProviderConfig",
            )
        except NotFound:
            config = {}
        bulk = config.get("bulk") if isinstance(config.get("bulk"), dict) else {}
        max_operations = _positive_int(bulk.get("maxOperations"))
        capabilities = _Capabilities(
            bulk=bool(bulk.get("supported")) and max_operations is not None,
            max_operations=max_operations or 0,
            max_payload_size=_positive_int(bulk.get("maxPayloadSize")),
        )
        log.debug(
            "target %s: bulk=%s maxOperations=%s maxPayloadSize=%s",
            self.name, capabilities.bulk, capabilities.max_operations, capabilities.max_payload_size,
        )  # fmt: skip
        self._capabilities = capabilities
        return capabilities

    def _send(
        self,
        method: str,
        path: str,
        *,
        ok: frozenset[int],
        params: Mapping[str, Any] | None = None,
        body: Any = None,
    ) -> httpx.Response:
        """One request; a status outside `ok` or a transport failure is a TargetError."""
        what = f"{method} {path}"
        headers = {"Content-Type": MEDIA_TYPE} if body is not None else None
        content = _dumps(body) if body is not None else None
        try:
            response = self._client.request(method, path, params=params, content=content, headers=headers)
        except httpx.TimeoutException as exc:
            raise Retryable(f"{self.name}: {what}: timed out after {self._config.timeout} s") from exc
        except httpx.TransportError as exc:
            raise Retryable(f"{self.name}: {what}: {type(exc).__name__}: {exc}") from exc
        except httpx.HTTPError as exc:
            raise Permanent(f"{self.name}: {what}: {type(exc).__name__}: {exc}") from exc
        if response.status_code in ok:
            return response
        try:
            payload: Any = response.json()
        except ValueError:
            payload = response.text[:200]
        raise _error_for(
            self.name, what, response.status_code, payload, response.headers.get("Retry-After")
        )

    def _json(self, response: httpx.Response, what: str) -> dict:
        try:
            body = response.json()
        except ValueError as exc:
            raise Permanent(f"{self.name}: {what}: the answer is not JSON") from exc
        if not isinstance(body, dict):
            raise Permanent(f"{self.name}: {what}: the answer is not a JSON object")
        return body


# -- private helpers, no I/O --------------------------------------------------------


@dataclass(slots=True, frozen=True)
class _Capabilities:
    bulk: bool
    max_operations: int
    max_payload_size: int | None


@dataclass(slots=True, eq=False)
class _Unit:
    """Work sent as one request: one account operation ("single"), a Bulk request
    ("bulk") or one PATCH of a group ("group"); `deps` are units it waits for."""

    kind: str
    group: str | None = None
    indices: list[int] = field(default_factory=list)
    deps: set[int] = field(default_factory=set)
    size: int = 0


class _Call:
    """The state of one `apply` call."""

    def __init__(self, operations: list[Operation]) -> None:
        self.operations = operations
        self.outcomes = [Outcome(operation) for operation in operations]
        self.settled = [False] * len(operations)
        self.own_create: dict[int, int] = {}  # op index -> index of its person's create
        self.manager_create: dict[int, int] = {}  # op index -> index of its manager's create
        self.unit_of: dict[int, int] = {}
        self.absent: set[str] = set()  # employee_ids a filter query found no account for


@dataclass(slots=True)
class _Request:
    method: str
    path: str  # relative to the base URL, e.g. "Users/2819c223"
    ok: frozenset[int]
    body: Any
    account_id: str | None = None
    manager_bulk_source: int | None = None  # index of the manager's create in the same bulk

    def bulk_operation(self, bulk_id: str) -> dict:
        """This request as one operation of a Bulk request (RFC 7644 §3.7)."""
        operation: dict[str, Any] = {"method": self.method, "path": f"/{self.path}", "bulkId": bulk_id}
        if self.body is not None:
            operation["data"] = self.body
        return operation


def _dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _text(value: object) -> str | None:
    return None if value is None else str(value)


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _work_email(value: object) -> dict:
    return {"value": str(value), "type": "work", "primary": True}


def _manager_named(op: Operation) -> str | None:
    """The employee_id of the manager a create or an update sets, if any."""
    detail = op.detail if isinstance(op.detail, dict) else {}
    if op.action is Action.CREATE:
        manager = (detail.get("attributes") or {}).get("manager")
    elif op.action is Action.UPDATE:
        change = (detail.get("changes") or {}).get("manager")
        manager = change[1] if isinstance(change, list | tuple) and len(change) == 2 else None
    else:
        return None
    return str(manager) if manager not in (None, "") else None


def _user_resource(
    attributes: Mapping[str, Any], *, external_id: str, active: bool, manager_ref: str | None
) -> dict:
    """The SCIM User (RFC 7643 §4.1, §4.3) of canonical attributes; None values are left out."""

    def value(key: str) -> str | None:
        item = attributes.get(key)
        return None if item is None else str(item)

    user: dict[str, Any] = {"schemas": [USER_SCHEMA], "externalId": external_id}
    if value("user_name") is not None:
        user["userName"] = value("user_name")
    name = {
        key: value(canonical)
        for key, canonical in (("givenName", "given_name"), ("familyName", "family_name"))
        if value(canonical) is not None
    }
    if name:
        user["name"] = name
    if value("display_name") is not None:
        user["displayName"] = value("display_name")
    if value("title") is not None:
        user["title"] = value("title")
    user["active"] = active
    if value("email") is not None:
        user["emails"] = [_work_email(value("email"))]
    enterprise: dict[str, Any] = {
        key: value(canonical)
        for key, canonical in (("employeeNumber", "employee_number"), ("department", "department"))
        if value(canonical) is not None
    }
    if manager_ref is not None:
        enterprise["manager"] = {"value": manager_ref}
    if enterprise:
        user["schemas"].append(ENTERPRISE_SCHEMA)
        user[ENTERPRISE_SCHEMA] = enterprise
    return user


def _account_from_user(
    user: Mapping[str, Any], external_of: Mapping[str, str | None], entitlements: set[str]
) -> Account:
    """The Account of a SCIM User; `manager` becomes the manager's externalId."""
    name = user.get("name") if isinstance(user.get("name"), dict) else {}
    enterprise = user.get(ENTERPRISE_SCHEMA) if isinstance(user.get(ENTERPRISE_SCHEMA), dict) else {}
    manager = enterprise.get("manager")
    manager_id = _text(manager.get("value")) if isinstance(manager, dict) else None
    attributes: dict[str, str | None] = dict.fromkeys(ACCOUNT_ATTRIBUTES)
    attributes.update(
        user_name=_text(user.get("userName")),
        given_name=_text(name.get("givenName")),
        family_name=_text(name.get("familyName")),
        display_name=_text(user.get("displayName")),
        email=_primary_email(user.get("emails")),
        title=_text(user.get("title")),
        employee_number=_text(enterprise.get("employeeNumber")),
        department=_text(enterprise.get("department")),
        manager=external_of.get(manager_id) if manager_id is not None else None,
    )
    active = user.get("active")
    return Account(
        id=str(user["id"]),
        external_id=_text(user.get("externalId")),
        # RFC 7643 §4.1.1 gives `active` no default; absent is taken as active, so
        # that a person who must lose access gets an explicit disable.
        active=True if active is None else bool(active),
        attributes=attributes,
        entitlements=set(entitlements),
    )


def _primary_email(emails: object) -> str | None:
    if not isinstance(emails, list):
        return None
    entries = [entry for entry in emails if isinstance(entry, dict) and entry.get("value")]
    primary = next((entry for entry in entries if entry.get("primary") is True), None)
    chosen = primary or (entries[0] if entries else None)
    return _text(chosen["value"]) if chosen else None


def _member_operations(entries: Iterable[tuple[int, Action, str]]) -> list[dict]:
    """PATCH operations on `members` (RFC 7644 §3.5.2): consecutive grants become one
    "add" with several values; each revoke a "remove" with a value filter."""
    operations: list[dict] = []
    for _, action, account_id in entries:
        if action is Action.GRANT:
            if operations and operations[-1]["op"] == "add":
                operations[-1]["value"].append({"value": account_id})
            else:
                operations.append({"op": "add", "path": "members", "value": [{"value": account_id}]})
        else:
            operations.append(
                {"op": "remove", "path": f"members[value eq {scim_filter_string(account_id)}]"}
            )
    return operations


def _match_bulk_results(bulk_ids: list[str], results: object) -> list[dict | None]:
    """The result of each operation sent, by bulkId, else by position (RFC 7644 §3.7.3)."""
    items = [item for item in results if isinstance(item, dict)] if isinstance(results, list) else []
    by_id = {item["bulkId"]: item for item in items if isinstance(item.get("bulkId"), str)}
    if all(bulk_id in by_id for bulk_id in bulk_ids):
        return [by_id[bulk_id] for bulk_id in bulk_ids]
    if len(items) == len(bulk_ids):
        return [by_id.get(bulk_id, item) for bulk_id, item in zip(bulk_ids, items, strict=True)]
    return [by_id.get(bulk_id) for bulk_id in bulk_ids]


def _id_of_bulk_result(result: Mapping[str, Any]) -> str | None:
    """The id of a user a bulk POST created: its `response.id`, else the last segment
    of its `location`."""
    response = result.get("response")
    if isinstance(response, dict) and response.get("id"):
        return str(response["id"])
    location = result.get("location")
    if isinstance(location, str) and location.strip("/"):
        return unquote(urlsplit(location).path.rstrip("/").rsplit("/", 1)[-1]) or None
    return None


def _error_for(
    target: str, what: str, status: int, payload: object, retry_after: str | None
) -> TargetError:
    """The typed error of a failed status, with the server's SCIM detail (RFC 7644 §3.12)."""
    detail = ""
    if isinstance(payload, dict):
        scim_type = payload.get("scimType")
        detail = str(payload.get("detail") or "")
        if scim_type:
            detail = f"{scim_type}: {detail}" if detail else str(scim_type)
    elif isinstance(payload, str):
        detail = payload.strip()
    message = f"{target}: {what}: HTTP {status}" + (f": {detail}" if detail else "")
    if is_retryable_status(status):
        wait = retry_after_seconds(retry_after) if status in RETRY_AFTER_STATUSES else None
        return Retryable(message, status=status, retry_after=wait)
    if status == 404:
        return NotFound(message, status=status)
    if status in CONFLICT_STATUSES:
        return Conflict(message, status=status)
    return Permanent(message, status=status)


def _propagated(error: TargetError, reason: str) -> TargetError:
    """An error of the same type as `error`, for an operation that depended on it."""
    message = f"{reason}: {error}"
    if isinstance(error, Retryable):
        return Retryable(message, status=error.status, retry_after=error.retry_after)
    return type(error)(message, status=error.status)

