"""`jml reconcile [--fix] [--as-of D] [--json]` as a user runs it, against a real
scim2-server: accounts changed outside jml are `drift` exceptions and stay as they are
until `--fix` repairs them; an account created in the tenant by hand is an `orphan`
exception, left alone even with `--fix`; a bad config is exit 2 and one line."""

from __future__ import annotations

from tests.e2e.helpers import ATTENTION, CONVERGED, USAGE, Scenario, worker

AS_OF = "2026-03-01"


def open_of(scenario: Scenario) -> dict[str, list[dict]]:
    """The open exceptions (one `jml exceptions` call), by kind."""
    kinds: dict[str, list[dict]] = {}
    for row in scenario.exceptions():
        kinds.setdefault(row["kind"], []).append(row)
    return kinds


def test_reconcile_reports_drift_and_orphans_and_fix_repairs_only_the_drift(scenario: Scenario) -> None:
    # E102 leaves on 2026-06-30: active as of AS_OF, a leaver as of today (the run's default day)
    scenario.write_feed([worker("E100"), worker("E101"), worker("E102", termination_date="2026-06-30")])
    scenario.sync(AS_OF, expect=CONVERGED)
    synced = scenario.scim_users()
    # changed outside jml: E100 deactivated, E101's family name edited; a hand-made account
    scenario.scim.patch_user(synced["E100"]["id"], [{"op": "replace", "path": "active", "value": False}])
    scenario.scim.patch_user(synced["E101"]["id"], [{"op": "replace", "path": "name.familyName", "value": "Edited"}])
    stranger = scenario.post_user({"userName": "svc-backup@example.com", "active": True})

    report = scenario.run("reconcile", "--as-of", AS_OF).expect(ATTENTION)
    assert report.json is not None and report.json["status"] == "attention", report
    assert report.json["operations"]["applied"] == 0
    found = open_of(scenario)
    drift = {row["employee_id"]: row["detail"] for row in found["drift"]}
    assert set(drift) == {"E100", "E101"}, drift  # E102 judged as of AS_OF: not yet a leaver
    assert "to enable" in drift["E100"] and "family_name" in drift["E101"], drift
    [orphan] = found["orphan"]
    assert orphan["target"] == "app" and stranger["id"] in orphan["detail"], orphan
    now = scenario.scim_users()
    assert now["E100"]["active"] is False, "reconcile without --fix writes nothing"
    assert now["E101"]["name"]["familyName"] == "Edited"

    fixed = scenario.run("reconcile", "--as-of", AS_OF, "--fix").expect(ATTENTION)  # the orphan stays open
    assert fixed.json is not None
    assert fixed.json["operations"]["failed"] == 0 and fixed.json["operations"]["applied"] >= 2, fixed
    now = scenario.scim_users()
    assert now["E100"]["active"] is True
    assert now["E101"]["name"]["familyName"] == synced["E101"]["name"]["familyName"]
    assert now["E102"]["active"] is True and now["E102"]["meta"] == synced["E102"]["meta"]
    [left_alone] = [user for user in scenario.all_users() if user["id"] == stranger["id"]]
    assert left_alone["active"] is True and left_alone["meta"]["version"] == stranger["meta"]["version"]
    found = open_of(scenario)
    assert "drift" not in found, found["drift"]
    assert [row["id"] for row in found["orphan"]] == [orphan["id"]]


def test_reconcile_with_a_bad_config_is_exit_2_and_one_line(scenario: Scenario) -> None:
    scenario.write_feed([worker("E100")])
    scenario.configure(colour="blue")
    result = scenario.run("reconcile", "--fix").expect(USAGE)
    assert result.stdout == "", "no JSON document for a run that could not start"
    [line] = result.stderr.strip().splitlines()
    assert "jml.yaml" in line and "colour" in line, line
    assert scenario.all_users() == []
