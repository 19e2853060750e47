"""A fault-injecting HTTP proxy in front of a real server (scim2-server in the tests).

Each request is, by a seeded draw: answered 503 without reaching the server; answered 429
with `Retry-After` without reaching it; for a write (POST, PUT, PATCH, DELETE), forwarded
and then its reply *dropped* (the connection closes after the server acted); or simply
forwarded. `delay` slows every forwarded request (to kill a run mid-apply). Counts of
what it did are in `FaultProxy.counts`, with the users that GETs of /Users returned:
"users listed" (pages of every user), "users filtered" (filter queries) and "users
fetched" (one by id), and the same of /Groups ("groups listed", ...); when each
write arrived and was answered (`writes`); and the server's seconds per kind of request
(`upstream`, by `request_kind`: "PATCH /Groups/{id}", "GET /Users?filter", ...).
"""

from __future__ import annotations

import random
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx

from tests.httpserving import Quiet, serving

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Faults:
    """Shares of requests to fault (0..1) and how."""

    unavailable: float = 0.0  # 503
    throttled: float = 0.0  # 429 with Retry-After
    retry_after: int = 1
    dropped: float = 0.0  # writes whose reply is lost after the server acted
    delay: float = 0.0
    seed: int = 1


@dataclass
class FaultProxy:
    """A running proxy: its `url` stands in for the upstream URL."""

    url: str
    faults: Faults
    counts: Counter = field(default_factory=Counter)
    #: (arrived, answered): `time.monotonic()` of each write the server answered.
    writes: list[tuple[float, float]] = field(default_factory=list)
    #: request_kind -> [requests, seconds the server took to answer them].
    upstream: dict[str, list[float]] = field(default_factory=dict)


def request_kind(method: str, path: str) -> str:
    """The method and the endpoint, with a resource's id as `{id}` and a filter query as
    `?filter`: "GET /Users/{id}", "GET /Groups?filter", "POST /Bulk"."""
    endpoint, _, query = path.partition("?")
    parts = endpoint.rstrip("/").split("/")
    if len(parts) > 1 and parts[-2] in ("Users", "Groups"):
        parts[-1] = "{id}"
    for index, part in enumerate(parts):
        if part in ("Users", "Groups", "Bulk"):
            parts = parts[index:]
            break
    return f"{method} /{'/'.join(parts).lstrip('/')}{'?filter' if 'filter=' in query else ''}"


@contextmanager
def fault_proxy(upstream: str, faults: Faults, *, timeout: float = 30) -> Iterator[FaultProxy]:
    """Serve on a free loopback port, forwarding to `upstream` (scheme://host:port, no
    path: the request path is kept) with the given faults, giving up on an answer after
    `timeout` seconds (a 502); stop on exit."""
    draw = random.Random(faults.seed)
    lock = threading.Lock()
    client = httpx.Client(base_url=upstream, timeout=timeout)
    proxy = FaultProxy(url="", faults=faults)
    stopped = threading.Event()

    def decide(method: str) -> str:
        with lock:
            roll = draw.random()
        if roll < faults.unavailable:
            return "unavailable"
        roll -= faults.unavailable
        if roll < faults.throttled:
            return "throttled"
        roll -= faults.throttled
        if method in WRITES and roll < faults.dropped:
            return "dropped"
        return "forwarded"

    def _count_read(method: str, path: str, answer: httpx.Response) -> None:
        """Resources a GET of /Users or /Groups returned, as "users listed" (a page of
        every user), "users filtered" (a filter query's answer) or "users fetched"
        (GET /Users/{id}); the same of groups."""
        endpoint, _, query = path.partition("?")
        if method != "GET" or answer.status_code != 200:
            return
        parts = endpoint.rstrip("/").split("/")
        if parts[-1] in ("Users", "Groups"):
            try:
                found = len(answer.json().get("Resources") or ())
            except ValueError:
                return
            kind = f"{parts[-1].lower()} {'filtered' if 'filter=' in query else 'listed'}"
        elif len(parts) > 1 and parts[-2] in ("Users", "Groups"):
            found, kind = 1, f"{parts[-2].lower()} fetched"
        else:
            return
        with lock:
            proxy.counts[kind] += found

    class Handler(Quiet):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            arrived = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            fate = decide(self.command)
            with lock:
                proxy.counts[fate] += 1
                proxy.counts["requests"] += 1
            if fate == "unavailable":
                return self._reply(503, {"Retry-After": "0"}, b"")
            if fate == "throttled":
                return self._reply(429, {"Retry-After": str(faults.retry_after)}, b"")
            if faults.delay:
                time.sleep(faults.delay)
            if stopped.is_set():  # never forward a write after the proxy was stopped
                return self._reply(502, {}, b"")
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            sent = time.perf_counter()
            try:
                answer = client.request(self.command, self.path, content=body, headers=headers)
            except (httpx.HTTPError, RuntimeError):  # upstream gone, or the proxy stopping
                return self._reply(502, {}, b"")
            with lock:
                tally = proxy.upstream.setdefault(request_kind(self.command, self.path), [0, 0.0])
                tally[0] += 1
                tally[1] += time.perf_counter() - sent
            if fate == "dropped":
                if self.command == "POST" and self.path.split("?")[0].rstrip("/").endswith("/Users"):
                    with lock:
                        proxy.counts["dropped POST /Users"] += 1
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)
                return None
            _count_read(self.command, self.path, answer)
            if self.command in WRITES:
                with lock:
                    proxy.writes.append((arrived, time.monotonic()))
            kept = {
                k: v
                for k, v in answer.headers.items()
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "content-encoding")
            }
            return self._reply(answer.status_code, kept, answer.content)

        def _reply(self, status: int, headers: dict, payload: bytes) -> None:
            try:
                self.send_response_only(status)  # the server's own Date, not a second one
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    try:
        with serving(Handler) as proxy.url:
            try:
                yield proxy
            finally:
                stopped.set()  # before the server stops: no write is forwarded after
    finally:
        client.close()
