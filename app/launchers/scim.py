"""A local scim2-server process: the demo's SCIM app and the tests' real SCIM server.

`scim_server()` runs the `scim2-server` command installed beside this Python (an
in-memory SCIM 2.0 server) on a free loopback port with a bearer token (on another port
if the server answering there is not the one started: it must accept this launch's
token and refuse a request without it). With
`tenants=True` (`--dynamic-tenants`) every first request to `/<tenant>/...` creates an
empty tenant, so each test can use its own `f"{server.url}/{uuid}"` as the base URL of
a SCIM service; the bare `server.url` is then not a SCIM service.
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.launchers.processes import answers, on_a_free_port, stop, third_party_env, wait_until


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
    *,
    token: str | None = None,
    tenants: bool = True,
    service_provider_config: dict | None = None,
    startup_timeout: float = 15.0,
) -> Iterator[ScimServer]:
    """Start a scim2-server process, wait until it answers, yield it, stop it on exit.

    `service_provider_config` replaces the server's ServiceProviderConfig (RFC 7643 §5),
    e.g. to announce small Bulk limits; by default everything but cursors is supported
    (Bulk: maxOperations 1000, maxPayloadSize 1 MiB; filter maxResults 1000).
    """
    token = token or secrets.token_urlsafe(24)
    with tempfile.TemporaryDirectory(prefix="scim2-server-") as folder:
        # the token in one word: a token may start with "-"
        options = [f"--bearer-token={token}"] + (["--dynamic-tenants"] if tenants else [])
        if service_provider_config is not None:
            config_file = Path(folder) / "service-provider-config.json"
            config_file.write_text(json.dumps(service_provider_config), encoding="utf-8")
            options += ["--service-provider-config", str(config_file)]

        def start(port: int) -> tuple[subprocess.Popen, ScimServer]:
            command = [_scim2_server_command(), "--hostname", "127.0.0.1", "--port", str(port), *options]
            process = subprocess.Popen(
                command, env=third_party_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            server = ScimServer(url=f"http://127.0.0.1:{port}", token=token)
            wait_until(process, _answers_as(server, tenants), name="scim2-server", timeout=startup_timeout)
            return process, server

        process, server = on_a_free_port(start)
        try:
            yield server
        finally:
            stop(process, timeout=5)


def _answers_as(server: ScimServer, tenants: bool):
    """A probe: True once the server on the port is this one, i.e. it accepts this
    launch's token and refuses a request without it (another scim2-server has another
    token; a server that is not SCIM does not refuse)."""
    users = f"{server.url}/ready-probe/Users" if tenants else f"{server.url}/Users"
    bearer = {"Authorization": f"Bearer {server.token}"}
    return answers(f"{users}?count=0", lambda _: httpx.get(f"{users}?count=0", timeout=1.0).status_code == 401, bearer)
