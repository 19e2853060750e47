"""Generated identifiers (SPEC "Generated identifiers"): pure, no I/O.

- `clean(text)`: folded to ASCII by `anyascii` (a maintained transliteration table:
  `José Müller` -> `jose muller`, `ß` -> `ss`, `ø` -> `o`, `æ` -> `ae`, `ł` -> `l`,
  `þ` -> `th`), lowercased, every character but `a-z 0-9 . _ -` dropped, runs of dots
  collapsed and dots trimmed from both ends.
- `email_address(rendered)`: the address a rendered `naming.email` template makes:
  the local part cleaned and cut to 64 characters, the domain lowercased; None when the
  local part folds to nothing (the row is quarantined).
- `numbered(stem, n, max_length, suffix)`: the n-th candidate of an identifier; the
  first is the stem itself, the others carry the number at the end of the stem, cut so
  that stem and number fit `max_length` (`jane.doe2` + `@corp.example.com` for an
  address, `jdoe2` for an account name).
- `assign(wanted, reserved, holders, ...)`: one identifier per person: the one kept for
  them, else the first candidate nobody else holds; several new people with one name are
  numbered in the order given (the feed's).
Values are compared lowercased.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass

from anyascii import anyascii

__all__ = ["EMAIL", "LOCAL_MAX", "Wanted", "assign", "clean", "email_address", "numbered", "split_address"]

#: The ledger's kind of a generated email (`Ledger.reserved_identifiers`).
EMAIL = "email"
#: The longest local part of an address (RFC 5321).
LOCAL_MAX = 64
_DROPPED = re.compile(r"[^a-z0-9._-]+")
_DOTS = re.compile(r"\.{2,}")


def clean(text: str) -> str:
    """`text` folded to ASCII, lowercased, only `a-z 0-9 . _ -`, dots collapsed and
    trimmed (see the module docstring)."""
    folded = _DROPPED.sub("", anyascii(text).lower())
    return _DOTS.sub(".", folded).strip(".")


def email_address(rendered: str) -> str | None:
    """The address a rendered template makes (text up to its last `@` is the local
    part), or None when the local part folds to nothing or there is no domain."""
    local, at, domain = rendered.rpartition("@")
    stem = clean(local)[:LOCAL_MAX].rstrip(".")
    domain = domain.strip().lower()
    if not at or not stem or not domain:
        return None
    return f"{stem}@{domain}"


def split_address(address: str) -> tuple[str, str]:
    """(local part, `@domain`) of an address."""
    local, at, domain = address.rpartition("@")
    return local, at + domain


def numbered(stem: str, n: int, max_length: int, suffix: str = "") -> str:
    """The n-th candidate (n >= 1): the stem for 1; else the stem cut so that it and
    the number fit `max_length` (dots left at the cut trimmed), the number, the suffix."""
    if n == 1:
        return stem[:max_length] + suffix
    number = str(n)
    return stem[: max(max_length - len(number), 0)].rstrip(".") + number + suffix


@dataclass(frozen=True, slots=True)
class Wanted:
    """A person who needs an identifier: `stem` and `suffix` of its first candidate
    (an address: local part and `@domain`; an account name: the name and "")."""

    employee_id: str
    stem: str
    suffix: str = ""


def assign(
    wanted: Sequence[Wanted],
    reserved: Mapping[str, str],
    holders: Mapping[str, Set[str]],
    max_length: int,
) -> dict[str, str]:
    """employee_id -> identifier, for each of `wanted` (in the order given).

    `reserved`: the identifier kept for a person (the ledger's), which they get back
    whoever else shows it now. `holders`: lowercased identifier -> who holds it (an
    employee_id, or "" for an account linked to nobody); a candidate is taken when
    anyone but the person holds it, or when it is reserved for someone else. Each new
    identifier is taken for the persons after it.
    """
    taken: dict[str, set[str]] = {value: set(who) for value, who in holders.items()}
    for eid, value in reserved.items():
        taken.setdefault(value.lower(), set()).add(eid)
    result: dict[str, str] = {}
    for person in wanted:
        eid = person.employee_id
        value = reserved.get(eid) or _first_free(person, taken, max_length)
        taken.setdefault(value.lower(), set()).add(eid)
        result[eid] = value
    return result


def _first_free(person: Wanted, taken: Mapping[str, Set[str]], max_length: int) -> str:
    """The first candidate nobody but the person holds (there is one: `taken` is finite)."""
    n = 1
    while True:
        candidate = numbered(person.stem.lower(), n, max_length, person.suffix.lower())
        if not taken.get(candidate, frozenset()) - {person.employee_id}:
            return candidate
        n += 1
