"""A local `prefect server` process: `jml demo --ui`'s Prefect and the tests' real one.

`prefect_server(home)` runs `prefect server start` (installed beside this Python) on a
free loopback port with its own PREFECT_HOME (so its SQLite database is private),
waits until /api/health answers, and stops it on exit. Nothing here imports prefect:
the server is another process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from jml.scim_process import free_port


@dataclass(frozen=True, slots=True)
class PrefectServer:
    """A running `prefect server`: its API URL and the PREFECT_HOME it uses."""

    api_url: str
    home: Path

    @property
    def ui_url(self) -> str:
        """The address of the Prefect UI."""
        return self.api_url.removesuffix("/api")

    def env(self) -> dict[str, str]:
        """Environment variables that point a process at this server."""
        return {
            "PREFECT_API_URL": self.api_url,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }


def stop(process: subprocess.Popen, timeout: float = 15.0) -> None:
    """Terminate a child process; kill it if it does not stop within `timeout`."""
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def prefect_server(home: Path, *, startup_timeout: float = 60.0) -> Iterator[PrefectServer]:
    """Start `prefect server start` on a free loopback port with its own PREFECT_HOME,
    wait for /api/health, yield it, stop it on exit. Its output goes to
    `<home>/server.log`."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    server = PrefectServer(api_url=f"http://127.0.0.1:{port}/api", home=home)
    env = {**os.environ, **server.env()}
    env.pop("PREFECT_API_URL")
    # The UI asks the API at this address (else it assumes port 4200), and links use it.
    env.update(PREFECT_UI_API_URL=server.api_url, PREFECT_UI_URL=server.ui_url)
    command = [str(Path(sys.executable).parent / "prefect"), "server", "start",
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with (home / "server.log").open("wb") as log:
        process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_healthy(process, server, startup_timeout)
            yield server
        finally:
            stop(process)


def _wait_until_healthy(process: subprocess.Popen, server: PrefectServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"prefect server exited at start; see {server.home / 'server.log'}")
        try:
            if httpx.get(f"{server.api_url}/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"prefect server did not answer within {timeout} s")
        time.sleep(0.2)
