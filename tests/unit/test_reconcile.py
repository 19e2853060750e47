"""jml.reconcile: which differences are drift and which accounts are orphans."""

from __future__ import annotations

from jml.model import Account, IssueKind, Lifecycle, Snapshot
from jml.operations import Action, Operation, from_journal
from jml.plan import Desired, Plan
from jml.reconcile import drift_issues, orphan_issues


def op(eid: str, action: Action, **detail) -> Operation:
    account_id = None if action is Action.CREATE else f"id-{eid}"
    return from_journal(target="app", employee_id=eid, action=action.value, detail=detail, reason="why", account_id=account_id)


def account(account_id: str, external_id: str | None, active: bool = True) -> Account:
    return Account(account_id, external_id, active, {"user_name": f"{account_id}@example.com"})


def test_drift_is_per_person_and_target_and_skips_joiners():
    plan = Plan(operations=[
        op("J1", Action.CREATE, attributes={}, active=True), op("J1", Action.GRANT, entitlement="staff"),
        op("G1", Action.CREATE, attributes={}, active=True),
        op("M1", Action.UPDATE, changes={"department": ["A", "B"], "title": ["x", "y"]}),
        op("M1", Action.GRANT, entitlement="eng"), op("M1", Action.REVOKE, entitlement="sales"),
        op("L1", Action.REVOKE, entitlement="staff"), op("L1", Action.DISABLE),
    ])  # fmt: skip
    desired = {
        "J1": Desired("J1", Lifecycle.ACTIVE, None), "G1": Desired("G1", Lifecycle.ACTIVE, None),
        "M1": Desired("M1", Lifecycle.ACTIVE, None), "L1": Desired("L1", Lifecycle.TERMINATED, None),
    }  # fmt: skip
    issues = {i.key: i for i in drift_issues(plan, desired, {"app": {"G1": "gone-id", "M1": "id-M1"}})}
    assert set(issues) == {"drift:app:G1", "drift:app:M1", "drift:app:L1"}  # J1 is a joiner
    assert issues["drift:app:G1"].detail.endswith("the account the ledger links to is gone")
    assert issues["drift:app:M1"].detail.endswith("attributes department, title; missing eng; extra sales")
    assert issues["drift:app:L1"].data["leaver"] and "still active" in issues["drift:app:L1"].detail
    assert not issues["drift:app:M1"].data["leaver"]
    assert all(i.kind is IssueKind.DRIFT and i.employee_id and i.target == "app" for i in issues.values())


def test_orphans_are_accounts_no_link_no_match_and_no_known_person_explain():
    snapshot = Snapshot("app", [
        account("a1", "E1"),            # a known person
        account("a2", None),            # linked by the ledger
        account("a3", None),            # matched by the plan (adopted by userName)
        account("a4", "X9", active=False),  # externalId of nobody: orphan
        account("a5", None),            # nothing: orphan
    ])  # fmt: skip
    issues = orphan_issues({"app": snapshot}, {"app": {"E2": "a2"}}, {"app": {"E3": "a3"}}, known={"E1"})
    assert [i.key for i in issues] == ["orphan:app:a4", "orphan:app:a5"]
    assert issues[0].detail == "inactive account a4 (externalId X9) on app belongs to no person in HR; left alone"
    assert "@" not in issues[1].detail and issues[1].kind is IssueKind.ORPHAN and issues[1].employee_id is None
