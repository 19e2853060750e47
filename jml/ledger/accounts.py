"""Account links and grants: which account on each target belongs to which person,
and which entitlements jml granted there and why (the reason the policy gave).

Both are per target and set-based: one read of what the target has in the ledger,
then inserts and updates in executemany batches; removals by IN lists or executemany.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from sqlalchemy import and_, bindparam, delete, insert, select, update
from sqlalchemy.engine import Engine

from jml.ledger import tables as t
from jml.ledger.engine import IN_BATCH, chunks, execute_many, now, read, write
from jml.ledger.records import GrantRecord

_a = t.accounts.c
_g = t.grants.c


# ------------------------------------------------------------------------ links


def links(engine: Engine, target: str) -> dict[str, str]:
    """employee_id -> the target's account id, for the accounts jml has linked."""
    with read(engine) as conn:
        return dict(conn.execute(select(_a.employee_id, _a.account_id).where(_a.target == target)).all())


def link(engine: Engine, run_id: int, target: str, wanted: Mapping[str, str]) -> None:
    """Remember (or change) which account on `target` belongs to each employee_id."""
    if not wanted:
        return
    with write(engine) as conn:
        existing = dict(conn.execute(select(_a.employee_id, _a.account_id).where(_a.target == target)).all())
        new = [
            {"employee_id": employee_id, "account_id": account_id}
            for employee_id, account_id in wanted.items()
            if employee_id not in existing
        ]
        changed = [
            {"b_id": employee_id, "b_account": account_id, "b_run": run_id}
            for employee_id, account_id in wanted.items()
            if employee_id in existing and existing[employee_id] != account_id
        ]
        inserting = insert(t.accounts).values(target=target, created_run=run_id, updated_run=run_id)
        execute_many(conn, inserting, new)
        if changed:
            updating = (
                update(t.accounts)
                .where(and_(_a.target == target, _a.employee_id == bindparam("b_id")))
                .values(account_id=bindparam("b_account"), updated_run=bindparam("b_run"))
            )
            execute_many(conn, updating, changed)


def unlink(engine: Engine, target: str, employee_ids: Iterable[str]) -> None:
    """Forget the account links of these persons on `target` (e.g. after delete)."""
    with write(engine) as conn:
        for chunk in chunks(dict.fromkeys(employee_ids), IN_BATCH):
            conn.execute(delete(t.accounts).where(and_(_a.target == target, _a.employee_id.in_(chunk))))


# ----------------------------------------------------------------------- grants

_GRANT_KEY = and_(
    _g.employee_id == bindparam("b_id"),
    _g.entitlement == bindparam("b_ent"),
)


def grants(engine: Engine, target: str) -> dict[tuple[str, str], str]:
    """(employee_id, entitlement) -> reason, for what jml granted on `target`."""
    with read(engine) as conn:
        rows = conn.execute(select(_g.employee_id, _g.entitlement, _g.reason).where(_g.target == target)).all()
    return {(row[0], row[1]): row[2] for row in rows}


def held_by(engine: Engine, employee_ids: Iterable[str]) -> list[GrantRecord]:
    """Every grant these persons hold, on every target, ordered by employee_id, target
    and entitlement: one query per IN list of IN_BATCH ids."""
    columns = (_g.employee_id, _g.target, _g.entitlement, _g.reason, _g.granted_at)
    found: list[GrantRecord] = []
    with read(engine) as conn:
        for chunk in chunks(sorted(set(employee_ids)), IN_BATCH):
            found += (GrantRecord(*row) for row in conn.execute(select(*columns).where(_g.employee_id.in_(chunk))))
    return sorted(found, key=lambda g: (g.employee_id, g.target, g.entitlement))


def record_grants(engine: Engine, run_id: int, target: str, made: Iterable[tuple[str, str, str]]) -> None:
    """Remember grants made on `target` (see `Ledger.record_grants`)."""
    wanted = {(e, n): r for e, n, r in made}
    if not wanted:
        return
    granted_at = now()
    with write(engine) as conn:
        existing = {
            (row[0], row[1]): row[2]
            for row in conn.execute(select(_g.employee_id, _g.entitlement, _g.reason).where(_g.target == target))
        }
        new = [
            {"employee_id": e, "entitlement": n, "reason": r} for (e, n), r in wanted.items() if (e, n) not in existing
        ]
        changed = [
            {"b_id": e, "b_ent": n, "b_reason": r, "b_run": run_id}
            for (e, n), r in wanted.items()
            if (e, n) in existing and existing[(e, n)] != r
        ]
        inserting = insert(t.grants).values(target=target, run_id=run_id, granted_at=granted_at)
        execute_many(conn, inserting, new)
        if changed:
            updating = (
                update(t.grants)
                .where(and_(_g.target == target, _GRANT_KEY))
                .values(reason=bindparam("b_reason"), run_id=bindparam("b_run"))
            )
            execute_many(conn, updating, changed)


def remove_grants(engine: Engine, target: str, pairs: Iterable[tuple[str, str]]) -> None:
    """Forget grants on `target`: (employee_id, entitlement) each."""
    params = [{"b_id": e, "b_ent": n} for e, n in dict.fromkeys(pairs)]
    if not params:
        return
    with write(engine) as conn:
        execute_many(conn, delete(t.grants).where(and_(_g.target == target, _GRANT_KEY)), params)
