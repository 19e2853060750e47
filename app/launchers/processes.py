"""What every launcher does with its child process: start it on a free port, wait until
it answers as itself, stop it.

`on_a_free_port(start)` calls `start(port)` with a new free port until it returns:
between the moment a port is found free and the moment the server binds it another
process may take it, so `start` raises `ExitedAtStart` when its server ended before it
answered as itself (its port was taken: it could not bind, and the server answering
there is not its own) and is tried again, `ATTEMPTS` times in all.

`wait_until(process, probe, ...)` polls `probe()` until it returns something other than
None and returns that; it raises `ExitedAtStart` if the process ends first and
`RuntimeError` when `timeout` seconds pass, and stops the process whenever it raises.
A launcher's probe answers only for the server it started (a per-launch secret: a
token, a password, a home folder), never for another one on the port.
`stop(process)` terminates a child and kills it if it does not end in time.
`third_party_env()` is the environment for a server that is not jml's code.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

from app.launchers.ports import free_port

T = TypeVar("T")


def third_party_env() -> dict[str, str]:
    """This process's environment without coverage's subprocess variables, for a server
    that is not jml's code (scim2-server, `prefect server`): a measured test run has
    nothing to measure in it, and tracing it slowed its start past the timeout under load."""
    return {name: value for name, value in os.environ.items() if not name.startswith("COVERAGE_")}


#: Starts tried, each on a new free port (parallel test workers may take one meanwhile).
ATTEMPTS = 3


class ExitedAtStart(RuntimeError):
    """The server process ended before it answered as itself (a bad option, a port taken)."""


def on_a_free_port(start: Callable[[int], T], *, attempts: int = ATTEMPTS) -> T:
    """`start(port)`'s result, on a new free port per attempt while it raises `ExitedAtStart`
    (the last attempt's error propagates; any other error at once). `start` leaves
    nothing running when it raises."""
    for attempt in range(1, attempts + 1):
        try:
            return start(free_port())
        except ExitedAtStart:
            if attempt == attempts:
                raise
    raise AssertionError("unreachable: the last attempt returns or raises")


def wait_until(
    process: subprocess.Popen,
    probe: Callable[[], T | None],
    *,
    name: str,
    timeout: float,
    interval: float = 0.05,
    log: Path | None = None,
) -> T:
    """`probe()`'s first answer other than None, polled every `interval` seconds while
    `process` runs; `name` names the server in the errors, which point at its `log`.
    The process is stopped when this raises (it did not start, or it is not wanted)."""
    deadline = time.monotonic() + timeout
    try:
        while True:
            if process.poll() is not None:
                see = f"; see {log}" if log else ""
                raise ExitedAtStart(f"{name} exited with status {process.returncode} at start{see}")
            answer = probe()
            if answer is not None:
                return answer
            if time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not answer within {timeout} s")
            time.sleep(interval)
    except BaseException:
        stop(process, timeout=5)
        raise


def answers(
    url: str, check: Callable[[httpx.Response], bool], headers: dict[str, str] | None = None
) -> Callable[[], bool | None]:
    """A probe for `wait_until`: True once a GET of `url` (with `headers`) answers 200 and
    `check(response)` holds (the server is the one started)."""

    def probe() -> bool | None:
        try:
            response = httpx.get(url, headers=headers, timeout=1.0)
            return (response.status_code == 200 and check(response)) or None
        except httpx.TransportError:
            return None

    return probe


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """Terminate a child process; kill it if it does not stop within `timeout` seconds."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
