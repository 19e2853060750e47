"""Deciding approvals from the command line: reject, and what is refused (exit 2)."""

from __future__ import annotations

from tests.e2e.helpers import ATTENTION, CONVERGED, USAGE, Scenario, worker


def test_reject_keeps_the_bundle_ungranted(scenario: Scenario) -> None:
    scenario.write_feed([worker("E100", department="Finance", job_code="FIN-ADM")])
    scenario.sync("2026-03-02", expect=ATTENTION)
    [request] = scenario.exceptions_of("approval")
    assert request["employee_id"] == "E100"
    assert "finance-admin" not in scenario.memberships("E100")

    # a role the bundle does not list, and ids that do not exist: exit 2, nothing recorded
    wrong_role = scenario.run("approve", str(request["id"]), "--by", "mallory", "--role", "ceo")
    wrong_role.expect(USAGE)
    assert wrong_role.stderr.strip() and "Traceback" not in wrong_role.stderr
    scenario.run("approve", "9999", "--by", "alice", "--role", "hr").expect(USAGE)
    scenario.run("reject", "9999", "--by", "alice").expect(USAGE)
    [still] = scenario.exceptions_of("approval")
    assert still["status"] == "open"

    rejected = scenario.run("reject", str(request["id"]), "--by", "carol", "--reason", "not needed")
    rejected.expect(CONVERGED)
    assert rejected.json["exception"]["status"] == "rejected"

    scenario.sync("2026-03-03", expect=CONVERGED)
    assert "finance-admin" not in scenario.memberships("E100")
    assert scenario.memberships("E100") == {"all-staff", "finance"}
    [decided] = scenario.exceptions_of("approval", status="all")
    assert decided["status"] == "rejected"
    assert not scenario.exceptions_of("approval"), "a rejection is a decision: not open"
    [entry] = [e for e in scenario.audit("--employee-id", "E100") if e["action"] == "reject"]
    assert entry["actor"] == "carol"
    assert entry["reason"] == "not needed"


def test_one_person_cannot_pass_both_approvals_nor_their_own(scenario: Scenario) -> None:
    """Issue 14, finding 2: `alice` then `Alice` (or a zero-width space) passed both roles,
    and E011 approved their own grant. Each is refused (exit 2) and nothing is recorded."""
    scenario.write_feed([worker("E011", department="Finance", job_code="FIN-ADM")])
    first = scenario.sync("2026-03-02", expect=ATTENTION)
    assert first.stderr.count("approvals are not checked against rosters") == 1, "the policy has no roles: warn once"
    [request] = scenario.exceptions_of("approval")
    exception_id = str(request["id"])

    scenario.run("approve", exception_id, "--by", "E011", "--role", "hr").expect(USAGE)
    scenario.run("approve", exception_id, "--by", "e011\u200b", "--role", "business-owner").expect(USAGE)
    scenario.run("approve", exception_id, "--by", "alice", "--role", "hr").expect(CONVERGED)
    for again in ("Alice", "alice\u200b", "ALICE "):
        refused = scenario.run("approve", exception_id, "--by", again, "--role", "business-owner")
        refused.expect(USAGE)
        assert "each role needs a different approver" in refused.stderr
    [still] = scenario.exceptions_of("approval")
    assert still["status"] == "open"
    scenario.sync("2026-03-03", expect=ATTENTION)
    assert "finance-admin" not in scenario.memberships("E011")
