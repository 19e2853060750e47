"""AD `user` objects as jml accounts, and the values written to them. Pure: no I/O.

The mapping itself is `schema`; this module turns what searches found into the
snapshot (`reading_of`) and an account's values into the LDAP values written
(`ad_values`). An account's handle is an `Entry`: its DN, objectGUID, userAccountControl
and the feed columns (jml.config.AD_COLUMNS) its `ou` and sAMAccountName are made from.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from typing import Any

from connectors.kernel.driver import Reading
from connectors.targets.ad.schema import ACCOUNTDISABLE, AD_OF, LIMITS, expires_of, filetime_of
from connectors.targets.ldap.entries import Found, any_filter, directory_values, first
from jml.config import AD_COLUMNS, AD_EXPIRES
from jml.dn import dn_key, rdn_value
from jml.model import Account, Snapshot

__all__ = [
    "GROUP_FILTER",
    "USER_FILTER",
    "Entry",
    "ad_values",
    "columns_of",
    "employee_ids",
    "entry_of",
    "handle_attributes",
    "handles_of",
    "guid_filter",
    "guids_filter",
    "account_of",
    "managers_outside",
    "read_attributes",
    "reading_of",
    "users_filter",
]

USER_FILTER = "(&(objectClass=user)(!(objectClass=computer)))"
GROUP_FILTER = "(objectClass=group)"
_OWN = ["objectGUID", "userAccountControl", "sAMAccountName", "cn"]


@dataclass(frozen=True, slots=True)
class Entry:
    """The driver's handle of an account (see the module docstring); `columns` maps a
    canonical attribute of AD_COLUMNS to its value."""

    dn: str
    guid: str | None
    uac: int
    columns: Mapping[str, str | None] = field(default_factory=dict, compare=False)

    @property
    def active(self) -> bool:
        return not self.uac & ACCOUNTDISABLE

    @property
    def account_id(self) -> str:
        return self.guid or self.dn

    def moved(self, dn: str) -> Entry:
        return replace(self, dn=dn)

    def with_columns(self, values: Mapping[str, Any]) -> Entry:
        """The handle knowing these new values of its columns."""
        changed = {key: _text(values[key]) for key in AD_COLUMNS.values() if key in values}
        return replace(self, columns={**self.columns, **changed}) if changed else self


def handle_attributes() -> list[str]:
    """What a handle is made from (`entry_of`), and the employeeID that names it."""
    return [*_OWN, "employeeID", *dict.fromkeys(AD_OF[key] for key in AD_COLUMNS.values())]


def read_attributes(mapped: Set[str]) -> list[str]:
    """What a read of accounts asks for: the mapped attributes, AD's own, jml's."""
    return [*_OWN, *dict.fromkeys(AD_OF.values()), *sorted(mapped)]


def users_filter(attribute: str, values: Sequence[str]) -> str:
    """The users whose `attribute` is one of `values` (RFC 4515 escaped)."""
    return any_filter(USER_FILTER, attribute, values)


def guid_filter(guid: str) -> str:
    """The user with this objectGUID."""
    return guids_filter([guid])


def guids_filter(guids: Sequence[str]) -> str:
    """The users with these objectGUIDs (their bytes escaped, AD's little-endian layout;
    a text that is no GUID matches nothing)."""
    either = "".join(f"(objectGUID={_guid_value(guid)})" for guid in guids)
    return f"(&{USER_FILTER}(|{either}))"


def _guid_value(guid: str) -> str:
    try:
        raw = uuid.UUID(guid).bytes_le
    except ValueError:
        return "\\00"
    return "".join("\\" + format(b, "02x") for b in raw)


def columns_of(values: Mapping[str, list[str]]) -> dict[str, str | None]:
    """The AD_COLUMNS values an object holds (canonical attribute -> value)."""
    return {key: first(values, AD_OF[key]) for key in AD_COLUMNS.values()}


def entry_of(dn: str, values: Mapping[str, list[str]]) -> Entry:
    """The handle of a found object."""
    return Entry(dn, first(values, "objectGUID"), _uac(values), columns_of(values))


def employee_ids(users: Sequence[Found]) -> dict[str, str]:
    """dn_key -> employeeID of these users (those without one left out)."""
    return {dn_key(dn): eid for dn, values in users if (eid := first(values, "employeeID"))}


def handles_of(users: Sequence[Found]) -> dict[str, Entry]:
    """employeeID -> the handle of these users (the first of an employeeID)."""
    handles: dict[str, Entry] = {}
    for dn, values in users:
        if eid := first(values, "employeeID"):
            handles.setdefault(eid, entry_of(dn, values))
    return handles


def ad_values(values: Mapping[str, Any], mapped: Set[str], upn_suffix: str | None) -> dict[str, list[Any]]:
    """AD attribute -> the values written for an account's values (None or "": []):
    the manager (an Entry) as its DN, the last day of access as FILETIME; with
    `upn_suffix`, a user_name is written to mail (the UPN is made from the
    sAMAccountName once). employeeID is written only as the link, never from here."""
    wanted = {key: value for key, value in values.items() if key != "employee_number"}
    if upn_suffix is not None and "user_name" in wanted:
        wanted.setdefault("email", wanted.pop("user_name"))
    if AD_EXPIRES in wanted:
        wanted[AD_EXPIRES] = str(filetime_of(wanted[AD_EXPIRES]))
    return directory_values(wanted, mapped, AD_OF)


def reading_of(
    target: str,
    users: Sequence[Found],
    groups: Sequence[Found],
    held: frozenset[str],
    upn_suffix: str | None,
    managers: Sequence[Found] = (),
) -> Reading:
    """The snapshot of the accounts and groups the searches found, and the handle of
    every linked account (the first of an employeeID); `managers`: the entries (their
    employeeID at least) of managers who are not among `users`."""
    eid_of = {**employee_ids(managers), **employee_ids(users)}
    handles = handles_of(users)
    memberships: dict[str, set[str]] = {}
    names: set[str] = set()
    for dn, values in groups:
        name = rdn_value(dn)[1]
        names.add(name)
        for member in values.get("member", ()):
            memberships.setdefault(_key(member), set()).add(name)
    mapped = held - AD_OF.keys()
    accounts = [
        account_of(dn, values, eid_of, memberships.get(dn_key(dn), set()), held, mapped, upn_suffix)
        for dn, values in users
    ]
    limits = {key: LIMITS[AD_OF.get(key, key)] for key in held if AD_OF.get(key, key) in LIMITS}
    return Reading(Snapshot(target=target, accounts=accounts, groups=names, held=held, limits=limits), handles)


def account_of(
    dn: str,
    values: Mapping[str, list[str]],
    eid_of: Mapping[str, str],
    entitlements: set[str],
    held: Set[str],
    mapped: Set[str],
    upn_suffix: str | None,
) -> Account:
    """The account of one found object: `eid_of` (dn_key -> employeeID) names the
    managers found, `entitlements` are its groups' names, `held` what the target holds
    (`mapped`: the mapped attribute types among them)."""
    attributes: dict[str, str | None] = {key: first(values, AD_OF[key]) for key in held if key in AD_OF}
    attributes.update({name: first(values, name) for name in mapped})
    if "user_name" in held and upn_suffix is not None:
        attributes["user_name"] = first(values, "mail")
    if AD_EXPIRES in held:
        attributes[AD_EXPIRES] = expires_of(first(values, "accountExpires"))
    manager = attributes.get("manager")
    if manager is not None:
        attributes["manager"] = eid_of.get(_key(manager), manager)
    return Account(
        id=first(values, "objectGUID") or dn,
        external_id=first(values, "employeeID"),
        active=not _uac(values) & ACCOUNTDISABLE,
        attributes=attributes,
        entitlements=set(entitlements),
        login=first(values, "sAMAccountName"),
    )


def managers_outside(users: Sequence[Found]) -> list[str]:
    """The DNs of the managers these users name who are not among them."""
    found = {dn_key(dn) for dn, _ in users}
    return sorted({m for _, values in users if (m := first(values, AD_OF["manager"])) and _key(m) not in found})


def _uac(values: Mapping[str, list[str]]) -> int:
    try:
        return int(first(values, "userAccountControl") or 0)
    except ValueError:
        return 0


def _text(value: Any) -> str | None:
    return None if value is None or value == "" else str(value)


def _key(dn: str) -> str:
    """`dn_key`, or the text lowercased for a value that is not a DN."""
    try:
        return dn_key(dn)
    except ValueError:
        return dn.lower()
