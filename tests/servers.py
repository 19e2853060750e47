"""Real servers the tests start, as child processes or threads.

`scim_server()` runs the `scim2-server` command of the venv (an in-memory SCIM 2.0
server) on a free loopback port with a bearer token and `--dynamic-tenants`: every
first request to `/<tenant>/...` creates an empty tenant, so each test can use its own
`f"{server.url}/{uuid}"` as the base URL of a SCIM service (`/Users`, `/Groups`,
`/Bulk`, ...; the `/v2` prefix is optional there). The bare `server.url` is not a SCIM
service: with tenants on, `/v2/...` without a tenant answers 404.

`scripted_server(respond)` is a plain HTTP server in a thread that answers every request
with what `respond(method, path)` says: for faults a real SCIM server cannot be made to
produce on demand (429 with Retry-After, 503, slow answers).
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx


@dataclass(frozen=True, slots=True)
class ScimTenant:
    """One tenant of a running scim2-server: `url` is a SCIM base URL, `token` the bearer token."""

    url: str
    token: str


@dataclass(frozen=True, slots=True)
class ScimServer:
    """A running scim2-server: `url` is its root (no tenant), `token` its bearer token."""

    url: str
    token: str

    def tenant(self) -> ScimTenant:
        """A new, empty tenant (the server creates it on its first request)."""
        return ScimTenant(url=f"{self.url}/{uuid.uuid4().hex}", token=self.token)


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _scim2_server_command() -> str:
    beside = Path(sys.executable).parent / "scim2-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("scim2-server")
    if found is None:
        raise RuntimeError("the scim2-server command is not installed in this environment")
    return found


@contextmanager
def scim_server(
    *, service_provider_config: dict | None = None, startup_timeout: float = 15.0
) -> Iterator[ScimServer]:
    """Start a scim2-server process, wait until it answers, yield it, stop it on exit.

    `service_provider_config` replaces the server's ServiceProviderConfig (RFC 7643 §5),
    e.g. to announce small Bulk limits; by default everything but cursors is supported
    (Bulk: maxOperations 1000, maxPayloadSize 1 MiB; filter maxResults 1000).
    """
    token = secrets.token_urlsafe(24)
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="scim2-server-") as folder:
        command = [
            _scim2_server_command(),
            "--hostname", "127.0.0.1",
            "--port", str(port),
            "--bearer-token", token,
            "--dynamic-tenants",
        ]  # fmt: skip
        if service_provider_config is not None:
            config_file = Path(folder) / "service-provider-config.json"
            config_file.write_text(json.dumps(service_provider_config), encoding="utf-8")
            command += ["--service-provider-config", str(config_file)]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        server = ScimServer(url=f"http://127.0.0.1:{port}", token=token)
        try:
            _wait_until_ready(
                process, f"{server.url}/ready-probe/ServiceProviderConfig", startup_timeout
            )
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_ready(process: subprocess.Popen, probe: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"scim2-server exited with status {process.returncode} at start")
        try:
            if httpx.get(probe, timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"scim2-server did not answer within {timeout} s")
        time.sleep(0.05)


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
