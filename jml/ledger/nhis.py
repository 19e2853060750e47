"""Non-human identities in the ledger: who owns each registered NHI (the rules are
`jml.nhi`). A run saves what its `jml.nhi.Watch` found in one transaction: the
ownerships it changed, the NHIs no longer registered removed, and an `nhi_owner` audit
entry per ownership change. An owner's confirmation of a handover (`jml approve ID
--by OWNER --role owner`) closes its `nhi_review` exception and ends the review."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, insert, select, tuple_, update
from sqlalchemy.engine import Connection, Engine

from jml.ledger import audit
from jml.ledger import tables as t
from jml.ledger.engine import IN_BATCH, chunks, execute_many, now, read, write
from jml.ledger.records import AuditEntry, ExceptionRecord
from jml.nhi import Ownership, Watch, account_key, confirmer

_n = t.nhis.c
_x = t.exceptions.c
_FIELDS = (_n.target, _n.account, _n.kind, _n.description, _n.registry_owner, _n.owner, _n.since, _n.review)
#: The audit action of an ownership change.
OWNER_CHANGED = "nhi_owner"


def ownerships(engine: Engine) -> dict[tuple[str, str], Ownership]:
    """Every registered NHI's ownership, by (target, account key)."""
    with read(engine) as conn:
        rows = conn.execute(select(*_FIELDS)).all()
    return {(row[0], account_key(row[1])): Ownership(*row) for row in rows}


def save(engine: Engine, run_id: int, actor: str, found: Watch) -> None:
    """Keep what a run found: the ownerships that changed, the removed NHIs gone, and
    the ownership changes in the audit trail."""
    with write(engine) as conn:
        existing = {(row[0], account_key(row[1])): Ownership(*row) for row in conn.execute(select(*_FIELDS))}
        new = [o for o in found.ownerships if o.key not in existing]
        changed = [o for o in found.ownerships if o.key in existing and existing[o.key] != o]
        execute_many(conn, insert(t.nhis), [_row(o, run_id) for o in new])
        for ownership in changed:
            target, key = ownership.key
            where = and_(_n.target == target, _n.account_key == key)
            conn.execute(update(t.nhis).where(where).values(**_row(ownership, run_id)))
        for chunk in chunks(found.removed, IN_BATCH):
            conn.execute(delete(t.nhis).where(tuple_(_n.target, _n.account_key).in_(chunk)))
        entries = [
            AuditEntry(
                run_id,
                actor,
                OWNER_CHANGED,
                change.owner or change.before,
                change.target,
                {"account": change.account, "before": change.before, "owner": change.owner},
                change.reason,
            )  # fmt: skip
            for change in found.changes
        ]
        if entries:
            audit.insert_entries(conn, entries, now())


def _row(ownership: Ownership, run_id: int) -> dict:
    return {
        "target": ownership.target, "account_key": ownership.key[1], "account": ownership.account,
        "kind": ownership.kind, "description": ownership.description,
        "registry_owner": ownership.registry_owner, "owner": ownership.owner,
        "since": ownership.since, "review": ownership.review, "updated_run": run_id,
    }  # fmt: skip


def confirm(conn: Connection, subject: ExceptionRecord, *, by: str, role: str, at: datetime) -> None:
    """Record the owner's confirmation of the `nhi_review` exception `subject` (its row
    locked by the caller): the exception closed, the review ended, an audit entry;
    DecisionRefused (jml.nhi.confirmer) when `by` may not confirm it."""
    data = subject.data or {}
    target, key = subject.target or "", account_key(str(data.get("account", "")))
    row = conn.execute(select(*_FIELDS).where(_n.target == target, _n.account_key == key).with_for_update()).first()
    ownership = Ownership(*row) if row is not None else None
    owner = confirmer(subject.id, subject.status, ownership, by, role)
    assert ownership is not None  # confirmer refuses an NHI no longer registered
    conn.execute(update(t.nhis).where(_n.target == target, _n.account_key == key).values(review=False))
    conn.execute(update(t.exceptions).where(_x.id == subject.id).values(status="closed", closed_at=at))
    entry = AuditEntry(
        None, owner, "nhi_confirm", owner, target,
        {"exception_id": subject.id, "account": ownership.account, "owner": owner}, "owner confirmed the handover",
    )  # fmt: skip
    audit.insert_entries(conn, [entry], at)
