"""Access history: what each person held on each target after every run, kept as
validity intervals (`account_history`, `grant_history`), not as a snapshot per run.

A row holds from the end of run `from_run` until the end of run `to_run` (NULL: still
held). A change closes the open row (`to_run` = this run) and opens a new one
(`from_run` = this run); a row opened and closed by the same run is never held.

- `record(engine, run_id, target, changes)`: the changes a run applied to `target`, in
  the order applied (`AccessChange`), folded to their net effect and written set-based:
  one read of the target's open rows, then executemany batches.
- `adopt(engine, run_id, target, accounts)`: accounts a run matched on the target,
  with their active state as read; only those with no open row that this run did not
  close or delete are opened (a run's own changes, recorded earlier, win).
- `as_of(engine, day, ...)`: the access at the end of `day`: the state left by the
  last run, in run order (the largest id), whose as-of date is on or before `day` and
  that is not a dry run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date

from sqlalchemy import Boolean, Select, and_, bindparam, cast, func, insert, null, or_, select, union, union_all, update
from sqlalchemy.engine import Connection, Engine

from jml.ledger import tables as t
from jml.ledger.engine import execute_many, read, write
from jml.ledger.records import AccessChange, AccessRecord

_a = t.account_history.c
_g = t.grant_history.c


def _net(changes: Iterable[AccessChange]) -> tuple[dict[str, bool | None], dict[tuple[str, str], bool], set[str]]:
    """The net effect of changes in order: account state per person (None: gone),
    grant held or not per (person, entitlement), and the persons deleted (whose grants
    all end; a grant after the delete counts again)."""
    accounts: dict[str, bool | None] = {}
    grants: dict[tuple[str, str], bool] = {}
    gone: set[str] = set()
    for change in changes:
        eid = change.employee_id
        if change.entitlement is not None:
            grants[(eid, change.entitlement)] = change.held
        elif change.held:
            accounts[eid] = change.active
        else:
            accounts[eid] = None
            gone.add(eid)
            grants = {pair: held for pair, held in grants.items() if pair[0] != eid}
    return accounts, grants, gone


def _open_rows(conn: Connection, target: str) -> tuple[dict[str, bool], set[tuple[str, str]]]:
    """The open rows on `target`, in one read of both tables: account -> active, and
    the (person, entitlement) grants."""
    both = union_all(
        select(_a.employee_id, _a.active, cast(null(), _g.entitlement.type).label("entitlement"))
        .where(_a.target == target, _a.to_run.is_(None)),
        select(_g.employee_id, cast(null(), Boolean), _g.entitlement).where(_g.target == target, _g.to_run.is_(None)),
    )
    accounts: dict[str, bool] = {}
    grants: set[tuple[str, str]] = set()
    for eid, active, entitlement in conn.execute(both):
        if entitlement is None:
            accounts[eid] = bool(active)
        else:
            grants.add((eid, entitlement))
    return accounts, grants


def _close(conn: Connection, table, key, run_id: int, params: list[dict]) -> None:
    """Set `to_run` on the open rows matching `key` (bound per row in `params`)."""
    if params:
        closing = update(table).where(key, table.c.to_run.is_(None)).values(to_run=run_id)
        execute_many(conn, closing, params)


_ACCOUNT_KEY = and_(_a.target == bindparam("b_target"), _a.employee_id == bindparam("b_id"))
_PERSON_GRANTS = and_(_g.target == bindparam("b_target"), _g.employee_id == bindparam("b_id"))
_GRANT_KEY = and_(_PERSON_GRANTS, _g.entitlement == bindparam("b_ent"))


def record(engine: Engine, run_id: int, target: str, changes: Sequence[AccessChange]) -> None:
    """Record the changes a run applied to `target` (see the module docstring)."""
    accounts, grants, gone = _net(changes)
    if not accounts and not grants:
        return
    with write(engine) as conn:
        held, granted = _open_rows(conn, target)
        moved = [eid for eid, state in accounts.items() if held.get(eid) != state]
        _close(conn, t.account_history, _ACCOUNT_KEY, run_id,
               [{"b_target": target, "b_id": eid} for eid in moved if eid in held])  # fmt: skip
        with_grants = {eid for eid, _ in granted} & gone
        _close(conn, t.grant_history, _PERSON_GRANTS, run_id, [{"b_target": target, "b_id": e} for e in with_grants])
        granted = {pair for pair in granted if pair[0] not in gone}
        revoked = [pair for pair, now_held in grants.items() if not now_held and pair in granted]
        _close(conn, t.grant_history, _GRANT_KEY, run_id,
               [{"b_target": target, "b_id": e, "b_ent": n} for e, n in revoked])  # fmt: skip
        opened: list[dict[str, object]] = [
            {"employee_id": e, "active": accounts[e], "to_run": None} for e in moved if accounts[e] is not None
        ]
        # an account deleted that the history never held leaves a row never held (from_run =
        # to_run), so that `adopt` sees this run changed it
        opened += [{"employee_id": e, "active": False, "to_run": run_id} for e in gone - held.keys()]
        execute_many(conn, insert(t.account_history).values(target=target, from_run=run_id), opened)
        new = [{"employee_id": e, "entitlement": n} for (e, n), h in grants.items() if h and (e, n) not in granted]
        execute_many(conn, insert(t.grant_history).values(target=target, from_run=run_id), new)


def adopt(engine: Engine, run_id: int, target: str, accounts: Mapping[str, bool]) -> None:
    """Open the account rows of matched accounts that have none (see the module
    docstring): `accounts` maps employee_id -> active as the run read it."""
    if not accounts:
        return
    with write(engine) as conn:
        known = set(
            conn.execute(
                select(_a.employee_id).where(
                    _a.target == target, or_(_a.to_run.is_(None), _a.to_run == run_id)
                )
            ).scalars()
        )
        opened = [{"employee_id": eid, "active": active} for eid, active in accounts.items() if eid not in known]
        execute_many(conn, insert(t.account_history).values(target=target, from_run=run_id), opened)


def last_run_on(conn: Connection, day: date) -> int | None:
    """The run whose state is the end of `day`'s: the largest id of a run that is not
    a dry run with an as-of date on or before `day`; None before the first."""
    r = t.runs.c
    return conn.execute(select(func.max(r.id)).where(r.as_of <= day, r.dry_run.is_(False))).scalar()


def _held_at(query: Select, column, run_id: int, employee_id: str | None, target: str | None) -> Select:
    query = query.where(column.from_run <= run_id, or_(column.to_run.is_(None), column.to_run > run_id))
    if employee_id is not None:
        query = query.where(column.employee_id == employee_id)
    if target is not None:
        query = query.where(column.target == target)
    return query


def as_of(engine: Engine, day: date, employee_id: str | None = None, target: str | None = None) -> list[AccessRecord]:
    """What each person held on each target at the end of `day` (see the module
    docstring), by employee_id then target; only this person / target when given."""
    with read(engine) as conn:
        run_id = last_run_on(conn, day)
        if run_id is None:
            return []
        accounts = conn.execute(
            _held_at(select(_a.employee_id, _a.target, _a.active), _a, run_id, employee_id, target)
        ).all()
        grants = conn.execute(
            _held_at(select(_g.employee_id, _g.target, _g.entitlement), _g, run_id, employee_id, target)
        ).all()
    active = {(eid, tgt): bool(on) for eid, tgt, on in accounts}
    held: dict[tuple[str, str], list[str]] = {key: [] for key in active}
    for eid, tgt, name in grants:
        held.setdefault((eid, tgt), []).append(name)
    return [
        AccessRecord(eid, tgt, active.get((eid, tgt), False), tuple(sorted(names)))
        for (eid, tgt), names in sorted(held.items())
    ]


def knows(engine: Engine, employee_id: str) -> bool:
    """Whether the person is in the ledger's persons or in the account history."""
    with read(engine) as conn:
        for table in (t.persons, t.account_history):
            if conn.execute(select(table.c.employee_id).where(table.c.employee_id == employee_id).limit(1)).first():
                return True
    return False


def targets(engine: Engine) -> set[str]:
    """The targets the history holds anything of, at any time."""
    with read(engine) as conn:
        return set(conn.execute(union(select(_a.target).distinct(), select(_g.target).distinct())).scalars())
