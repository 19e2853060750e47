"""The other way to run in production: deployments/prefect.yaml deployed with `prefect
deploy` to a process work pool, and a `prefect worker` running a flow run of it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from app.launchers import prefect_server, stop
from tests.e2e.serve.support import (
    DEPLOYMENTS,
    FAST_POLL,
    ROOT,
    api_call,
    feed_rows,
    scim_state,
    wait_for_exit,
    write_world,
)

PREFECT = str(Path(sys.executable).parent / "prefect")


@pytest.mark.timeout(600)  # deploy, a worker's start, its flow run's process: 300 s is tight under load
def test_prefect_deploy_to_a_process_pool_and_a_worker_runs_hr_sync(tmp_path, scim_server):
    tenant = scim_server.tenant()
    config = write_world(
        tmp_path / "world", tenant.url, feed_rows(2, prefix="W"),
        alerts=[{"type": "webhook", "url": "http://127.0.0.1:9/unused"}],
    )  # fmt: skip
    with prefect_server(tmp_path / "prefect-home") as prefect:
        env = {**os.environ, **prefect.env(), **FAST_POLL, "APP_TOKEN": tenant.token,
               "JML_HOME": str(ROOT), "PREFECT_WORKER_QUERY_SECONDS": "1"}  # fmt: skip
        worker_env = {**env, "JML_CONFIG": str(config)}  # the worker's own config

        def prefect_cli(*args: str) -> str:
            done = subprocess.run(
                [PREFECT, "--no-prompt", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
            )
            assert done.returncode == 0, f"prefect {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
            return done.stdout

        prefect_cli("work-pool", "create", "jml", "--type", "process",
                    "--base-job-template", "deployments/process-pool.json")  # fmt: skip
        prefect_cli("deploy", "--all", "--prefect-file", "deployments/prefect.yaml")
        deployments = {d["name"]: d for d in api_call(prefect, "POST", "/deployments/filter", json={}).json()}
        assert set(deployments) == set(DEPLOYMENTS)
        assert all(d["work_pool_name"] == "jml" for d in deployments.values())
        assert all(d["parameters"] == {} for d in deployments.values())  # nothing names a config
        crons = {name: [s["schedule"]["cron"] for s in d["schedules"]] for name, d in deployments.items()}
        assert crons == {"hr-sync": ["0 * * * *"], "reconcile": ["0 2 * * *"],
                         "provision-person": [], "decide-approval": []}  # fmt: skip
        alerts = subprocess.run(
            [str(Path(sys.executable).parent / "jml"), "serve", "--alerts-only", "--config", str(config)],
            env=env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert alerts.returncode == 0 and "alerts: jml: run failed, jml: operations failed" in alerts.stderr, alerts
        names = [a["name"] for a in api_call(prefect, "POST", "/automations/filter", json={}).json()]
        assert sorted(names) == ["jml: operations failed", "jml: run failed"]
        declared = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())["deployments"]
        assert [d["name"] for d in declared] == list(DEPLOYMENTS)

        once = {"parameters": {"as_of": "2026-03-02"}, "idempotency_key": "work-pool-run"}  # tried again: one run
        run = api_call(prefect, "POST", f"/deployments/{deployments['hr-sync']['id']}/create_flow_run", json=once).json()
        log = (tmp_path / "worker.log").open("wb")
        worker = subprocess.Popen(
            [PREFECT, "worker", "start", "--pool", "jml"], cwd=tmp_path, env=worker_env, stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 300  # 120 s: the run was still Submitting on the loaded CI machine
            state = None
            while time.monotonic() < deadline:
                state = api_call(prefect, "GET", f"/flow_runs/{run['id']}").json()["state"]
                if state["type"] in ("COMPLETED", "FAILED", "CRASHED"):
                    break
                time.sleep(0.5)
            # The server has the final state before the run's process has ended; a worker
            # stopped in between waits for it, and took longer than 30 s on loaded CI.
            infrastructure = api_call(prefect, "GET", f"/flow_runs/{run['id']}").json().get("infrastructure_pid")
            if infrastructure:
                wait_for_exit(int(str(infrastructure).rsplit(":", 1)[-1]), timeout=60)
        finally:
            # Prefect's worker, not jml: on loaded CI it did not stop within 30 s of Ctrl-C
            # (nor of SIGTERM), so it is terminated, then killed, without a claim on its time.
            stop(worker)
            log.close()
        assert (state["type"], state["name"]) == ("COMPLETED", "Completed"), (state, (tmp_path / "worker.log").read_text()[-3000:])
    users, groups = scim_state(tenant)
    assert set(users) == {"W000", "W001"} and groups["engineering"] == {"W000", "W001"}
