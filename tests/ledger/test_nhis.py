"""NHI ownerships in the ledger (jml.ledger.nhis) on SQLite and PostgreSQL: a run's
findings kept (new, changed and removed rows, an audit entry per change, in one
transaction), and the owner's confirmation of a handover closing its `nhi_review`."""

from __future__ import annotations

from datetime import date

import pytest

from jml.ledger import LedgerError
from jml.model import Issue, IssueKind
from jml.nhi import OwnerChange, Ownership, Watch
from tests.ledger.test_ledger import new_run

pytestmark = pytest.mark.both_ledgers

DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 10)
BACKUP = Ownership("app", "svc-Backup", "service_account", "backup", "O1", "O1", DAY1)
BOT = Ownership("app", "bot", "bot", "", "O2", "O2", DAY1)


def test_a_run_keeps_new_changed_and_removed_ownerships_with_their_audit(ledger):
    first = new_run(ledger)
    ledger.save_nhis(first, "cli", Watch((BACKUP, BOT), (OwnerChange("app", "svc-Backup", None, "O1", "registered"),)))
    assert ledger.nhi_ownerships() == {("app", "svc-backup"): BACKUP, ("app", "bot"): BOT}

    handed = Ownership("app", "svc-Backup", "service_account", "backup", "O1", "M1", DAY2, review=True)
    change = OwnerChange("app", "svc-Backup", "O1", "M1", "owner O1 is terminated: passed to their manager")
    removed = OwnerChange("app", "bot", "O2", None, "removed from the registry")
    ledger.save_nhis(new_run(ledger), "cli", Watch((handed,), (change, removed), (("app", "bot"),)))
    assert ledger.nhi_ownerships() == {("app", "svc-backup"): handed}
    trail = [(e.action, e.employee_id, e.detail, e.reason) for e in ledger.audit_trail()]
    assert trail == [
        ("nhi_owner", "O1", {"account": "svc-Backup", "before": None, "owner": "O1"}, "registered"),
        ("nhi_owner", "M1", {"account": "svc-Backup", "before": "O1", "owner": "M1"}, change.reason),
        ("nhi_owner", "O2", {"account": "bot", "before": "O2", "owner": None}, "removed from the registry"),
    ]
    assert ledger.verify_audit().intact


def review_of(ledger, ownership: Ownership) -> int:
    issue = Issue(
        IssueKind.NHI_REVIEW, "nhi_review:app:svc-backup", "confirm it", employee_id=ownership.owner, target="app",
        data={"account": ownership.account, "kind": ownership.kind, "owner": ownership.owner},
    )  # fmt: skip
    ledger.sync_issues(new_run(ledger), [issue], kinds={IssueKind.NHI_REVIEW})
    (row,) = ledger.list_exceptions()
    return row.id


def test_only_the_current_owner_confirms_a_handover_and_it_closes(ledger):
    handed = Ownership("app", "svc-Backup", "service_account", "", "O1", "M1", DAY2, review=True)
    ledger.save_nhis(new_run(ledger), "cli", Watch((handed,)))
    review = review_of(ledger, handed)
    for by, role, refusal in (
        ("O1", "owner", "O1 is not the current owner of service_account svc-Backup on app"),
        ("M1", "hr", "its owner confirms it with --role owner"),
    ):
        with pytest.raises(LedgerError, match=refusal):
            ledger.approve(review, by=by, role=role, rosters=None)
    with pytest.raises(LedgerError, match="an NHI review: its owner confirms it"):
        ledger.reject(review, by="M1", reason="no", rosters=None)
    closed = ledger.approve(review, by="m1", role="owner", rosters=None)
    assert closed.status == "closed"
    assert ledger.nhi_ownerships()[("app", "svc-backup")].review is False
    assert [(e.action, e.actor, e.employee_id) for e in ledger.audit_trail()] == [("nhi_confirm", "M1", "M1")]
    with pytest.raises(LedgerError, match="is closed: there is nothing left to confirm"):
        ledger.approve(review, by="M1", role="owner", rosters=None)
