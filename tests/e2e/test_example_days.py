"""The three-day example scenario of examples/ (jml.yaml, policy.yaml, feeds/day1..3.csv),
run with the real `jml` command against a real SCIM server.

Each stage runs once (module-scoped fixtures, each building on the one before) and keeps
a snapshot of the SCIM server and of the exceptions right after it, so the tests below
only inspect: the number of `jml` runs stays small and any test can run alone.

    plan (2026-03-02) -> run day1 (2026-03-02) -> approve E003 (hr, business-owner)
    -> run day2 (2026-03-03) -> run day3 (2026-03-05) -> run day3 again
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.e2e.helpers import ATTENTION, CONVERGED, Result, Scenario, enterprise

DAY1, DAY2, DAY3 = "2026-03-02", "2026-03-03", "2026-03-05"
ACTIONS = {"create", "update", "enable", "disable", "grant", "revoke", "delete"}

#: The example feed's people: (first, last, email, department, job_code).
PEOPLE = {
    "E001": ("Ada", "Lovelace", "ada.lovelace@example.com", "Engineering"),
    "E002": ("Grace", "Hopper", "grace.hopper@example.com", "Engineering"),
    "E003": ("Alan", "Turing", "alan.turing@example.com", "Finance"),
    "E004": ("Joan", "Clarke", "joan.clarke@example.com", "Finance"),
    "E005": ("Linus", "Pauling", "linus.pauling@example.com", "Sales"),
    "E006": ("Margaret", "Hamilton", "margaret.hamilton@example.com", "Engineering"),
    "E011": ("Claude", "Shannon", "claude.shannon@example.com", "Sales"),
    "E012": ("Frances", "Allen", "frances.allen@example.com", "Finance"),
}


@dataclass
class Stage:
    """One stage's `jml run` result and what the SCIM server and ledger held after it."""

    result: Result
    users: dict[str, dict]  # by externalId
    all_users: list[dict]
    groups: dict[str, set[str]]  # displayName -> externalIds
    exceptions: list[dict]  # --status all

    def memberships(self, employee_id: str) -> set[str]:
        return {name for name, members in self.groups.items() if employee_id in members}

    def exceptions_of(self, kind: str, employee_id: str | None = None) -> list[dict]:
        return [
            e
            for e in self.exceptions
            if e["kind"] == kind and (employee_id is None or e["employee_id"] == employee_id)
        ]

    def open_exceptions(self) -> list[dict]:
        return [e for e in self.exceptions if e["status"] == "open"]


def snapshot(world: Scenario, result: Result) -> Stage:
    return Stage(result, world.scim_users(), world.all_users(), world.groups(), world.exceptions("all"))


@pytest.fixture(scope="module")
def world(tmp_path_factory, scim_server, prefect_api) -> Scenario:
    return Scenario(tmp_path_factory.mktemp("example"), scim_server.tenant(), prefect_api.env())


@pytest.fixture(scope="module")
def planned(world: Scenario) -> dict:
    world.use_example_feed("day1")
    result = world.run("plan", "--as-of", DAY1)
    return {
        "result": result,
        "users_after": world.all_users(),
        "groups_after": world.groups(),
        "exceptions_after": world.exceptions("all"),
        "audit_after": world.audit(),
    }


@pytest.fixture(scope="module")
def day1(world: Scenario, planned: dict) -> Stage:
    world.use_example_feed("day1")
    return snapshot(world, world.sync(DAY1))


@pytest.fixture(scope="module")
def approvals(world: Scenario, day1: Stage) -> dict:
    [request] = day1.exceptions_of("approval", "E003")
    first = world.run("approve", str(request["id"]), "--by", "alice", "--role", "hr")
    second = world.run("approve", str(request["id"]), "--by", "bob", "--role", "business-owner")
    return {"request": request, "first": first, "second": second}


@pytest.fixture(scope="module")
def day2(world: Scenario, approvals: dict) -> Stage:
    world.use_example_feed("day2")
    return snapshot(world, world.sync(DAY2))


@pytest.fixture(scope="module")
def day3(world: Scenario, day2: Stage) -> Stage:
    world.use_example_feed("day3")
    return snapshot(world, world.sync(DAY3))


@pytest.fixture(scope="module")
def day3_again(world: Scenario, day3: Stage) -> Stage:
    return snapshot(world, world.sync(DAY3))


# -- plan --------------------------------------------------------------------------------


def test_plan_lists_operations_and_writes_nothing(planned: dict) -> None:
    result = planned["result"].expect(CONVERGED)
    operations = result.json["operations"]
    assert operations, "the plan of day 1 is not empty"
    for op in operations:
        assert set(op) >= {"target", "employee_id", "action", "detail", "reason"}, op
        assert op["action"] in ACTIONS, op
        assert op["target"] == "app"
        assert op["reason"], op
    creates = {op["employee_id"] for op in operations if op["action"] == "create"}
    assert creates == set(PEOPLE)
    grants = [op for op in operations if op["action"] == "grant"]
    assert {"employee_id": "E002", "entitlement": "engineering"} in [
        {"employee_id": op["employee_id"], "entitlement": op["detail"]["entitlement"]} for op in grants
    ]
    for op in grants:  # every grant says why: the rule and the bundle
        assert "rule" in op["reason"] and "bundle" in op["reason"], op
    # nothing was written: not to SCIM, not to the ledger
    assert planned["users_after"] == []
    assert planned["groups_after"] == {}
    assert planned["exceptions_after"] == []
    assert planned["audit_after"] == []


# -- day 1 -------------------------------------------------------------------------------


def test_day1_run_document(day1: Stage) -> None:
    document = day1.result.expect(ATTENTION).json
    assert document["status"] == "attention"
    ops = document["operations"]
    assert ops["planned"] > 0
    assert ops["applied"] == ops["planned"]
    assert ops["failed"] == 0
    assert document["exceptions_open"] == len(day1.open_exceptions())


def test_day1_joiners_created_with_attributes_and_groups(day1: Stage) -> None:
    assert set(day1.users) == set(PEOPLE)
    assert len(day1.all_users) == len(PEOPLE), "no account without an externalId"
    for eid, (first, last, email, department) in PEOPLE.items():
        user = day1.users[eid]
        assert user["userName"] == email
        assert user["name"]["givenName"] == first
        assert user["name"]["familyName"] == last
        assert user["displayName"] == f"{first} {last}"
        assert user["emails"][0]["value"] == email
        assert user["emails"][0]["type"] == "work"
        assert user["emails"][0]["primary"] is True
        assert enterprise(user)["employeeNumber"] == eid
        assert enterprise(user)["department"] == department
    for eid in ("E001", "E002", "E003", "E004", "E005", "E012"):
        assert day1.users[eid]["active"] is True, eid
    assert day1.memberships("E001") == {"all-staff", "engineering"}
    assert day1.memberships("E002") == {"all-staff", "engineering"}
    assert day1.memberships("E004") == {"all-staff", "finance", "finance-approver"}
    assert day1.memberships("E005") == {"all-staff", "sales"}


def test_day1_manager_is_the_managers_scim_id(day1: Stage) -> None:
    ids = {eid: user["id"] for eid, user in day1.users.items()}
    assert "manager" not in enterprise(day1.users["E001"])
    assert enterprise(day1.users["E002"])["manager"]["value"] == ids["E001"]
    assert enterprise(day1.users["E003"])["manager"]["value"] == ids["E004"]
    assert enterprise(day1.users["E006"])["manager"]["value"] == ids["E001"]
    assert enterprise(day1.users["E012"])["manager"]["value"] == ids["E004"]


def test_day1_prehire_inside_the_window_is_inactive_with_its_groups(day1: Stage) -> None:
    assert day1.users["E006"]["active"] is False
    assert day1.memberships("E006") == {"all-staff", "engineering"}


def test_day1_hire_beyond_the_prehire_window_is_not_created(day1: Stage) -> None:
    assert "E010" not in day1.users
    assert all(u["userName"] != "katherine.johnson@example.com" for u in day1.all_users)


def test_day1_person_on_leave_is_inactive_with_entitlements(day1: Stage) -> None:
    user = day1.users["E011"]
    assert user["active"] is False
    assert day1.memberships("E011") == {"all-staff", "sales"}
    # the unknown manager E099 is dropped with a data_quality exception
    assert "manager" not in enterprise(user)
    [issue] = day1.exceptions_of("data_quality", "E011")
    assert issue["status"] == "open"
    assert "E099" in issue["detail"]


def test_day1_bad_email_is_quarantined(day1: Stage) -> None:
    [issue] = day1.exceptions_of("quarantine", "E007")
    assert issue["status"] == "open"
    assert "line 8" in issue["detail"]  # the header is line 1
    assert "email_valid" in issue["detail"]
    assert "E007" not in day1.users
    assert all(not u["userName"].startswith("edsger") for u in day1.all_users)


def test_day1_duplicate_emails_are_held(day1: Stage) -> None:
    for eid in ("E008", "E009"):
        [issue] = day1.exceptions_of("duplicate", eid)
        assert issue["status"] == "open"
        assert eid not in day1.users
    assert all(u["userName"] != "b.liskov@example.com" for u in day1.all_users)


def test_day1_sod_conflict_grants_neither_bundle(day1: Stage) -> None:
    [issue] = day1.exceptions_of("sod", "E012")
    assert issue["status"] == "open"
    assert day1.memberships("E012") == {"all-staff", "finance"}
    assert not day1.exceptions_of("approval", "E012"), "SoD is checked before approvals"


def test_day1_high_risk_bundle_waits_for_approval(day1: Stage) -> None:
    assert "finance-admin" not in day1.memberships("E003")
    assert day1.memberships("E003") == {"all-staff", "finance"}
    [issue] = day1.exceptions_of("approval", "E003")
    assert issue["status"] == "open"
    assert "finance-admin" in issue["detail"]
    assert day1.groups.get("finance-admin", set()) == set()


def test_approve_by_each_listed_role(approvals: dict) -> None:
    first = approvals["first"].expect(CONVERGED)
    assert first.json["exception"]["id"] == approvals["request"]["id"]
    assert first.json["exception"]["status"] == "open", "business-owner has not approved yet"
    second = approvals["second"].expect(CONVERGED)
    assert second.json["exception"]["status"] == "approved"


# -- day 2 -------------------------------------------------------------------------------


def test_day2_approved_high_risk_bundle_is_granted(day2: Stage) -> None:
    day2.result.expect(ATTENTION)
    assert "finance-admin" in day2.memberships("E003")
    [issue] = day2.exceptions_of("approval", "E003")
    assert issue["status"] == "approved"


def test_day2_mover_changes_groups_and_department(day1: Stage, day2: Stage) -> None:
    user = day2.users["E002"]
    assert user["id"] == day1.users["E002"]["id"]
    assert user["active"] is True
    assert enterprise(user)["department"] == "Sales"
    assert day2.memberships("E002") == {"all-staff", "sales"}


def test_day2_leaver_is_inactive_without_groups(day1: Stage, day2: Stage) -> None:
    user = day2.users["E004"]
    assert user["id"] == day1.users["E004"]["id"]
    assert user["active"] is False
    assert day2.memberships("E004") == set()


def test_day2_fixed_row_is_created_and_its_quarantine_closes(day2: Stage) -> None:
    user = day2.users["E007"]
    assert user["userName"] == "edsger.dijkstra@example.com"
    assert user["active"] is True
    assert enterprise(user)["manager"]["value"] == day2.users["E001"]["id"]
    assert day2.memberships("E007") == {"all-staff", "engineering"}
    [issue] = day2.exceptions_of("quarantine", "E007")
    assert issue["status"] == "closed"


def test_day2_contractor_keeps_access_on_the_last_contract_day(day2: Stage) -> None:
    assert day2.users["E005"]["active"] is True
    assert day2.memberships("E005") == {"all-staff", "sales"}


def test_day2_known_manager_closes_the_data_quality_exception(day2: Stage) -> None:
    assert enterprise(day2.users["E011"])["manager"]["value"] == day2.users["E002"]["id"]
    [issue] = day2.exceptions_of("data_quality", "E011")
    assert issue["status"] == "closed"


# -- day 3 -------------------------------------------------------------------------------


def test_day3_prehire_is_activated_on_the_hire_date(day1: Stage, day3: Stage) -> None:
    day3.result.expect(ATTENTION)  # the SoD exception of E012 stays open
    user = day3.users["E006"]
    assert user["id"] == day1.users["E006"]["id"]
    assert user["active"] is True
    assert day3.memberships("E006") == {"all-staff", "engineering"}


def test_day3_contractor_past_contract_end_is_inactive_without_groups(day3: Stage) -> None:
    assert day3.users["E005"]["active"] is False
    assert day3.memberships("E005") == set()


def test_day3_fixed_duplicates_are_created_and_their_exceptions_close(day3: Stage) -> None:
    assert day3.users["E008"]["userName"] == "b.liskov@example.com"
    assert day3.users["E009"]["userName"] == "barbara.liskov-smith@example.com"
    assert day3.memberships("E008") == {"all-staff", "engineering"}
    assert day3.memberships("E009") == {"all-staff", "sales"}
    for eid in ("E008", "E009"):
        assert day3.users[eid]["active"] is True
        [issue] = day3.exceptions_of("duplicate", eid)
        assert issue["status"] == "closed"


def test_day3_back_from_leave_is_active(day1: Stage, day3: Stage) -> None:
    user = day3.users["E011"]
    assert user["id"] == day1.users["E011"]["id"]
    assert user["active"] is True
    assert day3.memberships("E011") == {"all-staff", "sales"}


def test_day3_sod_exception_stays_while_its_cause_lasts(day3: Stage) -> None:
    [issue] = day3.exceptions_of("sod", "E012")
    assert issue["status"] == "open"
    assert not {"finance-admin", "finance-approver"} & day3.memberships("E012")


def test_day3_second_run_plans_nothing(day3: Stage, day3_again: Stage) -> None:
    document = day3_again.result.expect(ATTENTION).json
    assert document["operations"]["planned"] == 0
    assert document["operations"]["applied"] == 0
    assert document["operations"]["failed"] == 0
    assert day3_again.users == {
        eid: {**user, "meta": day3_again.users[eid]["meta"]} for eid, user in day3.users.items()
    }
    assert day3_again.groups == day3.groups
    assert document["exceptions_open"] == len(day3_again.open_exceptions()) == 1  # the SoD


# -- the ledger's views -------------------------------------------------------------------


def test_exceptions_status_all_shows_closed_ones(world: Scenario, day3_again: Stage) -> None:
    everything = world.exceptions("all")
    still_open = world.exceptions("open")
    closed = {(e["kind"], e["employee_id"]) for e in everything if e["status"] == "closed"}
    assert {
        ("quarantine", "E007"),
        ("duplicate", "E008"),
        ("duplicate", "E009"),
        ("data_quality", "E011"),
    } <= closed
    assert all(e["status"] == "open" for e in still_open)
    assert {(e["kind"], e["employee_id"]) for e in still_open} == {("sod", "E012")}
    for e in everything:
        assert set(e) >= {"id", "kind", "employee_id", "target", "detail", "status"}
    # without --config, the command reads ./jml.yaml
    default = world.run("exceptions", "--status", "all", config=False).expect(CONVERGED)
    assert default.json["exceptions"] == everything


def test_audit_of_one_person_says_what_when_which_run_and_why(
    world: Scenario, day1: Stage, day2: Stage, day3_again: Stage
) -> None:
    entries = world.audit("--employee-id", "E002")
    assert entries
    assert {e["employee_id"] for e in entries} == {"E002"}
    done = {(e["action"], (e["detail"] or {}).get("entitlement")) for e in entries}
    assert {("create", None), ("grant", "engineering"), ("revoke", "engineering"), ("grant", "sales")} <= done
    assert any(e["action"] == "update" for e in entries), "the department change is audited"
    for e in entries:
        assert e["run_id"] is not None, e
        assert e["reason"], e
        assert e["at"], e
    run_of = {(e["action"], (e["detail"] or {}).get("entitlement")): e["run_id"] for e in entries}
    assert run_of[("create", None)] == day1.result.json["run_id"]
    assert run_of[("grant", "sales")] == day2.result.json["run_id"]
    [grant_sales] = [e for e in entries if e["action"] == "grant" and e["detail"].get("entitlement") == "sales"]
    assert "sellers" in grant_sales["reason"] and "sales" in grant_sales["reason"]
