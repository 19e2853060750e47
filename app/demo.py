"""`jml demo`: three days of the bundled HR feeds through hr_sync into a local SCIM server.

Day 1 brings joiners, a pre-hire, a bad row, a duplicate email, an unknown manager, a
person on leave, an SoD conflict and a high-risk grant waiting for approval; between
day 1 and 2 the demo approves that grant as HR and as the business owner; day 2 brings
a mover, a leaver and fixed rows; day 3 a hire date reached, a contract ended and a
return from leave. It leaves nothing running.

`jml demo --ui` instead starts a local SCIM server and a local Prefect server, serves
the deployments (`jml serve`) with the day-1 feed in place, prints the UI address and
stops everything on Ctrl-C.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from rich.console import Console

from app.launchers import prefect_server, scim_server, stop
from app.render import table
from deployments.interrupts import stop_on_ctrl_c_or_sigterm
from jml.operations import describe

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DAYS = [("day1.csv", date(2026, 3, 2)), ("day2.csv", date(2026, 3, 3)), ("day3.csv", date(2026, 3, 5))]


def prepare(workdir: Path, url: str) -> Path:
    """A fresh demo folder with the example policy, feeds and a config pointing at `url`."""
    if workdir.exists():
        shutil.rmtree(workdir)
    shutil.copytree(EXAMPLES, workdir)
    config = workdir / "jml.yaml"
    config.write_text(config.read_text().replace("http://127.0.0.1:8080", url))
    return config


def run_demo(workdir: Path, console: Console) -> int:
    """Run the three demo days; return 0 when every day ran as expected."""
    from flows.binding import bound
    from flows.hr_sync import hr_sync
    from jml.config import load_config
    from jml.ledger import Ledger

    token = secrets.token_urlsafe(24)
    os.environ["APP_TOKEN"] = token
    with scim_server(token=token, tenants=False) as server:
        url = server.url
        config = prepare(workdir.resolve(), url)
        console.print(f"[bold]jml demo[/]: local SCIM server at {url}, state in {config.parent}")
        for number, (feed, as_of) in enumerate(DAYS, start=1):
            shutil.copy(config.parent / "feeds" / feed, config.parent / "feeds" / "workers.csv")
            console.rule(f"Day {number}: as of {as_of.isoformat()} (feed {feed})")
            with bound(config, as_actor="demo"):
                state = hr_sync(as_of=as_of, return_state=True)
            document = state.result(raise_on_failure=False)
            if isinstance(document, BaseException):
                console.print(f"[red]run failed[/]: {document}")
                return 1
            ledger = Ledger.open(load_config(config).state_url)
            try:
                show_day(console, document, ledger)
                if number == 1:
                    approve_pending(console, ledger)
            finally:
                ledger.close()
    console.rule("Done")
    console.print(
        f"The SCIM server is stopped. Look around with:\n"
        f"  jml exceptions --config {config} --status all\n"
        f"  jml audit --config {config} --employee-id E002"
    )
    return 0


def show_day(console: Console, document: dict, ledger) -> None:
    """One day's outcome: operations, movement and the open exceptions."""
    ops, persons = document["operations"], document["persons"]
    counts = (ops["planned"], ops["applied"], ops["failed"], persons["joiners"], persons["movers"],
              persons["leavers"], document["exceptions_open"])  # fmt: skip
    columns = ("planned", "applied", "failed", "joiners", "movers", "leavers", "exceptions open")
    console.print(table(f"run {document['run_id']}: {document['status']}", columns, [counts], right=True))
    done = [
        (entry.employee_id, entry.action, describe(entry.action, entry.detail), entry.reason or "")
        for entry in ledger.audit_trail()
        if entry.run_id == document["run_id"] and entry.employee_id
    ]
    console.print(table("what was done", ("employee_id", "action", "detail", "reason"), done))
    opened = [(row.id, row.kind, row.employee_id or "", row.detail) for row in ledger.list_exceptions("open")]
    console.print(table("open exceptions (jml exceptions)", ("id", "kind", "employee_id", "detail"), opened))


def approve_pending(console: Console, ledger) -> None:
    """Approve every pending high-risk grant as each of its approver roles."""
    for row in ledger.list_exceptions("open"):
        if row.kind != "approval":
            continue
        for role in row.data["approvers"]:
            ledger.approve(row.id, by=f"demo-{role}", role=role, rosters=None)  # the demo policy has no roles
            console.print(f"approved exception {row.id} as {role}: jml approve {row.id} --by demo-{role} --role {role}")


def run_ui_demo(workdir: Path, console: Console) -> int:
    """Serve the deployments on local Prefect and SCIM servers until Ctrl-C (or
    SIGTERM); return `jml serve`'s exit code if it stops by itself, else 0."""
    stop_on_ctrl_c_or_sigterm()
    token = secrets.token_urlsafe(24)
    with scim_server(token=token, tenants=False) as scim:
        config = prepare(workdir.resolve(), scim.url)
        shutil.copy(config.parent / "feeds" / DAYS[0][0], config.parent / "feeds" / "workers.csv")
        console.print(f"[bold]jml demo --ui[/]: starting a local Prefect server (state in {config.parent})")
        with prefect_server(config.parent / "prefect-home") as prefect:
            env = {**os.environ, **prefect.env(), "APP_TOKEN": token}
            jml = str(Path(sys.executable).parent / "jml")
            serving = subprocess.Popen([jml, "serve", "--config", str(config)], env=env)
            console.print(f"Prefect UI: {prefect.ui_url}", soft_wrap=True)
            console.print(f"SCIM server: {scim.url}", soft_wrap=True)
            console.print("In the UI: Deployments > hr-sync > Run syncs the day-1 feed. Ctrl-C stops everything.")
            sys.stdout.flush()
            try:
                while serving.poll() is None:
                    time.sleep(0.5)
                return serving.returncode
            except KeyboardInterrupt:
                console.print("stopping: jml serve, the Prefect server, the SCIM server")
                return 0
            finally:
                stop(serving)
