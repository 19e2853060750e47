"""Alerts through a webhook receiver started by the test: `jml serve` made the Prefect
Automations; a run whose target is down and a run halted by the deprovision guard each
send one message (flow, run, state, counts, UI link) within 60 s; a converged run none.
"One", "none": the test waits for the alert of a later run (`sentinel`), which the same
automations send after any message of the runs before it."""

from __future__ import annotations

import uuid

from tests.e2e.serve.support import Served, feed_rows

ALERT_WITHIN = 60


def sentinel(served: Served) -> None:
    """Wait for the alert of a later run: a run of hr-sync created scheduled for the year
    2999 (the runner never starts it) and set Failed through the API. Its state event
    comes after those of every run before it, so once its alert is in, a duplicate (or
    an alert) for one of those would be in too."""
    later = {"state": {"type": "SCHEDULED", "state_details": {"scheduled_time": "2999-01-01T00:00:00Z"}},
             "idempotency_key": uuid.uuid4().hex}  # fmt: skip
    run = served.api("POST", f"/deployments/{served.deployment('hr-sync')['id']}/create_flow_run", json=later).json()
    failed = {"state": {"type": "FAILED", "name": "Failed", "message": "sentinel"}, "force": True}
    served.api("POST", f"/flow_runs/{run['id']}/set_state", json=failed)
    served.receiver.wait_for(run["id"], ALERT_WITHIN)


def assert_one_alert(served: Served, run: dict, state: str, *fragments: str) -> str:
    served.receiver.wait_for(run["id"], ALERT_WITHIN)
    sentinel(served)
    messages = [m for m in served.receiver.messages if run["id"] in str(m)]
    assert len(messages) == 1, messages
    text = messages[0]["text"]
    assert "flow: hr-sync" in text and f"run: {run['name']}" in text and f"state: {state}" in text, text
    assert f"{served.prefect.ui_url}/runs/flow-run/{run['id']}" in text, text
    for fragment in fragments:
        assert fragment in text, text
    assert messages[0]["subject"].startswith("jml: hr-sync run"), messages[0]
    return text


def test_a_run_whose_target_is_down_alerts(served: Served, dead_port: int):
    down = f"http://127.0.0.1:{dead_port}/scim"  # refuses every connection
    with served.world(down, feed_rows(2, prefix="D")):
        run = served.run("hr-sync", as_of="2026-03-02")
        done = served.wait(run["id"])
    assert (done["state"]["type"], done["state"]["name"]) == ("COMPLETED", "Attention"), done["state"]
    text = assert_one_alert(served, run, "Attention", "operations failed (unreachable: app)")
    assert "exceptions open 1" in text


def test_a_run_halted_by_the_deprovision_guard_alerts_and_a_converged_one_does_not(served: Served, scim_server):
    tenant = scim_server.tenant()
    with served.world(tenant.url, feed_rows(6, prefix="G")) as folder:
        first = served.run("hr-sync", as_of="2026-03-02")
        assert served.wait(first["id"])["state"]["name"] == "Completed"
        (folder / "workers.csv").write_text(
            (folder / "workers.csv").read_text().replace(",active,", ",terminated,")
        )
        run = served.run("hr-sync", as_of="2026-03-02")
        done = served.wait(run["id"])
    assert (done["state"]["type"], done["state"]["name"]) == ("FAILED", "Halted"), done["state"]
    assert_one_alert(served, run, "Halted", "deprovision guard", "6 persons")
    assert not [m for m in served.receiver.messages if first["id"] in str(m)]  # after the sentinel
