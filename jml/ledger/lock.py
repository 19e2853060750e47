"""The run lock: a named lease in the `run_lock` table, so that one run at a time
writes through a ledger, with a fencing token per acquisition.

- `acquire` takes the lease when nobody holds it, when it has expired, or when its
  holder was a process that no longer exists (a killed run). A holder's pid is checked
  (`os.kill(pid, 0)` finds no such process) only when it ran on this host in this
  process's pid scope (same boot, same PID namespace: `records.pid_scope`); any other
  holder, a container with the same hostname included, is freed by its lease's expiry
  alone. Taking a lease over from another holder marks the unfinished runs `failed`.
  Every acquisition gets the next fencing token (1, 2, ...): a later holder's token is
  larger than any earlier one's.
- `renew` extends the holder's lease; `check` verifies that the holder still holds it,
  with its token and an unexpired lease. Both raise `LockLost` naming who holds it now.
- `release` gives it back. The row stays, free (holder ""), so that tokens keep counting.
- `lease` is the current lease, None when the lock is free.

Each function is one transaction.
"""

from __future__ import annotations

import os
import socket
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection, Engine

from jml.ledger import runs
from jml.ledger import tables as t
from jml.ledger.engine import columns_of, now, read, write
from jml.ledger.errors import LockLost
from jml.ledger.records import LockHolder, LockInfo, pid_scope

_lock = t.run_lock.c
#: The holder of a lock nobody holds.
FREE = ""


def _is_stale(current: LockInfo, at: datetime) -> bool:
    """A lease past its expiry, or held by a process of this host and pid scope that
    is gone."""
    if current.expires_at <= at:
        return True
    if current.host != socket.gethostname() or not current.pid_scope or current.pid_scope != pid_scope():
        return False
    try:
        os.kill(current.pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _current(conn: Connection, name: str, *, for_update: bool = False) -> LockInfo | None:
    """The lease `name` as stored (a free one too), None when it has no row."""
    query = select(*columns_of(t.run_lock, LockInfo)).where(_lock.name == name)
    row = conn.execute(query.with_for_update() if for_update else query).first()
    return LockInfo(*row) if row else None


def _lost(current: LockInfo | None, holder: LockHolder, at: datetime) -> LockLost:
    """The error saying why `holder` no longer holds the lock."""
    if current is None or current.holder == FREE:
        return LockLost("the run lock was lost: nobody holds it now")
    if current.holder != holder.id:
        return LockLost(f"the run lock was lost to {current.holder}")
    if current.expires_at <= at:
        return LockLost(f"the run lock was lost: its lease expired at {current.expires_at:%H:%M:%S} UTC")
    return LockLost(f"the run lock was lost to {current.holder} (token {current.token})")


def acquire(engine: Engine, holder: LockHolder, ttl: float, name: str) -> LockInfo | None:
    """Take the lease `name` for `ttl` seconds with the next token; None when taken,
    else the current holder's lease (and nothing changes)."""
    at = now()
    values = {
        "holder": holder.id, "host": holder.host, "pid": holder.pid, "pid_scope": holder.pid_scope,
        "acquired_at": at, "expires_at": at + timedelta(seconds=ttl),
    }  # fmt: skip
    with write(engine) as conn:
        current = _current(conn, name, for_update=True)
        if current is None:
            conn.execute(insert(t.run_lock).values(name=name, token=1, **values))
            return None
        if current.holder not in (FREE, holder.id):
            if not _is_stale(current, at):
                return current
            runs.fail_unfinished(conn, at)
        conn.execute(update(t.run_lock).where(_lock.name == name).values(token=current.token + 1, **values))
        return None


def renew(engine: Engine, holder: LockHolder, ttl: float, name: str) -> None:
    """Extend the holder's lease; LockLost if it no longer holds the lock."""
    with write(engine) as conn:
        at = now()
        result = conn.execute(
            update(t.run_lock)
            .where(_lock.name == name, _lock.holder == holder.id)
            .values(expires_at=at + timedelta(seconds=ttl))
        )
        if result.rowcount == 0:
            raise _lost(_current(conn, name), holder, at)


def check(engine: Engine, holder: LockHolder, token: int, name: str) -> None:
    """LockLost unless `holder` holds the lease `name` with `token`, unexpired."""
    with read(engine) as conn:
        current = _current(conn, name)
    at = now()
    if current is None or (current.holder, current.token) != (holder.id, token) or current.expires_at <= at:
        raise _lost(current, holder, at)


def lease(engine: Engine, name: str) -> LockInfo | None:
    """The lease `name` as it is now; None when nobody holds it."""
    with read(engine) as conn:
        current = _current(conn, name)
    return None if current is None or current.holder == FREE else current


def release(engine: Engine, holder: LockHolder, name: str) -> None:
    """Give the lease back (nothing happens if the holder no longer has it)."""
    with write(engine) as conn:
        conn.execute(
            update(t.run_lock)
            .where(_lock.name == name, _lock.holder == holder.id)
            .values(holder=FREE, host="", pid=0, pid_scope="", expires_at=now())
        )
