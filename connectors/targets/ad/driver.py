"""The AD driver: a domain's `user` objects and global security groups as the kernel's
primitives (SPEC "Active Directory target").

A handle is an `entries.Entry` (DN, objectGUID, userAccountControl, the columns its OU
and names come from); the account id is the objectGUID.

- `read`: one paged subtree search of `base_dn` for users, one of `groups_ou`;
  `read_changes`: what changed since (`changes`: uSNChanged, and a census);
- `lookup`: by employeeID under `base_dn`; `resolve`: by objectGUID, else employeeID;
- `reserve(names)`: the sAMAccountNames the ledger keeps for good (employee_id ->
  name), which the pipeline hands over before it applies; `made`: employee_id -> the
  sAMAccountName of each account `create` made since, for the pipeline to keep;
- `create`: a `user` in its mapped OU named by its display name (`Jane Doe (E123)` when
  the OU holds that cn), its sAMAccountName: the one kept for the person (a rehire gets
  it back; Conflict when another object holds it), else a new one that neither the
  domain nor the ledger holds for anyone (`names`), its UPN,
  a random password (`schema.new_password`, unicodePwd over LDAPS, never logged nor
  kept), pwdLastSet 0, userAccountControl NORMAL_ACCOUNT with ACCOUNTDISABLE when
  inactive; an employee_id longer than employeeID holds is Permanent, nothing written;
- `update`: one modify of the changed values (over-long ones cut to fit, warned: the
  planner has cut them already, `jml.plan.fit` with the snapshot's `limits`); a new
  display name renames the object; with `link` (adoption) employeeID is set; then the
  object is moved when its mapped OU changed (a transfer), compared normalised;
- `set_active`: ACCOUNTDISABLE set or cleared, the other bits (read just before)
  kept; disable then moves
  it to `disabled_ou` (when set), enable moves it back to its mapped OU first;
- `delete`: deletes the object (Samba and AD drop the links to it); gone: fine;
- `change_members`: `ldap.members.Members.change` on `CN=<name>,<groups_ou>`;
  `create_group`: a global security group with a folded, numbered sAMAccountName
  (skipping the kept ones too).
`manager` and `member` values follow moves by themselves (the directory's linked
attributes). Logs name people by employee_id only: never a password nor a value.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import ldap3

from connectors.base import ConfigurationError, Permanent, TargetSchema, secret
from connectors.bounds import cheaper_in_full
from connectors.kernel.driver import Driver, Reading, chunked
from connectors.targets.ad import changes
from connectors.targets.ad.entries import (
    GROUP_FILTER,
    USER_FILTER,
    Entry,
    account_of,
    ad_values,
    employee_ids,
    entry_of,
    guid_filter,
    guids_filter,
    handle_attributes,
    handles_of,
    managers_outside,
    read_attributes,
    reading_of,
    users_filter,
)
from connectors.targets.ad.names import common_names, first_free, home_ou
from connectors.targets.ad.sam_names import SamNames
from connectors.targets.ad.schema import (
    AD_OF,
    EMPLOYEE_ID_MAX,
    NORMAL_ACCOUNT,
    cut,
    new_password,
    password_value,
    uac_with,
)
from connectors.targets.ldap.changes import Census, merge
from connectors.targets.ldap.entries import Tree, any_filter, first
from connectors.targets.ldap.members import Members
from connectors.targets.ldap.wire import (
    ATTRIBUTE_OR_VALUE_EXISTS,
    ENTRY_ALREADY_EXISTS,
    NO_SUCH_ATTRIBUTE,
    NO_SUCH_OBJECT,
    SUCCESS,
    UNWILLING_TO_PERFORM,
    Wire,
    code_of,
)
from connectors.targets.mapped import holding
from jml.config import AdTarget
from jml.dn import dn_key, escape_dn_value, first_rdn, parent_dn, render_dn, split_dn
from jml.mapping import compile_spec
from jml.model import Snapshot
from jml.naming import clean

__all__ = ["AdDriver"]

log = logging.getLogger(__name__)

#: A global security group (groupType GLOBAL | SECURITY_ENABLED, as a signed 32-bit value).
GLOBAL_SECURITY = -2147483646
GROUP_NAME_MAX = 64


class AdDriver(Driver):
    """An AD domain as the kernel's driver; see the module docstring.

    `AdDriver(config, environ=os.environ)` opens nothing yet; the bind password is
    `environ[config.password_env]` (ConfigurationError when it is not set)."""

    lookup_chunk = 50

    def __init__(self, config: AdTarget, *, environ: Mapping[str, str] = os.environ) -> None:
        password = secret(environ, config.password_env, f"target {config.name}")
        try:
            held = holding(AD_OF, config.attributes)
        except ValueError as exc:
            raise ConfigurationError(f"target {config.name}: {exc}") from None
        self.schema = TargetSchema(held)
        self.name = config.name
        self._mapped = held - AD_OF.keys()
        self._config = config
        self._ou = config.ou_spec()
        self._base = render_dn(config.base_dn)
        self._disabled = render_dn(config.disabled_ou) if config.disabled_ou else None
        self._groups = render_dn(config.groups_ou)
        self._wire = Wire(config, password)
        domain = ",".join(f"DC={escape_dn_value(v)}" for kind, v in split_dn(config.base_dn) if kind == "dc")
        sam = compile_spec("sam_account_name", config.sam_account_name.template, bare="template")
        self._names = SamNames(config.name, self._wire, domain, sam, config.sam_account_name.max_length)
        self.made: dict[str, str] = {}
        tree = Tree(self._base, self._disabled or self._base, self._groups)  # only `groups` is used
        self._members = Members(
            self._wire, tree, exists=(ATTRIBUTE_OR_VALUE_EXISTS, ENTRY_ALREADY_EXISTS),
            gone=(NO_SUCH_ATTRIBUTE, NO_SUCH_OBJECT, UNWILLING_TO_PERFORM),
        )  # fmt: skip

    def __repr__(self) -> str:
        return f"AdDriver(name={self.name!r}, url={self._config.url!r})"

    def close(self) -> None:
        self._wire.close()

    def reserve(self, names: Mapping[str, str]) -> None:
        """The sAMAccountNames kept for good (employee_id -> name): `create` gives a
        person theirs back and never gives anyone else one of them."""
        self._names.reserve(names)

    # -- reading ---------------------------------------------------------------------

    def read(self) -> Reading:
        usn, server = self._clock()
        users = self._wire.search(self._base, USER_FILTER, read_attributes(self._mapped), scope=ldap3.SUBTREE)
        groups = self._wire.search(self._groups, GROUP_FILTER, ["member"])
        reading = reading_of(self.name, users, groups, self.schema.attributes, self._config.upn_suffix)
        if usn is not None and server and all(first(values, "objectGUID") for _, values in users):
            reading.snapshot.memo = changes.memo(usn, server)
        return reading

    def read_changes(self, known: Snapshot) -> Reading | None:
        """`known` brought up to date (`changes`): the users and groups changed since
        its memo's USN (one filtered search each), a census (objectGUIDs, the handles'
        few attributes, the groups' DNs), and the users `changes.rereads` names, by
        objectGUID in filters of `lookup_chunk`; None (read in full) when `known` has
        no memo, the DC is another one, more must be read again than a full read costs,
        or the changes cannot be merged exactly."""
        usn, server = known.memo.get("usn"), known.memo.get("server")
        now, here = self._clock()
        if not isinstance(usn, int) or now is None or not here or here != server:
            return None
        attributes = read_attributes(self._mapped)
        users = self._wire.search(self._base, changes.changed_since(USER_FILTER, usn), attributes, scope=ldap3.SUBTREE)
        groups = self._wire.search(self._groups, changes.changed_since(GROUP_FILTER, usn), ["member"])
        found = self._wire.search(self._base, USER_FILTER, handle_attributes(), scope=ldap3.SUBTREE)
        census = Census.of([(True, found)], self._wire.search(self._groups, GROUP_FILTER, ["1.1"]), key="objectGUID")
        if census is None:
            return None
        must = changes.rereads(known, census, {first(v, "objectGUID") or "": first(v, "employeeID") for _, v in users})
        if cheaper_in_full(len(must), len(census.people), self._config.page_size):
            return None
        for chunk in chunked(must, self.lookup_chunk):
            users += self._wire.search(self._base, guids_filter(chunk), attributes, scope=ldap3.SUBTREE)
        eid_of = employee_ids(found)
        held, mapped, suffix = self.schema.attributes, self._mapped, self._config.upn_suffix
        merged = merge(known, census, must, [(True, user) for user in users], groups,
                       lambda dn, values, _, ents: account_of(dn, values, eid_of, ents, held, mapped, suffix),
                       key="objectGUID")  # fmt: skip
        if merged is None:
            return None
        accounts, names = merged
        snapshot = Snapshot(self.name, accounts, names, held, dict(known.limits), changes.memo(now, here))
        return Reading(snapshot, handles_of(found))

    def _clock(self) -> tuple[int | None, str | None]:
        """The DC's highestCommittedUSN and dsServiceName, from its root DSE."""
        root = self._wire.search("", "(objectClass=*)", ["highestCommittedUSN", "dsServiceName"], scope=ldap3.BASE)
        return changes.clock_of(root[0][1] if root else {})

    def read_accounts(
        self, employee_ids: Sequence[str], handles: Mapping[str, Any], groups: Collection[str] | None = None
    ) -> Reading:
        """The users of these employeeIDs, the groups listing them (on `member`) and
        the employeeIDs of their managers outside them (on distinguishedName): filtered
        subtree searches of `lookup_chunk` values, never a full one. Every group listing
        them, whatever `groups` names."""
        attributes = read_attributes(self._mapped)
        users: dict[str, Any] = {}
        for chunk in chunked(sorted(set(employee_ids)), self.lookup_chunk):
            for dn, values in self._wire.search(self._base, users_filter("employeeID", chunk), attributes, scope=ldap3.SUBTREE):
                users.setdefault(dn, (dn, values))
        found = list(users.values())
        listing: dict[str, Any] = {}
        for chunk in chunked([dn for dn, _ in found], self.lookup_chunk):
            for dn, values in self._wire.search(self._groups, any_filter(GROUP_FILTER, "member", chunk), ["member"]):
                listing.setdefault(dn, (dn, values))
        managers = []
        for chunk in chunked(managers_outside(found), self.lookup_chunk):
            managers += self._wire.search(self._base, users_filter("distinguishedName", chunk), ["employeeID"], scope=ldap3.SUBTREE)
        return reading_of(
            self.name, found, list(listing.values()), self.schema.attributes, self._config.upn_suffix, managers
        )

    def lookup(self, employee_ids: Sequence[str]) -> dict[str, Entry]:
        found: dict[str, Entry] = {}
        if not employee_ids:
            return found
        wanted = set(employee_ids)
        for dn, values in self._find(users_filter("employeeID", sorted(wanted))):
            eid = first(values, "employeeID")
            if eid in wanted:
                found.setdefault(eid, entry_of(dn, values))
        return found

    def resolve(self, employee_id: str, account_id: str) -> Entry | None:
        for dn, values in self._find(guid_filter(account_id)):
            return entry_of(dn, values)
        return self.lookup([employee_id]).get(employee_id)

    def account_id(self, handle: Entry) -> str:
        return handle.account_id

    def _find(self, wanted: str) -> list[tuple[str, dict[str, list[str]]]]:
        return self._wire.search(self._base, wanted, read_attributes(frozenset()), scope=ldap3.SUBTREE)

    # -- accounts --------------------------------------------------------------------

    def create(self, employee_id: str, values: Mapping[str, Any], active: bool) -> Entry:
        self._check_link(employee_id)
        handle = Entry("", None, NORMAL_ACCOUNT).with_columns(values)
        ou = self._home(handle, employee_id)
        sam = self._names.new(employee_id, handle)
        written, _ = cut({name: found for name, found in self._written(employee_id, values).items() if found})
        record: dict[str, Any] = dict(written)
        record.update({
            "objectClass": ["top", "person", "organizationalPerson", "user"],
            "sAMAccountName": sam,
            "employeeID": employee_id,
            "userAccountControl": str(uac_with(NORMAL_ACCOUNT, active)),
            "unicodePwd": password_value(new_password()),
            "pwdLastSet": "0",
        })  # fmt: skip
        if self._config.upn_suffix is not None:
            record["userPrincipalName"] = f"{sam}@{self._config.upn_suffix}"
        what = f"add {employee_id}"
        dn = ""
        for cn in common_names(str(values.get("display_name") or ""), employee_id):
            dn = f"CN={escape_dn_value(cn)},{ou}"
            result = self._wire.send(what, "add", dn, attributes=record)
            if code_of(result) == SUCCESS:
                break
            if code_of(result) == NO_SUCH_OBJECT:
                raise Permanent(f"{self.name}: {what}: the OU {ou} does not exist in the directory")
            if code_of(result) != ENTRY_ALREADY_EXISTS:
                raise self._wire.error(what, result)
        else:
            raise self._wire.error(what, result)
        log.info("target %s: created %s", self.name, employee_id)
        self.made[employee_id] = sam.lower()
        created = self._wire.search(dn, USER_FILTER, ["objectGUID", "userAccountControl"], scope=ldap3.BASE)
        guid = first(created[0][1], "objectGUID") if created else None
        return Entry(dn, guid, uac_with(NORMAL_ACCOUNT, active), handle.columns)

    def update(self, handle: Entry, employee_id: str, values: Mapping[str, Any], link: bool) -> Entry:
        unknown = set(values) - AD_OF.keys() - self._mapped
        if unknown:
            raise Permanent(f"{self.name}: cannot update unknown attribute(s) {sorted(unknown)}")
        changes = self._written(employee_id, values)
        if link:
            self._check_link(employee_id)
            changes["employeeID"] = [employee_id]
        changes, _ = cut(changes)
        if changes:
            modify = {name: [(ldap3.MODIFY_REPLACE, found)] for name, found in changes.items()}
            self._wire.do(f"modify {employee_id}", "modify", handle.dn, modify)
        handle = handle.with_columns(values)
        if values.get("display_name"):
            handle = self._rename(handle, employee_id, str(values["display_name"]))
        return self._place(handle, employee_id)

    def set_active(self, handle: Entry, employee_id: str, active: bool) -> Entry:
        if active:
            handle = self._place(handle, employee_id, home=True)
        handle = self._fresh_uac(handle)  # someone may have set other bits since
        if handle.active != active:
            uac = uac_with(handle.uac, active)
            change = {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(uac)])]}
            self._wire.do(f"{'enable' if active else 'disable'} {employee_id}", "modify", handle.dn, change)
            handle = Entry(handle.dn, handle.guid, uac, handle.columns)
        if not active and self._disabled is not None:
            handle = self._move(handle, employee_id, self._disabled)
        return handle

    def delete(self, handle: Entry, employee_id: str) -> None:
        self._wire.do(f"delete {employee_id}", "delete", handle.dn, ok=(NO_SUCH_OBJECT,))

    # -- groups ----------------------------------------------------------------------

    def change_members(self, group: str, changes: Sequence[tuple[bool, Entry]]) -> None:
        self._members.change(group, [(add, handle.dn) for add, handle in changes])

    def create_group(self, group: str, members: Sequence[Entry]) -> bool:
        sam = first_free(clean(group) or "group", GROUP_NAME_MAX, self._names.taken)
        record: dict[str, Any] = {"objectClass": ["top", "group"], "sAMAccountName": sam,
                                  "groupType": str(GLOBAL_SECURITY)}  # fmt: skip
        if members:
            record["member"] = [handle.dn for handle in members]
        dn = f"CN={escape_dn_value(group)},{self._groups}"
        code = self._wire.do(f"add group {group}", "add", dn, attributes=record, ok=(ENTRY_ALREADY_EXISTS,))
        if code != SUCCESS:
            return False
        log.info("target %s: created group %r", self.name, group)
        return True

    # -- helpers ---------------------------------------------------------------------

    def _check_link(self, employee_id: str) -> None:
        if len(employee_id) > EMPLOYEE_ID_MAX:
            raise Permanent(
                f"{self.name}: employee_id {employee_id!r} is longer than employeeID holds ({EMPLOYEE_ID_MAX})"
            )

    def _written(self, employee_id: str, values: Mapping[str, Any]) -> dict[str, list[Any]]:
        try:
            written = ad_values(values, self._mapped, self._config.upn_suffix)
        except ValueError as exc:
            raise Permanent(f"{self.name}: {employee_id}: {exc}") from None
        _, over = cut(written)
        for name in over:
            log.warning("target %s: %s: %s is longer than AD holds: cut to fit", self.name, employee_id, name)
        return written

    def _home(self, handle: Entry, employee_id: str) -> str:
        """The account's mapped OU; Permanent when `ou` gives none under base_dn."""
        ou = home_ou(self._ou, handle.columns, employee_id)
        if ou is None or not self._config.is_ou(ou):
            raise Permanent(f"{self.name}: {employee_id}: ou gives {ou!r}, which is no DN under base_dn")
        return render_dn(ou)

    def _place(self, handle: Entry, employee_id: str, *, home: bool = False) -> Entry:
        """Move the account to its mapped OU when it is elsewhere; a disabled one in
        `disabled_ou` stays there unless `home`."""
        if not home and not handle.active and self._disabled is not None:
            if dn_key(parent_dn(handle.dn)) == dn_key(self._disabled):
                return handle
        return self._move(handle, employee_id, self._home(handle, employee_id))

    def _move(self, handle: Entry, employee_id: str, superior: str) -> Entry:
        if dn_key(parent_dn(handle.dn)) == dn_key(superior):
            return handle
        relative = first_rdn(handle.dn)
        what = f"move {employee_id}"
        code = self._wire.do(what, "modify_dn", handle.dn, relative, new_superior=superior, ok=(ENTRY_ALREADY_EXISTS,))
        if code == ENTRY_ALREADY_EXISTS:  # that cn is taken there: the suffixed one
            display = _rdn_value(handle.dn).removesuffix(f" ({employee_id})")
            relative = f"CN={escape_dn_value(common_names(display, employee_id)[1])}"
            self._wire.do(what, "modify_dn", handle.dn, relative, new_superior=superior)
        return handle.moved(f"{relative},{superior}")

    def _rename(self, handle: Entry, employee_id: str, display: str) -> Entry:
        """A new cn for a new display name (the suffixed one when taken in the OU)."""
        if _rdn_value(handle.dn) in common_names(display, employee_id):
            return handle
        superior = parent_dn(handle.dn)
        what = f"rename {employee_id}"
        for cn in common_names(display, employee_id):
            relative = f"CN={escape_dn_value(cn)}"
            code = self._wire.do(what, "modify_dn", handle.dn, relative, ok=(ENTRY_ALREADY_EXISTS,))
            if code == SUCCESS:
                return handle.moved(f"{relative},{superior}")
        raise Permanent(f"{self.name}: {what}: both its names are taken in {superior}")

    def _fresh_uac(self, handle: Entry) -> Entry:
        """The handle with the userAccountControl the directory holds now."""
        found = self._wire.search(handle.dn, USER_FILTER, ["userAccountControl"], scope=ldap3.BASE)
        value = first(found[0][1], "userAccountControl") if found else None
        if value is None or not value.lstrip("-").isdigit():
            return handle
        return Entry(handle.dn, handle.guid, int(value), handle.columns)


def _rdn_value(dn: str) -> str:
    return split_dn(dn)[0][1]
