"""The run lock while a run holds it: a heartbeat that keeps the lease, and the fencing
check that every write batch makes.

`hold(ledger, settings)` takes the ledger's run lock (waiting up to `wait_seconds`, else
RunLocked naming the holder) and yields its `Lease`; on the way out the heartbeat stops
and the lock is released, whatever happened.

While the lock is held, a daemon thread renews the lease every `ttl/3` seconds, whatever
the run is doing: a long stage, a batch slowed down by its target, a flow paused while
it waits for approvals. A renewal that finds the lock taken by someone else marks the
lease lost and stops beating; one that fails for another reason (the database did not
answer) is logged and tried again at the next beat.

`Lease.check()` is the fencing check: it asks the ledger whether this holder still
holds the lock with the token of its acquisition and an unexpired lease. It returns
None while it does, else the one line saying what happened ("the run lock was lost to
<holder>: this run stopped writing"). A lease once lost stays lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from jml.config import LockConfig
from jml.ledger import Ledger, LockHolder, LockLost, RunLocked

__all__ = ["Lease", "hold"]

LOG = logging.getLogger("jml")
#: Renewals per lease: the lease is renewed every ttl/BEATS seconds.
BEATS = 3


class Lease:
    """The run lock, held by this process, with its fencing token (see the module
    docstring). As a context manager (`hold` uses it so) it beats for the block."""

    def __init__(self, ledger: Ledger, holder: LockHolder, ttl: float, token: int) -> None:
        self.ledger, self.holder, self.ttl, self.token = ledger, holder, ttl, token
        self._lost: str | None = None
        self._losing = threading.Lock()
        self._stopped = threading.Event()
        self._heart = threading.Thread(target=self._beat, name="jml-lock-heartbeat", daemon=True)

    def check(self) -> str | None:
        """None while this run holds the lock with its token and an unexpired lease
        (asked of the ledger each time); else the one line saying it was lost."""
        if self._lost is None:
            try:
                self.ledger.check_lock(self.holder, self.token)
            except LockLost as exc:
                self._lose(exc)
        return self._lost

    def _lose(self, exc: LockLost) -> None:
        """Mark the lease lost (the first reason found stays) and stop beating."""
        with self._losing:
            if self._lost is None:
                self._lost = f"{exc}: this run stopped writing"
        self._stopped.set()

    def _beat(self) -> None:
        while not self._stopped.wait(self.ttl / BEATS):
            try:
                self.ledger.renew_lock(self.holder, self.ttl)
            except LockLost as exc:
                self._lose(exc)
                LOG.warning("%s (found by the heartbeat; the next write stops there)", exc)
            except Exception as exc:  # the database did not answer: try again at the next beat
                LOG.warning("the run lock could not be renewed (trying again): %s", " ".join(str(exc).split())[:300])

    def __enter__(self) -> Lease:
        self._heart.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        self._heart.join(timeout=self.ttl)


@contextmanager
def hold(ledger: Ledger, settings: LockConfig) -> Iterator[Lease]:
    """Hold the ledger's run lock for the block, renewed by a heartbeat: wait up to
    `wait_seconds` for it, else raise RunLocked naming the holder."""
    holder = LockHolder.this_process()
    deadline = time.monotonic() + settings.wait_seconds
    while (current := ledger.acquire_lock(holder, settings.ttl_seconds)) is not None:
        if time.monotonic() >= deadline:
            raise RunLocked(
                f"another run holds the ledger ({current.holder}, since"
                f" {current.acquired_at:%Y-%m-%d %H:%M:%S} UTC, lease until"
                f" {current.expires_at:%H:%M:%S} UTC); try again when it is done"
            )
        time.sleep(1.0)
    try:
        held = ledger.lock_lease()
        # Ours, unless the lease ran out at once (a tiny ttl): then token 0 matches no
        # acquisition and the first check says who has the lock.
        token = held.token if held is not None and held.holder == holder.id else 0
        with Lease(ledger, holder, settings.ttl_seconds, token) as lease:
            yield lease
    finally:
        ledger.release_lock(holder)
