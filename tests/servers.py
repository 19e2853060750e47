"""Test-only HTTP servers, in threads (the real servers are in `app.launchers`).

`scripted_server(respond)` is a plain HTTP server in a thread that answers every request
with what `respond(method, path)` says: for faults a real SCIM server cannot be made to
produce on demand (429 with Retry-After, 503, slow answers).

`hris_server()` serves an HRIS REST API (paged workers, a bearer token, queued faults)
for the REST source's tests.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


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


# -- an HRIS REST API ------------------------------------------------------------------


@dataclass(slots=True)
class HrisServer:
    """A running HRIS API: `url` of its first page, the bearer `token` it wants, the
    `pages` it serves (path -> JSON body, editable between reads), `faults` to answer
    first (path -> list of Scripted, consumed in order) and the `requests` it got
    (method, path, whether the token was right, monotonic time)."""

    url: str
    token: str
    pages: dict[str, object]
    faults: dict[str, list[Scripted]]
    requests: list[tuple[str, str, bool, float]]

    def paged(self, workers: list[dict], *, size: int, relative: bool = True) -> None:
        """Serve `workers` as pages of `size` under /workers?page=N, each with a `next`
        link (relative or absolute), the last one with `next: null`."""
        self.pages.clear()
        chunks = [workers[i : i + size] for i in range(0, len(workers), size)] or [[]]
        for number, chunk in enumerate(chunks, start=1):
            following = f"/workers?page={number + 1}" if number < len(chunks) else None
            if following and not relative:
                following = self.url.split("/workers")[0] + following
            self.pages[f"/workers?page={number}"] = {"data": {"workers": chunk}, "links": {"next": following}}


@contextmanager
def hris_server(token: str = "hris-token") -> Iterator[HrisServer]:
    """Serve an HRIS REST API on a free loopback port: GET of a known path answers its
    JSON page (401 without `Authorization: Bearer <token>`), after any faults queued
    for that path; an unknown path is 404. Stops on exit."""
    state = HrisServer(url="", token=token, pages={}, faults={}, requests=[])

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            authorised = self.headers.get("Authorization") == f"Bearer {token}"
            state.requests.append(("GET", self.path, authorised, time.monotonic()))
            queued = state.faults.get(self.path)
            if queued:
                answer = queued.pop(0)
            elif not authorised:
                answer = Scripted(401, {"error": "unauthorised"})
            elif self.path in state.pages:
                answer = Scripted(200, state.pages[self.path])
            else:
                answer = Scripted(404, {"error": "no such page"})
            if answer.delay:
                time.sleep(answer.delay)
            payload = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/workers?page=1"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
