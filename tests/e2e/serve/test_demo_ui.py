"""`jml demo --ui`: a local Prefect server serving the deployments, its UI address
printed, everything stopped on Ctrl-C."""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time

import httpx

from tests.e2e.serve.support import DEPLOYMENTS, FAST_POLL, JML, interrupt


def test_demo_ui_serves_the_deployments_and_ctrl_c_stops_everything(tmp_path):
    demo = subprocess.Popen(
        [JML, "demo", "--ui", "--workdir", str(tmp_path / "demo")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        # its own PREFECT_HOME: not one an earlier test's harness left in this process
        env={**os.environ, **FAST_POLL, "PREFECT_API_URL": "", "PREFECT_HOME": str(tmp_path / "prefect-home")},
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
        # It stops jml serve, then two servers, 15 s of grace each (3 s on an idle machine;
        # over 60 s once, on the full suite with a benchmark beside it): what it printed
        # says which one held it up.
        try:
            code = interrupt(demo, timeout=90)
        except subprocess.TimeoutExpired:
            drain.join(timeout=30)
            raise AssertionError("the demo did not stop within 90 s:\n" + "".join(output)[-4000:]) from None
        drain.join(timeout=30)
    assert code == 0, "".join(output)
    for url in (ui, scim):
        try:
            httpx.get(url, timeout=2)
        except httpx.TransportError:
            continue
        raise AssertionError(f"{url} still answers after Ctrl-C")
