"""High-risk grants decided in the Prefect UI while an hr_sync run waits for them.

`wait_for_decisions` opens the run's approval exceptions in the ledger (so each has an
id), pauses the flow run with a form (`pause_flow_run(wait_for_input=...)`) whose
description lists every pending grant: the person by employee_id, the bundle, the rule
and the approver roles still waited for. The form has one choice per pending grant
(wait, approve, reject) and one name field per approver role; each decision is recorded
in the ledger exactly as `jml approve` / `jml reject` would record it, checked against
the policy's rosters the same way (with rosters, a rejection is made by the first of the
grant's waiting roles whose field names someone, acting as that role). When nobody
answers within the timeout, the run is put back to Running and goes on without those
grants (their exceptions stay open).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from prefect.client.orchestration import get_client
from prefect.context import FlowRunContext
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.states import Running
from pydantic import Field, create_model

from jml.approvals import approvers_of, waiting_for
from jml.ledger import LedgerError
from jml.model import Issue, IssueKind
from pipeline.run import Run
from tasks.logs import run_logger

#: How often the paused run looks whether it was resumed.
POLL_SECONDS = 5
Choice = Literal["wait", "approve", "reject"]


@dataclass(frozen=True, slots=True)
class Pending:
    """One open approval exception and the roles it still waits for."""

    exception_id: int
    employee_id: str
    bundle: str
    rule: str
    approvers: tuple[str, ...]
    waiting: tuple[str, ...]

    @property
    def field(self) -> str:
        return f"exception_{self.exception_id}"


def role_field(role: str) -> str:
    """The form field holding the name of whoever acts as `role`."""
    return "approver_" + re.sub(r"[^A-Za-z0-9]+", "_", role).strip("_").lower()


def open_pending(run: Run, issues: list[Issue]) -> list[Pending]:
    """Record this run's approval issues as exceptions (the report would, later) and
    return those still open, with the roles each waits for."""
    approvals = [issue for issue in issues if issue.kind is IssueKind.APPROVAL]
    run.ledger.sync_issues(run.id, approvals, kinds={IssueKind.APPROVAL}, owners=run.config.owner_rule)
    keys = {issue.key for issue in approvals}
    pending = []
    for row in run.ledger.list_exceptions("open"):
        if row.kind != IssueKind.APPROVAL.value or row.key not in keys:
            continue
        data = row.data or {}
        pending.append(
            Pending(
                row.id, row.employee_id, data.get("bundle", "?"), data.get("rule", "?"),
                tuple(approvers_of(row)), waiting_for(row, run.ledger.approvals(row.id)),
            )
        )  # fmt: skip
    return pending


def describe(pending: list[Pending], timeout: int) -> str:
    """The markdown the UI shows above the form."""
    lines = [
        f"**{len(pending)} high-risk grants wait for approval.** Choose approve or reject for"
        " each, and name who acts as each approver role (a different person per role).",
        f"Without an answer within {timeout} s the run goes on without these grants.",
        "",
        "| exception | employee_id | bundle | rule | approver roles | still waiting for |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {p.exception_id} | {p.employee_id} | {p.bundle} | {p.rule} | {', '.join(p.approvers)}"
        f" | {', '.join(p.waiting)} |"
        for p in pending
    ]
    return "\n".join(lines)


def decision_form(pending: list[Pending]) -> type[RunInput]:
    """A RunInput with a choice per pending grant and a name per approver role."""
    fields: dict = {}
    for p in pending:
        fields[p.field] = (
            Choice,
            Field(
                default="wait",
                title=f"#{p.exception_id} {p.employee_id}: {p.bundle}",
                description=f"rule {p.rule}; approvers {', '.join(p.approvers)}",
            ),
        )
    for role in sorted({role for p in pending for role in p.waiting}):
        fields[role_field(role)] = (
            str,
            Field(default="", title=f"Approver acting as {role}", description="Their name (with rosters: employee_id)"),
        )
    fields["reason"] = (str, Field(default="", title="Reason", description="Kept with rejections"))
    return create_model("ApprovalDecisions", __base__=RunInput, **fields)


def record(run: Run, pending: list[Pending], answer: RunInput) -> int:
    """Record the decisions given in the form; return how many were recorded. A decision
    the ledger refuses (e.g. one person for two roles) is logged and left pending."""
    logger = run_logger()
    recorded = 0
    rosters = run.settings.policy.rosters()
    names = {role: getattr(answer, role_field(role), "").strip() for p in pending for role in p.waiting}
    for p in pending:
        choice = getattr(answer, p.field, "wait")
        try:
            if choice == "approve":
                for role in p.waiting:
                    if names.get(role):
                        run.ledger.approve(p.exception_id, by=names[role], role=role, rosters=rosters)
                        recorded += 1
            elif choice == "reject":
                if rosters is None:
                    role, by = None, ", ".join(sorted({n for r, n in names.items() if n})) or "prefect-ui"
                else:
                    role = next((r for r in p.waiting if names.get(r)), None)
                    by = names[role] if role else "prefect-ui"
                run.ledger.reject(p.exception_id, by=by, reason=answer.reason or None, role=role, rosters=rosters)
                recorded += 1
        except LedgerError as exc:
            logger.warning("exception %d (%s): decision not recorded: %s", p.exception_id, p.employee_id, exc)
    return recorded


def wait_for_decisions(run: Run, issues: list[Issue], timeout: int) -> int:
    """Pause for the approvals this run found pending; return how many decisions were
    recorded (0 when nothing was pending or nobody answered in time)."""
    pending = open_pending(run, issues)
    if not pending:
        return 0
    logger = run_logger()
    logger.info("waiting up to %d s for decisions on %d approvals", timeout, len(pending))
    form = decision_form(pending).with_initial_data(description=describe(pending, timeout))
    try:
        answer = pause_flow_run(
            wait_for_input=form, timeout=timeout, poll_interval=POLL_SECONDS, key="approvals"
        )
    except FlowPauseTimeout:
        logger.warning("no decisions within %d s; going on without those grants", timeout)
        _resume_after_timeout()
        return 0
    return record(run, pending, answer)


def _resume_after_timeout() -> None:
    """Put the paused run back to Running (the server would otherwise fail it when it
    finishes: a paused run may only be resumed before its timeout)."""
    context = FlowRunContext.get()
    with get_client(sync_client=True) as client:
        client.set_flow_run_state(
            context.flow_run.id, Running(message="approvals timed out"), force=True
        )
