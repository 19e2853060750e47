"""A target's `attributes` (SPEC "Target attributes"): target attribute -> value spec
over the feed columns (a bare string is a template; jml.mapping), checked when the
config is loaded.

`FORBIDDEN` is the one list of the attributes that link and govern an account, per
target type, which `attributes` may not set (names compared case-insensitively, as
SCIM and LDAP compare them; a SCIM sub-attribute or core URN path of one is refused
too). `check_attributes` refuses those, a key that is no attribute name of its target
type, and a bad spec, with one line naming the key; `compiled` makes the checked specs
ready to apply (jml.mapping.Compiled).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Set
from typing import Literal, Protocol

from jml.mapping import Compiled, FieldSpec, compile_spec

__all__ = ["FORBIDDEN", "SCIM_CORE_USER", "Kind", "check_attributes", "compiled", "scim_path", "unknown_column"]

Kind = Literal["scim", "ldap", "sql", "ad"]

SCIM_CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
_SCIM_ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

#: Per target type, the attributes jml alone writes: the ones that link and govern an
#: account (SPEC), and the ones whose value is another account (the manager) or that
#: jml compares as the login (LDAP `mail`). An SQL target's own are the columns its
#: `users` mapping names for the link, the login and the state (see SqlTarget).
FORBIDDEN: Mapping[Kind, frozenset[str]] = {
    "scim": frozenset({"username", "externalid", "active", "emails", f"{_SCIM_ENTERPRISE}:manager".lower()}),
    "ldap": frozenset({"uid", "objectclass", "mail", "manager"}),
    "ad": frozenset(
        {"employeeid", "samaccountname", "useraccountcontrol", "accountexpires", "unicodepwd", "objectclass", "manager"}
    ),
    "sql": frozenset(),
}

_SCIM_NAME = r"[A-Za-z][A-Za-z0-9_$-]*"
_SCIM_ATTRIBUTE = re.compile(rf"^{_SCIM_NAME}(\.{_SCIM_NAME})?$")
_SCIM_URN = re.compile(r"^urn:[A-Za-z0-9][A-Za-z0-9:._-]*$")
_LDAP_TYPE = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,127}$")
_SQL_COLUMN = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")


def scim_path(key: str) -> tuple[str | None, str, str | None]:
    """(schema URN or None for the core User, attribute, sub-attribute or None) of a SCIM
    key: `title`, `name.middleName`, `urn:...:enterprise:2.0:User:costCenter`.
    ValueError for a key that is none of these."""
    schema: str | None = None
    path = key
    if key.lower().startswith("urn:"):
        schema, _, path = key.rpartition(":")
        if not _SCIM_URN.match(schema) or schema.count(":") < 2:
            raise ValueError("not a SCIM attribute path (urn:...:Resource:attribute)")
        if schema.lower() == SCIM_CORE_USER.lower():
            schema = None
    if not _SCIM_ATTRIBUTE.match(path):
        raise ValueError("not a SCIM attribute name (attribute or attribute.subAttribute)")
    attribute, _, sub = path.partition(".")
    return schema, attribute, sub or None


def _forbidden(kind: Kind, key: str) -> bool:
    names = FORBIDDEN[kind]
    if kind != "scim":
        return key.lower() in names
    schema, attribute, _ = scim_path(key)
    top = attribute if schema is None else f"{schema}:{attribute}"
    return top.lower() in names


def _check_name(kind: Kind, key: str) -> None:
    if kind == "scim":
        scim_path(key)
    elif kind == "sql":
        if not _SQL_COLUMN.match(key):
            raise ValueError("not a column name")
    elif not _LDAP_TYPE.match(key):
        raise ValueError("not an LDAP attribute type")


def check_attributes(kind: Kind, attributes: Mapping[str, FieldSpec]) -> Mapping[str, FieldSpec]:
    """`attributes` when every key may be set on this kind of target and every spec
    compiles; ValueError with one line naming the first bad key otherwise."""
    seen: dict[str, str] = {}
    for key, spec in attributes.items():
        try:
            _check_name(kind, key)
        except ValueError as exc:
            raise ValueError(f"attribute {key!r}: {exc}") from None
        if _forbidden(kind, key):
            raise ValueError(
                f"attribute {key!r} cannot be set: jml alone writes it (it links or governs the account, or names its manager)"
            )
        if key.lower() in seen:
            raise ValueError(f"attributes {seen[key.lower()]!r} and {key!r} name the same attribute")
        seen[key.lower()] = key
        compile_spec(key, spec, bare="template")
    return attributes


def compiled(attributes: Mapping[str, FieldSpec]) -> dict[str, Compiled]:
    """Target attribute -> its compiled spec (the specs were checked at load)."""
    return {key: compile_spec(key, spec, bare="template") for key, spec in attributes.items()}


class _Mapped(Protocol):
    """A target config: its name and its `attributes`."""

    @property
    def name(self) -> str: ...

    @property
    def attributes(self) -> Mapping[str, FieldSpec]: ...


def unknown_column(targets: Iterable[_Mapped], columns: Set[str]) -> str | None:
    """One line naming the first target attribute that reads a column which is none of
    the feed's `columns` (a typo would otherwise empty, so remove, the attribute on
    every account); None when every one is a feed column."""
    for target in targets:
        for key, spec in compiled(target.attributes).items():
            missing = [column for column in spec.columns if column not in columns]
            if missing:
                return (f"config: targets {target.name}: attributes {key!r}: {missing[0]!r} is no column of the feed"
                        " (a feed column, a mapped field or a passthrough column)")  # fmt: skip
    return None
