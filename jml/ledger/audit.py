"""The audit trail: append-only lines saying who did what to whom, when, in which
run, and why. There is no way to change or remove a line."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime

from sqlalchemy import insert, select
from sqlalchemy.engine import Connection, Engine

from jml.ledger import tables as t
from jml.ledger.engine import columns_of, execute_many, now, read, write
from jml.ledger.errors import LedgerError
from jml.ledger.records import AuditEntry, AuditRecord

_u = t.audit.c


def insert_entries(conn: Connection, entries: Sequence[AuditEntry], at: datetime) -> None:
    """Append `entries`, all at time `at`, inside the caller's transaction."""
    rows = [
        {
            "run_id": e.run_id,
            "actor": e.actor,
            "action": e.action,
            "employee_id": e.employee_id,
            "target": e.target,
            "detail": e.detail if e.detail is not None else {},
            "reason": e.reason,
        }
        for e in entries
    ]
    execute_many(conn, insert(t.audit).values(at=at), rows)


def append(engine: Engine, entries: Iterable[AuditEntry]) -> None:
    """Append entries to the trail, in one transaction (nothing for none)."""
    entries = list(entries)
    if not entries:
        return
    with write(engine) as conn:
        insert_entries(conn, entries, now())


def trail(engine: Engine, employee_id: str | None, limit: int | None) -> list[AuditRecord]:
    """Entries in the order written, for one person or everyone; with `limit`, the
    latest `limit` entries (still oldest first). LedgerError for a negative limit."""
    query = select(*columns_of(t.audit, AuditRecord))
    if employee_id is not None:
        query = query.where(_u.employee_id == employee_id)
    if limit is not None:
        if limit < 0:
            raise LedgerError(f"audit limit must not be negative (got {limit})")
        query = query.order_by(_u.id.desc()).limit(limit)
    else:
        query = query.order_by(_u.id)
    with read(engine) as conn:
        records = [AuditRecord(*row) for row in conn.execute(query)]
    if limit is not None:
        records.reverse()
    return records


#: The audited actions that take access away (jml.operations.DEPROVISIONING's values).
DEPROVISIONING = ("disable", "revoke", "delete")


def deprovisioned(engine: Engine, first: date, last: date) -> set[str]:
    """The employee_ids whose access a run took away (an audited disable, revoke or
    delete) in the runs whose as-of date is from `first` to `last`, but dry runs."""
    r = t.runs.c
    query = (
        select(_u.employee_id)
        .distinct()
        .join(t.runs, t.runs.c.id == _u.run_id)
        .where(_u.action.in_(DEPROVISIONING), _u.employee_id.is_not(None))
        .where(r.as_of >= first, r.as_of <= last, r.dry_run.is_(False))
    )
    with read(engine) as conn:
        return set(conn.execute(query).scalars())
