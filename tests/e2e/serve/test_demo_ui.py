"""`jml demo --ui`: a local Prefect server serving the deployments, its UI address
printed, everything stopped on Ctrl-C."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from tests.e2e.serve.support import DEPLOYMENTS, FAST_POLL, JML, interrupt


def test_demo_ui_serves_the_deployments_and_ctrl_c_stops_everything(tmp_path):
    # Started as a script's background job is (`jml demo --ui &` in a shell without job
    # control): with SIGINT ignored. Ctrl-C must stop it all the same (a test run in the
    # background inherited exactly that, and the demo then ignored Ctrl-C for good).
    demo = subprocess.Popen(
        ["sh", "-c", 'trap "" INT; exec "$0" "$@"', JML, "demo", "--ui", "--workdir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # its own PREFECT_HOME: not one an earlier test's harness left in this process
        env={**os.environ, **FAST_POLL, "PREFECT_API_URL": "", "PREFECT_HOME": str(tmp_path / "prefect-home"),
             "PYTHONFAULTHANDLER": "1"},  # a demo that does not stop is made to say where it is
        start_new_session=True,  # so that it and whatever it started can be killed as one group
    )  # fmt: skip
    output: list[str] = []
    # Once its addresses are read, what it (and jml serve, which shares its stdout)
    # prints is read on: a pipe nobody reads fills up, and a process writing to it cannot
    # stop (on the full CI suite it then took over 150 s to stop; alone, 1.8 s).
    drain = threading.Thread(target=output.extend, args=(demo.stdout,), daemon=True)
    try:
        ui = scim = None
        deadline = time.monotonic() + 120
        while ui is None and time.monotonic() < deadline:
            line = demo.stdout.readline()
            assert line or demo.poll() is None, "".join(output)
            output.append(line)
            if found := re.search(r"Prefect UI: (http://127\.0\.0\.1:\d+)", line):
                ui = found.group(1)
        assert ui, "".join(output)
        output.append(demo.stdout.readline())
        scim = re.search(r"SCIM server: (http://127\.0\.0\.1:\d+)", "".join(output)).group(1)
        drain.start()
        assert httpx.get(ui, timeout=10).status_code == 200  # the UI's page
        names: set[str] = set()
        while names < set(DEPLOYMENTS) and time.monotonic() < deadline:
            names = {d["name"] for d in httpx.post(f"{ui}/api/deployments/filter", json={}, timeout=10).json()}
            time.sleep(0.5)
        assert names >= set(DEPLOYMENTS)
    finally:
        if drain.ident is None:
            drain.start()
        # It stops jml serve, then two servers, 15 s of grace each (3 s on an idle machine
        # or under a CPU load of 5). One that does not stop is made to say where it is.
        try:
            code = interrupt(demo, timeout=90, then=_dump_and_kill_the_group)
        except subprocess.TimeoutExpired:
            drain.join(timeout=30)
            raise AssertionError("the demo did not stop within 90 s:\n" + "".join(output)[-8000:]) from None
        drain.join(timeout=30)
    assert code == 0, "".join(output)
    for url in (ui, scim):
        try:
            httpx.get(url, timeout=2)
        except httpx.TransportError:
            continue
        raise AssertionError(f"{url} still answers after Ctrl-C")


def _dump_and_kill_the_group(demo: subprocess.Popen) -> None:
    """What a demo that did not stop was doing: the processes of its session (state, signal
    masks), then its Python stacks (faulthandler, on SIGABRT, into its output); then the
    whole session is killed, so that nothing it started outlives the test."""
    session = subprocess.run(["ps", "-ww", "-o", "pid,ppid,stat,wchan:20,etime,args", "-s", str(demo.pid)],
                             capture_output=True, text=True).stdout  # fmt: skip
    masks = Path(f"/proc/{demo.pid}/status").read_text().splitlines()
    print(session, *[line for line in masks if line.startswith("Sig")], sep="\n", file=sys.stderr)
    demo.send_signal(signal.SIGABRT)
    with contextlib.suppress(subprocess.TimeoutExpired):
        demo.wait(timeout=10)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(demo.pid, signal.SIGKILL)
    demo.wait()
