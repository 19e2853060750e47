"""`jml demo` (what `make demo` runs) end to end: its own scim2-server, the three example
days through hr_sync (reporting to the session's Prefect server), the approvals between
day 1 and 2; checked in what it prints, in the ledger it leaves, and in that it leaves
no SCIM server running."""

from __future__ import annotations

import os
import re
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from jml.config import load_config
from jml.ledger import Ledger
from jml.operations import describe
from tests.zygote import JML

#: What each day promises to do (run id -> (employee_id, action, detail) that must be done).
PROMISED = {
    1: {("E001", "create", "active"), ("E006", "create", "inactive"),  # a joiner, a pre-hire
        ("E011", "create", "inactive")},  # on leave
    2: {("E002", "update", "changed department, title"), ("E004", "disable", ""),  # a mover, a leaver
        ("E007", "create", "active"), ("E003", "grant", "finance-admin")},  # a fixed row, the approved grant
    3: {("E006", "enable", ""), ("E005", "disable", ""),  # hire date reached, contract ended
        ("E011", "enable", "")},  # back from leave
}  # fmt: skip
#: The exceptions day 1 opens (kind, employee_id): a bad row, a duplicate email, an
#: unknown manager, a high-risk grant waiting for approval, an SoD conflict.
DAY1_EXCEPTIONS = {("quarantine", "E007"), ("duplicate", "E008"), ("duplicate", "E009"),
                   ("data_quality", "E011"), ("approval", "E003"), ("sod", "E012")}  # fmt: skip


@pytest.fixture(scope="module")
def demo(tmp_path_factory, prefect_api) -> tuple[subprocess.CompletedProcess, Path, float]:
    workdir = tmp_path_factory.mktemp("demo") / "state"
    env = {**os.environ, **prefect_api.env(), "COLUMNS": "200"}
    started = time.monotonic()
    done = subprocess.run([JML, "demo", "--workdir", str(workdir)], env=env, capture_output=True, text=True,
                          timeout=300)  # fmt: skip
    return done, workdir, time.monotonic() - started


def test_the_demo_runs_three_days_and_approves_between_them(demo, capsys):
    done, _, seconds = demo
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert [int(n) for n in re.findall(r"Day (\d): as of", out)] == [1, 2, 3]
    days = re.split(r"Day \d: as of", out)[1:]
    assert "approved exception" in days[0] and not any("approved exception" in day for day in days[1:])
    assert re.search(r"approved exception \d+ as hr", days[0]) and re.search(r"as business-owner", days[0])
    assert "Traceback" not in out + done.stderr and "The SCIM server is stopped" in out
    with capsys.disabled():
        print(f"\n[demo] jml demo: three days in {seconds:.0f} s")


def test_the_demo_does_what_each_day_promises(demo):
    done, workdir, _ = demo
    assert done.returncode == 0, done.stdout + done.stderr
    ledger = Ledger.open(load_config(workdir / "jml.yaml").state_url)
    try:
        trail = ledger.audit_trail()
        exceptions = ledger.list_exceptions("all")
        [approval] = [e for e in exceptions if e.kind == "approval"]
        roles = {a.role for a in ledger.approvals(approval.id)}
    finally:
        ledger.close()
    for run, promised in PROMISED.items():
        did = {(e.employee_id, e.action, describe(e.action, e.detail)) for e in trail if e.run_id == run}
        assert promised <= did, f"day {run} did not do {promised - did}"
    assert {(e.kind, e.employee_id) for e in exceptions if e.opened_run == 1} == DAY1_EXCEPTIONS
    assert roles == {"hr", "business-owner"}


def test_the_demo_leaves_no_scim_server_running(demo):
    done, _, _ = demo
    [url] = re.findall(r"local SCIM server at (http://\S+),", done.stdout)
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=5)
