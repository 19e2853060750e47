"""What a target holds once its config's `attributes` (SPEC "Target attributes") are
added to the canonical attributes its driver maps: one rule for every driver.

A mapped attribute is held under its own name (the target's: a SCIM path, an LDAP
attribute type, a column). One that names the target's own attribute of a canonical
one (`displayName`, `cn`, the `users.title` column) takes its place: the canonical
attribute is then no longer written nor compared, the mapped value is. Names are
compared case-insensitively (SCIM and LDAP names are; an SQL target's columns are
matched so too).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["holding"]


def holding(canonical: Mapping[str, str], mapped: Iterable[str]) -> frozenset[str]:
    """The attributes a target holds: its canonical ones (canonical name -> the
    target's name of it) but those a mapped attribute takes the place of, and the
    mapped ones. ValueError for a mapped key that is jml's canonical name of an
    attribute the target names otherwise (ambiguous: name the target's attribute)."""
    keys = list(mapped)
    taken = {key.lower() for key in keys}
    for key in keys:
        if key in canonical and canonical[key].lower() != key.lower():
            raise ValueError(
                f"attribute {key!r} is jml's name of the target's {canonical[key]!r}; name the target's attribute"
            )
    kept = {name for name, own in canonical.items() if own.lower() not in taken}
    return frozenset(kept | set(keys))
