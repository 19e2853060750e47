"""What jml knows of each target between runs (SPEC "Incremental runs"): the snapshot its
last read left, the driver's memo (where the next delta read starts) and when the target
was last read in full.

`save` writes what changed since what the ledger held when the run read the target
(after a full read too): the accounts whose value changed and the ones that went, never
the whole population again; only a target the ledger knew nothing of has every row written.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Connection, Engine

from jml.ledger import tables as t
from jml.ledger.engine import IN_BATCH, chunks, execute_many, read, write
from jml.ledger.records import KnownRead, KnownState
from jml.model import Account, Snapshot

_kt = t.known_targets.c
_ka = t.known_accounts.c


def load(engine: Engine, target: str) -> KnownState | None:
    """The known state of `target` (its accounts in the order of their ids); None when
    no run kept one."""
    with read(engine) as conn:
        row = conn.execute(select(t.known_targets).where(_kt.target == target)).first()
        if row is None:
            return None
        docs = conn.execute(select(_ka.account).where(_ka.target == target).order_by(_ka.account_id)).scalars()
        accounts = [_account(doc) for doc in docs]
    snapshot = Snapshot(
        target=target,
        accounts=accounts,
        groups=set(row.groups),
        held=frozenset(row.held),
        limits=dict(row.limits),
        memo=dict(row.memo),
    )
    return KnownState(snapshot, full_read_at=row.full_read_at, read_at=row.read_at, config=row.config)


def save(engine: Engine, snapshot: Snapshot, read: KnownRead) -> None:
    """Keep `snapshot` as what jml knows of its target, as `read` says it was read
    (`read.since`: what the ledger held of it when the run read it, None when it held
    nothing: every row is then written); only the accounts that differ from `since` are
    written, and those it had that `snapshot` has not are removed."""
    target, since = snapshot.target, read.since
    values = {
        "config": read.config, "full_read_at": read.full_read_at, "read_at": read.at, "memo": snapshot.memo,
        "groups": sorted(snapshot.groups), "held": sorted(snapshot.held), "limits": snapshot.limits,
    }  # fmt: skip
    accounts = {a.id: a for a in snapshot.accounts if a.id is not None}
    with write(engine) as conn:
        if since is None:
            _clear(conn, target)
            conn.execute(insert(t.known_targets), {"target": target, **values})
            _insert(conn, target, accounts.values())
            return
        before = {a.id: a for a in since.accounts if a.id is not None}
        changed = [a for account_id, a in accounts.items() if before.get(account_id) != a]
        gone = [account_id for account_id in before if account_id not in accounts]
        for chunk in chunks([a.id for a in changed] + gone, IN_BATCH):
            conn.execute(delete(t.known_accounts).where(_ka.target == target, _ka.account_id.in_(chunk)))
        _insert(conn, target, changed)
        conn.execute(update(t.known_targets).where(_kt.target == target).values(**values))


def forget(engine: Engine, target: str) -> None:
    """Drop what is known of `target`: its next run reads it in full."""
    with write(engine) as conn:
        _clear(conn, target)


def _clear(conn: Connection, target: str) -> None:
    conn.execute(delete(t.known_accounts).where(_ka.target == target))
    conn.execute(delete(t.known_targets).where(_kt.target == target))


def _insert(conn: Connection, target: str, accounts: Iterable[Account]) -> None:
    rows = ({"target": target, "account_id": a.id, "account": _document(a)} for a in accounts)
    execute_many(conn, insert(t.known_accounts), rows)


def _document(account: Account) -> dict[str, Any]:
    """The JSON of an Account (every field; its entitlements as a sorted list)."""
    return {**asdict(account), "entitlements": sorted(account.entitlements)}


def _account(doc: dict[str, Any]) -> Account:
    return Account(**{**doc, "entitlements": set(doc["entitlements"])})
