"""The `jml` command: thin; it calls the flows and the ledger.

Exit codes (SPEC): 0 converged · 2 usage or config error · 3 done, exceptions open ·
4 halted by a safety gate · 1 anything else. `--json` prints one JSON document on
stdout and nothing else there; everything else goes to stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from app.render import literal, table
from connectors.base import SourceError
from jml.config import ConfigError
from jml.ledger import LedgerError, RunLocked
from jml.lifecycle import today
from jml.operations import describe
from jml.outcome import EXIT_CODES
from jml.secrets import SecretError, read_secret, redact, redacting_logs, remember

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="jml: HR feed to verified access. Validate, plan, apply, verify; exceptions for people.",
)
out = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="The config file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
AsOfOpt = Annotated[
    str | None, typer.Option("--as-of", help="Run as of this day (YYYY-MM-DD); default today (UTC).")
]
DEFAULT_CONFIG = Path("jml.yaml")


class Exit(Exception):
    """Stop the command with one line on stderr and an exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def _as_of(value: str | None) -> date:
    if value is None:
        return today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Exit(2, f"--as-of: {value!r} is not a date (YYYY-MM-DD)") from None


def _emit(document: dict) -> None:
    """Write the JSON document (redacted); compact, so the C encoder serves large plans
    quickly."""
    sys.stdout.write(redact(json.dumps(document, default=str)) + "\n")


def _quiet_prefect() -> None:
    """Prefect defaults for a CLI run: no analytics calls from the temporary server."""
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@app.command()
def run(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_of: AsOfOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Plan and report; write nothing.")] = False,
    override_safety: Annotated[
        bool, typer.Option("--override-safety", help="Run even if a safety gate trips (audited).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """One hr_sync flow run."""
    from pipeline.run import load_settings

    day = _as_of(as_of)
    settings = load_settings(config).config  # a bad config is exit 2 before any run starts
    _check_secrets(settings)
    _check_state(config, settings)
    _quiet_prefect()
    from flows.binding import bound
    from flows.hr_sync import hr_sync

    with contextlib.redirect_stdout(sys.stderr), bound(config, as_actor=os.environ.get("USER", "cli")):
        state = hr_sync(as_of=day, dry_run=dry_run, override_safety=override_safety, return_state=True)
        document = state.result(raise_on_failure=False)
    if isinstance(document, BaseException):
        raise document
    if as_json:
        _emit(document)
    else:
        _print_run(document)
    if document.get("error"):  # a source that could not be read: bad input
        raise Exit(2, f"error: {document['error']}")
    if document.get("lock_lost"):  # the run lock was lost: the run stopped writing
        raise Exit(1, f"error: {document['lock_lost']}")
    raise typer.Exit(EXIT_CODES[document["status"]])


def _check_state(path: Path, config) -> None:
    """The ledger must open (exit 2 naming the file and field otherwise)."""
    from jml.ledger import Ledger

    try:
        Ledger.open(config.state_url).close()
    except LedgerError as exc:
        raise Exit(2, f"error: {path}: state: {exc}") from None


def _check_secrets(config, *, alerts: bool = False) -> None:
    """Every secret the config names must be in the environment and usable as it is
    (exit 2 naming the field and the variable, never the value)."""
    for where, variable in config.secrets(alerts=alerts):
        try:
            read_secret(os.environ, variable, where)
        except SecretError as exc:
            raise Exit(2, f"error: {exc}") from None


def _print_run(document: dict) -> None:
    ops = document["operations"]
    title = f"run {document['run_id']} as of {document['as_of']}: {document['status']}"
    columns = ("planned", "applied", "failed", "parked", "exceptions open")
    counts = (ops["planned"], ops["applied"], ops["failed"], ops["parked"], document["exceptions_open"])
    out.print(table(title, columns, [counts], right=True))
    if document["halt"]:
        err.print(literal("halted", "bold red") + literal(f": {document['halt']}"))


@app.command()
def plan(config: ConfigOpt = DEFAULT_CONFIG, as_of: AsOfOpt = None, as_json: JsonOpt = False) -> None:
    """Show the plan; nothing is applied or recorded."""
    from pipeline import sync
    from pipeline.outcome import Execution, Scope, all_issues
    from pipeline.run import open_run

    day = _as_of(as_of)
    with open_run(config, as_of=day, record=False) as run:
        _check_secrets(run.config)
        planned = sync.plan(run)
    if planned.error:  # a source that could not be read: bad input
        raise Exit(2, f"error: {planned.error}")
    operations = planned.checked.plan.operations if planned.checked else ()
    if as_json:
        issues = all_issues(planned, Execution(), Scope())
        _emit(
            {
                "as_of": day.isoformat(),
                "halt": planned.halt,
                "operations": [op.to_json() for op in operations],
                "issues": [
                    {"kind": i.kind.value, "employee_id": i.employee_id, "target": i.target, "detail": i.detail}
                    for i in issues
                ],
            }
        )
    else:
        rows = [(op.target, op.employee_id, op.action.value, op.describe(), op.reason) for op in operations[:200]]
        columns = ("target", "employee_id", "action", "detail", "reason")
        out.print(table(f"plan as of {day.isoformat()}: {len(operations)} operations", columns, rows))
        if len(operations) > 200:
            out.print(f"... and {len(operations) - 200} more (use --json for all)")
    if planned.halt:
        raise Exit(4, f"halted: {planned.halt}")


def _ledger(config: Path):
    from jml.config import load_config
    from jml.ledger import Ledger

    return Ledger.open(load_config(config).state_url)


@app.command()
def exceptions(
    config: ConfigOpt = DEFAULT_CONFIG,
    status: Annotated[str, typer.Option("--status", help="open or all")] = "open",
    as_json: JsonOpt = False,
) -> None:
    """The exceptions people work: quarantine, duplicates, approvals, conflicts, ..."""
    if status not in ("open", "all"):
        raise Exit(2, f"--status: {status!r} is not one of open, all")
    ledger = _ledger(config)
    try:
        rows = ledger.list_exceptions(status)
    finally:
        ledger.close()
    fields = ("id", "kind", "employee_id", "target", "detail", "status")
    if as_json:
        _emit({"exceptions": [{k: getattr(row, k) for k in fields} for row in rows]})
        return
    out.print(table(f"{len(rows)} exceptions ({status})", fields, [[getattr(row, k) or "" for k in fields] for row in rows]))


@app.command()
def approve(
    exception_id: Annotated[int, typer.Argument(metavar="ID", help="The approval exception's id.")],
    by: Annotated[str, typer.Option("--by", help="Who approves.")],
    role: Annotated[str, typer.Option("--role", help="The approver role they act in.")],
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: JsonOpt = False,
) -> None:
    """Record one approver role's approval of a high-risk grant."""
    _decide(config, as_json, lambda ledger: ledger.approve(exception_id, by=by, role=role))


@app.command()
def reject(
    exception_id: Annotated[int, typer.Argument(metavar="ID", help="The approval exception's id.")],
    by: Annotated[str, typer.Option("--by", help="Who rejects.")],
    reason: Annotated[str | None, typer.Option("--reason", help="Why.")] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: JsonOpt = False,
) -> None:
    """Reject a high-risk grant: it is not granted."""
    _decide(config, as_json, lambda ledger: ledger.reject(exception_id, by=by, reason=reason))


def _decide(config: Path, as_json: bool, decide) -> None:
    ledger = _ledger(config)
    try:
        row = decide(ledger)
    finally:
        ledger.close()
    if as_json:
        _emit({"exception": {k: getattr(row, k) for k in ("id", "kind", "employee_id", "detail", "status")}})
    else:
        out.print(literal(f"exception {row.id} ({row.employee_id}): {row.status}"))


@app.command()
def audit(
    config: ConfigOpt = DEFAULT_CONFIG,
    employee_id: Annotated[str | None, typer.Option("--employee-id", help="Only this person.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """What was done to whom, when, by which run, and why."""
    ledger = _ledger(config)
    try:
        entries = ledger.audit_trail(employee_id)
    finally:
        ledger.close()
    if as_json:
        _emit({"audit": [asdict(e) for e in entries]})
        return
    rows = [
        (str(e.at)[:19], e.run_id or "", e.actor, e.action, e.employee_id or "", e.target or "",
         describe(e.action, e.detail), e.reason or "")
        for e in entries
    ]  # fmt: skip
    columns = ("at", "run_id", "actor", "action", "employee_id", "target", "detail", "reason")
    out.print(table(f"audit trail{' of ' + employee_id if employee_id else ''}", columns, rows))


@app.command()
def demo(
    workdir: Annotated[
        Path, typer.Option("--workdir", help="Where the demo keeps its state and copies its feeds.")
    ] = Path("demo-state"),
    ui: Annotated[
        bool, typer.Option("--ui", help="Serve the deployments on a local Prefect server; Ctrl-C stops.")
    ] = False,
) -> None:
    """The main job on embedded defaults: a local SCIM server and three days of HR feeds.
    With --ui: a local Prefect server serving the deployments until Ctrl-C."""
    _quiet_prefect()
    if ui:
        from app.demo import run_ui_demo

        raise typer.Exit(run_ui_demo(workdir, out))
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")  # the demo prints its own story
    from app.demo import run_demo

    raise typer.Exit(run_demo(workdir, out))


@app.command()
def serve(
    config: ConfigOpt = DEFAULT_CONFIG,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Flow runs at once, at most (default: no limit).")
    ] = None,
    alerts_only: Annotated[
        bool, typer.Option("--alerts-only", help="Create or update the alerts, then exit (for a work pool).")
    ] = False,
) -> None:
    """Serve the deployments (hr-sync, reconcile, provision-person, decide-approval) to
    the Prefect API in PREFECT_API_URL, with their schedules and alerts, until Ctrl-C;
    the schedules stay on when it stops."""
    from pipeline.run import load_settings

    settings = load_settings(config).config
    _check_secrets(settings, alerts=True)
    _quiet_prefect()
    _check_prefect_api()
    if alerts_only:
        from deployments.alerts import ensure_alerts

        names = ensure_alerts(settings)
        err.print(f"alerts: {', '.join(names) or 'none (no channel in alerts:)'}")
        return
    from deployments.serving import serve_all

    serve_all(config.resolve(), settings, limit=limit)


def _check_prefect_api() -> None:
    """`jml serve` needs a reachable Prefect server (exit 2 without one, 1 if down) that
    accepts its credentials (PREFECT_API_AUTH_STRING, when the server demands Basic
    authentication: exit 2 when refused; the string is a secret, never printed)."""
    import base64

    import httpx
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL

    url = os.environ.get("PREFECT_API_URL") or PREFECT_API_URL.value()
    if not url:
        raise Exit(2, "error: PREFECT_API_URL is not set: point it at a Prefect server's API"
                      " (e.g. http://127.0.0.1:4200/api)")  # fmt: skip
    auth = PREFECT_API_AUTH_STRING.value()
    headers = {}
    if auth:
        remember(auth)
        headers["Authorization"] = "Basic " + base64.b64encode(auth.encode()).decode("ascii")
    try:
        httpx.get(f"{url.rstrip('/')}/health", timeout=10).raise_for_status()
        answer = httpx.get(f"{url.rstrip('/')}/admin/version", headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        raise Exit(1, f"error: the Prefect API at {url} does not answer: {exc}") from None
    if answer.status_code == 401:
        given = "refused PREFECT_API_AUTH_STRING" if auth else "demands authentication and PREFECT_API_AUTH_STRING is not set"
        raise Exit(2, f"error: the Prefect API at {url} {given}: set it to the server's auth string (user:password)")


def _fail(code: int, message: str) -> None:
    """One line on stderr (never wrapped, redacted), then exit with `code`."""
    sys.stderr.write(redact(" ".join(message.split())) + "\n")
    sys.exit(code)


def main() -> None:
    """Entry point: run the app, turning bad input into one line and an exit code."""
    redacting_logs()
    try:
        code = app(standalone_mode=False)
    except Exit as exc:
        _fail(exc.code, str(exc))
    except (ConfigError, SourceError, LedgerError) as exc:
        _fail(2, f"error: {exc}")
    except RunLocked as exc:
        _fail(1, f"error: {exc}")
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        err.print("aborted")
        sys.exit(1)
    except Exception as exc:  # the last line of defence: one line, exit 1
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            sys.exit(2)
        _fail(1, f"error: {type(exc).__name__}: {exc}")
    sys.exit(code if isinstance(code, int) else 0)
