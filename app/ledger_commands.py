"""The commands that read and decide on the ledger: `exceptions`, `approve`, `reject`,
`audit` (and `audit verify`). Each is a plain function `app.cli` registers."""

from __future__ import annotations

import re
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from app.cli_support import DEFAULT_CONFIG, ConfigOpt, Exit, JsonOpt, emit, open_ledger, out
from app.render import literal, table
from jml.operations import describe
from jml.owners import SEPARATOR
from jml.text import visible


def exceptions(
    config: ConfigOpt = DEFAULT_CONFIG,
    status: Annotated[str, typer.Option("--status", help="open or all")] = "open",
    owner: Annotated[str | None, typer.Option("--owner", help="Only those this owner works.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """The exceptions people work: quarantine, duplicates, approvals, conflicts, ...
    With `--owner X`, only those X is one of the owners of (jml.owners)."""
    if status not in ("open", "all"):
        raise Exit(2, f"--status: {status!r} is not one of open, all")
    if owner is not None and (not owner or SEPARATOR in owner):
        raise Exit(2, f"--owner: {visible(owner)!r} is not one owner's name")
    with open_ledger(config) as ledger:
        rows = ledger.list_exceptions(status, owner)
    fields = ("id", "kind", "employee_id", "target", "owner", "detail", "status")
    if as_json:
        emit({"exceptions": [{k: getattr(row, k) for k in fields} for row in rows]})
        return
    out.print(
        table(f"{len(rows)} exceptions ({status})", fields, [[getattr(row, k) or "" for k in fields] for row in rows])
    )


def approve(
    exception_id: Annotated[int, typer.Argument(metavar="ID", help="The approval exception's id.")],
    by: Annotated[str, typer.Option("--by", help="Who approves (with rosters: their employee_id).")],
    role: Annotated[str, typer.Option("--role", help="The approver role they act in.")],
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: JsonOpt = False,
) -> None:
    """Record one approver role's approval of a high-risk grant."""
    _decide(config, as_json, lambda ledger, rosters: ledger.approve(exception_id, by=by, role=role, rosters=rosters))


def reject(
    exception_id: Annotated[int, typer.Argument(metavar="ID", help="The approval exception's id.")],
    by: Annotated[str, typer.Option("--by", help="Who rejects (with rosters: their employee_id).")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why.")] = None,
    role: Annotated[
        str | None, typer.Option("--role", help="The approver role they act in (needed with rosters).")
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: JsonOpt = False,
) -> None:
    """Reject a high-risk grant: it is not granted."""
    _decide(
        config, as_json,
        lambda ledger, rosters: ledger.reject(exception_id, by=by, reason=reason, role=role, rosters=rosters),
    )  # fmt: skip


def _decide(config: Path, as_json: bool, decide) -> None:
    """Record a decision, checked against the policy's rosters (it reads the policy)."""
    from pipeline.run import load_settings

    settings = load_settings(config)
    rosters = settings.policy.rosters()
    with open_ledger(config, settings.config) as ledger:
        row = decide(ledger, rosters)
    if as_json:
        emit({"exception": {k: getattr(row, k) for k in ("id", "kind", "employee_id", "detail", "status")}})
    else:
        out.print(literal(f"exception {row.id} ({row.employee_id}): {row.status}"))


def audit(
    action: Annotated[
        str | None, typer.Argument(metavar="[verify]", help="verify: recompute the trail's hash chain.")
    ] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    employee_id: Annotated[str | None, typer.Option("--employee-id", help="Only this person.")] = None,
    head: Annotated[
        str | None, typer.Option("--head", help="With verify: a head hash kept outside the ledger, to check too.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """What was done to whom, when, by which run, and why. `audit verify`: the hash chain
    (exit 0 intact, 1 broken, naming the first event edited, deleted or inserted)."""
    if action is not None and action != "verify":
        raise Exit(2, f"error: audit: '{visible(action)}' is not a subcommand (the only one is verify)")
    if action is None and head is not None:
        raise Exit(2, "error: --head goes with audit verify")
    if action == "verify":
        _verify(config, employee_id, head, as_json)
        return
    with open_ledger(config) as ledger:
        entries = ledger.audit_trail(employee_id)
    if as_json:
        emit({"audit": [asdict(e) for e in entries]})
        return
    rows = [
        (str(e.at)[:19], e.run_id or "", e.actor, e.action, e.employee_id or "", e.target or "",
         describe(e.action, e.detail), e.reason or "")
        for e in entries
    ]  # fmt: skip
    columns = ("at", "run_id", "actor", "action", "employee_id", "target", "detail", "reason")
    out.print(table(f"audit trail{' of ' + employee_id if employee_id else ''}", columns, rows))


#: A head hash as `audit verify --head` takes it: SHA-256 in lowercase hex.
_HEAD = re.compile(r"[0-9a-f]{64}")


def _verify(config: Path, employee_id: str | None, head: str | None, as_json: bool) -> None:
    """`jml audit verify`: the report on stdout (SPEC), exit 1 when the chain is broken."""
    if employee_id is not None:
        raise Exit(2, "error: audit verify checks the whole trail: drop --employee-id")
    if head is not None and not _HEAD.fullmatch(head):
        raise Exit(2, f"error: --head: '{visible(head)}' is not a SHA-256 hash (64 lowercase hex digits)")
    with open_ledger(config) as ledger:
        report = ledger.verify_audit(head)
    if as_json:
        emit({"intact": report.intact, "events": report.events, "head": report.head,
              "event_id": report.event_id, "problem": report.problem})  # fmt: skip
    elif report.intact:
        out.print(literal(f"audit chain intact: {report.events} events, head {report.head}"), soft_wrap=True)
    else:
        out.print(literal(f"audit chain broken: {report.problem}"), soft_wrap=True)
    if not report.intact:
        raise typer.Exit(1)
