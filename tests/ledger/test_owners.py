"""Exception owners in the ledger: given when an exception opens, kept while it lives
(an approval's follow the roles still waited for), the `--owner` filter, and
migration 0007 on a ledger holding exceptions from before it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import insert

from jml.ledger import Ledger, tables
from jml.ledger.engine import write
from jml.model import IssueKind
from jml.owners import Owners
from tests.ledger.test_ledger import AS_OF, approval_issue, issue, new_run, upgrade_to

pytestmark = pytest.mark.both_ledgers

OWNERS = Owners("iam-team", {"hr": "hr-data"}, {"app": "app-admins"})
KINDS = {IssueKind.QUARANTINE, IssueKind.FAILED_OPERATION, IssueKind.SOD}


def found(detail: str = "d") -> list:
    return [
        issue(IssueKind.QUARANTINE, "quarantine:hr:E1", detail, employee_id="E1", data={"source": "hr"}),
        issue(IssueKind.FAILED_OPERATION, "failed:app:E2", detail, employee_id="E2", target="app"),
        issue(IssueKind.SOD, "sod:E3", detail, employee_id="E3"),
    ]


def owners_by_key(ledger: Ledger, status: str = "open", owner: str | None = None) -> dict[str, str]:
    return {e.key: e.owner for e in ledger.list_exceptions(status, owner)}


def test_an_exception_gets_its_owner_when_it_opens_and_keeps_it_while_open(ledger):
    first = new_run(ledger)
    ledger.sync_issues(first, found(), kinds=KINDS, owners=OWNERS)
    expected = {"quarantine:hr:E1": "hr-data", "failed:app:E2": "app-admins", "sod:E3": "iam-team"}
    assert owners_by_key(ledger) == expected
    # A later run with other owners configured refreshes the detail, not the owner.
    later = new_run(ledger)
    assert ledger.sync_issues(later, found("changed"), kinds=KINDS, owners=Owners("other")) == (0, 0)
    assert owners_by_key(ledger) == expected
    assert {e.detail for e in ledger.list_exceptions()} == {"changed"}
    assert ({e.key for e in ledger.opened_in(first)}, ledger.opened_in(later)) == (set(expected), [])
    # Closed, then found again: a new exception, owned by the rule in force now.
    ledger.sync_issues(new_run(ledger), [], kinds=KINDS)
    again = new_run(ledger)
    ledger.sync_issues(again, found(), kinds=KINDS, owners=Owners("other"))
    assert set(owners_by_key(ledger).values()) == {"other"}
    assert {e.owner for e in ledger.opened_in(again)} == {"other"}


def test_the_owner_filter_matches_whole_names(ledger):
    ledger.sync_issues(new_run(ledger), found(), kinds=KINDS, owners=OWNERS)
    ledger.sync_issues(new_run(ledger), [approval_issue(approvers=("hr", "app-admins"))], kinds={IssueKind.APPROVAL})
    assert set(owners_by_key(ledger, owner="hr-data")) == {"quarantine:hr:E1"}
    assert set(owners_by_key(ledger, owner="app-admins")) == {"failed:app:E2", "approval:E1:finance-admin"}
    assert set(owners_by_key(ledger, owner="hr")) == {"approval:E1:finance-admin"}  # not hr-data's
    assert owners_by_key(ledger, owner="app") == {} and owners_by_key(ledger, owner="%") == {}
    assert owners_by_key(ledger, owner="h_-data") == {}  # LIKE wildcards are not wildcards
    ledger.sync_issues(new_run(ledger), [], kinds=KINDS)
    assert owners_by_key(ledger, owner="hr-data") == {}
    assert set(owners_by_key(ledger, "all", owner="hr-data")) == {"quarantine:hr:E1"}


def test_a_partly_approved_exception_belongs_to_the_roles_still_waited_for(ledger):
    ledger.sync_issues(new_run(ledger), [approval_issue(approvers=("hr", "owner", "ciso"))], kinds={IssueKind.APPROVAL})
    [approval] = ledger.list_exceptions()
    assert approval.owner == "hr,owner,ciso"
    assert ledger.approve(approval.id, by="hanna", role="owner", rosters=None).owner == "hr,ciso"
    assert ledger.approve(approval.id, by="carl", role="ciso", rosters=None).owner == "hr"
    decided = ledger.approve(approval.id, by="hugo", role="hr", rosters=None)
    assert (decided.status, decided.owner) == ("approved", "hr")  # the last who decided it


def test_migration_0007_gives_exceptions_open_before_it_an_owner(ledger_url):
    engine = upgrade_to(ledger_url, "0006")
    at = datetime.now(UTC)
    t = tables
    old = {"status": "open", "opened_run": 1, "opened_at": at, "detail": "d", "employee_id": "E1"}
    with write(engine) as conn:
        conn.execute(insert(t.runs).values(
            started_at=at, as_of=AS_OF, status="attention", dry_run=False, override_safety=False, actor="old"
        ))  # fmt: skip
        conn.execute(insert(t.exceptions), [
            {**old, "kind": "sod", "key": "sod:E1", "data": {}},
            {**old, "kind": "quarantine", "key": "q:E1", "data": {"source": "hr"}, "status": "closed"},
            {**old, "kind": "approval", "key": "a:E1", "data": {"approvers": ["hr", "owner", "ciso"]}},
            {**old, "kind": "approval", "key": "a:E2", "data": {"approvers": ["hr"]}, "status": "approved"},
        ])  # fmt: skip
        conn.execute(insert(t.approvals).values(exception_id=3, role="owner", approver="o", decision="approved", at=at))
    engine.dispose()
    with Ledger.open(ledger_url) as ledger:  # upgrades to head
        assert owners_by_key(ledger, "all") == {"sod:E1": "iam", "q:E1": "iam", "a:E1": "hr,ciso", "a:E2": "iam"}
        ledger.sync_issues(new_run(ledger), found(), kinds=KINDS, owners=OWNERS)
        assert owners_by_key(ledger, owner="hr-data") == {"quarantine:hr:E1": "hr-data"}
