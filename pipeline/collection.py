"""Rarer full garbage collections while a run is open (`open_run` holds one).

CPython collects its oldest generation after every ten collections of the middle one
(once the long-lived objects have grown by a quarter since the last). A run at 100,000
workers keeps millions of long-lived objects (the feed's records, the known accounts,
the desired state, the plan), and every full collection walks all of them: 4 s of a
13 s no-change run at 100,000 workers into an SQL target, measured with `gc.callbacks`
on this machine, for almost no garbage, since what a run drops is freed by its reference
count. While at least one run is open the oldest generation is collected
`RARER` times less often; the young and middle generations as before, so short-lived
cycles are still collected at once. The last run out puts the threshold back.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["RARER", "rarer_full_collections"]

#: How many times less often the oldest generation is collected while a run is open.
RARER = 100

_lock = threading.Lock()
_open = 0
_before: tuple[int, int, int] = gc.get_threshold()


@contextmanager
def rarer_full_collections() -> Iterator[None]:
    """The oldest generation's threshold `RARER` times its value until the last of the
    runs open at the same time (in this process, any thread) has ended."""
    global _open, _before
    with _lock:
        if _open == 0:
            _before = gc.get_threshold()
            young, middle, old = _before
            gc.set_threshold(young, middle, old * RARER)
        _open += 1
    try:
        yield
    finally:
        with _lock:
            _open -= 1
            if _open == 0:
                gc.set_threshold(*_before)
