"""Pipeline stages as Prefect tasks: `in_task` is the flows' `pipeline.sync.Stage`.

`in_task(name, function, run, *args)` runs `function(run, *args)` as a task run named
`name` (one task per stage name and function, made once per process), with the run
logging to the task's run logger. Payloads are passed quoted, so Prefect does not walk
through them looking for futures; results are not persisted (the ledger is the record).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from prefect import Task, get_run_logger, task
from prefect.cache_policies import NONE
from prefect.utilities.annotations import quote

from pipeline.run import Run

__all__ = ["in_task"]

T = TypeVar("T")
_tasks: dict[tuple[str, Callable[..., Any]], Task] = {}


def in_task(name: str, function: Callable[..., T], run: Run, *args: Any) -> T:
    """Run one stage as a Prefect task (see the module docstring)."""
    key = (name, function)
    if key not in _tasks:
        _tasks[key] = task(name=name, cache_policy=NONE, persist_result=False)(_logging(function))
    return _tasks[key](quote(run), *(quote(arg) for arg in args))


def _logging(function: Callable[..., T]) -> Callable[..., T]:
    @wraps(function)
    def stage(run: Run, *args: Any) -> T:
        return function(run.logging_to(get_run_logger()), *args)

    return stage
