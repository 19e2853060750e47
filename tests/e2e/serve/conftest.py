"""One private Prefect server, one `jml serve` and one webhook receiver for the tests of
serving, alerts and the UI (session-scoped: starting them costs seconds), and a world
of its own for each test that runs flows (`world`: no test sees another's leftovers). The Prefect
server is private to these tests so that other tests' runs never trigger their alerts,
and it demands HTTP Basic authentication (README "Security": run the Prefect server
with authentication), so every serving test is also a test of jml behind it.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterator

import pytest

from app.launchers import prefect_server
from tests.e2e.serve.support import (
    FAST_POLL,
    Receiver,
    Served,
    World,
    feed_rows,
    interrupt,
    start_serve,
    wait_for_deployments,
    write_world,
)
from tests.httpserving import Quiet, serving


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    box = Receiver(url="")

    class Handler(Quiet):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                box.messages.append(json.loads(body))
            except ValueError:
                box.messages.append({"raw": body.decode(errors="replace")})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Handler) as base:
        box.url = f"{base}/alerts"
        yield box


@pytest.fixture(scope="session")
def served(tmp_path_factory, scim_server, receiver) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    tenant = scim_server.tenant()
    config = write_world(
        root / "world", tenant.url, feed_rows(3), alerts=[{"type": "webhook", "url": receiver.url}]
    )
    with prefect_server(root / "prefect-home", auth_string=f"jml:{secrets.token_hex(12)}") as prefect:
        log = root / "serve.log"
        env = {**os.environ, **prefect.env(), "APP_TOKEN": tenant.token, **FAST_POLL}
        process = start_serve(prefect, config, env, log)
        try:
            wait_for_deployments(prefect, process, log)
            yield Served(prefect, config, tenant, receiver, process, log)
        finally:
            if process.poll() is None:
                interrupt(process)


@pytest.fixture
def world(served: Served, scim_server) -> Iterator[World]:
    """For one test, `jml serve`'s bound config describes a fresh world: three active
    Engineering employees (S000-S002), an empty SCIM tenant, an empty ledger."""
    tenant = scim_server.tenant()
    with served.world(tenant.url, feed_rows(3)) as folder:
        yield World(folder, tenant)
