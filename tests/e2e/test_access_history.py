"""`jml access --as-of D` end to end: two days of runs against two real SCIM targets,
then the access on each day, filtered, as a table, and its bad input."""

from __future__ import annotations

from tests.e2e.helpers import CONVERGED, USAGE, Scenario, worker
from tests.e2e.helpers import ScimView as View

STAFF = ["all-staff", "engineering"]


def access(scenario: Scenario, day: str, *args: str) -> list[tuple[str, str, bool, list[str]]]:
    document = scenario.run("access", "--as-of", day, *args).expect(CONVERGED).json
    assert document["as_of"] == day
    return [(a["employee_id"], a["target"], a["active"], a["entitlements"]) for a in document["access"]]


def ledger_writes(scenario: Scenario) -> tuple:
    """What a read-only command must leave as it is: rows of the audit trail, runs,
    history."""
    return tuple(
        scenario.ledger_rows(f"SELECT count(*) FROM {table}")[0][0]
        for table in ("audit", "runs", "account_history", "grant_history")
    )


def test_access_on_past_days_keeps_a_leavers_first_day(scenario: Scenario, scim_server) -> None:
    wiki = View(scim_server.tenant())
    scenario.write_policy(
        {
            "bundles": {
                "staff": {"grants": {"app": ["all-staff"], "wiki": ["wiki-users"]}},
                "engineering": {"grants": {"app": ["engineering"]}},
            },
            "rules": [
                {"name": "everyone", "when": {"employment_type": ["employee"]}, "grant": ["staff"]},
                {"name": "engineers", "when": {"department": ["Engineering"]}, "grant": ["engineering"]},
            ],
        }
    )
    scenario.configure(more_targets={"wiki": wiki.tenant.url})
    # E102 has an account on app already (carrying its employee_id): matched, not
    # created; its active state comes from what the run read
    scenario.post_user({"userName": "e102@example.com", "externalId": "E102", "active": True})
    scenario.write_feed([worker("E100"), worker("E101"), worker("E102")])
    scenario.sync("2026-03-01", expect=CONVERGED)
    scenario.write_feed([worker("E100"), worker("E101", status="terminated", termination_date="2026-03-01"),
                         worker("E102")])  # fmt: skip
    scenario.sync("2026-03-02", expect=CONVERGED)
    assert scenario.scim_users()["E101"]["active"] is False  # the leaver's account is kept, disabled

    before = ledger_writes(scenario)
    day_one = [
        (eid, target, True, STAFF if target == "app" else ["wiki-users"])
        for eid in ("E100", "E101", "E102")
        for target in ("app", "wiki")
    ]
    assert access(scenario, "2026-02-28") == [], "before the first run"
    assert access(scenario, "2026-03-01") == day_one
    after_leaving = [("E101", "app", False, []), ("E101", "wiki", False, [])]
    assert access(scenario, "2026-03-02", "--employee-id", "E101") == after_leaving
    assert access(scenario, "2026-03-09", "--employee-id", "E101") == after_leaving, "still, days later"
    assert access(scenario, "2026-03-01", "--employee-id", "E101", "--target", "wiki") == [
        ("E101", "wiki", True, ["wiki-users"])
    ]
    assert access(scenario, "2026-03-02", "--target", "wiki") == [
        ("E100", "wiki", True, ["wiki-users"]), ("E101", "wiki", False, []), ("E102", "wiki", True, ["wiki-users"]),
    ]  # fmt: skip

    shown = scenario.run("access", "--as-of", "2026-03-01", "--employee-id", "E101", as_json=False).expect(CONVERGED)
    assert "access at the end of 2026-03-01" in shown.stdout
    assert "wiki-users" in shown.stdout and "engineering" in shown.stdout

    for args, names in (
        (("--as-of", "2026-02-30"), "--as-of: '2026-02-30' is not a date"),
        (("--as-of", "2026-03-01", "--employee-id", "E999"), "--employee-id: 'E999' is not known"),
        (("--as-of", "2026-03-01", "--target", "nope"), "--target: 'nope' is not a target"),
    ):
        refused = scenario.run("access", *args).expect(USAGE)
        assert refused.stdout == ""
        assert len(refused.stderr.strip().splitlines()) == 1 and names in refused.stderr, refused.stderr
    assert ledger_writes(scenario) == before, "access wrote to the ledger"
