"""What the jml flows besides hr_sync share: a recorded run under the run lock."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date

from tasks.context import RunContext, open_context

@contextmanager
def recorded_run(
    config: str, *, as_of: date, actor: str, dry_run: bool = False, override_safety: bool = False
) -> Iterator[RunContext]:
    """Open the context, take the run lock and record a run in the ledger; the body is
    the run. The context is closed (lock released) whatever happens."""
    ctx = open_context(config, as_of=as_of, override_safety=override_safety, actor=actor)
    try:
        with ctx.run_lock():
            ctx.run_id = ctx.ledger.start_run(
                as_of=as_of, dry_run=dry_run, override_safety=override_safety, actor=actor
            )
            yield ctx
    finally:
        ctx.close()
