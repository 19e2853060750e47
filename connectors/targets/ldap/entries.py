"""Where accounts live in the directory and what their entries hold. Pure: no I/O.

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
    Account.login         the entry's uid (the directory's login; a registered NHI is named by it)
    Account.external_id   the uid of the entry's RDN (an entry named otherwise, e.g.
                          `cn=...`, is unlinked; adopting it renames it uid=<id>)
    Account.active        the entry is under people_dn (disabled: under disabled_dn)
    Account.id            entryUUID (stable across moves and renames), else the DN

Mapped attributes (config `attributes`, passed as `mapped`: LDAP attribute types) are
written and read under their own type, beside the canonical ones; one that is the type
of a canonical attribute (`cn`, `title`) takes its place (`connectors.targets.mapped`).

An entitlement is membership (`member`) of the groupOfNames `cn=<name>,<groups_dn>`.
Every value placed in a DN is escaped per RFC 4514 (`dn.escape_dn_value`) and every
value in a search filter per RFC 4515.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any

from ldap3.utils.conv import escape_filter_chars

from connectors.kernel.driver import Reading
from jml.dn import dn_key, escape_dn_value, rdn_value
from jml.model import ACCOUNT_ATTRIBUTES, Account, Snapshot

__all__ = [
    "GROUP_CLASSES",
    "LDAP_OF",
    "GROUP_FILTER",
    "PERSON_FILTER",
    "READ_ATTRIBUTES",
    "UPDATABLE",
    "Entry",
    "Found",
    "Tree",
    "account_of",
    "any_filter",
    "create_record",
    "directory_values",
    "first",
    "linked_entry",
    "managers_outside",
    "member_key",
    "modifications",
    "people_filter",
    "person_rdn",
    "reading_of",
]

PERSON_CLASSES = ["top", "person", "organizationalPerson", "inetOrgPerson"]
GROUP_CLASSES = ["top", "groupOfNames"]
PERSON_FILTER = "(objectClass=inetOrgPerson)"
GROUP_FILTER = "(objectClass=groupOfNames)"
#: Canonical attribute -> LDAP attribute (user_name shares mail with email).
LDAP_OF = {
    "given_name": "givenName",
    "family_name": "sn",
    "display_name": "cn",
    "email": "mail",
    "employee_number": "employeeNumber",
    "department": "departmentNumber",
    "title": "title",
    "manager": "manager",
}
#: The canonical attributes an update may change.
UPDATABLE = frozenset({*LDAP_OF, "user_name"})
READ_ATTRIBUTES = ["uid", *LDAP_OF.values(), "entryUUID"]

#: One entry a search found: its DN (as `dn.render_dn` writes it) and its attribute
#: values as text (attribute names as the server spelled them).
Found = tuple[str, dict[str, list[str]]]


@dataclass(frozen=True, slots=True)
class Entry:
    """The driver's handle of an account: its entry's DN, entryUUID, and whether it is
    enabled (under people_dn) or not (under disabled_dn)."""

    dn: str
    uuid: str | None
    active: bool

    @property
    def account_id(self) -> str:
        """What the ledger links: the entryUUID, or the DN when the server has none."""
        return self.uuid or self.dn


@dataclass(frozen=True, slots=True)
class Tree:
    """The target's three containers (DNs as `dn.render_dn` writes them)."""

    people: str
    disabled: str
    groups: str

    def containers(self) -> tuple[tuple[bool, str], tuple[bool, str]]:
        """(active, base) of the two containers accounts live in, people first."""
        return (True, self.people), (False, self.disabled)

    def base(self, active: bool) -> str:
        """The container of enabled (people) or disabled accounts."""
        return self.people if active else self.disabled

    def person_dn(self, employee_id: str, active: bool) -> str:
        return f"{person_rdn(employee_id)},{self.base(active)}"

    def group_dn(self, name: str) -> str:
        return f"cn={escape_dn_value(name)},{self.groups}"


def person_rdn(employee_id: str) -> str:
    """The RDN of an account's entry: `uid=<employee_id>`, escaped."""
    return f"uid={escape_dn_value(employee_id)}"


def people_filter(attribute: str, values: Sequence[str]) -> str:
    """A filter for the inetOrgPersons whose `attribute` is one of `values`."""
    return any_filter(PERSON_FILTER, attribute, values)


def any_filter(kind: str, attribute: str, values: Sequence[str]) -> str:
    """A filter for the entries of `kind` (a filter) whose `attribute` is one of
    `values` (escaped, RFC 4515)."""
    either = "".join(f"({attribute}={escape_filter_chars(value)})" for value in values)
    return f"(&{kind}(|{either}))"


def linked_entry(dn: str, values: Mapping[str, list[str]], active: bool) -> tuple[str, Entry] | None:
    """(employee_id, handle) of an entry named `uid=<employee_id>`; None for an entry
    named otherwise (unlinked)."""
    kind, value = rdn_value(dn)
    return (value, Entry(dn, first(values, "entryUUID"), active)) if kind == "uid" else None


def create_record(employee_id: str, values: Mapping[str, Any], mapped: Set[str] = frozenset()) -> dict[str, Any]:
    """The attributes of a new entry: the values written (None or "": no value; the
    `manager` an Entry; `mapped`: the keys that are mapped attribute types), mail from
    user_name when no email is given, and the person's MUSTs (cn, sn) never absent."""
    record: dict[str, Any] = {"objectClass": PERSON_CLASSES, "uid": employee_id}
    record.update({name: found for name, found in _ldap_values(values, mapped).items() if found})
    if "mail" not in record and values.get("user_name"):
        record["mail"] = [str(values["user_name"])]
    record.setdefault("cn", employee_id)
    record.setdefault("sn", employee_id)
    return record


def modifications(values: Mapping[str, Any], mapped: Set[str] = frozenset()) -> dict[str, list[str]]:
    """LDAP attribute -> the values that replace it (an empty list removes it), for an
    update's values (`mapped`: the keys that are mapped attribute types); a user_name
    change alone is written to mail. ValueError for an attribute the directory does not
    hold."""
    unknown = set(values) - UPDATABLE - mapped
    if unknown:
        raise ValueError(f"cannot update unknown attribute(s) {sorted(unknown)}")
    wanted = dict(values)
    if "user_name" in wanted and "email" not in wanted:
        wanted["email"] = wanted["user_name"]
    return _ldap_values(wanted, mapped)


def _ldap_values(values: Mapping[str, Any], mapped: Set[str]) -> dict[str, list[str]]:
    """LDAP attribute -> values of the canonical and mapped attributes."""
    return directory_values(values, mapped, LDAP_OF)


def directory_values(values: Mapping[str, Any], mapped: Set[str], names: Mapping[str, str]) -> dict[str, list[str]]:
    """Directory attribute -> values, for the canonical attributes `names` maps and the
    mapped ones (by their own type); others are left out. None or "" is an empty list;
    a handle (the manager's entry: anything with a text `dn`) is its DN."""
    out: dict[str, list[str]] = {}
    for key, value in values.items():
        name = names.get(key) or (key if key in mapped else None)
        if name is None:
            continue
        if value is None or value == "":
            out[name] = []
        else:
            dn = getattr(value, "dn", None)
            out[name] = [dn if isinstance(dn, str) else str(value)]
    return out


def reading_of(
    target: str,
    people: Sequence[Found],
    disabled: Sequence[Found],
    groups: Sequence[Found],
    held: frozenset[str] = frozenset(ACCOUNT_ATTRIBUTES),
    managers: Mapping[str, str] | None = None,
) -> Reading:
    """The snapshot of what the searches of the three containers found, and the handle
    of every linked account (the first entry of a uid, people first); `held`: what the
    target holds, the canonical attributes and the mapped attribute types; `managers`
    (dn_key -> uid) names the managers who are not among the entries found."""
    uid_of: dict[str, str] = dict(managers or {})  # dn_key -> uid, for managers
    handles: dict[str, Entry] = {}
    for active, found in ((True, people), (False, disabled)):
        for dn, values in found:
            linked = linked_entry(dn, values, active)
            if linked is not None:
                uid_of[dn_key(dn)] = linked[0]
                handles.setdefault(*linked)
    memberships: dict[str, set[str]] = {}  # dn_key -> group names
    names: set[str] = set()
    for dn, values in groups:
        name = rdn_value(dn)[1]
        names.add(name)
        for member in values.get("member", ()):
            memberships.setdefault(member_key(member), set()).add(name)
    mapped = held - UPDATABLE
    accounts = [
        account_of(dn, values, active, uid_of, memberships.get(dn_key(dn), set()), mapped)
        for active, found in ((True, people), (False, disabled))
        for dn, values in found
    ]
    return Reading(Snapshot(target=target, accounts=accounts, groups=names, held=held), handles)


def account_of(
    dn: str,
    values: Mapping[str, list[str]],
    active: bool,
    uid_of: Mapping[str, str],
    entitlements: set[str],
    mapped: Set[str],
) -> Account:
    """The account of one entry found under its container (`active`): `uid_of` (dn_key
    -> uid) names the managers found, `entitlements` are its groups' names, `mapped` the
    mapped attribute types the target holds."""
    kind, value = rdn_value(dn)
    attributes: dict[str, str | None] = dict.fromkeys(ACCOUNT_ATTRIBUTES)
    for canonical, ldap_name in LDAP_OF.items():
        attributes[canonical] = first(values, ldap_name)
    attributes.update({name: first(values, name) for name in mapped})
    attributes["user_name"] = attributes["email"]
    manager = attributes["manager"]
    if manager is not None:
        attributes["manager"] = uid_of.get(member_key(manager), manager)
    return Account(
        id=first(values, "entryUUID") or dn,
        external_id=value if kind == "uid" else None,
        active=active,
        attributes=attributes,
        entitlements=set(entitlements),
        login=first(values, "uid") or (value if kind == "uid" else None),
    )


def managers_outside(people: Sequence[Found]) -> dict[str, str]:
    """dn_key -> uid of the managers these entries name who are not among them (as
    their DNs say: `uid=<uid>,...`; a manager named otherwise is left out)."""
    found = {dn_key(dn) for dn, _ in people}
    outside: dict[str, str] = {}
    for _, values in people:
        manager = first(values, LDAP_OF["manager"])
        if manager is None or member_key(manager) in found:
            continue
        try:
            kind, uid = rdn_value(manager)
        except ValueError:
            continue
        if kind == "uid":
            outside[member_key(manager)] = uid
    return outside


def first(values: Mapping[str, list[str]], name: str) -> str | None:
    """The first value of an attribute (names compared case-insensitively), or None."""
    for key, found in values.items():
        if key.lower() == name.lower() and found:
            return found[0]
    return None


def member_key(dn: str) -> str:
    """A `member` or `manager` value's key: `dn_key`, or the text itself lowercased for a value that is not a DN."""
    try:
        return dn_key(dn)
    except ValueError:
        return dn.lower()
