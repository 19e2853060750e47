"""What every launcher does with its child process: wait until it answers, stop it.

`wait_until(process, probe, ...)` polls `probe()` until it returns something other than
None and returns that; it raises `ExitedAtStart` if the process ends first and
`RuntimeError` when `timeout` seconds pass. `stop(process)` terminates a child and kills
it if it does not end in time.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

T = TypeVar("T")


class ExitedAtStart(RuntimeError):
    """The server process ended before it answered (a bad option, a port taken)."""


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
    `process` runs; `name` names the server in the errors, which point at its `log`."""
    deadline = time.monotonic() + timeout
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


def answers_ok(url: str) -> Callable[[], bool | None]:
    """A probe for `wait_until`: True once a GET of `url` answers 200."""

    def probe() -> bool | None:
        try:
            return httpx.get(url, timeout=1.0).status_code == 200 or None
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
