"""A SCIM target's mapped attributes (config `attributes`): where each one sits in a
User, and whether the server's published schemas (GET /Schemas, RFC 7643 §7) know it.
Pure: no I/O.

A key is an attribute of the core User (`title`), a sub-attribute (`name.middleName`),
or a full extension URN path (`urn:...:enterprise:2.0:User:costCenter`, optionally with
a sub-attribute); `jml.config.attributes.scim_path` splits it. SCIM compares names
case-insensitively (RFC 7643 §2.1), so reading does too. Its PATCH path is the key
itself (RFC 7644 §3.5.2).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from jml.config.attributes import SCIM_CORE_USER, scim_path

__all__ = ["put", "read", "unknown_to"]


def _member(container: object, name: str) -> Any:
    """The member of a JSON object by name, compared case-insensitively (None if none)."""
    if not isinstance(container, dict):
        return None
    if name in container:
        return container[name]
    lowered = name.lower()
    return next((value for key, value in container.items() if key.lower() == lowered), None)


def read(user: Mapping[str, Any], key: str) -> str | None:
    """The value of a mapped attribute in a User, as text (None when absent; a value
    that is not a string, number or boolean counts as absent)."""
    schema, attribute, sub = scim_path(key)
    value = _member(user if schema is None else _member(user, schema), attribute)
    if sub is not None:
        value = _member(value, sub)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value) if isinstance(value, str | int | float) else None


def put(user: dict[str, Any], key: str, value: str) -> None:
    """Set a mapped attribute in a User being built (an extension's URN joins
    `schemas`)."""
    schema, attribute, sub = scim_path(key)
    container = user
    if schema is not None:
        container = user.setdefault(schema, {})
        if schema not in user["schemas"]:
            user["schemas"].append(schema)
    if sub is None:
        container[attribute] = value
    else:
        container.setdefault(attribute, {})[sub] = value


def unknown_to(schemas: Iterable[Mapping[str, Any]], keys: Iterable[str]) -> list[str]:
    """Why the server's schemas (the Resources of GET /Schemas) cannot hold each of
    these keys, one sentence per refused key: an unknown schema, attribute or
    sub-attribute, a complex attribute without its sub-attribute, or a multi-valued
    or read-only one."""
    by_id = {str(s.get("id", "")).lower(): s for s in schemas if isinstance(s, Mapping)}
    problems = []
    for key in keys:
        schema, attribute, sub = scim_path(key)
        found = by_id.get((schema or SCIM_CORE_USER).lower())
        if found is None:
            problems.append(f"{key!r}: the server publishes no schema {schema or SCIM_CORE_USER}")
            continue
        spec = _attribute(found.get("attributes"), attribute)
        if spec is not None and sub is not None:
            spec = _attribute(spec.get("subAttributes"), sub)
        why = _unfit(spec, sub is None)
        if why:
            problems.append(f"{key!r}: {why} in the server's schema {found.get('id')}")
    return problems


def _attribute(attributes: object, name: str) -> Mapping[str, Any] | None:
    if not isinstance(attributes, list):
        return None
    lowered = name.lower()
    return next((a for a in attributes if isinstance(a, dict) and str(a.get("name", "")).lower() == lowered), None)


def _unfit(spec: Mapping[str, Any] | None, whole: bool) -> str | None:
    if spec is None:
        return "no such attribute"
    if spec.get("multiValued"):
        return "a multi-valued attribute (not supported)"
    if whole and spec.get("type") == "complex":
        return "a complex attribute (name one of its sub-attributes)"
    if spec.get("mutability") in ("readOnly", "immutable"):
        return f"a {spec.get('mutability')} attribute"
    return None
