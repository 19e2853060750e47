"""Owners end to end (SPEC "Owners, and where exceptions go"): a run's exceptions go to
their owners (a quarantine to its source's, a failed operation to its target's),
`jml exceptions --owner` lists each owner's, and each alert channel with an `owner`
receives one message about what the run opened for it, from the run itself."""

from __future__ import annotations

import json

import yaml

from tests.e2e.conftest import Inbox
from tests.e2e.helpers import ATTENTION, CONVERGED, USAGE, Scenario, worker


def configure_owners(scenario: Scenario, inbox: Inbox, dead: str) -> None:
    """The scenario's config with owners: hr-data owns the source, app-admins the app,
    wiki-ops the wiki (unreachable), iam-team the rest; a channel per owner, and one for
    hr-data that cannot be reached."""
    document = scenario.configure(
        more_targets={"wiki": dead},
        owners={"default": "iam-team"},
        alerts=[
            {"type": "webhook", "url": f"{inbox.url}/hr", "owner": "hr-data"},
            {"type": "slack", "webhook_url_env": "WIKI_OPS_HOOK", "owner": "wiki-ops"},
            {"type": "webhook", "url": f"{inbox.url}/iam", "owner": "iam-team"},
            {"type": "webhook", "url": f"{inbox.url}/app", "owner": "app-admins"},
            {"type": "webhook", "url": f"{dead}/hr", "owner": "hr-data"},
        ],
    )
    document["sources"][0]["owner"] = "hr-data"
    document["targets"][0]["owner"] = "app-admins"
    document["targets"][1]["owner"] = "wiki-ops"
    scenario.config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def test_exceptions_go_to_their_owners_and_each_owner_is_alerted_once(
    scenario: Scenario, inbox: Inbox, dead_port: int
) -> None:
    dead = f"http://127.0.0.1:{dead_port}"
    scenario.write_policy(
        {
            "bundles": {"staff": {"grants": {"app": ["all-staff"], "wiki": ["wiki-users"]}}},
            "rules": [{"name": "everyone", "when": {"employment_type": ["employee"]}, "grant": ["staff"]}],
        }
    )
    configure_owners(scenario, inbox, dead)
    people = [worker(f"E10{n}") for n in range(4)]
    scenario.write_feed([*people, worker("E199", hire_date="2026-02-30")])  # no such date: quarantined
    env = {"WIKI_OPS_HOOK": f"{inbox.url}/wiki"}

    first = scenario.run("run", "--as-of", "2026-03-02", env=env).expect(ATTENTION)
    assert first.json["exceptions_opened"] == 2

    # Each exception carries its owner; --owner lists each owner's and no other's.
    owners = {e["kind"]: e["owner"] for e in scenario.exceptions()}
    assert owners == {"quarantine": "hr-data", "failed_operation": "wiki-ops"}
    listed = {
        owner: [e["kind"] for e in scenario.run("exceptions", "--owner", owner).expect(CONVERGED).json["exceptions"]]
        for owner in ("hr-data", "wiki-ops", "iam-team", "hr")
    }
    assert listed == {"hr-data": ["quarantine"], "wiki-ops": ["failed_operation"], "iam-team": [], "hr": []}
    table = scenario.run("exceptions", "--owner", "wiki-ops", as_json=False).expect(CONVERGED).stdout
    assert "owner" in table and "wiki-ops" in table and "hr-data" not in table
    scenario.run("exceptions", "--owner", "a,b").expect(USAGE)

    # One message per owner with new exceptions, by the channel's type; none for the others.
    [to_hr] = inbox.to("/hr")
    assert to_hr["owner"] == "hr-data" and to_hr["counts"] == {"quarantine": 1}
    assert "quarantine: 1" in to_hr["text"] and "jml exceptions --owner hr-data" in to_hr["text"]
    [to_wiki] = inbox.to("/wiki")  # Slack: {"text"} to the URL held in WIKI_OPS_HOOK
    assert set(to_wiki) == {"text"}
    assert "failed_operation: 1" in to_wiki["text"] and "jml exceptions --owner wiki-ops" in to_wiki["text"]
    assert inbox.to("/iam") == [] and inbox.to("/app") == []
    assert len(inbox.messages) == 2

    # No personal data: no name, email, employee_id or detail reaches a channel.
    bodies = json.dumps([body for _, body in inbox.messages])
    for person in [*people, worker("E199")]:
        for key in ("employee_id", "first_name", "last_name", "email"):
            assert person[key] not in bodies, (key, person[key])
    for exception in scenario.exceptions():
        assert exception["detail"] not in bodies
    assert "2026-02-30" not in bodies

    # The channel that could not be reached: one line naming it, not its URL; the run's
    # outcome stands.
    [warning] = [line for line in first.stderr.splitlines() if "not sent" in line]
    assert "alert to owner hr-data (alerts.4) not sent: the request failed" in warning
    assert str(dead_port) not in warning and inbox.url not in first.stderr

    # A second run that opens nothing new sends nothing.
    again = scenario.run("run", "--as-of", "2026-03-02", env=env).expect(ATTENTION)
    assert again.json["exceptions_opened"] == 0
    assert len(inbox.messages) == 2
    assert "not sent" not in again.stderr


def test_a_channel_with_an_owner_gets_no_failed_run_automation(scenario: Scenario, inbox: Inbox, dead_port: int) -> None:
    """`jml serve --alerts-only` makes the automations for the channels without an owner
    only (it ends leaving none on the session's Prefect server)."""
    configure_owners(scenario, inbox, f"http://127.0.0.1:{dead_port}")
    env = {"WIKI_OPS_HOOK": f"{inbox.url}/wiki"}
    owners_only = scenario.run("serve", "--alerts-only", as_json=False, env=env).expect(CONVERGED)
    assert "alerts: none (no channel without an owner in alerts:)" in owners_only.stderr
    document = yaml.safe_load(scenario.config.read_text())
    document["alerts"].append({"type": "webhook", "url": f"{inbox.url}/ops"})
    scenario.config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    with_one = scenario.run("serve", "--alerts-only", as_json=False, env=env).expect(CONVERGED)
    assert "alerts: jml: run failed, jml: operations failed" in with_one.stderr
    configure_owners(scenario, inbox, f"http://127.0.0.1:{dead_port}")
    scenario.run("serve", "--alerts-only", as_json=False, env=env).expect(CONVERGED)
