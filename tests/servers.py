"""Real servers the tests start, as child processes or threads.

`scim_server()` (from `jml.scim_process`) runs a real scim2-server process with dynamic
tenants: each test uses its own tenant as the base URL of a SCIM service.

`prefect_server()` runs a real `prefect server` with a private PREFECT_HOME.

`scripted_server(respond)` is a plain HTTP server in a thread that answers every request
with what `respond(method, path)` says: for faults a real SCIM server cannot be made to
produce on demand (429 with Retry-After, 503, slow answers).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx

from jml.scim_process import ScimServer, ScimTenant, free_port, scim_server

__all__ = ["ScimServer", "ScimTenant", "free_port", "scim_server", "scripted_server", "prefect_server"]


@dataclass(frozen=True, slots=True)
class Scripted:
    """What a scripted server answers: a status, headers, a JSON body, after a delay."""

    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(slots=True)
class ScriptedServer:
    """A running scripted server: its `url` and the (method, path) of each request."""

    url: str
    requests: list[tuple[str, str]] = field(default_factory=list)


@contextmanager
def scripted_server(respond: Callable[[str, str], Scripted]) -> Iterator[ScriptedServer]:
    """Serve HTTP on a free loopback port, answering each request with `respond(method,
    path)` (path with its query string); stop on exit."""
    server_state = ScriptedServer(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            server_state.requests.append((self.command, self.path))
            answer = respond(self.command, self.path)
            if answer.delay:
                time.sleep(answer.delay)
            payload = b"" if answer.body is None else json.dumps(answer.body).encode()
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/scim+json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="scripted-server", daemon=True
    )
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@dataclass(frozen=True, slots=True)
class PrefectServer:
    """A running `prefect server`: its API URL and the PREFECT_HOME it uses."""

    api_url: str
    home: Path

    def env(self) -> dict[str, str]:
        """Environment variables that point a process at this server."""
        return {
            "PREFECT_API_URL": self.api_url,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }


@contextmanager
def prefect_server(home: Path, *, startup_timeout: float = 60.0) -> Iterator[PrefectServer]:
    """Start `prefect server start` on a free loopback port with its own PREFECT_HOME
    (so its SQLite database is private), wait for /api/health, stop it on exit."""
    port = free_port()
    server = PrefectServer(api_url=f"http://127.0.0.1:{port}/api", home=home)
    env = {**os.environ, **server.env()}
    env.pop("PREFECT_API_URL")
    command = [str(Path(sys.executable).parent / "prefect"), "server", "start",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    log = (home / "server.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"prefect server exited at start; see {home / 'server.log'}")
            try:
                if httpx.get(f"{server.api_url}/health", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"prefect server did not answer within {startup_timeout} s")
            time.sleep(0.2)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
