"""A local `prefect server` process: `jml demo --ui`'s Prefect and the tests' real one.

`prefect_server(home)` runs `prefect server start` (installed beside this Python) on a
free loopback port with its own PREFECT_HOME (so its SQLite database is private),
waits until the server answering there is this one (its settings name this
PREFECT_HOME; on another port if not), and stops it on exit. With `auth_string`
("user:password") the server demands HTTP Basic authentication of every API call and of
the UI (PREFECT_SERVER_API_AUTH_STRING), and `env()` hands clients the same string
(PREFECT_API_AUTH_STRING). Nothing here imports prefect: the server is another process.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.launchers.processes import answers, on_a_free_port, stop, third_party_env, wait_until

#: Seconds a start may take: 30 s on this 2-core machine at a load of 5, over 60 s with
#: two test sessions starting their served worlds at once (60 s failed there).
STARTUP_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class PrefectServer:
    """A running `prefect server`: its API URL, the PREFECT_HOME it uses and the Basic
    authentication string it demands (None: none)."""

    api_url: str
    home: Path
    auth_string: str | None = None

    @property
    def ui_url(self) -> str:
        """The address of the Prefect UI."""
        return self.api_url.removesuffix("/api")

    def headers(self) -> dict[str, str]:
        """The headers an HTTP client of this server's API sends (authentication)."""
        if self.auth_string is None:
            return {}
        return {"Authorization": "Basic " + base64.b64encode(self.auth_string.encode()).decode("ascii")}

    def env(self) -> dict[str, str]:
        """Environment variables that point a process at this server."""
        env = {
            "PREFECT_API_URL": self.api_url,
            "PREFECT_HOME": str(self.home),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        }
        if self.auth_string is not None:
            env["PREFECT_API_AUTH_STRING"] = self.auth_string
        return env


@contextmanager
def prefect_server(
    home: Path, *, startup_timeout: float = STARTUP_TIMEOUT, auth_string: str | None = None
) -> Iterator[PrefectServer]:
    """Start `prefect server start` on a free loopback port with its own PREFECT_HOME
    (demanding `auth_string` when given), wait until the server answering there is this
    one (on another port if not), yield it, stop it on exit. Its output goes to
    `<home>/server.log`."""
    home.mkdir(parents=True, exist_ok=True)
    log = home / "server.log"
    with log.open("wb") as output:

        def start(port: int) -> tuple[subprocess.Popen, PrefectServer]:
            server = PrefectServer(api_url=f"http://127.0.0.1:{port}/api", home=home, auth_string=auth_string)
            env = {**third_party_env(), **server.env()}
            env.pop("PREFECT_API_URL")
            env.pop("PREFECT_API_AUTH_STRING", None)
            if auth_string is not None:
                env["PREFECT_SERVER_API_AUTH_STRING"] = auth_string
            # The UI asks the API at this address (else it assumes port 4200), and links use it.
            env.update(PREFECT_UI_API_URL=server.api_url, PREFECT_UI_URL=server.ui_url)
            command = [str(Path(sys.executable).parent / "prefect"), "server", "start",
                       "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
            process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
            wait_until(
                process, _answers_as(server), name="prefect server", timeout=startup_timeout, interval=0.2, log=log
            )
            return process, server

        process, server = on_a_free_port(start)
        try:
            yield server
        finally:
            stop(process)


def _answers_as(server: PrefectServer):
    """A probe: True once the server on the port is this one: its settings (which demand
    the authentication string, if any) name this launch's PREFECT_HOME."""
    home = str(server.home.resolve())
    return answers(
        f"{server.api_url}/admin/settings",
        lambda response: str(Path(response.json().get("home", "")).resolve()) == home,
        server.headers(),
    )
