"""The names an AD object is given: its OU, its cn and its sAMAccountName. Pure but for
`taken`, the question the driver asks the directory.

- `home_ou(spec, columns, employee_id)`: the DN the config's `ou` gives for an
  account's columns (jml.config.AD_COLUMNS).
- `sam_stem(template, columns, employee_id)`: the first candidate of a sAMAccountName,
  folded by `jml.naming.clean` (ASCII, `a-z 0-9 . _ -`); the employee_id folded when
  the template folds to nothing.
- `first_free(stem, max_length, held)`: the first of `jml.naming.numbered`'s
  candidates that no object holds; `held(prefix)` is one search for the names that
  start with `prefix` (the stem cut to leave room for three digits), so a common name
  costs one search, not one per number. A sAMAccountName held by anyone else is never
  adopted.
- `common_names(display, employee_id)`: the cn to try, then the one used when the OU
  holds that cn already (`Jane Doe (E123)`), each cut to the 64 characters cn holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from connectors.targets.ad.schema import LIMITS
from jml.config import AD_COLUMNS
from jml.mapping import Compiled
from jml.naming import clean, numbered

__all__ = ["common_names", "first_free", "home_ou", "sam_stem"]

#: Digits of room the prefix search leaves (numbers up to 999 are decided by it).
_DIGITS = 3


def _getter(columns: Mapping[str, str | None], employee_id: str) -> Callable[[str], str | None]:
    def get(column: str) -> str | None:
        if column == "employee_id":
            return employee_id
        canonical = AD_COLUMNS.get(column)
        return columns.get(canonical) if canonical is not None else None

    return get


def home_ou(spec: Compiled, columns: Mapping[str, str | None], employee_id: str) -> str | None:
    """The OU the config's `ou` gives for these columns (None: it gives none)."""
    return spec.value(_getter(columns, employee_id))


def sam_stem(template: Compiled, columns: Mapping[str, str | None], employee_id: str) -> str:
    """The folded first candidate of a sAMAccountName (never empty)."""
    rendered = template.value(_getter(columns, employee_id)) or ""
    return clean(rendered) or clean(employee_id) or "user"


def first_free(stem: str, max_length: int, held: Callable[[str], set[str]]) -> str:
    """The first candidate (`numbered`, trailing dots trimmed) no object holds; `held`
    returns the names (lowercased) starting with the prefix it is given."""
    prefix = stem[: max(max_length - _DIGITS, 1)]
    taken = held(prefix)
    n = 1
    while True:
        candidate = numbered(stem, n, max_length).rstrip(".")
        if not candidate.lower().startswith(prefix.lower()):  # past 999: ask for this one
            taken |= held(candidate)
        if candidate.lower() not in taken:
            return candidate
        n += 1


def common_names(display: str | None, employee_id: str) -> tuple[str, str]:
    """(the cn, the cn when that one is taken in the OU)."""
    limit = LIMITS["cn"]
    name = (display or "").strip() or employee_id
    suffix = f" ({employee_id})"
    return name[:limit].rstrip(), name[: max(limit - len(suffix), 1)].rstrip() + suffix
