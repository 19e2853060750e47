"""A killed run's pending operations settled by the next run (pipeline.targets and
`jml.plan.is_applied`), for every kind a replay judges from a fresh read: update,
enable, disable, grant and revoke, each once applied and once not.

The killed run is made in this process the way `apply_batch` begins a batch: its whole
plan journalled `pending`, then some of it really sent to the SCIM server, and then it
stops: no outcome journalled, the run never finished (the SIGKILL itself, and the lock
a dead run leaves, are tests/e2e/test_faults.py's). The next `jml run` must journal each
pending operation `done` if the target shows it applied and `failed` (replanned) if not,
and apply only the ones not applied; and the ledger must record what was found applied
as it records what a run applies (grants, the audit trail), or the trail misses a write
and the cumulative deprovision guard under-counts.
"""

from __future__ import annotations

from datetime import date

import pytest

from pipeline.run import open_run
from pipeline.sync import plan
from tests.e2e.helpers import CONVERGED, Scenario, enterprise, worker

pytestmark = pytest.mark.both_ledgers

DAY1, DAY2 = "2026-03-02", "2026-03-03"
#: Day 2: M1 and M2 move to Sales (update, grant sales, revoke engineering), L1 and L2
#: come back from leave (enable), D1 and D2 go on leave (disable).
MOVERS, RETURNING, LEAVING = ("M1", "M2"), ("L1", "L2"), ("D1", "D2")
#: What the killed run had sent when it died: of each kind, one operation.
SENT = {("update", "M1"), ("revoke", "M1"), ("grant", "M2"), ("enable", "L1"), ("disable", "D1")}
EXPECTED_PLAN = {(action, eid) for action in ("update", "grant", "revoke") for eid in MOVERS} | {
    ("enable", eid) for eid in RETURNING
} | {("disable", eid) for eid in LEAVING}


def feed(day: int) -> list[dict[str, str]]:
    moved = {"department": "Sales", "job_code": "SLS"} if day == 2 else {}
    return (
        [worker(eid, **moved) for eid in MOVERS]
        + [worker(eid, status="leave" if day == 1 else "active") for eid in RETURNING]
        + [worker(eid, status="active" if day == 1 else "leave") for eid in LEAVING]
    )


def killed_run(scenario: Scenario, as_of: str) -> int:
    """A run that journalled its plan, sent the SENT operations and died; its id."""
    with open_run(scenario.config, as_of=date.fromisoformat(as_of), record=True) as run:
        operations = plan(run).checked.plan.operations
        assert {(op.action.value, op.employee_id) for op in operations} == EXPECTED_PLAN
        run.ledger.journal_pending(run.id, operations)
        sent = run.targets["app"].apply([op for op in operations if (op.action.value, op.employee_id) in SENT])
        assert all(outcome.ok for outcome in sent.outcomes), sent
        return run.id


def test_the_next_run_settles_each_pending_operation_by_what_the_target_shows(scenario, monkeypatch):
    scenario.write_feed(feed(1))
    scenario.sync(DAY1, expect=CONVERGED)
    scenario.write_feed(feed(2))
    monkeypatch.setenv("APP_TOKEN", scenario.tenant.token)
    killed = killed_run(scenario, DAY2)

    replay = scenario.sync(DAY2, expect=CONVERGED)

    settled = {(action, eid): (status, error) for action, eid, status, error in scenario.ledger_rows(
        f"SELECT action, employee_id, status, error FROM operations WHERE run_id = {killed}"
    )}  # fmt: skip
    replay_id = max(run_id for (run_id,) in scenario.ledger_rows("SELECT id FROM runs"))
    assert replay.json["operations"]["planned"] == len(EXPECTED_PLAN - SENT)
    wrong = {
        op: got for op, got in settled.items()
        if got != (("done", f"settled by run {replay_id}: found applied") if op in SENT
                   else ("failed", f"settled by run {replay_id}: not applied; replanned"))
    }  # fmt: skip
    assert set(settled) == EXPECTED_PLAN and wrong == {}
    redone = scenario.ledger_rows(f"SELECT action, employee_id, status FROM operations WHERE run_id = {replay_id}")
    assert sorted(redone) == sorted((action, eid, "done") for action, eid in EXPECTED_PLAN - SENT)

    users = scenario.scim_users()
    for eid in MOVERS:
        assert scenario.memberships(eid) == {"all-staff", "sales"}
        assert enterprise(users[eid]).get("department") == "Sales"
    assert [users[eid]["active"] for eid in (*RETURNING, *LEAVING)] == [True, True, False, False]

    # The ledger holds what the target shows: every operation in the audit trail once,
    # the found-applied ones by the replay; the movers' grants as the target has them.
    audited = scenario.ledger_rows(
        f"SELECT action, employee_id, run_id FROM audit WHERE run_id >= {killed} AND employee_id IS NOT NULL"
    )
    assert sorted((action, eid) for action, eid, _ in audited) == sorted(EXPECTED_PLAN)
    assert {run_id for *_, run_id in audited} == {replay_id}
    grants = {eid: set() for eid in MOVERS}
    for eid, entitlement in scenario.ledger_rows("SELECT employee_id, entitlement FROM grants"):
        grants.setdefault(eid, set()).add(entitlement)
    assert {eid: grants[eid] for eid in MOVERS} == {eid: {"all-staff", "sales"} for eid in MOVERS}
