"""Runs: one row per run of jml, `running` until it finishes with a status and summary.

`start` and `finish` are the facade's transactions; `require` and `fail_unfinished`
work inside another module's transaction (the journal locks its run, the lock fails the
runs of a holder that is gone).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from jml.ledger import tables as t
from jml.ledger.engine import now, write
from jml.ledger.errors import LedgerError


def start(engine: Engine, *, as_of: date, dry_run: bool, override_safety: bool, actor: str) -> int:
    """Record a run as `running`; returns its id."""
    with write(engine) as conn:
        result = conn.execute(
            insert(t.runs).values(
                started_at=now(),
                as_of=as_of,
                status="running",
                dry_run=bool(dry_run),
                override_safety=bool(override_safety),
                actor=actor,
                summary=None,
            )
        )
        key = result.inserted_primary_key
        assert key is not None  # an INSERT of one row into a table with a primary key
        return int(key[0])


def finish(engine: Engine, run_id: int, status: str, summary: dict) -> None:
    """Record how a run ended; ValueError for an unknown status, LedgerError for an
    unknown run."""
    if status not in t.RUN_STATUSES:
        raise ValueError(f"run status {status!r} is not one of {', '.join(t.RUN_STATUSES)}")
    with write(engine) as conn:
        result = conn.execute(
            update(t.runs).where(t.runs.c.id == run_id).values(status=status, summary=summary, finished_at=now())
        )
        if result.rowcount == 0:
            raise LedgerError(f"no run with id {run_id}")


def require(conn: Connection, run_id: int, *, lock: bool = False) -> None:
    """LedgerError unless the run exists; with `lock`, hold its row until commit
    (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers)."""
    query = select(t.runs.c.id).where(t.runs.c.id == run_id)
    if lock:
        query = query.with_for_update()
    if conn.execute(query).first() is None:
        raise LedgerError(f"no run with id {run_id}")


def fail_unfinished(conn: Connection, at: datetime) -> None:
    """Mark every `running` run `failed`: its process stopped without finishing."""
    conn.execute(
        update(t.runs)
        .where(t.runs.c.status == "running")
        .values(status="failed", finished_at=at, summary={"error": "the run stopped without finishing"})
    )
