"""The run lock: a named lease in the `run_lock` table, so that one run at a time
writes through a ledger.

A lease is free when nobody holds it, when it has expired, or when its holder was a
process on this host that no longer exists (a killed run: `os.kill(pid, 0)` finds no
such process). Taking a lease over from another holder marks the unfinished runs
`failed`. Each function is one writing transaction.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine

from jml.ledger import runs
from jml.ledger import tables as t
from jml.ledger.engine import columns_of, now, write
from jml.ledger.errors import LedgerError
from jml.ledger.records import LockHolder, LockInfo

_lock = t.run_lock.c


def _is_stale(lease: LockInfo, at: datetime) -> bool:
    """A lease past its expiry, or held by a process of this host that is gone."""
    if lease.expires_at <= at:
        return True
    if lease.host != socket.gethostname():
        return False
    try:
        os.kill(lease.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def acquire(engine: Engine, holder: LockHolder, ttl: float, name: str) -> LockInfo | None:
    """Take the lease `name` for `ttl` seconds; None when taken, else the current
    holder's lease (and nothing changes)."""
    at = now()
    values = {
        "holder": holder.id, "host": holder.host, "pid": holder.pid,
        "acquired_at": at, "expires_at": at + timedelta(seconds=ttl),
    }  # fmt: skip
    with write(engine) as conn:
        row = conn.execute(
            select(*columns_of(t.run_lock, LockInfo)).where(_lock.name == name).with_for_update()
        ).first()
        if row is None:
            conn.execute(insert(t.run_lock).values(name=name, **values))
            return None
        current = LockInfo(*row)
        if current.holder != holder.id:
            if not _is_stale(current, at):
                return current
            runs.fail_unfinished(conn, at)
        conn.execute(update(t.run_lock).where(_lock.name == name).values(**values))
        return None


def renew(engine: Engine, holder: LockHolder, ttl: float, name: str) -> None:
    """Extend the holder's lease; LedgerError if it no longer holds the lock."""
    with write(engine) as conn:
        result = conn.execute(
            update(t.run_lock)
            .where(_lock.name == name, _lock.holder == holder.id)
            .values(expires_at=now() + timedelta(seconds=ttl))
        )
        if result.rowcount == 0:
            raise LedgerError("the run lock was lost: another run took it over")


def release(engine: Engine, holder: LockHolder, name: str) -> None:
    """Give the lease back (nothing happens if the holder no longer has it)."""
    with write(engine) as conn:
        conn.execute(delete(t.run_lock).where(_lock.name == name, _lock.holder == holder.id))
