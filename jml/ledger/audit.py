"""The audit trail: append-only lines saying who did what to whom, when, in which
run, and why. There is no way to change or remove a line through jml, and a line
changed, removed or added behind its back breaks the hash chain (`chain`).

Appending is set-based (one read of the head, one executemany) and serialised: on
SQLite by the writing transaction's BEGIN IMMEDIATE, on PostgreSQL by a transaction
advisory lock, so concurrent writers (a run, a `decide-approval` flow run) each
continue the chain from the other's head. The appender gives the ids (after the head's),
so the order of the ids is the order of the chain."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime

from sqlalchemy import insert, select, text
from sqlalchemy.engine import Connection, Engine

from jml.ledger import chain
from jml.ledger import tables as t
from jml.ledger.engine import columns_of, execute_many, json_dumps, now, read, write
from jml.ledger.errors import LedgerError
from jml.ledger.records import AuditEntry, AuditRecord

_u = t.audit.c

#: An arbitrary constant: the PostgreSQL advisory lock that serialises appends.
_APPEND_LOCK = 0x6A6D6C41  # "jmlA"


def insert_entries(conn: Connection, entries: Sequence[AuditEntry], at: datetime) -> None:
    """Append `entries`, all at time `at`, inside the caller's writing transaction,
    chained after the trail's head."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _APPEND_LOCK})
    last_id, head = chain.head(conn)
    stamp = at.astimezone(UTC)
    rows = [
        {
            "id": last_id + n,
            "at": stamp,
            "run_id": e.run_id,
            "actor": e.actor,
            "action": e.action,
            "employee_id": e.employee_id,
            "target": e.target,
            "detail": json.loads(json_dumps(e.detail if e.detail is not None else {})),  # as stored
            "reason": e.reason,
        }
        for n, e in enumerate(entries, start=1)
    ]
    links = chain.chained(head, (chain.content(*(row[c.name] for c in chain.CONTENT)) for row in rows))
    for row, (prev_hash, digest) in zip(rows, links, strict=True):
        row["prev_hash"], row["hash"] = prev_hash, digest
    execute_many(conn, insert(t.audit), rows)


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


def head(engine: Engine) -> str:
    """The hash of the last event (`chain.GENESIS` for none)."""
    with read(engine) as conn:
        return chain.head(conn)[1]


def verify(engine: Engine, head: str | None = None) -> chain.ChainReport:
    """The chain recomputed (`chain.verify`), checked against the head each run's
    document keeps and, when given, a `head` kept outside the ledger."""
    heads = {}
    if head is not None:
        heads[head] = "--head"
    with read(engine) as conn:
        for run_id, summary in conn.execute(select(t.runs.c.id, t.runs.c.summary).order_by(t.runs.c.id)):
            kept = (summary or {}).get("audit_head")
            if kept:
                heads.setdefault(kept, f"run {run_id}'s document")
    return chain.verify(engine, heads)
