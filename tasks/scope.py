"""Narrow a run's outcome to what a partial run speaks for, before its report.

A partial run (provision-person: one person; reconcile: drift and orphans) must not
close exceptions it did not look at, nor save person states or account links it did
not establish. These helpers cut the plan and hand back, unchanged, the live exceptions
outside the run's scope (`RunOutcome.kept`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from jml.ledger import ExceptionRecord
from jml.model import Issue, IssueKind
from tasks.context import RunContext
from tasks.report import RunOutcome


def live_issues(
    ctx: RunContext, kinds: Iterable[IssueKind], keep: Callable[[ExceptionRecord], bool]
) -> list[Issue]:
    """The open exceptions of `kinds` for which `keep(row)` holds, as issues identical
    to what the ledger holds (so handing them back changes nothing)."""
    wanted = {IssueKind(kind).value for kind in kinds}
    return [
        Issue(IssueKind(row.kind), row.key, row.detail, row.employee_id,
              row.target, row.data or {})
        for row in ctx.ledger.list_exceptions("open")
        if row.kind in wanted and keep(row)
    ]  # fmt: skip


def only_persons(outcome: RunOutcome, persons: set[str]) -> None:
    """Keep only these persons' operations, person states and account links."""
    if outcome.checked is not None:
        plan = outcome.checked.plan
        plan.operations = [op for op in plan.operations if op.employee_id in persons]
        plan.matched = {
            target: {eid: account for eid, account in links.items() if eid in persons}
            for target, links in plan.matched.items()
        }
    if outcome.assessment is not None:
        outcome.assessment.states = [s for s in outcome.assessment.states if s.employee_id in persons]
