"""A SQL target's delta read (SPEC "Incremental runs"), when its mapping names an
`updated_at` column: the statements it sends and the merge, no I/O.

- `clock_query()`: the database's own clock, asked when a read begins; `memo(clock)` is
  what the read keeps, `{since}`: that clock less `connectors.kernel.driver.OVERLAP`,
  so a change stamped by a transaction that began a little before the read (on
  PostgreSQL, CURRENT_TIMESTAMP is the transaction's start) is not missed;
  `since_of(memo)` reads it back (None for a memo without one).
- A delta read sends, in one connection: the clock; `changed_query` (the users stamped
  at or after `since`, and those with no stamp at all, whose change cannot be dated);
  `census_query` (key and external_id of every user, two narrow columns: it finds the
  users that went and every manager's employee_id); and the roles query in full (role
  rows carry no stamp, and a removed one leaves nothing to date).
- `merged(target, tables, known, census, changed, roles, next_memo)`: the reading a full read
  would give, or None when the delta cannot be exact and the run reads in full:
  - a user in the census that is neither changed nor known (a row stamped in the past);
  - a user whose external_id is not what it was (another user's `manager` value, the
    manager's employee_id, would be stale: an unchanged row only knows it as a key);
  - an unchanged user whose manager is the employee_id of a user that went (a full read
    finds no manager there; jml's own delete clears those links and stamps the rows).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import Select, String, bindparam, func, or_, select

from connectors.kernel import driver as kernel_driver
from connectors.kernel.driver import Reading
from connectors.targets.sql.rows import cell_text, entitlements_of, reading_of, users_query
from connectors.targets.sql.schema import Tables
from jml.model import Snapshot

__all__ = ["census_query", "changed_query", "clock_query", "memo", "merged", "since_of"]


def clock_query() -> Select:
    """The database's current time (a datetime)."""
    return select(func.current_timestamp())


def memo(clock: datetime) -> dict[str, Any]:
    """What a read that began at the database's `clock` keeps for the next delta."""
    return {"since": (clock - kernel_driver.OVERLAP).isoformat()}


def since_of(memo: Mapping[str, Any]) -> datetime | None:
    """Where the delta after the read of `memo` starts; None when it cannot say."""
    try:
        return datetime.fromisoformat(memo["since"])
    except (KeyError, TypeError, ValueError):
        return None


def changed_query(tables: Tables, since: datetime, *, dialect: str) -> Select:
    """`users_query`'s columns of the users changed at or after `since`, or undated.
    SQLite keeps a stamp as text, to the second when its CURRENT_TIMESTAMP wrote it:
    there the cut-off is that shortest text of `since`'s second (a stamp written with
    more digits, or a `T`, sorts after it: read again, never missed)."""
    stamp = tables.updated_at
    assert stamp is not None, "a delta read needs the updated_at column"
    cut = (
        bindparam("since", since.strftime("%Y-%m-%d %H:%M:%S"), type_=String())
        if dialect == "sqlite"
        else bindparam("since", since, type_=stamp.type)
    )
    return users_query(tables).where(or_(stamp >= cut, stamp.is_(None)))


def census_query(tables: Tables) -> Select:
    """(key, external_id) of every user."""
    return select(tables.key, tables.external_id)


def merged(
    target: str,
    tables: Tables,
    known: Snapshot,
    census: Sequence[Sequence[Any]],
    changed: Sequence[Sequence[Any]],
    roles: Iterable[Sequence[Any]],
    next_memo: dict[str, Any],
) -> Reading | None:
    """`known` brought up to date by the delta (module docstring), or None; the reading
    carries `next_memo`."""
    held = entitlements_of(roles)
    fresh = reading_of(target, tables, changed, held, managers={key: external for key, external in census})
    was = {account.id: account for account in known.accounts}
    external_of = {str(key): cell_text(external) for key, external in census}
    gone = {a.external_id for account_id, a in was.items() if account_id not in external_of and a.external_id}
    entitlements = {str(key): names for key, names in held.items()}
    accounts = list(fresh.snapshot.accounts)
    for account in accounts:
        before = was.get(account.id)
        if before is not None and before.external_id != account.external_id:
            return None
    changed_ids = {account.id for account in accounts}
    for account_id, external in external_of.items():
        if account_id in changed_ids:
            continue
        before = was.get(account_id)
        if before is None or before.external_id != external or before.attributes.get("manager") in gone:
            return None
        accounts.append(replace(before, entitlements=entitlements.get(account_id, set())))
    handles = {str(external): key for key, external in census if external is not None}
    return Reading(replace(fresh.snapshot, accounts=accounts, memo=next_memo), handles)
