"""The artifacts an operator looks at in the Prefect UI: the run's summary, the table
of exceptions it opened, and the progress of apply. Published by the flows, keyed by
flow (`<flow>-summary`, `<flow>-exceptions`, `<flow>-apply-progress`), so the UI keeps
one history per flow. Text that came from HR or a target is shown through
`jml.text.visible` (the summary's Markdown also escapes it: `pipeline.report`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from prefect.artifacts import (
    create_markdown_artifact,
    create_progress_artifact,
    create_table_artifact,
    update_progress_artifact,
)

from jml.outcome import FAILED, HALTED
from jml.text import visible
from pipeline.report import summary_markdown
from pipeline.run import Run

__all__ = ["ApplyProgress", "publish_run"]

#: Rows of the exceptions table at most; the artifact says when more were opened.
MAX_ROWS = 500
COLUMNS = ("id", "kind", "employee_id", "target", "owner", "detail")


def publish_run(run: Run, document: dict[str, Any], flow: str) -> None:
    """The summary of a finished run, and (when it recorded exceptions) the table of
    those it opened."""
    create_markdown_artifact(key=f"{flow}-summary", markdown=summary_markdown(document), description=f"{flow} run summary")
    if document["status"] not in (HALTED, FAILED) and not run.dry_run:
        _publish_exceptions(run, flow)


def _publish_exceptions(run: Run, flow: str) -> None:
    opened = [e for e in run.ledger.opened_in(run.run_id) if e.status == "open"]
    shown = opened[:MAX_ROWS]
    more = f" (first {MAX_ROWS} of {len(opened)})" if len(opened) > MAX_ROWS else ""
    create_table_artifact(
        key=f"{flow}-exceptions",
        table=[{column: visible(getattr(row, column)) for column in COLUMNS} for row in shown]
        or [dict.fromkeys(COLUMNS, "")],
        description=f"{flow} run {run.run_id}: {len(opened)} exceptions opened{more}",
    )


class ApplyProgress:
    """A progress artifact (0-100 %) of apply, advanced after each batch."""

    def __init__(self, total: int, flow: str) -> None:
        self.total = total
        self.done = 0
        self._id: UUID = create_progress_artifact(
            progress=0.0 if total else 100.0,
            key=f"{flow}-apply-progress",
            description=f"operations applied or attempted, of {total}",
        )

    def advance(self, operations: int) -> None:
        """Count `operations` more as handled (applied, failed or parked)."""
        self.done = min(self.total, self.done + operations)
        if self.total:
            update_progress_artifact(self._id, progress=100.0 * self.done / self.total)

    def finish(self) -> None:
        """Apply is over (what is left was parked): show 100 %."""
        self.advance(self.total - self.done)
