"""`jml serve` against a real Prefect server: the deployments, their schedules and typed
parameters, runs started as the UI's Run button does, and a clean shutdown that keeps
the schedules and never duplicates the alert automations."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import httpx

from tests.e2e.serve.support import (
    DEPLOYMENTS,
    FAST_POLL,
    JML,
    Served,
    World,
    feed_rows,
    interrupt,
    scim_state,
    start_serve,
    write_world,
)
from tests.httpserving import Quiet, serving


def schedules_of(served: Served, name: str) -> list[tuple[str, bool]]:
    return [(s["schedule"].get("cron"), s["active"]) for s in served.deployment(name)["schedules"]]


def test_the_four_deployments_have_their_schedules_and_a_clear_run_form(served: Served):
    assert schedules_of(served, "hr-sync") == [("0 * * * *", True)]
    assert schedules_of(served, "reconcile") == [("0 2 * * *", True)]
    assert schedules_of(served, "provision-person") == []
    assert schedules_of(served, "decide-approval") == []
    for name in DEPLOYMENTS:
        deployment = served.deployment(name)
        schema = deployment["parameter_openapi_schema"]
        assert "config" not in schema["properties"] and "actor" not in schema["properties"], (name, schema)
        assert all(p.get("description") for p in schema["properties"].values()), (name, schema)
    hr_sync = served.deployment("hr-sync")["parameter_openapi_schema"]["properties"]
    assert {"as_of", "dry_run", "wait_for_approvals"} <= set(hr_sync)
    assert hr_sync["dry_run"]["type"] == "boolean"
    # the config does not allow overriding the gates from the UI: frozen to false
    assert hr_sync["override_safety"]["readOnly"] is True and hr_sync["override_safety"]["enum"] == [False]
    decide = served.deployment("decide-approval")["parameter_openapi_schema"]
    assert {"exception_id", "approver"} <= set(decide["required"])
    assert decide["properties"]["decision"]["enum"] == ["approve", "reject"]
    assert decide["properties"]["exception_id"]["type"] == "integer"


def test_a_run_started_like_the_run_button_completes_and_the_scim_server_shows_it(served: Served, world: World):
    run = served.run("hr-sync", as_of="2026-03-02")
    done = served.wait(run["id"])
    assert (done["state"]["type"], done["state"]["name"]) == ("COMPLETED", "Completed"), done["state"]
    actors = {entry.actor for entry in audit_of(served.config) if entry.run_id is not None}
    assert f"deployment hr-sync, flow run {run['id']}" in actors  # never a name typed into a form
    users, groups = scim_state(world.tenant)
    assert set(users) == {"S000", "S001", "S002"}
    assert all(user["active"] for user in users.values())
    assert groups["all-staff"] == groups["engineering"] == {"S000", "S001", "S002"}
    artifacts = served.api(
        "POST", "/artifacts/filter", json={"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}
    ).json()
    assert {a["type"] for a in artifacts} >= {"markdown", "table", "progress"}, artifacts
    progress = [a for a in artifacts if a["type"] == "progress"]
    assert progress[0]["data"] == 100.0


def test_provision_person_applies_one_new_hire_now(served: Served, world: World):
    feed = world.folder / "workers.csv"
    feed.write_text(
        feed.read_text() + "S900,New,Hire,new.hire@example.com,Sales,SLS,,employee,active,2020-01-06\n"
        "S901,Other,Joiner,other.joiner@example.com,Sales,SLS,,employee,active,2020-01-06\n"
    )
    done = served.wait(served.run("provision-person", employee_id="S900")["id"])
    assert done["state"]["type"] == "COMPLETED", done["state"]
    users, groups = scim_state(world.tenant)
    assert set(users) == {"S900"}  # only the one person, now
    assert groups["sales"] == {"S900"}
    missing = served.wait(served.run("provision-person", employee_id="NOPE")["id"])
    assert missing["state"]["type"] == "FAILED"
    assert "NOPE is not in the HR feed" in missing["state"]["message"]


def test_serving_again_updates_in_place_and_stopping_keeps_the_schedules(served: Served, tmp_path):
    log = tmp_path / "second-serve.log"
    second = start_serve(served.prefect, served.config, {**served.env(), **FAST_POLL}, log)
    try:  # Prefect prints "Your deployments are being served ..." once they are registered
        deadline = time.monotonic() + 90
        while "served" not in log.read_text() and time.monotonic() < deadline:
            assert second.poll() is None, log.read_text()
            time.sleep(0.5)
        assert "served" in log.read_text(), log.read_text()
    finally:
        code = interrupt(second, signum=signal.SIGTERM)  # how a service manager stops it
    assert code == 0, log.read_text()
    automations = served.api("POST", "/automations/filter", json={}).json()
    names = sorted(a["name"] for a in automations)
    assert names == ["jml: operations failed", "jml: run failed"], names
    assert schedules_of(served, "hr-sync") == [("0 * * * *", True)]
    assert schedules_of(served, "reconcile") == [("0 2 * * *", True)]
    assert not served.deployment("hr-sync")["paused"]
    assert httpx.get(f"{served.prefect.api_url}/health", timeout=5).status_code == 200


def test_serve_refuses_bad_input_with_one_line(tmp_path, scim_tenant, dead_port: int):
    """No Prefect API, an API that does not answer, a missing alert secret: one line, no
    traceback, the SPEC's exit code."""
    config = write_world(tmp_path, scim_tenant.url, [], alerts=[{"type": "slack", "webhook_url_env": "JML_T_SLACK"}])
    base = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    base |= {"PREFECT_HOME": str(tmp_path / "home"), "APP_TOKEN": scim_tenant.token}

    def serve(**env: str) -> subprocess.CompletedProcess:
        return subprocess.run([JML, "serve", "--config", str(config)], env={**base, **env},
                              capture_output=True, text=True, timeout=60)  # fmt: skip

    missing_secret = serve(PREFECT_API_URL="http://127.0.0.1:9/api")
    assert missing_secret.returncode == 2, missing_secret
    assert missing_secret.stderr == "error: alerts.0.webhook_url_env: environment variable JML_T_SLACK is not set\n"
    no_api = serve(JML_T_SLACK="https://hooks.example.com/x")
    assert no_api.returncode == 2 and no_api.stderr.startswith("error: PREFECT_API_URL is not set"), no_api
    down = serve(JML_T_SLACK="https://hooks.example.com/x", PREFECT_API_URL=f"http://127.0.0.1:{dead_port}/api")
    assert down.returncode == 1 and "does not answer" in down.stderr and len(down.stderr.splitlines()) == 1, down


def test_the_prefect_server_demands_authentication_and_serve_without_it_is_refused(served: Served):
    """README "Security": the Prefect server runs with PREFECT_SERVER_API_AUTH_STRING and
    jml with PREFECT_API_AUTH_STRING (every serving test runs so). Without the string,
    or with a wrong one, the API refuses and `jml serve` says so in one line, exit 2,
    never printing the string it was given."""
    anonymous = httpx.post(f"{served.prefect.api_url}/deployments/filter", json={}, timeout=10)
    assert anonymous.status_code == 401, anonymous.text
    env = {k: v for k, v in served.env().items() if k != "PREFECT_API_AUTH_STRING"}
    wrong = "jml:not-the-password"
    for extra, says in (({}, "demands authentication"), ({"PREFECT_API_AUTH_STRING": wrong}, "refused")):
        done = subprocess.run([JML, "serve", "--config", str(served.config)], env={**env, **extra},
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 2, done
        assert says in done.stderr and len(done.stderr.splitlines()) == 1, done.stderr
        assert "not-the-password" not in done.stderr + done.stdout
    assert served.process.poll() is None  # the real `jml serve` still serves


def audit_of(config) -> list:
    from jml.config import load_config
    from jml.ledger import Ledger

    ledger = Ledger.open(load_config(config).state_url)
    try:
        return ledger.audit_trail()
    finally:
        ledger.close()


class Capture(Quiet):
    """Records the Authorization header of every request it gets; answers 404."""

    seen: list[str | None] = []

    def _any(self) -> None:
        Capture.seen.append(self.headers.get("Authorization"))
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _any


def test_no_run_parameter_can_point_the_worker_and_its_secrets_at_another_config(
    served: Served, world: World, tmp_path
):
    """Issue 14, finding 3: a run of a deployment took `config` as a free path; a config
    of one's own with its target at a capture server received `Bearer <token>`. Now no
    parameter names a config: the server refuses an unknown parameter, or the run fails;
    the capture server never hears from jml either way, and a UI run cannot override
    the safety gates. (In a world of its own: a run the server accepts changes no other
    test's.)"""
    with serving(Capture) as capture:
        evil = write_world(tmp_path / "evil", f"{capture}/scim", feed_rows(1))
        deployment = served.deployment("hr-sync")
        for parameters in ({"config": str(evil)}, {"config": str(evil), "as_of": "2026-03-02"}):
            response = served.create_run(deployment["id"], parameters)
            if response.status_code < 300:  # accepted by the server: the run must not use it
                done = served.wait(response.json()["id"])
                assert done["state"]["type"] in ("FAILED", "CRASHED", "COMPLETED"), done["state"]
        refused = served.create_run(deployment["id"], {"override_safety": True})
        if refused.status_code < 300:
            done = served.wait(refused.json()["id"])
            assert done["state"]["type"] == "FAILED" and "allow_ui_override" in done["state"]["message"], done
        else:
            assert refused.status_code in (409, 422), refused.text
    assert Capture.seen == []
