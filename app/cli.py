"""The `jml` command: thin; it calls the flows and the ledger.

Exit codes (SPEC): 0 converged · 2 usage or config error · 3 done, exceptions open ·
4 halted by a safety gate · 1 anything else. `--json` prints one JSON document on
stdout and nothing else there; everything else goes to stderr.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from app import access_command, ledger_commands, nhi_command, preview_command, review_command
from app.cli_support import DEFAULT_CONFIG, AsOfOpt, ConfigOpt, Exit, JsonOpt, emit, err, out, parse_day
from app.render import literal, table
from connectors.base import SourceError
from jml.config import ConfigError
from jml.ledger import LedgerError, RunLocked
from jml.outcome import EXIT_CODES
from jml.secrets import SecretError, read_secret, redact, redacting_logs, remember

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="jml: HR feed to verified access. Validate, plan, apply, verify; exceptions for people.",
)


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
    day = parse_day(as_of)
    _flow_run(config, as_json, "hr_sync", as_of=day, dry_run=dry_run, override_safety=override_safety)


def _flow_run(config: Path, as_json: bool, name: str, **parameters: object) -> NoReturn:
    """Run the flow `flows.<name>.<name>` in this process, bound to `config` and the
    user, with `parameters`; print its run document (a table, or JSON) and exit with the
    code of its status. A bad config, secret or ledger is exit 2 before the run starts;
    a source that could not be read exit 2, a lost run lock exit 1. Without a Prefect API
    URL, Prefect's temporary server starts while the flow's modules import
    (`app.prefect_api`); with one, the run reports to that server."""
    from pipeline.run import load_settings

    settings = load_settings(config).config  # a bad config is exit 2 before any run starts
    _check_secrets(settings)
    _check_state(config, settings)
    _quiet_prefect()
    with contextlib.redirect_stdout(sys.stderr):
        from app.prefect_api import warm_up

        server = warm_up()  # Prefect imported only now; its temporary server starts beside the imports
        from flows.binding import bound

        flow = getattr(importlib.import_module(f"flows.{name}"), name)
        server.wait()
        with bound(config, as_actor=os.environ.get("USER", "cli")):
            state = flow(**parameters, return_state=True)
            document = state.result(raise_on_failure=False)
    if isinstance(document, BaseException):
        raise document
    if as_json:
        emit(document)
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

    day = parse_day(as_of)
    with open_run(config, as_of=day, record=False) as run:
        _check_secrets(run.config)
        planned = sync.plan(run)
    if planned.error:  # a source that could not be read: bad input
        raise Exit(2, f"error: {planned.error}")
    operations = planned.checked.plan.operations if planned.checked else ()
    if as_json:
        issues = all_issues(planned, Execution(), Scope())
        emit(
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


@app.command()
def reconcile(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_of: AsOfOpt = None,
    fix: Annotated[
        bool, typer.Option("--fix", help="Apply the operations that remove the drift found (never to orphans).")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """One reconcile flow run: a full read of every target; drift and orphan accounts
    become exceptions; writes nothing to any target unless --fix."""
    day = parse_day(as_of)
    _flow_run(config, as_json, "reconcile", fix=fix, as_of=day)


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
        err.print(f"alerts: {', '.join(names) or 'none (no channel without an owner in alerts:)'}")
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
        given = (
            "refused PREFECT_API_AUTH_STRING"
            if auth
            else "demands authentication and PREFECT_API_AUTH_STRING is not set"
        )
        raise Exit(2, f"error: the Prefect API at {url} {given}: set it to the server's auth string (user:password)")


# The ledger's commands, in the order `jml --help` lists them after run, plan and reconcile.
for command in (ledger_commands.exceptions, ledger_commands.approve, ledger_commands.reject, ledger_commands.audit):
    app.command()(command)
app.command()(access_command.access)
app.command()(review_command.review)
app.command()(nhi_command.nhi)
app.command()(preview_command.preview)


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
