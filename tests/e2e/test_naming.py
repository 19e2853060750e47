"""Generated emails end to end (SPEC "Generated identifiers"), `jml run` against
scim2-server: folded and numbered in feed order, past an unmanaged account's userName;
nothing kept by a dry run; a rename keeps the address, a new joiner never gets a
leaver's, a rehire gets theirs back; HR's email wins when it comes, and an HR email
equal to an address kept for someone else is a duplicate; a name that folds to nothing
is quarantined naming `naming.email`."""

from __future__ import annotations

from tests.e2e.helpers import ATTENTION, Scenario, worker

DOMAIN = "@corp.example.com"
KEPT = "SELECT employee_id, value FROM identifiers WHERE kind = 'email' ORDER BY employee_id"


def person(employee_id: str, first: str, last: str, **fields: str) -> dict[str, str]:
    """A feed row with no email (jml makes one)."""
    return worker(employee_id, first_name=first, last_name=last, email="", **fields)


def user_names(scenario: Scenario) -> dict[str, str]:
    return {eid: user["userName"] for eid, user in scenario.scim_users().items()}


def test_generated_emails_are_unique_kept_for_good_and_yield_to_hr(scenario: Scenario) -> None:
    scenario.configure(naming={"email": "{first_name}.{last_name}" + DOMAIN})
    unmanaged = scenario.post_user({"userName": "anna.smith" + DOMAIN, "active": True})
    day1 = [
        person("E1", "José", "Müller"),
        person("E2", "Jose", "Muller"),
        person("E3", "Þórunn", "O'Brien-Łukasz"),
        person("E4", "Anna", "Smith"),
        worker("E5", email="Given.Name@Example.com"),
        person("E6", "'", "’’"),  # folds to nothing
    ]
    scenario.write_feed(day1)
    scenario.sync("2026-03-01", "--dry-run")
    assert scenario.ledger_rows(KEPT) == [], "a dry run keeps nothing"
    assert scenario.scim_users() == {}

    scenario.sync("2026-03-01", expect=ATTENTION)
    expected = {
        "E1": "jose.muller" + DOMAIN,
        "E2": "jose.muller2" + DOMAIN,
        "E3": "thorunn.obrien-lukasz" + DOMAIN,
        "E4": "anna.smith2" + DOMAIN,  # anna.smith is an account linked to nobody
        "E5": "given.name@example.com",
    }
    assert user_names(scenario) == expected
    assert scenario.ledger_rows(KEPT) == sorted((eid, v) for eid, v in expected.items() if eid != "E5")
    quarantined = scenario.exceptions_of("quarantine")
    assert [e["employee_id"] for e in quarantined] == ["E6"]
    assert quarantined[0]["detail"].endswith("(employee_id E6): broke email_valid (email from naming.email)")
    untouched = {u["id"]: u for u in scenario.all_users()}[unmanaged["id"]]
    assert untouched.get("externalId") is None and untouched["userName"] == "anna.smith" + DOMAIN

    # E1 renamed: same address; E2 leaves; E7, a new Jose Muller, never gets E2's;
    # E4's HR email arrives and wins; E8's HR email is the address kept for E2
    scenario.write_feed(
        [
            person("E1", "José", "Schmidt"),
            person("E2", "Jose", "Muller", status="terminated", termination_date="2026-03-05"),
            person("E3", "Þórunn", "O'Brien-Łukasz"),
            worker("E4", first_name="Anna", last_name="Smith", email="anna.s" + DOMAIN),
            worker("E5", email="Given.Name@Example.com"),
            person("E7", "José", "Muller"),
            worker("E8", email="Jose.Muller2" + DOMAIN),
        ]
    )
    scenario.sync("2026-03-10", expect=ATTENTION)
    names = user_names(scenario)
    assert names["E1"] == "jose.muller" + DOMAIN
    assert names["E7"] == "jose.muller3" + DOMAIN
    assert names["E4"] == "anna.s" + DOMAIN
    assert "E8" not in names
    duplicates = scenario.exceptions_of("duplicate")
    assert [e["employee_id"] for e in duplicates] == ["E8"]
    assert "E2" in duplicates[0]["detail"]
    assert scenario.scim_users()["E2"]["active"] is False

    # E2 rehired: their address back; a new Anna Smith passes E4's kept one
    scenario.write_feed(
        [
            person("E1", "José", "Schmidt"),
            person("E2", "Jose", "Muller", hire_date="2026-03-16"),
            person("E3", "Þórunn", "O'Brien-Łukasz"),
            worker("E4", first_name="Anna", last_name="Smith", email="anna.s" + DOMAIN),
            worker("E5", email="Given.Name@Example.com"),
            person("E7", "José", "Muller"),
            person("E9", "Anna", "Smith"),
        ]
    )
    scenario.sync("2026-03-17")
    users = scenario.scim_users()
    assert users["E2"]["userName"] == "jose.muller2" + DOMAIN and users["E2"]["active"] is True
    assert users["E9"]["userName"] == "anna.smith3" + DOMAIN
    assert dict(scenario.ledger_rows(KEPT))["E4"] == "anna.smith2" + DOMAIN, "HR's email wins; the kept one stays"


def test_no_new_address_is_made_while_a_target_cannot_be_read(scenario: Scenario, dead_port: int) -> None:
    """Its accounts are unknown, so an address could be someone's there: the new joiner
    waits (held), everyone else is synced."""
    scenario.configure(
        naming={"email": "{first_name}.{last_name}" + DOMAIN}, more_targets={"down": f"http://127.0.0.1:{dead_port}"}
    )
    scenario.write_feed([person("E1", "Jane", "Doe"), worker("E2")])
    scenario.sync("2026-03-01", expect=ATTENTION)
    assert set(user_names(scenario)) == {"E2"}
    assert scenario.ledger_rows(KEPT) == []
