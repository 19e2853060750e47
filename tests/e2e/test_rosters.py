"""Who may approve, through the CLI: with the policy's `roles`, `jml approve/reject` is
refused (exit 2, one line, nothing recorded) for an approver off the roster, not active
in HR, unknown to HR, deciding their own grant or a second role, and for the wrong
manager; roster approvers and the person's manager release the grant on the next run."""

from __future__ import annotations

import yaml

from tests.e2e.helpers import ATTENTION, CONVERGED, EXAMPLES, USAGE, Scenario, worker

WARNING = "approvals are not checked against rosters"


def rostered_policy(roles: dict) -> dict:
    """The example policy, finance-admin approved by hr, business-owner and the manager."""
    policy = yaml.safe_load((EXAMPLES / "policy.yaml").read_text(encoding="utf-8"))
    policy["bundles"]["finance-admin"]["approvers"] = ["hr", "business-owner", "manager"]
    return {**policy, "roles": roles}


def test_roster_refusals_record_nothing_and_roster_approvals_release_the_grant(scenario: Scenario) -> None:
    scenario.write_policy(rostered_policy({"hr": ["E100", "E101"], "business-owner": ["E200", "E100"]}))
    scenario.write_feed([
        worker("E011", department="Finance", job_code="FIN-ADM", manager_id="E300"),
        worker("E100"), worker("E101", status="leave"), worker("E200"), worker("E300"), worker("E301"),
    ])  # fmt: skip
    first = scenario.sync("2026-03-02", expect=ATTENTION)
    assert WARNING not in first.stderr
    [request] = scenario.exceptions_of("approval")
    exception_id = str(request["id"])
    before = (scenario.exceptions("all"), scenario.audit())

    refusals = [
        (("approve", "--by", "E301", "--role", "hr"), "E301 is not on the roster of role 'hr'"),
        (("approve", "--by", "E101", "--role", "hr"), "E101 is not an active person in HR (suspended)"),
        (("approve", "--by", "alice", "--role", "hr"), "alice is not a person in HR"),
        (("approve", "--by", "E100", "--role", "manager"), "E100 is not the manager of E011 (HR names E300)"),
        (("approve", "--by", "e011", "--role", "hr"), "the grant is for them"),
        (("reject", "--by", "E301", "--role", "hr"), "E301 is not on the roster of role 'hr'"),
        (("reject", "--by", "E100"), "name the role you act as"),
    ]
    for (command, *args), message in refusals:
        refused = scenario.run(command, exception_id, *args).expect(USAGE)
        assert refused.stderr.strip().splitlines() == [refused.stderr.strip()] and message in refused.stderr, refused
    scenario.run("approve", exception_id, "--by", "e100\u200b", "--role", "hr").expect(CONVERGED)
    again = scenario.run("approve", exception_id, "--by", "E100", "--role", "business-owner").expect(USAGE)
    assert "E100 has already approved exception" in again.stderr and "as 'hr'" in again.stderr
    after = scenario.exceptions("all")
    assert [e["owner"] for e in after] == ["business-owner,manager"], "hr decided: the roles still waited for own it"
    after_refusals = ([{**e, "owner": None} for e in after], [e for e in scenario.audit() if e["action"] != "approve"])
    assert after_refusals == ([{**e, "owner": None} for e in before[0]], before[1]), "a refused decision records nothing"

    scenario.run("approve", exception_id, "--by", "E200", "--role", "business-owner").expect(CONVERGED)
    done = scenario.run("approve", exception_id, "--by", "E300", "--role", "manager").expect(CONVERGED)
    assert done.json["exception"]["status"] == "approved"
    assert [(e["actor"], e["detail"]["role"]) for e in scenario.audit("--employee-id", "E011")
            if e["action"] == "approve"] == [("E100", "hr"), ("E200", "business-owner"), ("E300", "manager")]  # fmt: skip
    scenario.sync("2026-03-03", expect=CONVERGED)
    assert "finance-admin" in scenario.memberships("E011")


def test_a_policy_naming_an_approver_role_without_a_roster_is_exit_2(scenario: Scenario) -> None:
    scenario.write_policy(rostered_policy({"hr": ["E100"]}))
    for command in (("run", "--as-of", "2026-03-02"), ("approve", "1", "--by", "E100", "--role", "hr")):
        failed = scenario.run(*command).expect(USAGE)
        line = failed.stderr.strip()
        assert "\n" not in line and "policy.yaml" in line and "role 'business-owner' has no roster" in line, failed
