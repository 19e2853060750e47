"""Targets in parallel: one thread per target, so that a slow or rate-limited target
holds up no other (SPEC "Incremental runs"; each target's own request concurrency is
its `concurrency` setting, inside its kernel).

`per_target(names, work)` calls `work(name)` once per name, each in a thread of its own
(at most `THREADS` at a time), and returns `{name: result}` in the order of `names`.
Each thread runs in a copy of the caller's context, so a Prefect task started in it
belongs to the caller's flow run. An exception that one `work` raises is raised again
once every thread has ended (the first in `names` order), never while others still
write. One name, or none, runs in the caller's thread.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["THREADS", "per_target"]

T = TypeVar("T")

#: Targets worked on at once, at most: each is mostly waiting on its server.
THREADS = 8


def per_target(names: Sequence[str], work: Callable[[str], T]) -> dict[str, T]:
    """`{name: work(name)}`, the names worked on in parallel (module docstring)."""
    if len(names) <= 1:
        return {name: work(name) for name in names}
    with ThreadPoolExecutor(max_workers=min(THREADS, len(names)), thread_name_prefix="jml-target") as pool:
        futures = {name: pool.submit(contextvars.copy_context().run, work, name) for name in names}
    return {name: future.result() for name, future in futures.items()}
