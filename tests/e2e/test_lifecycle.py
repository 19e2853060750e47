"""Lifecycle end to end: leave, rehire, held rows, the deletion grace period, absent
persons. Leave and rehire also runs on a PostgreSQL ledger (what the ledger keeps
between days: person states, account links, grants)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import ATTENTION, CONVERGED, Scenario, enterprise, worker


@pytest.mark.both_ledgers
def test_leave_and_rehire_keep_the_same_account(scenario: Scenario) -> None:
    scenario.write_feed([worker("E100"), worker("E101")])
    scenario.sync("2026-03-01", expect=CONVERGED)
    first = scenario.scim_users()
    assert first["E101"]["active"] is True
    assert scenario.memberships("E101") == {"all-staff", "engineering"}

    # E100 goes on leave (inactive, entitlements kept); E101 is terminated
    scenario.write_feed(
        [
            worker("E100", status="leave"),
            worker("E101", status="terminated", termination_date="2026-03-01"),
        ]
    )
    scenario.sync("2026-03-02", expect=CONVERGED)
    users = scenario.scim_users()
    assert users["E100"]["active"] is False
    assert scenario.memberships("E100") == {"all-staff", "engineering"}
    assert users["E101"]["id"] == first["E101"]["id"]
    assert users["E101"]["active"] is False
    assert scenario.memberships("E101") == set()

    # back from leave; E101 rehired under the same employee_id (with a new email)
    scenario.write_feed(
        [worker("E100"), worker("E101", hire_date="2026-03-09", email="e101.rehired@example.com")]
    )
    scenario.sync("2026-03-10", expect=CONVERGED)
    users = scenario.scim_users()
    assert users["E100"]["id"] == first["E100"]["id"]
    assert users["E100"]["active"] is True
    back = users["E101"]
    assert back["id"] == first["E101"]["id"], "the same account, reactivated"
    assert back["active"] is True
    assert back["userName"] == "e101.rehired@example.com"
    assert scenario.memberships("E101") == {"all-staff", "engineering"}
    assert len(scenario.all_users()) == 2, "never a second account"


def test_held_rows_leave_known_persons_untouched(scenario: Scenario) -> None:
    scenario.write_feed([worker("E100"), worker("E101"), worker("E102")])
    scenario.sync("2026-03-01", expect=CONVERGED)
    before = scenario.scim_users()
    groups_before = scenario.groups()

    scenario.write_feed(
        [
            # quarantined (no such date), and it says terminated: held, but a held leaver
            # still loses access (SPEC "Fail closed"); nothing else of the row is applied
            worker("E100", status="terminated", termination_date="2026-03-01", hire_date="2020-02-30"),
            # moved to Sales, but a new row shares the email (compared lowercased): held
            worker("E101", department="Sales", job_code="SLS"),
            worker("E102"),
            worker("E103", email="E101@Example.COM"),
        ]
    )
    scenario.sync("2026-03-02", expect=ATTENTION)  # 1 of 4 rows invalid: not over 25 %
    [quarantine] = scenario.exceptions_of("quarantine")
    assert quarantine["employee_id"] == "E100"
    assert "hire_date" in quarantine["detail"]
    assert {e["employee_id"] for e in scenario.exceptions_of("duplicate")} == {"E101", "E103"}
    assert not scenario.exceptions_of("absent"), "held persons are not absent"

    after = scenario.scim_users()
    assert set(after) == {"E100", "E101", "E102"}, "E103 is held: not created"
    assert after["E100"]["active"] is False and scenario.memberships("E100") == set()
    assert after["E100"]["name"] == before["E100"]["name"], "only the end of access is applied"
    assert after["E101"]["active"] is True
    assert after["E101"]["meta"]["version"] == before["E101"]["meta"]["version"]
    assert enterprise(after["E101"])["department"] == "Engineering"
    assert scenario.groups() == {name: members - {"E100"} for name, members in groups_before.items()}


def test_terminated_account_is_deleted_after_the_grace_period_only(scenario: Scenario) -> None:
    scenario.configure(lifecycle={"delete_after_days": 30})
    # the termination date is the last day with access
    scenario.write_feed([worker("E100"), worker("E101", termination_date="2026-03-10")])
    scenario.sync("2026-03-10", expect=CONVERGED)
    created = scenario.scim_users()["E101"]
    assert created["active"] is True
    # a group jml does not manage: a terminated person loses it too, others keep it
    scenario.scim.post_group("vpn", [created["id"], scenario.scim_users()["E100"]["id"]])

    scenario.sync("2026-04-09", expect=CONVERGED)  # termination + 30: kept, inactive
    kept = scenario.scim_users()["E101"]
    assert kept["id"] == created["id"]
    assert kept["active"] is False
    assert scenario.memberships("E101") == set()
    assert scenario.memberships("E100") == {"all-staff", "engineering", "vpn"}

    # termination + 31 with delete_after_days null: never deleted
    scenario.configure(lifecycle={"delete_after_days": None})
    scenario.sync("2026-04-10", expect=CONVERGED)
    assert scenario.scim_users()["E101"]["id"] == created["id"]

    # termination + 31 with delete_after_days 30: deleted
    scenario.configure(lifecycle={"delete_after_days": 30})
    scenario.sync("2026-04-10", expect=CONVERGED)
    users = scenario.scim_users()
    assert "E101" not in users
    assert all(u["id"] != created["id"] for u in scenario.all_users())
    assert users["E100"]["active"] is True


def test_absent_person_raises_an_exception_then_deprovision_disables(scenario: Scenario) -> None:
    stays, leaves = worker("E100"), worker("E101", department="Sales", job_code="SLS")
    scenario.write_feed([stays, leaves])
    scenario.sync("2026-03-01", expect=CONVERGED)
    before = scenario.scim_users()["E101"]
    groups_before = scenario.memberships("E101")
    assert groups_before == {"all-staff", "sales"}

    # absent: exception (the default): nothing revoked, an `absent` exception
    scenario.write_feed([stays])
    scenario.sync("2026-03-02", expect=ATTENTION)
    [issue] = scenario.exceptions_of("absent")
    assert issue["employee_id"] == "E101"
    after = scenario.scim_users()["E101"]
    assert after["active"] is True
    assert after["meta"]["version"] == before["meta"]["version"], "the account is untouched"
    assert scenario.memberships("E101") == groups_before

    # absent: deprovision treats absence as termination
    scenario.configure(lifecycle={"absent": "deprovision"})
    scenario.sync("2026-03-03")
    disabled = scenario.scim_users()["E101"]
    assert disabled["id"] == before["id"]
    assert disabled["active"] is False
    assert scenario.memberships("E101") == set()
    assert scenario.scim_users()["E100"]["active"] is True

    # back in the feed: the absent exception closes itself, the account comes back
    scenario.write_feed([stays, leaves])
    scenario.sync("2026-03-04", expect=CONVERGED)
    [closed] = scenario.exceptions_of("absent", status="all")
    assert closed["id"] == issue["id"]
    assert closed["status"] == "closed"
    returned = scenario.scim_users()["E101"]
    assert returned["id"] == before["id"]
    assert returned["active"] is True
    assert scenario.memberships("E101") == groups_before
