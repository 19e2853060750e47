"""The SCIM target end to end: adoption and conflicts, dry runs, idempotence, an
unreachable target."""

from __future__ import annotations

from tests.e2e.helpers import ATTENTION, CONVERGED, Scenario, ScimView, enterprise, worker


def test_accounts_are_adopted_and_a_foreign_one_is_a_conflict(scenario: Scenario) -> None:
    unlinked = scenario.post_user(
        {"userName": "e100@example.com", "displayName": "Old Name", "active": False}
    )
    foreign = scenario.post_user(
        {"userName": "e101@example.com", "externalId": "X-999", "displayName": "Someone Else"}
    )
    carrying = scenario.post_user({"userName": "old.e102@example.com", "externalId": "E102"})
    scenario.write_feed([worker("E100"), worker("E101"), worker("E102")])
    document = scenario.sync("2026-03-02", expect=ATTENTION).json
    assert document["status"] == "attention"

    users = {u["id"]: u for u in scenario.all_users()}
    assert len(users) == 3, "adopted or left alone: never a second account"
    adopted = users[unlinked["id"]]  # same userName, no externalId
    assert adopted["externalId"] == "E100"
    assert adopted["active"] is True
    assert adopted["displayName"] == "Firste100 Laste100"
    assert enterprise(adopted)["employeeNumber"] == "E100"
    assert scenario.memberships("E100") == {"all-staff", "engineering"}
    same_external = users[carrying["id"]]  # same externalId
    assert same_external["userName"] == "e102@example.com"
    assert scenario.memberships("E102") == {"all-staff", "engineering"}

    untouched = users[foreign["id"]]  # same userName, another externalId
    assert untouched["externalId"] == "X-999"
    assert untouched["displayName"] == "Someone Else"
    assert untouched["meta"]["version"] == foreign["meta"]["version"]
    assert scenario.memberships("X-999") == set()
    [conflict] = scenario.exceptions_of("conflict")
    assert conflict["employee_id"] == "E101"
    assert conflict["target"] == "app"

    # the cause goes away (the other account is removed): E101 gets an account, the
    # conflict closes
    scenario.scim.delete_user(foreign["id"])
    scenario.sync("2026-03-03", expect=CONVERGED)
    assert scenario.scim_users()["E101"]["userName"] == "e101@example.com"
    [closed] = scenario.exceptions_of("conflict", status="all")
    assert closed["status"] == "closed"


def test_dry_run_writes_nothing_and_a_repeated_run_plans_nothing(scenario: Scenario) -> None:
    scenario.write_feed(
        [
            worker("E100"),
            worker("E101", manager_id="E100"),
            # first seen already terminated: no account is ever created
            worker("E102", status="terminated", termination_date="2026-01-31"),
        ]
    )
    dry = scenario.sync("2026-03-02", "--dry-run", expect=CONVERGED).json
    assert dry["operations"]["planned"] > 0
    assert dry["operations"]["applied"] == 0
    assert scenario.all_users() == []
    assert scenario.groups() == {}

    first = scenario.sync("2026-03-02", expect=CONVERGED).json
    assert first["status"] == "converged"
    assert first["operations"]["planned"] == first["operations"]["applied"] == dry["operations"]["planned"]
    assert first["exceptions_open"] == 0
    assert set(scenario.scim_users()) == {"E100", "E101"}
    state = (scenario.scim_users(), scenario.groups())

    again = scenario.sync("2026-03-02", expect=CONVERGED).json
    assert (again["operations"]["planned"], again["operations"]["applied"]) == (0, 0)
    assert again["operations"]["failed"] == 0
    assert (scenario.scim_users(), scenario.groups()) == state


def test_unreachable_target_waits_while_others_proceed(scenario: Scenario, scim_server, dead_port: int) -> None:
    wiki = ScimView(scim_server.tenant())
    scenario.write_policy(
        {
            "bundles": {"staff": {"grants": {"app": ["all-staff"], "wiki": ["wiki-users"]}}},
            "rules": [{"name": "everyone", "when": {"employment_type": ["employee"]}, "grant": ["staff"]}],
        }
    )
    closed = f"http://127.0.0.1:{dead_port}"
    scenario.configure(url=closed, more_targets={"wiki": wiki.tenant.url})
    scenario.write_feed([worker("E100")])
    document = scenario.sync("2026-03-02", expect=ATTENTION).json
    assert document["status"] == "attention"
    [failure] = scenario.exceptions_of("failed_operation")
    assert failure["target"] == "app"
    assert "app" in failure["detail"]
    on_wiki = wiki.scim_users()["E100"]  # the other target proceeded
    assert on_wiki["active"] is True
    assert wiki.memberships("E100") == {"wiki-users"}

    scenario.configure(more_targets={"wiki": wiki.tenant.url})  # app's right URL again
    document = scenario.sync("2026-03-02", expect=CONVERGED).json
    assert document["exceptions_open"] == 0
    assert scenario.scim_users()["E100"]["active"] is True
    assert scenario.memberships("E100") == {"all-staff"}
    assert wiki.scim_users()["E100"]["meta"]["version"] == on_wiki["meta"]["version"]
    [closed_failure] = scenario.exceptions_of("failed_operation", status="all")
    assert closed_failure["id"] == failure["id"]
    assert closed_failure["status"] == "closed"


def test_failed_operation_is_an_exception_until_it_applies(scenario: Scenario) -> None:
    scenario.write_feed([worker("E100"), worker("E101")])
    scenario.sync("2026-03-01", expect=CONVERGED)
    scenario.post_user({"userName": "taken@example.com", "externalId": "X-1"})

    # E100's new email is another account's userName: the server refuses the update;
    # E100's other changes and everyone else's proceed
    scenario.write_feed(
        [worker("E100", email="taken@example.com", department="Sales", job_code="SLS"), worker("E101")]
    )
    document = scenario.sync("2026-03-02", expect=ATTENTION).json
    assert document["operations"]["failed"] == 1
    assert document["operations"]["applied"] == document["operations"]["planned"] - 1
    [failure] = scenario.exceptions_of("failed_operation")
    assert failure["employee_id"] == "E100"
    assert failure["target"] == "app"
    assert "update" in failure["detail"]
    assert scenario.scim_users()["E100"]["userName"] == "e100@example.com"
    assert scenario.memberships("E100") == {"all-staff", "sales"}

    # HR corrects the email: the update applies and the exception closes itself
    scenario.write_feed([worker("E100", department="Sales", job_code="SLS"), worker("E101")])
    scenario.sync("2026-03-03", expect=CONVERGED)
    assert enterprise(scenario.scim_users()["E100"])["department"] == "Sales"
    [closed] = scenario.exceptions_of("failed_operation", status="all")
    assert closed["id"] == failure["id"]
    assert closed["status"] == "closed"
