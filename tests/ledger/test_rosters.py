"""The ledger's side of who may approve, on SQLite and PostgreSQL: each person's manager
kept with their state (migration 0006), and decisions checked against rosters with what
the last run saved of HR, refused with nothing recorded."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic import command
from sqlalchemy import insert

from jml.approvals import Rosters
from jml.ledger import Ledger, LedgerError, PersonState
from jml.ledger import tables as t
from jml.ledger.engine import alembic_config, make_engine, write
from jml.model import IssueKind
from tests.ledger.test_ledger import approval_issue, new_run, upgrade_to

pytestmark = pytest.mark.both_ledgers

ROSTERS = Rosters({"hr": ["E100"], "owner": ["E200"]})


def test_the_manager_is_saved_with_the_person_and_updated(ledger):
    run = new_run(ledger)
    ledger.save_person_states(run, [PersonState("E1", "active", manager_id="E9"), PersonState("E2", "active")])
    assert ledger.person_states()["E1"].manager_id == "E9"
    assert ledger.person_states()["E2"].manager_id is None
    later = new_run(ledger)
    ledger.save_person_states(later, [PersonState("E1", "active", manager_id="E8"), PersonState("E2", "active")])
    assert ledger.person_states() == {
        "E1": PersonState("E1", "active", manager_id="E8"),
        "E2": PersonState("E2", "active"),
    }


def test_migration_0006_adds_the_manager_to_known_persons_and_downgrades(ledger_url):
    engine = upgrade_to(ledger_url, "0005")
    with write(engine) as conn:
        conn.execute(insert(t.runs).values(
            started_at=datetime.now(UTC), as_of=date(2026, 3, 2), status="converged", dry_run=False,
            override_safety=False, actor="old",
        ))  # fmt: skip
        conn.exec_driver_sql(
            "INSERT INTO persons (employee_id, first_seen_run, last_seen_run, lifecycle) VALUES ('E1', 1, 1, 'active')"
        )
    engine.dispose()
    with Ledger.open(ledger_url) as ledger:  # upgrades to head
        assert ledger.person_states() == {"E1": PersonState("E1", "active", manager_id=None)}
        ledger.save_person_states(new_run(ledger), [PersonState("E1", "active", manager_id="E9")])
        assert ledger.person_states()["E1"].manager_id == "E9"
    engine = make_engine(ledger_url)
    config = alembic_config()
    with write(engine) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT employee_id, lifecycle FROM persons").all() == [("E1", "active")]
    engine.dispose()


@pytest.fixture
def staffed(ledger) -> int:
    """An open approval for E1 (manager E300) and the persons HR had at the last run."""
    run = new_run(ledger)
    ledger.save_person_states(run, [
        PersonState("E1", "active", manager_id="E300"), PersonState("E100", "active"),
        PersonState("E200", "active"), PersonState("E300", "active"), PersonState("E101", "suspended"),
    ])  # fmt: skip
    ledger.sync_issues(run, [approval_issue(approvers=("hr", "owner", "manager"))], kinds={IssueKind.APPROVAL})
    return ledger.list_exceptions()[0].id


def test_refusals_against_the_rosters_record_nothing(ledger, staffed):
    refused = [
        (lambda: ledger.approve(staffed, by="E200", role="hr", rosters=ROSTERS), "not on the roster of role 'hr'"),
        (lambda: ledger.approve(staffed, by="E100", role="manager", rosters=ROSTERS), "not the manager of E1"),
        (lambda: ledger.approve(staffed, by="E999", role="hr", rosters=Rosters({"hr": ["E999"]})), "not a person"),
        (lambda: ledger.approve(staffed, by="e101", role="hr", rosters=Rosters({"hr": ["E101"]})), "(suspended)"),
        (lambda: ledger.reject(staffed, by="E1", role="hr", rosters=Rosters({"hr": ["E1"]})), "grant is for them"),
        (lambda: ledger.reject(staffed, by="E100", rosters=ROSTERS), "name the role"),
    ]
    for attempt, message in refused:
        with pytest.raises(LedgerError, match=message.replace("(", r"\(").replace(")", r"\)")):
            attempt()
    assert ledger.approvals(staffed) == []
    assert ledger.audit_trail("E1") == []
    assert ledger.list_exceptions()[0].status == "open"


def test_roster_approvers_and_the_manager_approve_under_their_employee_ids(ledger, staffed):
    ledger.approve(staffed, by="e100\u200b", role="hr", rosters=ROSTERS)
    with pytest.raises(LedgerError, match="already approved exception .* as 'hr'"):
        ledger.approve(staffed, by="E100", role="owner", rosters=Rosters({"owner": ["E100"]}))
    ledger.approve(staffed, by="E200", role="owner", rosters=ROSTERS)
    done = ledger.approve(staffed, by="E300", role="manager", rosters=ROSTERS)
    assert done.status == "approved"
    assert [(d.role, d.approver) for d in ledger.approvals(staffed)] == [
        ("hr", "E100"), ("owner", "E200"), ("manager", "E300"),
    ]  # fmt: skip
    assert [e.actor for e in ledger.audit_trail("E1")] == ["E100", "E200", "E300"]
