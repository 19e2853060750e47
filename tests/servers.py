"""Test-only HTTP servers, in threads (the real servers are in `app.launchers`).

`scripted_server(respond)` is a plain HTTP server in a thread that answers every request
with what `respond(method, path)` says: for faults a real SCIM server cannot be made to
produce on demand (429 with Retry-After, 503, slow answers, endless bodies, redirects);
over HTTPS with `tls=`.

`hris_server()` serves an HRIS REST API (paged workers, a bearer token, queued faults,
redirects) for the REST source's tests.

`capture_proxy()` is a forward HTTP proxy that records every request it is asked to
relay (and relays it), to show what goes through a proxy and what does not.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.httpserving import Quiet, serving


@dataclass(frozen=True, slots=True)
class Scripted:
    """What a scripted server answers: a status, headers, a JSON body, after a delay;
    or, with `chunks`, a body streamed chunk by chunk (chunked encoding, no length)
    until the iterable ends or the client hangs up."""

    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunks: Iterable[bytes] | None = None


@dataclass(slots=True)
class ScriptedServer:
    """A running scripted server: its `url`, the (method, path) of each request, and
    how many bytes of streamed bodies it wrote (`streamed`)."""

    url: str
    requests: list[tuple[str, str]] = field(default_factory=list)
    streamed: int = 0


@contextmanager
def scripted_server(
    respond: Callable[[str, str], Scripted], *, tls: ssl.SSLContext | None = None
) -> Iterator[ScriptedServer]:
    """Serve HTTP (HTTPS with a `tls` server context) on a free loopback port, answering
    each request with `respond(method, path)` (path with its query string); stop on
    exit."""
    server_state = ScriptedServer(url="")

    class Handler(Quiet):
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
                if answer.chunks is None:
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                    return
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                for chunk in answer.chunks:
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    server_state.streamed += len(chunk)
                self.wfile.write(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                self.close_connection = True  # the client gave up (a timeout test, a refused body)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

    with serving(Handler, tls) as server_state.url:
        yield server_state


# -- an HRIS REST API ------------------------------------------------------------------


@dataclass(slots=True)
class HrisServer:
    """A running HRIS API: `url` of its first page, the bearer `token` it wants, the
    `pages` it serves (path -> JSON body, editable between reads), `faults` to answer
    first (path -> list of Scripted, consumed in order), `redirects` (path -> the
    Location a 302 sends to) and the `requests` it got (method, path, whether the token
    was right, monotonic time)."""

    url: str
    token: str
    pages: dict[str, object]
    faults: dict[str, list[Scripted]]
    requests: list[tuple[str, str, bool, float]]
    redirects: dict[str, str] = field(default_factory=dict)

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
    for that path; a path in `redirects` answers 302; an unknown path is 404. Stops on
    exit."""
    state = HrisServer(url="", token=token, pages={}, faults={}, requests=[])

    class Handler(Quiet):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            authorised = self.headers.get("Authorization") == f"Bearer {token}"
            state.requests.append(("GET", self.path, authorised, time.monotonic()))
            queued = state.faults.get(self.path)
            if queued:
                answer = queued.pop(0)
            elif self.path in state.redirects:
                answer = Scripted(302, {}, {"Location": state.redirects[self.path]})
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

    with serving(Handler) as base:
        state.url = f"{base}/workers?page=1"
        yield state


# -- a forward proxy ---------------------------------------------------------------------


@dataclass(slots=True)
class CaptureProxy:
    """A running forward proxy: its `url` (for `proxy:` or `HTTP_PROXY`) and, for each
    request it was asked to relay, (method, the absolute URL, the request's headers)."""

    url: str
    requests: list[tuple[str, str, dict[str, str]]] = field(default_factory=list)


@contextmanager
def capture_proxy() -> Iterator[CaptureProxy]:
    """Serve a forward HTTP proxy on a free loopback port: it records each request and
    relays it to the absolute URL it names (CONNECT, for HTTPS, is recorded and refused
    with 405); stops on exit."""
    state = CaptureProxy(url="")
    upstream = httpx.Client(trust_env=False, timeout=30)

    class Handler(Quiet):
        protocol_version = "HTTP/1.1"

        def _relay(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = dict(self.headers.items())
            state.requests.append((self.command, self.path, headers))
            if self.command == "CONNECT":
                self.send_response(405)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            relayed = {k: v for k, v in headers.items() if k.lower() not in ("host", "proxy-connection", "connection")}
            answer = upstream.request(self.command, self.path, headers=relayed, content=body)
            self.send_response(answer.status_code)
            for name, value in answer.headers.items():
                if name.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer.content)))
            self.end_headers()
            self.wfile.write(answer.content)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = do_CONNECT = _relay

    try:
        with serving(Handler) as state.url:
            yield state
    finally:
        upstream.close()
