"""High-risk grants decided in the Prefect UI: hr_sync with `wait_for_approvals` pauses
with a form describing each pending grant and resumes with the decisions (as the UI's
Resume button sends them); without an answer it goes on without the grant; the
decide-approval flow approves role by role and provisions what the last approval
released."""

from __future__ import annotations

import threading
import time
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterState, FlowRunFilterStateType
from prefect.client.schemas.objects import StateType
from prefect.flow_runs import resume_flow_run
from prefect.input.actions import read_flow_run_input

import tasks.approvals
from flows.decide_approval import decide_approval
from flows.hr_sync import hr_sync
from jml.config import load_config
from jml.ledger import Ledger
from tests.flows.running import run_bound
from tests.flows.test_hr_sync import AS_OF, write_world
from tests.flows.test_reconcile import accounts, open_exceptions

POLICY = (
    "bundles:\n  staff: {grants: {app: [all-staff]}}\n"
    "  finance-admin: {grants: {app: [finance-admin]}, risk: high, approvers: [hr, business-owner]}\n"
    "rules:\n  - {name: everyone, when: {employment_type: [employee]}, grant: [staff]}\n"
    "  - {name: finance-admins, when: {job_code: [FIN-ADM]}, grant: [finance-admin]}\n"
)
ROWS = [
    "F0001,Fay,Admin,fay@example.com,Finance,FIN-ADM,,employee,active,2020-01-01",
    "F0002,Sam,Staff,sam@example.com,Finance,FIN,,employee,active,2020-01-01",
]


@pytest.fixture
def world(tmp_path, tenant_env, monkeypatch):
    monkeypatch.setattr(tasks.approvals, "POLL_SECONDS", 1)
    config = write_world(tmp_path, tenant_env.url, ROWS)
    (tmp_path / "policy.yaml").write_text(POLICY)
    return config


def paused_run() -> UUID:
    """The id of the flow run that is paused, once there is one."""
    with get_client(sync_client=True) as client:
        for _ in range(120):
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(
                    state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.PAUSED]))
                )
            )
            if runs:
                return runs[0].id
            time.sleep(0.5)
    raise AssertionError("no paused flow run")


def sync_answered(world, names: dict[str, str]) -> tuple:
    """An hr_sync run that pauses for approvals, resumed (as a person in the UI would:
    read, decide, resume) approving with `names` in the approver fields; returns its
    state and what the operator saw (the description and the form's fields)."""
    seen: dict = {}

    def operator() -> None:
        run_id = paused_run()
        seen["description"] = read_flow_run_input("paused-approvals-description", flow_run_id=run_id)
        schema = read_flow_run_input("paused-approvals-schema", flow_run_id=run_id)
        field = next(name for name in schema["properties"] if name.startswith("exception_"))
        seen["fields"] = sorted(schema["properties"])
        resume_flow_run(run_id, run_input={field: "approve", **names})

    helper = threading.Thread(target=operator, daemon=True)
    helper.start()
    state = run_bound(world, hr_sync, as_of=AS_OF, wait_for_approvals=True, approval_timeout=120, return_state=True)
    helper.join(timeout=10)
    return state, seen


def test_a_paused_run_resumes_with_the_decisions_from_the_form(world):
    state, seen = sync_answered(world, {"approver_hr": "Hana HR", "approver_business_owner": "Bo Owner"})
    assert "F0001" in seen["description"] and "finance-admin" in seen["description"]
    assert "finance-admins" in seen["description"] and "hr, business-owner" in seen["description"]
    assert "Fay" not in seen["description"] and "fay@" not in seen["description"]  # employee_id only
    assert {"approver_hr", "approver_business_owner", "reason"} <= set(seen["fields"])
    assert state.is_completed() and state.name == "Completed", state
    assert "finance-admin" in accounts(world)["F0001"].entitlements
    assert not [e for e in open_exceptions(world).values() if e.kind == "approval"]


def test_without_an_answer_the_run_goes_on_without_the_grant_and_decide_approval_releases_it(world):
    state = run_bound(world, hr_sync, as_of=AS_OF, wait_for_approvals=True, approval_timeout=2, return_state=True)
    assert state.is_completed() and state.name == "Attention", state
    held = accounts(world)["F0001"]
    assert "all-staff" in held.entitlements and "finance-admin" not in held.entitlements
    approval = next(e for e in open_exceptions(world).values() if e.kind == "approval")

    refused = run_bound(world, decide_approval, exception_id=approval.id, approver="Ivy", role="auditor", return_state=True)
    assert refused.is_failed() and "role 'auditor' may not approve" in refused.message

    first = run_bound(world, decide_approval, exception_id=approval.id, approver="Hana HR", role="hr", return_state=True)
    assert first.is_completed() and first.message.endswith(": open")
    assert "finance-admin" not in accounts(world)["F0001"].entitlements
    last = run_bound(world, decide_approval, exception_id=approval.id, approver="Bo Owner", role="business-owner",
                     return_state=True)  # fmt: skip
    assert last.is_completed(), last
    assert "finance-admin" in accounts(world)["F0001"].entitlements
    assert "finance-admin" not in accounts(world)["F0002"].entitlements


def with_rosters(world) -> None:
    """The world's policy with rosters: hr is F0003, business-owner F0004 (in the feed)."""
    (world.parent / "policy.yaml").write_text(POLICY + "roles: {hr: [F0003], business-owner: [F0004]}\n")
    with open(world.parent / "workers.csv", "a") as feed:
        feed.write("F0003,Hana,Hr,hana@example.com,HR,HR,,employee,active,2020-01-01\n")
        feed.write("F0004,Bo,Owner,bo@example.com,Finance,FIN,,employee,active,2020-01-01\n")


def recorded(world, exception_id: int) -> list[tuple]:
    ledger = Ledger.open(load_config(world).state_url)
    try:
        return [(d.role, d.approver) for d in ledger.approvals(exception_id)]
    finally:
        ledger.close()


def test_the_pause_form_checks_the_approvers_against_the_rosters(world):
    """A name off the roster in the form is not recorded (logged); a roster id is. The
    roster's people are known to HR once a run has saved them (not during the first run's
    pause: its persons are saved when it reports)."""
    with_rosters(world)
    assert run_bound(world, hr_sync, as_of=AS_OF, return_state=True).name == "Attention"
    state, _ = sync_answered(world, {"approver_hr": "f0003", "approver_business_owner": "Bo Owner"})
    assert state.is_completed() and state.name == "Attention", state
    approval = next(e for e in open_exceptions(world).values() if e.kind == "approval")
    assert recorded(world, approval.id) == [("hr", "F0003")]
    assert "finance-admin" not in accounts(world)["F0001"].entitlements


def test_decide_approval_checks_the_approver_against_the_rosters(world):
    """The deployment applies the CLI's roster checks: a free name, a person off the
    roster, a rejection without a role are Failed runs that record nothing; the roster's
    people release the grant."""
    with_rosters(world)
    state = run_bound(world, hr_sync, as_of=AS_OF, return_state=True)
    assert state.is_completed() and state.name == "Attention", state
    approval = next(e for e in open_exceptions(world).values() if e.kind == "approval")

    def decide(approver: str, role: str, decision: str = "approve"):
        return run_bound(world, decide_approval, exception_id=approval.id, approver=approver, role=role,
                         decision=decision, return_state=True)  # fmt: skip

    for approver, role, decision, message in [
        ("Hana HR", "hr", "approve", "Hana HR is not a person in HR"),
        ("F0004", "hr", "approve", "F0004 is not on the roster of role 'hr'"),
        ("F0003", "", "reject", "name the role you act as"),
    ]:
        refused = decide(approver, role, decision)
        assert refused.is_failed() and message in refused.message, refused
    assert recorded(world, approval.id) == []
    assert decide("f0003", "hr").is_completed()
    last = decide("F0004", "business-owner")
    assert last.is_completed(), last
    assert "finance-admin" in accounts(world)["F0001"].entitlements
