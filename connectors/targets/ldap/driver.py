"""An LDAP v3 directory (OpenLDAP, 389-DS, ...) as a jml target, through ldap3.

Public surface: `LdapTargetConnector` (the `connectors.base.Target` protocol).

Mapping of the canonical account (jml.model.ACCOUNT_ATTRIBUTES) to an entry
`uid=<employee_id>,<people_dn>` of objectClass inetOrgPerson:

    display_name     cn
    given_name       givenName
    family_name      sn
    email            mail        (written from `email`)
    user_name        mail        (read back from mail: the directory's login is the uid,
                                  the employee_id, so the email is the user name jml
                                  compares; a user_name change alone is written to mail)
    employee_number  employeeNumber
    department       departmentNumber
    title            title       (the job code)
    manager          manager     = the manager's DN (read back as the manager's uid; a
                                   DN naming no entry is read back as itself, so the
                                   plan replaces it)
    Account.external_id   the uid of the entry's RDN (an entry named otherwise, e.g.
                          `cn=...`, is unlinked; adopting it renames it uid=<id>)
    Account.active        the entry is under people_dn (disabled: under disabled_dn)
    Account.id            entryUUID (stable across moves and renames)

Disable moves the entry under `disabled_dn`, enable moves it back; group memberships
and other entries' `manager` values follow the new DN (delete removes them). An entitlement is membership
(`member`) of the groupOfNames `cn=<name>,<groups_dn>`, created with its first member.
groupOfNames must keep one member: revoking the last one leaves the group's own DN as
its only `member` (a placeholder no account matches). Delete removes the entry and its
memberships.

Every value placed in a DN is escaped per RFC 4514 and every value in a search filter
per RFC 4515. Reads are paged (RFC 2696 Simple Paged Results); grants and revokes of one
group in a row go in one modify.

Errors (connectors.base) per operation land in `Outcome.error`, never raised:
busy, unavailable, time limit, "other", timeouts and connection errors -> Retryable;
noSuchObject -> NotFound; entryAlreadyExists and constraintViolation -> Conflict;
anything else (invalid credentials, insufficient access, schema violations) ->
Permanent. `read` and `find` raise them. This module never retries; the retry layer
(connectors.retry) wraps it. Adding a member already there or removing one already
gone succeeds (idempotent grant and revoke); so does deleting an entry already gone.

Logs name people by employee_id only, and never show the password or attribute values.
"""

from __future__ import annotations

import logging
import math
import os
import ssl
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any
from urllib.parse import urlsplit

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.protocol.rfc4527 import post_read_control
from ldap3.utils.conv import escape_filter_chars

from connectors.base import ClosesOnExit, Conflict, NotFound, Outcome, Permanent, Retryable, TargetError
from connectors.targets.ldap.dn import dn_key, escape_dn_value, first_rdn, rdn_value, render_dn, split_dn
from connectors.targets.common import (
    Call,
    attributes_of,
    changes_of,
    entitlement_of,
    not_found,
)
from jml.config import LdapTarget
from jml.model import ACCOUNT_ATTRIBUTES, Account, Action, Operation, Snapshot

__all__ = ["LdapTargetConnector"]

log = logging.getLogger(__name__)

# LDAP result codes (RFC 4511 §4.1.9, Appendix A) the connector tells apart.
SUCCESS = 0
TIME_LIMIT_EXCEEDED = 3
NO_SUCH_ATTRIBUTE = 16
CONSTRAINT_VIOLATION = 19
ATTRIBUTE_OR_VALUE_EXISTS = 20
NO_SUCH_OBJECT = 32
BUSY = 51
UNAVAILABLE = 52
OBJECT_CLASS_VIOLATION = 65
ENTRY_ALREADY_EXISTS = 68
OTHER = 80
RETRYABLE_CODES = frozenset({TIME_LIMIT_EXCEEDED, BUSY, UNAVAILABLE, OTHER})
CONFLICT_CODES = frozenset({ENTRY_ALREADY_EXISTS, CONSTRAINT_VIOLATION})

PERSON_CLASSES = ["top", "person", "organizationalPerson", "inetOrgPerson"]
GROUP_CLASSES = ["top", "groupOfNames"]
# Canonical attribute -> LDAP attribute (user_name shares mail with email).
_LDAP_OF = {
    "given_name": "givenName",
    "family_name": "sn",
    "display_name": "cn",
    "email": "mail",
    "employee_number": "employeeNumber",
    "department": "departmentNumber",
    "title": "title",
    "manager": "manager",
}
_READ_ATTRIBUTES = ["uid", *_LDAP_OF.values(), "entryUUID"]
FIND_CHUNK = 50  # uids per search filter in `find`
PAGED_RESULTS = "1.2.840.113556.1.4.319"  # RFC 2696 control OID


@dataclass(slots=True)
class _Entry:
    """Where an account lives now: its DN, entryUUID and whether it is enabled."""

    dn: str
    uuid: str | None
    active: bool


class LdapTargetConnector(ClosesOnExit):
    """An LDAP directory as a jml target; see the module docstring for the mapping.

    `LdapTargetConnector(config, environ=os.environ)` opens nothing yet; the bind
    password is `environ[config.password_env]` (a ValueError here when it is not set,
    and so are DNs in the config that do not parse). The first read or apply connects
    (`Server(host, port=port)`, LDAPS for an `ldaps://` URL, certificate checked unless
    `verify: false`) and binds as `bind_dn`; the connection is kept for the run.

    An instance remembers where each account lives (employee_id -> DN and entryUUID),
    filled by `read`, `find` and its own writes; an operation on an account it does not
    know costs one search per container (people, disabled) by uid.
    """

    def __init__(self, config: LdapTarget, *, environ: Mapping[str, str] = os.environ) -> None:
        password = environ.get(config.password_env)
        if not password:
            raise ValueError(
                f"target {config.name}: environment variable {config.password_env} is not set"
            )
        for field in ("bind_dn", "people_dn", "groups_dn", "disabled_dn"):
            try:
                split_dn(getattr(config, field))
            except ValueError as exc:
                raise ValueError(f"target {config.name}: {field} is not a DN: {exc}") from None
        url = urlsplit(config.url)
        secure = url.scheme == "ldaps"
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED if config.verify else ssl.CERT_NONE)
        self.name = config.name
        self._config = config
        self._server = ldap3.Server(
            url.hostname or "localhost",
            port=url.port or (636 if secure else 389),
            use_ssl=secure,
            tls=tls if secure else None,
            get_info=ldap3.NONE,
            connect_timeout=_seconds(config.timeout),
        )
        self._password = password
        self._connection: ldap3.Connection | None = None
        self._lock = threading.RLock()
        self._people = render_dn(config.people_dn)
        self._disabled = render_dn(config.disabled_dn)
        self._groups = render_dn(config.groups_dn)
        self._entries: dict[str, _Entry] = {}  # employee_id -> where the account lives
        self._by_uuid: dict[str, str] = {}  # entryUUID -> employee_id

    def __repr__(self) -> str:
        return f"LdapTargetConnector(name={self.name!r}, url={self._config.url!r})"

    def close(self) -> None:
        """Unbind and close the connection, if one is open."""
        with self._lock:
            if self._connection is not None:
                try:
                    self._connection.unbind()
                except ldap_errors.LDAPException:
                    pass
                self._connection = None

    # -- read --------------------------------------------------------------------

    def read(self) -> Snapshot:
        """Every account under people_dn and disabled_dn and every group under
        groups_dn, from one paged search of each container. Raises TargetError."""
        started = time.monotonic()
        with self._lock:
            people = list(self._search(self._people, "(objectClass=inetOrgPerson)", _READ_ATTRIBUTES))
            disabled = list(self._search(self._disabled, "(objectClass=inetOrgPerson)", _READ_ATTRIBUTES))
            groups = list(self._search(self._groups, "(objectClass=groupOfNames)", ["member"]))

            uid_of: dict[str, str] = {}  # dn_key -> uid, for managers and members
            entries: dict[str, _Entry] = {}
            for active, found in ((True, people), (False, disabled)):
                for dn, values in found:
                    kind, value = rdn_value(dn)
                    if kind == "uid":
                        uid_of[dn_key(dn)] = value
                        entries.setdefault(value, _Entry(dn, _first(values, "entryUUID"), active))
            memberships: dict[str, set[str]] = {}  # dn_key -> group names
            names: set[str] = set()
            for dn, values in groups:
                name = rdn_value(dn)[1]
                names.add(name)
                for member in values.get("member", ()):
                    memberships.setdefault(_safe_key(member), set()).add(name)

            accounts = [
                self._account(dn, values, active, uid_of, memberships.get(dn_key(dn), set()))
                for active, found in ((True, people), (False, disabled))
                for dn, values in found
            ]
            self._entries = entries
            self._by_uuid = {e.uuid: eid for eid, e in entries.items() if e.uuid}
        log.info(
            "target %s: read %d accounts and %d groups in %.2f s",
            self.name, len(accounts), len(names), time.monotonic() - started,
        )  # fmt: skip
        return Snapshot(target=self.name, accounts=accounts, groups=names)

    def _account(
        self,
        dn: str,
        values: dict[str, list[str]],
        active: bool,
        uid_of: Mapping[str, str],
        entitlements: set[str],
    ) -> Account:
        kind, value = rdn_value(dn)
        attributes: dict[str, str | None] = dict.fromkeys(ACCOUNT_ATTRIBUTES)
        for canonical, ldap_name in _LDAP_OF.items():
            attributes[canonical] = _first(values, ldap_name)
        attributes["user_name"] = attributes["email"]
        manager = attributes["manager"]
        if manager is not None:
            attributes["manager"] = uid_of.get(_safe_key(manager), manager)
        return Account(
            id=_first(values, "entryUUID") or dn,
            external_id=value if kind == "uid" else None,
            active=active,
            attributes=attributes,
            entitlements=set(entitlements),
        )

    def find(self, employee_ids: list[str]) -> dict[str, str]:
        """employee_id -> entryUUID of those of `employee_ids` with an account (enabled
        or disabled): one search per container per FIND_CHUNK ids. Raises TargetError."""
        found: dict[str, str] = {}
        with self._lock:
            for start in range(0, len(employee_ids), FIND_CHUNK):
                chunk = employee_ids[start : start + FIND_CHUNK]
                for eid, entry in self._search_uids(chunk).items():
                    found[eid] = entry.uuid or entry.dn
        return found

    # -- apply -------------------------------------------------------------------

    def apply(self, operations: list[Operation]) -> list[Outcome]:
        """Apply the operations in order; one Outcome per operation, same order.

        Account operations go one request each (a move also rewrites the references
        to the moved DN); each run of consecutive grants and revokes goes as one modify
        per group. An operation whose person's (or manager's) create failed earlier in
        the call fails with an error of the same type. Nothing is raised for a failed
        operation.
        """
        call = Call(self.name, operations, log)
        if not operations:
            return call.outcomes
        started = time.monotonic()
        with self._lock:
            index = 0
            while index < len(operations):
                if operations[index].action in (Action.GRANT, Action.REVOKE):
                    end = index
                    while end < len(operations) and operations[end].action in (Action.GRANT, Action.REVOKE):
                        end += 1
                    call.guarded(range(index, end), partial(self._apply_memberships, call, range(index, end)))
                    index = end
                elif operations[index].action is Action.CREATE:
                    end = index
                    while end < len(operations) and operations[end].action is Action.CREATE:
                        end += 1
                    call.guarded(range(index, end), partial(self._apply_creates, call, range(index, end)))
                    index = end
                else:
                    call.guarded((index,), partial(self._apply_account_op, call, index))
                    index += 1
        log.info(
            "target %s: applied %d operations (%d failed) in %.2f s",
            self.name, len(operations), call.failed_count(), time.monotonic() - started,
        )  # fmt: skip
        return call.outcomes

    def _apply_creates(self, call: Call, indices: range) -> None:
        """Add one entry per create. Its entryUUID comes back in the add's Post-Read
        control (RFC 4527); for a server without it, one search per FIND_CHUNK creates."""
        added: dict[str, int] = {}
        uuids: dict[str, str] = {}
        for index in indices:
            op = call.operations[index]
            try:
                call.check_dependencies(index)
                attributes = attributes_of(op)
                active = bool(op.detail.get("active", True))
                dn = self._dn(op.employee_id, active)
                record = {"objectClass": PERSON_CLASSES, "uid": op.employee_id}
                record.update(self._entry_values(call, index, attributes))
                record.setdefault("cn", op.employee_id)  # person MUSTs, never absent
                record.setdefault("sn", op.employee_id)
                result = self._send(f"add {op.employee_id}", "add", dn, attributes=record, controls=[_POST_READ])
                if _code(result) != SUCCESS:
                    raise self._error(f"add {op.employee_id}", result)
            except TargetError as exc:
                call.fail(index, exc)
                continue
            uuid = _post_read(result, "entryUUID")
            self._remember(op.employee_id, _Entry(dn, uuid, active))
            added[op.employee_id] = index
            if uuid is not None:
                uuids[op.employee_id] = uuid
        unknown = [eid for eid in added if eid not in uuids]
        if unknown:
            try:
                uuids.update(self.find(unknown))
            except TargetError as exc:  # the entries exist: their ids come with the next read
                log.warning("target %s: created entries, but their ids could not be read: %s", self.name, exc)
        for eid, index in added.items():
            call.done(index, uuids.get(eid))

    def _apply_account_op(self, call: Call, index: int) -> None:
        op = call.operations[index]
        try:
            call.check_dependencies(index)
            entry = self._locate(op)
            if op.action is Action.DELETE:
                if entry is not None:
                    self._delete(op, entry)
                call.done(index, entry.uuid if entry else None)
                return
            if entry is None:
                raise not_found(self.name, op.employee_id)
            if op.action is Action.UPDATE:
                entry = self._update(call, index, entry)
            elif op.action in (Action.ENABLE, Action.DISABLE):
                entry = self._move(op.employee_id, entry, active=op.action is Action.ENABLE)
            else:
                raise Permanent(f"{self.name}: {op.action.value} is not an account operation")
            call.done(index, entry.uuid)
        except TargetError as exc:
            call.fail(index, exc)

    def _update(self, call: Call, index: int, entry: _Entry) -> _Entry:
        op = call.operations[index]
        new = changes_of(op)
        unknown = set(new) - set(_LDAP_OF) - {"user_name", "external_id"}
        if unknown:
            raise Permanent(f"{self.name}: cannot update unknown attribute(s) {sorted(unknown)}")
        if "user_name" in new and "email" not in new:
            new["email"] = new["user_name"]
        values = self._entry_values(call, index, {k: v for k, v in new.items() if k in _LDAP_OF}, update=True)
        if values:
            changes = {name: [(ldap3.MODIFY_REPLACE, value)] for name, value in values.items()}
            self._do(f"modify {op.employee_id}", "modify", entry.dn, changes)
        external = new.get("external_id")
        if external and rdn_value(entry.dn) != ("uid", str(external)):
            entry = self._rename(op.employee_id, entry, str(external))
        return entry

    def _entry_values(
        self, call: Call, index: int, attributes: Mapping[str, Any], *, update: bool = False
    ) -> dict[str, list[str]]:
        """LDAP attribute -> values for canonical attributes (None: no value; on an
        update an empty list removes the attribute). The manager becomes a DN; an
        unknown manager is left out with a warning."""
        values: dict[str, list[str]] = {}
        for canonical, value in attributes.items():
            ldap_name = _LDAP_OF.get(canonical)
            if ldap_name is None:
                continue
            if value is None or value == "":
                if update:
                    values[ldap_name] = []
                continue
            if canonical == "manager":
                manager = self._lookup(str(value))
                if manager is None:
                    log.warning(
                        "target %s: manager %s of %s has no entry; manager left out",
                        self.name, value, call.operations[index].employee_id,
                    )  # fmt: skip
                    continue
                value = manager.dn
            values[ldap_name] = [str(value)]
        if not update and "user_name" in attributes and "mail" not in values and attributes["user_name"]:
            values["mail"] = [str(attributes["user_name"])]
        return values

    def _delete(self, op: Operation, entry: _Entry) -> None:
        """Remove the entry's memberships and the manager links to it, then the entry
        (already gone: fine)."""
        self._follow(entry.dn, None)
        self._do(f"delete {op.employee_id}", "delete", entry.dn, ok=(NO_SUCH_OBJECT,))
        self._forget(op.employee_id)

    # -- moves and renames: the references follow ------------------------------------

    def _move(self, employee_id: str, entry: _Entry, *, active: bool) -> _Entry:
        """Move the entry under people_dn (active) or disabled_dn; nothing to do when it
        is there already."""
        if entry.active == active:
            return entry
        relative = first_rdn(entry.dn)
        superior = self._people if active else self._disabled
        self._do(f"move {employee_id}", "modify_dn", entry.dn, relative, new_superior=superior)
        moved = _Entry(f"{relative},{superior}", entry.uuid, active)
        self._follow(entry.dn, moved.dn)
        self._remember(employee_id, moved)
        return moved

    def _rename(self, employee_id: str, entry: _Entry, external_id: str) -> _Entry:
        """Rename an adopted entry to uid=<external_id> (its old RDN value stays as an
        attribute value)."""
        relative = f"uid={escape_dn_value(external_id)}"
        self._do(f"rename {employee_id}", "modify_dn", entry.dn, relative, delete_old_dn=False)
        renamed = _Entry(f"{relative},{self._people if entry.active else self._disabled}", entry.uuid, entry.active)
        self._follow(entry.dn, renamed.dn)
        self._remember(external_id, renamed)
        return renamed

    def _follow(self, old_dn: str, new_dn: str | None) -> None:
        """Point the group memberships and the `manager` values naming `old_dn` at
        `new_dn`, or remove them when it is None (what the refint overlay does, for
        directories without it)."""
        for group_dn in self._groups_listing(old_dn):
            if new_dn is None:
                self._remove_member(group_dn, old_dn)
                continue
            changes = {"member": [(ldap3.MODIFY_DELETE, [old_dn]), (ldap3.MODIFY_ADD, [new_dn])]}
            self._do("move a membership", "modify", group_dn, changes, ok=(ATTRIBUTE_OR_VALUE_EXISTS, NO_SUCH_ATTRIBUTE))
        wanted = f"(&(objectClass=inetOrgPerson)(manager={escape_filter_chars(old_dn)}))"
        link = {"manager": [(ldap3.MODIFY_REPLACE, [new_dn] if new_dn else [])]}
        for base in (self._people, self._disabled):
            for report_dn, _ in list(self._search(base, wanted, ["1.1"])):
                self._do("move a manager link", "modify", report_dn, link)

    def _groups_listing(self, member_dn: str) -> list[str]:
        wanted = f"(&(objectClass=groupOfNames)(member={escape_filter_chars(member_dn)}))"
        return [dn for dn, _ in self._search(self._groups, wanted, ["1.1"])]

    def _remove_member(self, group_dn: str, member_dn: str) -> None:
        """Remove one member; the last one is replaced by the group's own DN."""
        gone = (NO_SUCH_ATTRIBUTE, NO_SUCH_OBJECT)
        removal = {"member": [(ldap3.MODIFY_DELETE, [member_dn])]}
        code = self._do("remove a member", "modify", group_dn, removal, ok=(*gone, OBJECT_CLASS_VIOLATION))
        if code == OBJECT_CLASS_VIOLATION:  # groupOfNames must keep a member
            placeholder = {"member": [(ldap3.MODIFY_ADD, [group_dn]), (ldap3.MODIFY_DELETE, [member_dn])]}
            self._do("remove the last member", "modify", group_dn, placeholder, ok=gone)

    # -- grants and revokes ------------------------------------------------------

    def _apply_memberships(self, call: Call, indices: range) -> None:
        """A run of grants and revokes: per group, one modify with every change in
        order; when it is refused (a member already there or already gone, the last
        member), one modify per change, taking those cases as done."""
        per_group: dict[str, list[tuple[int, Action, str]]] = {}
        for index in indices:
            op = call.operations[index]
            try:
                call.check_dependencies(index)
                name = entitlement_of(op)
                entry = self._locate(op)
            except TargetError as exc:
                call.fail(index, exc)
                continue
            if entry is None:
                if op.action is Action.REVOKE:
                    call.done(index)  # no account, so no membership
                else:
                    call.fail(index, not_found(self.name, op.employee_id))
                continue
            per_group.setdefault(name, []).append((index, op.action, entry.dn))
        for name, changes in per_group.items():
            group_dn = f"cn={escape_dn_value(name)},{self._groups}"
            try:
                self._change_members(name, group_dn, changes)
            except TargetError as exc:
                for index, _, _ in changes:
                    call.fail(index, exc)
                continue
            for index, _, member in changes:
                call.done(index, self._entry_uuid(call.operations[index].employee_id))

    def _change_members(self, name: str, group_dn: str, changes: list[tuple[int, Action, str]]) -> None:
        modifications: list[tuple[Any, list[str]]] = []
        for _, action, member in changes:
            kind = ldap3.MODIFY_ADD if action is Action.GRANT else ldap3.MODIFY_DELETE
            if modifications and modifications[-1][0] == kind and member not in modifications[-1][1]:
                modifications[-1][1].append(member)
            else:
                modifications.append((kind, [member]))
        refused = (ATTRIBUTE_OR_VALUE_EXISTS, NO_SUCH_ATTRIBUTE, OBJECT_CLASS_VIOLATION)
        what = f"modify group {name}"
        code = self._do(what, "modify", group_dn, {"member": modifications}, ok=(*refused, NO_SUCH_OBJECT))
        if code == NO_SUCH_OBJECT:
            if self._create_group(name, group_dn, changes):
                return
            code = self._do(what, "modify", group_dn, {"member": modifications}, ok=refused)  # created meanwhile
        if code == SUCCESS:
            return
        for _, action, member in changes:  # one by one, idempotently
            if action is Action.GRANT:
                addition = {"member": [(ldap3.MODIFY_ADD, [member])]}
                self._do(f"add a member to group {name}", "modify", group_dn, addition, ok=(ATTRIBUTE_OR_VALUE_EXISTS,))
            else:
                self._remove_member(group_dn, member)

    def _create_group(self, name: str, group_dn: str, changes: list[tuple[int, Action, str]]) -> bool:
        """Create a missing group with the members the changes leave in it (none: no
        group needed). False when another client created it meanwhile."""
        final: dict[str, Action] = {}
        for _, action, member in changes:
            final[member] = action
        members = [member for member, action in final.items() if action is Action.GRANT]
        if not members:
            return True
        record = {"objectClass": GROUP_CLASSES, "cn": name, "member": members}
        if self._do(f"add group {name}", "add", group_dn, attributes=record, ok=(ENTRY_ALREADY_EXISTS,)) != SUCCESS:
            return False
        log.info("target %s: created group %r", self.name, name)
        return True

    # -- where accounts live -------------------------------------------------------

    def _dn(self, employee_id: str, active: bool) -> str:
        return f"uid={escape_dn_value(employee_id)},{self._people if active else self._disabled}"

    def _locate(self, op: Operation) -> _Entry | None:
        """The account of an operation: by its entryUUID or employee_id in the map,
        else by a search."""
        if op.account_id and op.account_id in self._by_uuid:
            known = self._entries.get(self._by_uuid[op.account_id])
            if known is not None:
                return known
        found = self._lookup(op.employee_id)
        if found is None and op.account_id:
            found = self._search_uuid(op.employee_id, op.account_id)
        return found

    def _lookup(self, employee_id: str) -> _Entry | None:
        """Where the account of `employee_id` lives: the map, else a search by uid."""
        if employee_id in self._entries:
            return self._entries[employee_id]
        return self._search_uids([employee_id]).get(employee_id)

    def _search_uids(self, employee_ids: list[str]) -> dict[str, _Entry]:
        if not employee_ids:
            return {}
        either = "".join(f"(uid={escape_filter_chars(eid)})" for eid in employee_ids)
        wanted = f"(&(objectClass=inetOrgPerson)(|{either}))"
        found: dict[str, _Entry] = {}
        for active, base in ((True, self._people), (False, self._disabled)):
            for dn, values in self._search(base, wanted, ["entryUUID"]):
                kind, value = rdn_value(dn)
                if kind == "uid" and value in employee_ids:
                    found.setdefault(value, _Entry(dn, _first(values, "entryUUID"), active))
        for eid, entry in found.items():
            self._remember(eid, entry)
        return found

    def _search_uuid(self, employee_id: str, uuid: str) -> _Entry | None:
        """The entry of an (adopted) account by its entryUUID."""
        wanted = f"(&(objectClass=inetOrgPerson)(entryUUID={escape_filter_chars(uuid)}))"
        for active, base in ((True, self._people), (False, self._disabled)):
            for dn, values in self._search(base, wanted, ["entryUUID"]):
                entry = _Entry(dn, _first(values, "entryUUID"), active)
                self._remember(employee_id, entry)
                return entry
        return None

    def _remember(self, employee_id: str, entry: _Entry) -> None:
        self._entries[employee_id] = entry
        if entry.uuid:
            self._by_uuid[entry.uuid] = employee_id

    def _forget(self, employee_id: str) -> None:
        entry = self._entries.pop(employee_id, None)
        if entry is not None and entry.uuid:
            self._by_uuid.pop(entry.uuid, None)

    def _entry_uuid(self, employee_id: str) -> str | None:
        entry = self._entries.get(employee_id)
        return entry.uuid if entry else None

    # -- the wire ------------------------------------------------------------------

    def _conn(self) -> ldap3.Connection:
        """The bound connection, opened on first use. Raises TargetError."""
        if self._connection is not None and not self._connection.closed:
            return self._connection
        connection = ldap3.Connection(
            self._server,
            user=self._config.bind_dn,
            password=self._password,
            raise_exceptions=False,
            receive_timeout=_seconds(self._config.timeout),
            auto_referrals=False,
        )
        try:
            bound = connection.bind()
        except ldap_errors.LDAPException as exc:
            raise self._transport_error("bind", exc) from exc
        if not bound:
            raise self._error("bind", connection.result)
        self._connection = connection
        return connection

    def _send(self, what: str, method: str, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """One LDAP operation (`add`, `modify`, `delete`, `modify_dn`); its result.
        A transport failure is raised as Retryable."""
        connection = self._conn()
        try:
            getattr(connection, method)(*args, **kwargs)
        except ldap_errors.LDAPException as exc:
            raise self._transport_error(what, exc) from exc
        return dict(connection.result or {})

    def _do(self, what: str, method: str, *args: Any, ok: Iterable[int] = (), **kwargs: Any) -> int:
        """`_send`, raising the typed error unless the result is success or in `ok`;
        returns the result code."""
        result = self._send(what, method, *args, **kwargs)
        code = _code(result)
        if code != SUCCESS and code not in ok:
            raise self._error(what, result)
        return code

    def _search(self, base: str, wanted: str, attributes: list[str]) -> Iterator[tuple[str, dict[str, list[str]]]]:
        """(dn, {attribute: values}) of the entries one level under `base`, paged."""
        cookie: bytes | None = None
        while True:
            connection = self._conn()
            try:
                connection.search(
                    base,
                    wanted,
                    search_scope=ldap3.LEVEL,
                    attributes=attributes,
                    paged_size=self._config.page_size,
                    paged_cookie=cookie,
                )
            except ldap_errors.LDAPException as exc:
                raise self._transport_error(f"search {base}", exc) from exc
            result = dict(connection.result or {})
            page = list(connection.response or ())
            code = _code(result)
            if code == NO_SUCH_OBJECT:
                raise Permanent(f"{self.name}: {base} does not exist in the directory")
            if code != SUCCESS:
                raise self._error(f"search {base}", result)
            for item in page:
                if item.get("type") == "searchResEntry":
                    yield render_dn(item["dn"]), _decoded(item.get("raw_attributes") or {})
            controls = result.get("controls") or {}
            paged = (controls.get(PAGED_RESULTS) or {}).get("value") or {}
            cookie = paged.get("cookie")
            if not cookie:
                return

    def _error(self, what: str, result: Mapping[str, Any] | None) -> TargetError:
        """The typed error of an LDAP result (RFC 4511 §4.1.9), with the server's words."""
        result = result or {}
        code = _code(result)
        words = " ".join(str(result.get("message") or "").split())
        message = f"{self.name}: {what}: LDAP {code} {result.get('description', '')}".rstrip()
        message += f": {words}" if words else ""
        if code in RETRYABLE_CODES:
            return Retryable(message, status=code)
        if code == NO_SUCH_OBJECT:
            return NotFound(message, status=code)
        if code in CONFLICT_CODES:
            return Conflict(message, status=code)
        return Permanent(message, status=code)

    def _transport_error(self, what: str, exc: ldap_errors.LDAPException) -> TargetError:
        """ldap3 raised: a socket or timeout problem is Retryable (the connection is
        dropped, the next call opens a new one); anything else Permanent."""
        if isinstance(exc, _TRANSPORT_ERRORS):
            self._drop()
            return Retryable(f"{self.name}: {what}: {type(exc).__name__}: {exc}")
        return Permanent(f"{self.name}: {what}: {type(exc).__name__}: {exc}")

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.unbind()
            except ldap_errors.LDAPException:
                pass


_TRANSPORT_ERRORS = (
    ldap_errors.LDAPCommunicationError,
    ldap_errors.LDAPSocketOpenError,
    ldap_errors.LDAPSessionTerminatedByServerError,
    ldap_errors.LDAPResponseTimeoutError,
)


#: RFC 4527 Post-Read control asking for the entryUUID of what an add created; not
#: critical, so a server without it simply adds.
_POST_READ = post_read_control(["entryUUID"], criticality=False)
POST_READ_OID = "1.3.6.1.1.13.2"


def _post_read(result: Mapping[str, Any], attribute: str) -> str | None:
    """The value of `attribute` in a Post-Read control of a result, if any."""
    control = (result.get("controls") or {}).get(POST_READ_OID) or {}
    values = ((control.get("value") or {}).get("result") or {})
    for name, value in values.items():
        if name.lower() == attribute.lower():
            if isinstance(value, list | tuple):
                value = value[0] if value else None
            if isinstance(value, bytes):
                value = value.decode("ascii", errors="replace")
            return None if value is None else str(value)
    return None


def _seconds(timeout: float) -> int:
    """ldap3 packs socket timeouts as whole seconds."""
    return max(1, math.ceil(timeout))


def _code(result: Mapping[str, Any] | None) -> int:
    return int((result or {}).get("result", OTHER))


def _decoded(raw: Mapping[str, Iterable[bytes]]) -> dict[str, list[str]]:
    """Raw attribute values as text, attribute names as the server spelled them."""
    return {
        name: [value.decode("utf-8", errors="replace") for value in values]
        for name, values in raw.items()
    }


def _first(values: Mapping[str, list[str]], name: str) -> str | None:
    """The first value of an attribute (names compared case-insensitively), or None."""
    for key, found in values.items():
        if key.lower() == name.lower() and found:
            return found[0]
    return None


def _safe_key(dn: str) -> str:
    """`dn_key`, or the text itself lowercased for a value that is not a DN."""
    try:
        return dn_key(dn)
    except ValueError:
        return dn.lower()
