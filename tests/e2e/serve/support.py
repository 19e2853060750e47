"""Helpers of the serving tests: worlds (config, policy, feed), a webhook receiver,
`Served` (a running `jml serve` and its Prefect server) and the SCIM server's state.

Every test that runs flows runs them in a world of its own (`Served.world`, or the
`world` fixture of conftest.py: its own feed, SCIM tenant and ledger), so that no test
sees another's leftovers, whatever the order they run in.

`Served.run` creates flow runs the way the UI's Run button does (POST
/deployments/{id}/create_flow_run with parameters); `Served.wait` waits for their end.
`api_call` is every test's call of the Prefect API: a transient failure (a 5xx answer,
the connection refused or reset) is tried again with a bounded backoff.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import yaml

from app.launchers import PrefectServer, ScimTenant, stop
from tests.zygote import JML

ROOT = Path(__file__).resolve().parents[3]
DEPLOYMENTS = ("hr-sync", "reconcile", "provision-person", "decide-approval")
HEADER = "employee_id,first_name,last_name,email,department,job_code,manager_id,employment_type,status,hire_date"
FINAL = {"COMPLETED", "FAILED", "CRASHED", "CANCELLED"}
#: The runner looks for new runs every 10 s by default; the tests should not wait that long.
FAST_POLL = {"PREFECT_RUNNER_POLL_FREQUENCY": "1"}
#: The waits between tries of a Prefect API call that failed transiently (31.5 s in all).
BACKOFF = (0.5, 1, 2, 4, 8, 16)


def feed_rows(n: int, status: str = "active", prefix: str = "S") -> list[str]:
    """n Engineering employees (active or terminated), hired in 2020."""
    return [
        f"{prefix}{i:03d},First{i},Last{i},{prefix.lower()}{i}@example.com,Engineering,ENG,,employee,{status},2020-01-06"
        for i in range(n)
    ]


def write_world(folder: Path, url: str, rows: list[str], **extra) -> Path:
    """A config folder: the example policy, a feed of `rows`, jml.yaml pointing at `url`."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "policy.yaml").write_text((ROOT / "examples" / "policy.yaml").read_text())
    (folder / "workers.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    config = {
        "state": "sqlite:///jml.db",
        "sources": [{"name": "hr", "type": "csv", "path": "workers.csv"}],
        "targets": [{"name": "app", "type": "scim", "url": url, "token_env": "APP_TOKEN",
                     "timeout": 3, "retry": {"attempts": 1}}],
        "policy": "policy.yaml",
        "safety": {"max_invalid_fraction": 0.25, "max_deprovision_fraction": 0.1, "deprovision_floor": 2},
        **extra,
    }  # fmt: skip
    path = folder / "jml.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@dataclass
class Receiver:
    """A webhook receiver: the JSON bodies POSTed to it, in order."""

    url: str
    messages: list[dict] = field(default_factory=list)

    def wait_for(self, text: str, timeout: float) -> list[dict]:
        """The messages mentioning `text`, once there is one (AssertionError after `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = [m for m in list(self.messages) if text in json.dumps(m)]
            if found:
                return found
            time.sleep(0.5)
        raise AssertionError(f"no alert mentioning {text!r} within {timeout} s: {self.messages}")


@dataclass(frozen=True)
class World:
    """A test's own world, bound to `jml serve` while the test runs: its config folder
    (feed `workers.csv`, ledger) and its SCIM tenant."""

    folder: Path
    tenant: ScimTenant


@dataclass
class Served:
    """A running `jml serve` and the Prefect server it serves to."""

    prefect: PrefectServer
    config: Path
    tenant: object
    receiver: Receiver
    process: subprocess.Popen
    log: Path

    def env(self) -> dict[str, str]:
        return {**os.environ, **self.prefect.env(), "APP_TOKEN": self.tenant.token}

    @contextmanager
    def world(self, url: str, rows: list[str], **extra) -> Iterator[Path]:
        """For the block, the config `jml serve` is bound to describes another world (its
        own feed, target and ledger, in a folder of its own; yielded); the served world
        comes back after. Each run reads the bound config afresh."""
        folder = self.config.parent.parent / f"world-{uuid.uuid4().hex[:8]}"
        own = yaml.safe_load(write_world(folder, url, rows, **extra).read_text())
        own["state"] = f"sqlite:///{folder / 'jml.db'}"
        own["sources"][0]["path"] = str(folder / "workers.csv")
        own["policy"] = str(folder / "policy.yaml")
        original = self.config.read_text()
        self.config.write_text(yaml.safe_dump(own, sort_keys=False))
        try:
            yield folder
        finally:
            self.config.write_text(original)

    def api(self, method: str, path: str, **kwargs) -> httpx.Response:
        """One API call (`api_call`) that must succeed (AssertionError otherwise)."""
        response = api_call(self.prefect, method, path, **kwargs)
        assert response.status_code < 300, f"{method} {path}: {response.status_code} {response.text}"
        return response

    def deployment(self, name: str) -> dict:
        return self.api("GET", f"/deployments/name/{name}/{name}").json()

    def run(self, name: str, **parameters) -> dict:
        """Create a flow run of deployment `name` as the UI's Run button does."""
        response = self.create_run(self.deployment(name)["id"], parameters)
        assert response.status_code < 300, f"create_flow_run of {name}: {response.status_code} {response.text}"
        return response.json()

    def create_run(self, deployment_id: str, parameters: dict) -> httpx.Response:
        """The server's answer to creating a flow run of a deployment with `parameters`
        (with an idempotency key: a call tried again creates one run)."""
        once = {"parameters": parameters, "idempotency_key": uuid.uuid4().hex}
        return api_call(self.prefect, "POST", f"/deployments/{deployment_id}/create_flow_run", json=once)

    def wait(self, flow_run_id: str, timeout: float = 120) -> dict:
        """The flow run once it reached a final state."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            run = self.api("GET", f"/flow_runs/{flow_run_id}").json()
            if run["state"] and run["state"]["type"] in FINAL:
                return run
            time.sleep(0.5)
        raise AssertionError(f"flow run {flow_run_id} not finished in {timeout} s:\n{self.log.read_text()[-3000:]}")


def api_call(prefect: PrefectServer, method: str, path: str, **kwargs) -> httpx.Response:
    """The answer to one call of `prefect`'s API (with its authentication), tried again
    after each wait of BACKOFF while it fails transiently: a 5xx answer (a 503 when the
    server's database is busy under load) or the connection refused or reset. The last
    answer is returned (or the last error raised); a call that creates something must
    be safe to repeat (`Served.run` sends an idempotency key)."""
    for wait in (*BACKOFF, None):
        try:
            url = f"{prefect.api_url}{path}"
            response = httpx.request(method, url, timeout=30, headers=prefect.headers(), **kwargs)
        except (httpx.ConnectError, httpx.ReadError, httpx.WriteError, httpx.RemoteProtocolError):
            if wait is None:
                raise
        else:
            if response.status_code < 500 or wait is None:
                return response
        time.sleep(wait)
    raise AssertionError("unreachable: the last try returns or raises")


def start_serve(prefect: PrefectServer, config: Path, env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            [JML, "serve", "--config", str(config)], env=env, stdout=out, stderr=subprocess.STDOUT
        )


def wait_for_deployments(prefect: PrefectServer, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, f"jml serve exited {process.returncode}:\n{log.read_text()[-3000:]}"
        found = api_call(prefect, "POST", "/deployments/filter", json={}).json()
        if {d["name"] for d in found} >= set(DEPLOYMENTS):
            return
        time.sleep(0.5)
    raise AssertionError(f"deployments not served within {timeout} s:\n{log.read_text()[-3000:]}")


def wait_for_exit(pid: int, timeout: float) -> None:
    """Until the process `pid` has ended (gone, or a zombie its parent has not reaped
    yet); AssertionError after `timeout`."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return
        if state in ("Z", "X"):
            return
        time.sleep(0.2)
    raise AssertionError(f"process {pid} still runs after {timeout} s")


def interrupt(
    process: subprocess.Popen,
    timeout: float = 30,
    signum: int = signal.SIGINT,
    then: Callable[[subprocess.Popen], None] = stop,
) -> int:
    """Ctrl-C a process (or send it `signum`); its exit code. If it has not ended after
    `timeout` seconds, `then(process)` ends it (by default: terminated, then killed) and
    TimeoutExpired is raised."""
    process.send_signal(signum)
    try:
        return process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        then(process)
        raise




def scim_state(tenant) -> tuple[dict[str, dict], dict[str, set[str]]]:
    """What a SCIM tenant holds: users by externalId, group name -> member externalIds."""
    headers = {"Authorization": f"Bearer {tenant.token}"}

    def read(endpoint: str) -> list[dict]:
        response = httpx.get(f"{tenant.url}/{endpoint}", params={"count": 1000}, headers=headers, timeout=10)
        assert response.status_code == 200, response.text
        return response.json().get("Resources") or []

    users = {u["externalId"]: u for u in read("Users") if u.get("externalId")}
    external = {u["id"]: eid for eid, u in users.items()}
    groups = {
        g["displayName"]: {external.get(m["value"], m["value"]) for m in g.get("members") or ()}
        for g in read("Groups")
    }
    return users, groups
