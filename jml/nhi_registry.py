"""The rows of the registry of non-human identities (SPEC "Non-human identities"),
checked: `parse_registry` takes the rows a CSV reader gave (each with its file line) and
returns the `jml.nhi.RegistryEntry`s, or raises ConfigError with one line naming the
file, the line and the column: a missing or unknown column, a target the config does
not name, an empty account, an owner that is no valid employee_id, an unknown kind, a
control character, a field longer than 4,096 characters, or an account registered twice
on one target.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from pathlib import Path

from jml.config.common import ConfigError
from jml.nhi import NhiKind, RegistryEntry
from jml.text import visible

REQUIRED = ("target", "account", "owner", "kind")
COLUMNS = (*REQUIRED, "description")
#: The feed's rule for an employee_id (SPEC "HR feed").
EMPLOYEE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_FIELD = 4096


def check_columns(path: Path, columns: Collection[str]) -> None:
    """The header must name every required column and no other than COLUMNS."""
    wanted = f"(the columns are {', '.join(COLUMNS)})"
    missing = [name for name in REQUIRED if name not in columns]
    if missing:
        raise ConfigError(f"{path}: the header has no column {missing[0]!r} {wanted}")
    unknown = sorted(set(columns) - set(COLUMNS))
    if unknown:
        raise ConfigError(f"{path}: the header names an unknown column {visible(unknown[0])!r} {wanted}")


def parse_registry(
    path: Path, rows: Iterable[tuple[int, Mapping[str, str | None]]], targets: Collection[str]
) -> tuple[RegistryEntry, ...]:
    """The registry's entries from (line, row) pairs; ConfigError on the first bad row."""
    entries: dict[tuple[str, str], RegistryEntry] = {}
    for line, row in rows:
        entry = _entry(path, line, {name: (row.get(name) or "").strip() for name in COLUMNS}, targets)
        if entry.key in entries:
            earlier = entries[entry.key].line
            raise _bad(path, line, "account", f"{entry.account} on {entry.target} is registered twice (line {earlier})")
        entries[entry.key] = entry
    return tuple(entries.values())


def _bad(path: Path, line: int, column: str, problem: str) -> ConfigError:
    return ConfigError(f"{path}: line {line}, column {column}: {problem}")


def _entry(path: Path, line: int, values: Mapping[str, str], targets: Collection[str]) -> RegistryEntry:
    """One row's entry, its values checked."""
    for name, value in values.items():
        if len(value) > MAX_FIELD:
            raise _bad(path, line, name, f"longer than {MAX_FIELD} characters")
        if not value.isprintable():
            raise _bad(path, line, name, f"'{visible(value)}' holds a control or invisible character")
    if values["target"] not in targets:
        known = ", ".join(sorted(targets))
        raise _bad(path, line, "target", f"{values['target']!r} is not a target of the config ({known})")
    if not values["account"]:
        raise _bad(path, line, "account", "is empty: name the account's user name in its target")
    if not EMPLOYEE_ID.fullmatch(values["owner"]):
        raise _bad(path, line, "owner", f"{values['owner']!r} is not an employee_id (letters, digits, _ and -)")
    try:
        kind = NhiKind(values["kind"])
    except ValueError:
        raise _bad(path, line, "kind", f"{values['kind']!r} is not one of {', '.join(NhiKind)}") from None
    return RegistryEntry(values["target"], values["account"], values["owner"], kind, values["description"], line)
