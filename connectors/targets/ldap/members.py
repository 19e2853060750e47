"""Group memberships, and the references that follow an entry when it moves or goes.

An entitlement is membership (`member`) of the groupOfNames `cn=<name>,<groups_dn>`:
- `change(name, changes)`: the changes of one group (add or remove a member DN, in
  order) as one modify; when the directory refuses it (a member already there or
  already gone, the last member), one modify per change, taking those cases as done.
  GroupMissing when the group does not exist.
- `create_group(name, members)`: the groupOfNames with these members; False when it
  exists already.
- groupOfNames must keep one member: removing the last one leaves the group's own DN as
  its only `member` (a placeholder no account matches).
- `follow(old_dn, new_dn)`: the memberships and the `manager` values naming `old_dn`
  name `new_dn` instead, or are removed when it is None (what OpenLDAP's refint overlay
  does, for directories without it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import ldap3
from ldap3.utils.conv import escape_filter_chars

from connectors.base import GroupMissing
from connectors.targets.ldap.entries import GROUP_CLASSES, GROUP_FILTER, PERSON_FILTER, Tree
from connectors.targets.ldap.wire import (
    ATTRIBUTE_OR_VALUE_EXISTS,
    ENTRY_ALREADY_EXISTS,
    NO_SUCH_ATTRIBUTE,
    NO_SUCH_OBJECT,
    OBJECT_CLASS_VIOLATION,
    SUCCESS,
    Wire,
)

__all__ = ["Members"]

log = logging.getLogger(__name__)

#: What a modify of a group's members is refused with when the group itself is fine.
_REFUSED = (ATTRIBUTE_OR_VALUE_EXISTS, NO_SUCH_ATTRIBUTE, OBJECT_CLASS_VIOLATION)
_GONE = (NO_SUCH_ATTRIBUTE, NO_SUCH_OBJECT)


class Members:
    """The groups under `tree.groups` and the references to entries; see the module
    docstring."""

    def __init__(
        self, wire: Wire, tree: Tree, *, exists: tuple[int, ...] = (ATTRIBUTE_OR_VALUE_EXISTS,),
        gone: tuple[int, ...] = _GONE,
    ) -> None:  # fmt: skip
        """`exists`, `gone`: the result codes of adding a member already there and of
        removing one already gone (Samba AD answers entryAlreadyExists and
        unwillingToPerform)."""
        self._wire = wire
        self._tree = tree
        self._exists = exists
        self._gone = gone

    def change(self, name: str, changes: Sequence[tuple[bool, str]]) -> None:
        """Add (True) or remove (False) these member DNs of the group, in order."""
        group_dn = self._tree.group_dn(name)
        modifications: list[tuple[Any, list[str]]] = []
        for add, member in changes:
            kind = ldap3.MODIFY_ADD if add else ldap3.MODIFY_DELETE
            if modifications and modifications[-1][0] == kind and member not in modifications[-1][1]:
                modifications[-1][1].append(member)
            else:
                modifications.append((kind, [member]))
        what = f"modify group {name}"
        code = self._wire.do(
            what, "modify", group_dn, {"member": modifications},
            ok=(*_REFUSED, *self._exists, *self._gone, NO_SUCH_OBJECT),
        )
        if code == NO_SUCH_OBJECT:
            raise GroupMissing(f"{self._wire.name}: {what}: no group {group_dn}", status=code)
        if code == SUCCESS:
            return
        for add, member in changes:  # one by one, idempotently
            if add:
                addition = {"member": [(ldap3.MODIFY_ADD, [member])]}
                what = f"add a member to group {name}"
                self._wire.do(what, "modify", group_dn, addition, ok=self._exists)
            else:
                self._remove(group_dn, member)

    def create_group(self, name: str, members: Sequence[str]) -> bool:
        """Add the group with these member DNs; False when another client created it."""
        record = {"objectClass": GROUP_CLASSES, "cn": name, "member": list(members)}
        group_dn = self._tree.group_dn(name)
        code = self._wire.do(f"add group {name}", "add", group_dn, attributes=record, ok=(ENTRY_ALREADY_EXISTS,))
        if code != SUCCESS:
            return False
        log.info("target %s: created group %r", self._wire.name, name)
        return True

    def follow(self, old_dn: str, new_dn: str | None) -> None:
        """Point the memberships and manager links naming `old_dn` at `new_dn` (None:
        remove them)."""
        listing = f"(&{GROUP_FILTER}(member={escape_filter_chars(old_dn)}))"
        for group_dn, _ in self._wire.search(self._tree.groups, listing, ["1.1"]):
            if new_dn is None:
                self._remove(group_dn, old_dn)
                continue
            changes = {"member": [(ldap3.MODIFY_DELETE, [old_dn]), (ldap3.MODIFY_ADD, [new_dn])]}
            moved = (ATTRIBUTE_OR_VALUE_EXISTS, NO_SUCH_ATTRIBUTE)  # the new DN there already, the old one gone
            self._wire.do("move a membership", "modify", group_dn, changes, ok=moved)
        reports = f"(&{PERSON_FILTER}(manager={escape_filter_chars(old_dn)}))"
        link = {"manager": [(ldap3.MODIFY_REPLACE, [new_dn] if new_dn else [])]}
        for _, base in self._tree.containers():
            for report_dn, _ in self._wire.search(base, reports, ["1.1"]):
                self._wire.do("move a manager link", "modify", report_dn, link)

    def _remove(self, group_dn: str, member_dn: str) -> None:
        """Remove one member; the last one is replaced by the group's own DN."""
        removal = {"member": [(ldap3.MODIFY_DELETE, [member_dn])]}
        code = self._wire.do("remove a member", "modify", group_dn, removal, ok=(*self._gone, OBJECT_CLASS_VIOLATION))
        if code == OBJECT_CLASS_VIOLATION:  # groupOfNames must keep a member
            placeholder = {"member": [(ldap3.MODIFY_ADD, [group_dn]), (ldap3.MODIFY_DELETE, [member_dn])]}
            self._wire.do("remove the last member", "modify", group_dn, placeholder, ok=_GONE)
