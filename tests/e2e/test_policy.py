"""Policy end to end (the example policy): exact matching, SoD keeps what is held."""

from __future__ import annotations

from tests.e2e.helpers import ATTENTION, CONVERGED, Scenario, worker


def test_sod_conflict_keeps_what_is_held_and_grants_nothing_new(scenario: Scenario) -> None:
    scenario.write_feed(
        [
            worker("E100", department="Finance", job_code="FIN-MGR"),
            # `when` values match case-sensitively: "finance" is not "Finance"
            worker("E101", department="finance", job_code="FIN"),
        ]
    )
    scenario.sync("2026-03-01", expect=CONVERGED)
    assert scenario.memberships("E100") == {"all-staff", "finance", "finance-approver"}
    assert scenario.memberships("E101") == {"all-staff"}

    # E100 becomes a finance admin with signing authority: the rules now give both
    # finance-admin and finance-approver, which SoD keeps apart
    scenario.write_feed(
        [
            worker("E100", department="Finance", job_code="FIN-ADM", signing_authority="yes"),
            worker("E101", department="finance", job_code="FIN"),
        ]
    )
    scenario.sync("2026-03-02", expect=ATTENTION)
    [sod] = scenario.exceptions_of("sod")
    assert sod["employee_id"] == "E100"
    assert "pay-and-approve" in sod["detail"]
    assert scenario.memberships("E100") == {"all-staff", "finance", "finance-approver"}
    assert not scenario.exceptions_of("approval"), "SoD is checked before approvals"
