"""One private Prefect server, one `jml serve` and one webhook receiver for the tests of
serving, alerts and the UI (session-scoped: starting them costs seconds). The Prefect
server is private to these tests so that other tests' runs never trigger their alerts,
and it demands HTTP Basic authentication (README "Security": run the Prefect server
with authentication), so every serving test is also a test of jml behind it.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from app.launchers import prefect_server
from tests.e2e.serve.support import (
    FAST_POLL,
    Receiver,
    Served,
    feed_rows,
    interrupt,
    start_serve,
    wait_for_deployments,
    write_world,
)


@pytest.fixture(scope="session")
def receiver() -> Iterator[Receiver]:
    box = Receiver(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                box.messages.append(json.loads(body))
            except ValueError:
                box.messages.append({"raw": body.decode(errors="replace")})
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box.url = f"http://127.0.0.1:{httpd.server_address[1]}/alerts"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    yield box
    httpd.shutdown()
    httpd.server_close()


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
