"""Running units of work in dependency order: one after the other, or several at once.

`run_units(units, work, concurrency)` calls `work(unit)` for every unit, each only after
the units it waits for (`Unit.deps`) are done. With `concurrency` 1 (or a single unit)
they run in plan order on the calling thread; otherwise on a pool of that many
threads, a unit starting as soon as its last dependency ends. `work` must not raise
(it settles its operations' outcomes itself); if it does, the error propagates.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from connectors.kernel.units import Unit

__all__ = ["run_units"]


def run_units(units: Sequence[Unit], work: Callable[[Unit], None], concurrency: int, *, name: str = "jml") -> None:
    """Run every unit once its dependencies are done (see the module docstring)."""
    if concurrency <= 1 or len(units) <= 1:
        for unit in units:
            work(unit)
        return
    dependents: dict[int, list[int]] = defaultdict(list)
    waiting = [len(unit.deps) for unit in units]
    for number, unit in enumerate(units):
        for dep in unit.deps:
            dependents[dep].append(number)
    with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix=name) as pool:
        running: dict[Future[None], int] = {
            pool.submit(work, unit): number for number, unit in enumerate(units) if not unit.deps
        }
        while running:
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                number = running.pop(future)
                future.result()
                for dependent in dependents[number]:
                    waiting[dependent] -= 1
                    if waiting[dependent] == 0:
                        running[pool.submit(work, units[dependent])] = dependent
