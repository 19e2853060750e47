"""The LDAP driver: a directory's inetOrgPersons and groupOfNames as the kernel's
primitives.

A handle is an `entries.Entry` (DN, entryUUID, enabled or not); the account id is the
entryUUID, or the DN on a server without one. The mapping of attributes is in
`entries`, the connection and its errors in `wire`, memberships and the references
that follow a moved entry in `members`.

- `read`: one paged search of each container (people_dn, disabled_dn, groups_dn);
  `read_changes`: what changed since (`changes`: modifyTimestamp, and a census);
- `lookup`: one search by uid per container;
- `resolve`: by entryUUID in both containers (an unlinked entry, named `cn=...`, has
  no uid), else by uid;
- `create`: adds `uid=<employee_id>` under people_dn (disabled_dn when inactive); its
  entryUUID comes back in the add's Post-Read control (RFC 4527), else from one search;
- `update`: one modify (a user_name change alone is written to mail); with `link`
  (adoption), the entry is then renamed `uid=<employee_id>`;
- `set_active`: disable moves the entry under disabled_dn, enable moves it back;
  memberships and other entries' `manager` values follow the new DN;
- `delete`: removes the entry's memberships and the manager links to it, then the entry
  (already gone: fine);
- `change_members`, `create_group`: see `members`.
- mapped attributes (`config.attributes`, LDAP attribute types) are searched for,
  written and read beside the canonical ones (`entries`, `connectors.targets.mapped`).

Logs name people by employee_id only, and never show the password or attribute values.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import ldap3

from connectors.base import ConfigurationError, Permanent, TargetError, TargetSchema, secret
from connectors.bounds import cheaper_in_full
from connectors.kernel.driver import Driver, Reading, chunked
from connectors.targets.ldap import changes
from connectors.targets.ldap.entries import (
    GROUP_FILTER,
    LDAP_OF,
    PERSON_FILTER,
    READ_ATTRIBUTES,
    UPDATABLE,
    Entry,
    Found,
    Tree,
    account_of,
    any_filter,
    create_record,
    first,
    linked_entry,
    managers_outside,
    modifications,
    people_filter,
    person_rdn,
    reading_of,
)
from connectors.targets.ldap.members import Members
from connectors.targets.ldap.wire import NO_SUCH_OBJECT, POST_READ, SUCCESS, Wire, code_of, post_read
from connectors.targets.mapped import holding
from jml.config import LdapTarget
from jml.dn import dn_key, first_rdn, rdn_value, render_dn, split_dn
from jml.model import Snapshot

__all__ = ["LdapDriver"]

log = logging.getLogger(__name__)

_CONFIG_DNS = ("bind_dn", "people_dn", "groups_dn", "disabled_dn")


class LdapDriver(Driver):
    """An LDAP directory as the kernel's driver; see the module docstring.

    `LdapDriver(config, environ=os.environ)` opens nothing yet; the bind password is
    `environ[config.password_env]`. A ConfigurationError when it is not set, or when a
    DN of the config does not parse.
    """

    lookup_chunk = 50  # uids per search filter

    def __init__(self, config: LdapTarget, *, environ: Mapping[str, str] = os.environ) -> None:
        password = secret(environ, config.password_env, f"target {config.name}")
        for field in _CONFIG_DNS:
            try:
                split_dn(getattr(config, field))
            except ValueError as exc:
                raise ConfigurationError(f"target {config.name}: {field} is not a DN: {exc}") from None
        try:
            held = holding({**LDAP_OF, "user_name": "mail"}, config.attributes)
        except ValueError as exc:
            raise ConfigurationError(f"target {config.name}: {exc}") from None
        self.schema = TargetSchema(held)
        self._mapped = held - UPDATABLE  # the mapped attribute types besides the canonical ones
        self.name = config.name
        self._config = config
        self._wire = Wire(config, password)
        self._tree = Tree(render_dn(config.people_dn), render_dn(config.disabled_dn), render_dn(config.groups_dn))
        self._members = Members(self._wire, self._tree)

    def __repr__(self) -> str:
        return f"LdapDriver(name={self.name!r}, url={self._config.url!r})"

    def close(self) -> None:
        self._wire.close()

    # -- reading ---------------------------------------------------------------------

    def read(self) -> Reading:
        started = datetime.now(UTC)
        wanted = self._wanted()
        people = self._wire.search(self._tree.people, PERSON_FILTER, wanted)
        disabled = self._wire.search(self._tree.disabled, PERSON_FILTER, wanted)
        groups = self._wire.search(self._tree.groups, GROUP_FILTER, ["member", changes.STAMP])
        reading = reading_of(self.name, people, disabled, groups, self.schema.attributes)
        census = changes.Census.of([(True, people), (False, disabled)], groups)
        if census is not None:
            reading.snapshot.memo = changes.memo(started, changes.newest([*people, *disabled, *groups]), census)
        return reading

    def read_changes(self, known: Snapshot) -> Reading | None:
        """`known` brought up to date (`changes`): the entries and groups written since
        its memo's `since` (one filtered search of each container), a census of the
        containers (entryUUIDs and DNs only), then the entries and groups a move,
        an addition or a deletion touched (filtered searches of `lookup_chunk` values);
        None (read in full) when `known` has no memo, when more DNs were touched than a
        full read costs, or when the changes cannot be merged exactly."""
        since = known.memo.get("since")
        if not isinstance(since, str) or not isinstance(known.memo.get("unlinked"), dict):
            return None
        started = datetime.now(UTC)
        wanted = self._wanted()
        entries = [(active, found) for active, base in self._tree.containers()
                   for found in self._wire.search(base, changes.changed_since(PERSON_FILTER, since), wanted)]  # fmt: skip
        groups = self._wire.search(self._tree.groups, changes.changed_since(GROUP_FILTER, since), ["member", changes.STAMP])
        census = changes.Census.of(
            [(active, self._wire.search(base, PERSON_FILTER, ["entryUUID"])) for active, base in self._tree.containers()],
            self._wire.search(self._tree.groups, GROUP_FILTER, ["1.1"]),
        )
        if census is None:
            return None
        moved = changes.moves(known, census, [first(values, "entryUUID") or "" for _, (_, values) in entries], self._tree)
        if cheaper_in_full(len(moved.touched), len(census.people), self._config.page_size):
            log.info("target %s: %d entries moved, came or went; reading in full", self.name, len(moved.touched))
            return None
        entries += self._around(moved, wanted)
        for chunk in chunked(moved.touched, self.lookup_chunk):
            groups += self._wire.search(self._tree.groups, any_filter(GROUP_FILTER, "member", chunk), ["member", changes.STAMP])
        linked = census.linked()
        uid_of = {dn_key(entry.dn): employee_id for employee_id, entry in linked}
        mapped = self.schema.attributes - UPDATABLE
        merged = changes.merge(known, census, moved.reread, entries, groups,
                               lambda dn, values, active, held: account_of(dn, values, active, uid_of, held, mapped))  # fmt: skip
        if merged is None:
            log.info("target %s: the changes since the last read do not merge; reading in full", self.name)
            return None
        accounts, names = merged
        seen = changes.newest([found for _, found in entries] + groups, known.memo.get("newest"))
        snapshot = Snapshot(self.name, accounts, names, self.schema.attributes, memo=changes.memo(started, seen, census))
        handles: dict[str, Entry] = {}
        for employee_id, entry in linked:
            handles.setdefault(employee_id, entry)
        return Reading(snapshot, handles)

    def _around(self, moved: changes.Moves, wanted: list[str]) -> list[tuple[bool, Found]]:
        """The entries `moved` says to read again (by entryUUID), and those naming a
        touched DN as their manager: (active, entry) of each."""
        found: list[tuple[bool, Found]] = []
        for attribute, values in (("entryUUID", moved.reread), ("manager", moved.touched)):
            for chunk in chunked(values, self.lookup_chunk):
                for active, base in self._tree.containers():
                    found += [(active, entry) for entry in self._wire.search(base, people_filter(attribute, chunk), wanted)]
        return found

    def _wanted(self) -> list[str]:
        """The attributes a read of person entries asks for."""
        return [*READ_ATTRIBUTES, changes.STAMP, *sorted(self._mapped)]

    def read_accounts(
        self, employee_ids: Sequence[str], handles: Mapping[str, Any], groups: Collection[str] | None = None
    ) -> Reading:
        """The entries `uid=<employee_id>` of both containers, the groups listing them
        (on `member`) and, for their managers outside them, a search that those
        managers' entries are still there: filtered searches of `lookup_chunk` values,
        never a full one. Every group listing them, whatever `groups` names."""
        wanted = self._wanted()
        found: dict[bool, list] = {True: [], False: []}
        for chunk in chunked(sorted(set(employee_ids)), self.lookup_chunk):
            for active, base in self._tree.containers():
                found[active] += self._wire.search(base, people_filter("uid", chunk), wanted)
        entries = found[True] + found[False]
        listing: dict[str, Any] = {}
        for chunk in chunked([dn for dn, _ in entries], self.lookup_chunk):
            for dn, values in self._wire.search(self._tree.groups, any_filter(GROUP_FILTER, "member", chunk), ["member"]):
                listing.setdefault(dn, (dn, values))
        outside = managers_outside(entries)
        there = {key: uid for key, uid in outside.items() if key in self._existing(sorted(set(outside.values())))}
        return reading_of(self.name, found[True], found[False], list(listing.values()), self.schema.attributes, there)

    def _existing(self, uids: Sequence[str]) -> set[str]:
        """The dn_keys of the entries `uid=<uid>` in either container."""
        keys: set[str] = set()
        for chunk in chunked(list(uids), self.lookup_chunk):
            for _, base in self._tree.containers():
                keys.update(dn_key(dn) for dn, _ in self._wire.search(base, people_filter("uid", chunk), ["entryUUID"]))
        return keys

    def lookup(self, employee_ids: Sequence[str]) -> dict[str, Entry]:
        return self._by_uid(self._tree.containers(), employee_ids)

    def resolve(self, employee_id: str, account_id: str) -> Entry | None:
        for active, base in self._tree.containers():
            for dn, values in self._wire.search(base, people_filter("entryUUID", [account_id]), ["entryUUID"]):
                return Entry(dn, first(values, "entryUUID"), active)
        return self.lookup([employee_id]).get(employee_id)

    def account_id(self, handle: Entry) -> str:
        return handle.account_id

    def _by_uid(self, containers: Sequence[tuple[bool, str]], employee_ids: Sequence[str]) -> dict[str, Entry]:
        """The entries named `uid=<employee_id>` in these (active, base) containers: one
        search each (the first found of a uid wins)."""
        wanted = set(employee_ids)
        found: dict[str, Entry] = {}
        if not wanted:
            return found
        for active, base in containers:
            for dn, values in self._wire.search(base, people_filter("uid", sorted(wanted)), ["entryUUID"]):
                linked = linked_entry(dn, values, active)
                if linked is not None and linked[0] in wanted:
                    found.setdefault(*linked)
        return found

    # -- accounts --------------------------------------------------------------------

    def create(self, employee_id: str, values: Mapping[str, Any], active: bool) -> Entry:
        dn = self._tree.person_dn(employee_id, active)
        what = f"add {employee_id}"
        result = self._wire.send(
            what, "add", dn, attributes=create_record(employee_id, values, self._mapped), controls=[POST_READ]
        )
        if code_of(result) != SUCCESS:
            raise self._wire.error(what, result)
        uuid = post_read(result, "entryUUID")
        if uuid is None:
            uuid = self._uuid_of_new(employee_id, active)
        return Entry(dn, uuid, active)

    def _uuid_of_new(self, employee_id: str, active: bool) -> str | None:
        """The entryUUID of an entry just added (a server without Post-Read), by one
        search; None (warned) when it cannot be read: it comes with the next read."""
        try:
            found = self._by_uid([(active, self._tree.base(active))], [employee_id]).get(employee_id)
        except TargetError as exc:
            log.warning("target %s: created %s, but its id could not be read: %s", self.name, employee_id, exc)
            return None
        return found.uuid if found else None

    def update(self, handle: Entry, employee_id: str, values: Mapping[str, Any], link: bool) -> Entry:
        try:
            replaced = modifications(values, self._mapped)
        except ValueError as exc:
            raise Permanent(f"{self.name}: {exc}") from None
        if replaced:
            changes = {name: [(ldap3.MODIFY_REPLACE, found)] for name, found in replaced.items()}
            self._wire.do(f"modify {employee_id}", "modify", handle.dn, changes)
        if link and rdn_value(handle.dn) != ("uid", employee_id):
            return self._rename(handle, employee_id)
        return handle

    def _rename(self, handle: Entry, employee_id: str) -> Entry:
        """Rename an adopted entry to uid=<employee_id> (its old RDN value stays as an
        attribute value); the references follow."""
        relative = person_rdn(employee_id)
        self._wire.do(f"rename {employee_id}", "modify_dn", handle.dn, relative, delete_old_dn=False)
        renamed = Entry(self._tree.person_dn(employee_id, handle.active), handle.uuid, handle.active)
        self._members.follow(handle.dn, renamed.dn)
        return renamed

    def set_active(self, handle: Entry, employee_id: str, active: bool) -> Entry:
        if handle.active == active:
            return handle
        relative = first_rdn(handle.dn)
        superior = self._tree.base(active)
        self._wire.do(f"move {employee_id}", "modify_dn", handle.dn, relative, new_superior=superior)
        moved = Entry(f"{relative},{superior}", handle.uuid, active)
        self._members.follow(handle.dn, moved.dn)
        return moved

    def delete(self, handle: Entry, employee_id: str) -> None:
        self._members.follow(handle.dn, None)
        self._wire.do(f"delete {employee_id}", "delete", handle.dn, ok=(NO_SUCH_OBJECT,))

    # -- groups ----------------------------------------------------------------------

    def change_members(self, group: str, changes: Sequence[tuple[bool, Entry]]) -> None:
        self._members.change(group, [(add, handle.dn) for add, handle in changes])

    def create_group(self, group: str, members: Sequence[Entry]) -> bool:
        return self._members.create_group(group, [handle.dn for handle in members])
