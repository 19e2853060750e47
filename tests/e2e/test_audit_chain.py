"""`jml audit verify` as an auditor runs it, on SQLite and PostgreSQL ledgers: intact
after a joiner day and a leaver day, with the head each run's document carries; an
event edited behind jml's back named with exit 1; a copy of a head that the trail no
longer reaches caught; bad input one line, exit 2; verifying writes nothing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import create_engine, text

from tests.e2e.helpers import CONVERGED, Scenario, anchor_sqlite_url, worker


def tamper(scenario: Scenario, statement: str, **values) -> None:
    """One SQL statement on the scenario's ledger, committed: someone with the database."""
    engine = create_engine(anchor_sqlite_url(scenario.state, scenario.root))
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), values)
    finally:
        engine.dispose()


@pytest.mark.both_ledgers
def test_audit_verify_proves_the_trail_and_names_the_event_edited(scenario: Scenario) -> None:
    scenario.write_feed([worker("E100"), worker("E101")])
    day1 = scenario.sync("2026-03-01", expect=CONVERGED).json
    scenario.write_feed([worker("E100"), worker("E101", status="terminated", termination_date="2026-03-01")])
    day2 = scenario.sync("2026-03-02", expect=CONVERGED).json
    assert re.fullmatch(r"[0-9a-f]{64}", day2["audit_head"]) and day1["audit_head"] != day2["audit_head"]
    events = scenario.audit()

    shown = scenario.run("audit", "verify", as_json=False).expect(CONVERGED)
    assert shown.stdout.strip() == f"audit chain intact: {len(events)} events, head {day2['audit_head']}"
    assert events[-1]["hash"] == day2["audit_head"]
    report = scenario.run("audit", "verify", "--head", day1["audit_head"]).expect(CONVERGED).json
    assert report == {"intact": True, "events": len(events), "head": day2["audit_head"], "event_id": None, "problem": None}
    assert len(scenario.audit()) == len(events), "verifying writes no audit event"

    # Someone with the database hides that E101 lost access on day 2.
    [revoked] = [e for e in events if e["employee_id"] == "E101" and e["action"] == "disable"]
    tamper(scenario, "UPDATE audit SET employee_id = 'E100' WHERE id = :id", id=revoked["id"])
    broken = scenario.run("audit", "verify", as_json=False).expect(1)
    assert broken.stdout.strip() == f"audit chain broken: event {revoked['id']} was edited: its content does not match its hash"
    report = scenario.run("audit", "verify").expect(1).json
    assert (report["intact"], report["event_id"]) == (False, revoked["id"])


def test_a_kept_head_the_trail_no_longer_reaches_and_bad_input(scenario: Scenario) -> None:
    scenario.write_feed([worker("E100")])
    day1 = scenario.sync("2026-03-01", expect=CONVERGED).json
    last = scenario.audit()[-1]["id"]
    # The last events and the run's document with them: only a copy kept elsewhere knows.
    tamper(scenario, "DELETE FROM audit WHERE id >= :id", id=last - 1)
    tamper(scenario, "UPDATE runs SET summary = NULL")
    scenario.run("audit", "verify").expect(CONVERGED)
    report = scenario.run("audit", "verify", "--head", day1["audit_head"]).expect(1).json
    assert report["event_id"] is None
    assert f"the head {day1['audit_head']} kept in --head is no event's hash" in report["problem"]

    for args, message in (
        (("verify", "--head", "not-a-hash\x1b[31m"), "--head: 'not-a-hash\\x1b[31m' is not a SHA-256 hash"),
        (("verify", "--employee-id", "E100"), "audit verify checks the whole trail"),
        (("check",), "audit: 'check' is not a subcommand"),
        (("--head", day1["audit_head"]), "--head goes with audit verify"),
    ):
        result = scenario.run("audit", *args, as_json=False).expect(2)
        assert result.stderr.count("\n") == 1 and message in result.stderr, result
        assert "\x1b" not in result.stderr
