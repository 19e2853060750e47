"""The artifacts an operator looks at in the Prefect UI, besides the run summary:
the table of exceptions a run opened, and the progress of apply.

Both are published from inside a flow run (or a task run) and are no-ops for the plain
functions `jml plan` calls, which have no run to attach them to.
"""

from __future__ import annotations

from uuid import UUID

from prefect.artifacts import (
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)
from prefect.context import FlowRunContext, TaskRunContext

from tasks.context import RunContext

#: Rows of the exceptions table at most; the artifact says when more were opened.
MAX_ROWS = 500
COLUMNS = ("id", "kind", "employee_id", "target", "detail")


def _in_run() -> bool:
    return FlowRunContext.get() is not None or TaskRunContext.get() is not None


def publish_exceptions(ctx: RunContext, flow: str = "hr-sync") -> int:
    """Publish the table of the exceptions this run opened (still open); return how
    many it opened. Keyed `<flow>-exceptions`, so the UI keeps one history per flow."""
    opened = [e for e in ctx.ledger.list_exceptions("open") if e.opened_run == ctx.run_id]
    if _in_run():
        shown = opened[:MAX_ROWS]
        more = f" (first {MAX_ROWS} of {len(opened)})" if len(opened) > MAX_ROWS else ""
        create_table_artifact(
            key=f"{flow}-exceptions",
            table=[{column: getattr(row, column) or "" for column in COLUMNS} for row in shown]
            or [dict.fromkeys(COLUMNS, "")],
            description=f"{flow} run {ctx.run_id}: {len(opened)} exceptions opened{more}",
        )
    return len(opened)


class ApplyProgress:
    """A progress artifact (0-100 %) of apply, advanced after each batch."""

    def __init__(self, total: int, flow: str = "hr-sync") -> None:
        self.total = total
        self.done = 0
        self._id: UUID | None = None
        if _in_run():
            self._id = create_progress_artifact(
                progress=0.0 if total else 100.0,
                key=f"{flow}-apply-progress",
                description=f"operations applied or attempted, of {total}",
            )

    def advance(self, operations: int) -> None:
        """Count `operations` more as handled (applied, failed or parked)."""
        self.done = min(self.total, self.done + operations)
        if self._id is not None and self.total:
            update_progress_artifact(self._id, progress=100.0 * self.done / self.total)

    def finish(self) -> None:
        """Apply is over (what is left was parked): show 100 %."""
        self.advance(self.total - self.done)
