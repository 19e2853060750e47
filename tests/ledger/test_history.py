"""The access history (jml.ledger.history): intervals each action opens and closes, the
"last run in run order" rule of `access_as_of`, adoption, the set-based writes, the
seeding migration 0005, and a property test against a replay of the changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, insert, select

from jml.ledger import AccessChange, AccessRecord, Ledger, tables
from jml.ledger.engine import write
from tests.ledger.test_ledger import BULK, SMALL, assert_batched, driver_calls, upgrade_to

pytestmark = pytest.mark.both_ledgers

DAY = date(2026, 3, 1)


def day(n: int) -> date:
    return DAY + timedelta(days=n)


@pytest.fixture
def ledger(ledger_url):
    store = Ledger.open(ledger_url)
    yield store
    store.close()


def start(ledger: Ledger, n: int, *, dry_run: bool = False) -> int:
    return ledger.start_run(as_of=day(n), dry_run=dry_run, override_safety=False, actor="test")


def held(ledger: Ledger, n: int, **filters) -> list[tuple[str, str, bool, tuple[str, ...]]]:
    return [(r.employee_id, r.target, r.active, r.entitlements) for r in ledger.access_as_of(day(n), **filters)]


def account(eid: str, active: bool = True) -> AccessChange:
    return AccessChange(eid, active=active)


def grant(eid: str, name: str, now_held: bool = True) -> AccessChange:
    return AccessChange(eid, name, held=now_held)


def delete(eid: str) -> AccessChange:
    return AccessChange(eid, held=False)


def test_each_action_opens_and_closes_intervals(ledger):
    """create + grants, disable + revoke, enable, delete: each day shows the state its
    run left, and the earlier days keep theirs."""
    ledger.record_access(start(ledger, 1), "app", [account("E1"), grant("E1", "eng"), grant("E1", "vpn")])
    ledger.record_access(start(ledger, 2), "app", [grant("E1", "vpn", False), account("E1", False)])
    ledger.record_access(start(ledger, 3), "app", [account("E1", True), grant("E1", "ops")])
    ledger.record_access(start(ledger, 4), "app", [delete("E1")])
    assert held(ledger, 0) == []
    assert held(ledger, 1) == [("E1", "app", True, ("eng", "vpn"))]
    assert held(ledger, 2) == [("E1", "app", False, ("eng",))]
    assert held(ledger, 3) == [("E1", "app", True, ("eng", "ops"))]
    assert held(ledger, 4) == []
    assert held(ledger, 9) == []
    assert ledger.access_as_of(day(1)) == [AccessRecord("E1", "app", True, ("eng", "vpn"))]


def test_a_change_to_the_state_held_keeps_the_interval(ledger, ledger_url):
    """An enable of an active account, a grant held already: no new row, no gap."""
    ledger.record_access(start(ledger, 1), "app", [account("E1"), grant("E1", "eng")])
    ledger.record_access(start(ledger, 2), "app", [account("E1"), grant("E1", "eng")])
    engine = create_engine(ledger_url)
    with engine.connect() as conn:
        rows = [conn.execute(select(h.c.from_run, h.c.to_run)).all() for h in (tables.account_history, tables.grant_history)]
    engine.dispose()
    assert rows == [[(1, None)], [(1, None)]]


def test_same_run_open_and_close_leaves_nothing_at_that_run(ledger):
    """A create and a grant then a delete in one run (in one batch or two), a grant
    then its revoke: nothing at that run, and nothing carried to the next."""
    run = start(ledger, 1)
    ledger.record_access(run, "app", [account("E1"), grant("E1", "eng"), delete("E1")])
    ledger.record_access(run, "app", [account("E2"), grant("E2", "eng")])
    ledger.record_access(run, "app", [delete("E2"), account("E3"), grant("E3", "vpn"), grant("E3", "vpn", False)])
    assert held(ledger, 1) == [("E3", "app", True, ())]
    start(ledger, 2)
    assert held(ledger, 2) == [("E3", "app", True, ())]


def test_a_delete_ends_every_grant_and_a_grant_after_it_counts(ledger):
    ledger.record_access(start(ledger, 1), "app", [account("E1"), grant("E1", "a"), grant("E1", "b")])
    ledger.record_access(start(ledger, 2), "app", [delete("E1"), account("E1"), grant("E1", "c")])
    assert held(ledger, 1) == [("E1", "app", True, ("a", "b"))]
    assert held(ledger, 2) == [("E1", "app", True, ("c",))]


def test_a_dry_run_changes_nothing(ledger):
    """A dry run whose as-of date is between two runs' is not the end of its day: the
    state is the earlier run's (the later one's deletes do not show)."""
    ledger.record_access(start(ledger, 1), "app", [account("E1")])
    ledger.record_access(start(ledger, 3), "app", [delete("E1")])
    start(ledger, 2, dry_run=True)
    assert held(ledger, 2) == [("E1", "app", True, ())]
    assert held(ledger, 3) == []


def test_runs_going_back_in_time_follow_the_last_run_in_run_order(ledger):
    """Run 1 as of day 5, run 2 as of day 3: from day 3 on, the state is run 2's (which
    holds run 1's changes too); before day 3 there is none."""
    ledger.record_access(start(ledger, 5), "app", [account("E1")])
    ledger.record_access(start(ledger, 3), "app", [account("E2")])
    both = [("E1", "app", True, ()), ("E2", "app", True, ())]
    assert held(ledger, 2) == []
    assert held(ledger, 3) == both
    assert held(ledger, 4) == both
    assert held(ledger, 5) == both


def test_filters_by_person_and_target(ledger):
    run = start(ledger, 1)
    ledger.record_access(run, "app", [account("E1"), grant("E1", "eng"), account("E2", False)])
    ledger.record_access(run, "crm", [account("E1"), grant("E1", "sales")])
    assert held(ledger, 1, employee_id="E1") == [("E1", "app", True, ("eng",)), ("E1", "crm", True, ("sales",))]
    assert held(ledger, 1, target="app") == [("E1", "app", True, ("eng",)), ("E2", "app", False, ())]
    assert held(ledger, 1, employee_id="E1", target="crm") == [("E1", "crm", True, ("sales",))]
    assert held(ledger, 1, employee_id="E9") == []


def test_adoption_opens_only_accounts_the_run_did_not_change(ledger):
    """Matched accounts get their active state as read, unless an open row exists (the
    run's own enable/disable, recorded first, wins) or the run deleted them (E4: an
    account the history never held, matched and deleted by one run)."""
    first = start(ledger, 1)
    ledger.record_access(first, "app", [account("E1")])
    ledger.adopt_access(first, "app", {"E1": False, "E2": False})
    assert held(ledger, 1) == [("E1", "app", True, ()), ("E2", "app", False, ())]
    second = start(ledger, 2)
    ledger.record_access(second, "app", [delete("E1"), account("E2", True), delete("E4")])
    ledger.adopt_access(second, "app", {"E1": True, "E2": False, "E3": True, "E4": True})
    assert held(ledger, 2) == [("E2", "app", True, ()), ("E3", "app", True, ())]


def test_knows_person(ledger):
    run = start(ledger, 1)
    ledger.adopt_access(run, "app", {"E1": True})
    assert ledger.knows_person("E1") and not ledger.knows_person("E2")


def history_steps(ledger: Ledger, prefix: str, n: int) -> dict[str, int]:
    """Statements of each step over n persons on the target `prefix`: created with a
    grant, disabled, deleted, adopted again, read."""
    eids = [f"{prefix}{i:06d}" for i in range(n)]
    calls = {}
    steps = (
        ("create", [c for e in eids for c in (account(e), grant(e, "eng"))]),
        ("disable", [account(e, False) for e in eids]),
        ("delete", [delete(e) for e in eids]),
    )
    for step, changes in steps:
        _, calls[step] = driver_calls(ledger.record_access, start(ledger, 1), prefix, changes)
    _, calls["adopt"] = driver_calls(ledger.adopt_access, start(ledger, 1), prefix, dict.fromkeys(eids, True))
    got, calls["read"] = driver_calls(ledger.access_as_of, day(1), target=prefix)
    assert [(r.employee_id, r.active) for r in got] == [(e, True) for e in eids]
    return calls


def test_bulk_history_takes_a_statement_per_batch_not_per_row(ledger):
    small = history_steps(ledger, "S", SMALL)
    assert_batched(small, history_steps(ledger, "E", BULK))


# ----------------------------------------------------------------------- migration


def test_migration_0005_seeds_the_history_of_an_existing_ledger(ledger_url):
    """Accounts and grants held at the upgrade become open rows: active as the last done
    create/enable/disable left them (a failed enable does not count), else active."""
    engine = upgrade_to(ledger_url, "0003")
    at = datetime.now(UTC)
    t = tables
    with write(engine) as conn:
        conn.execute(insert(t.runs), [
            {"started_at": at, "as_of": day(n), "status": "converged", "dry_run": False,
             "override_safety": False, "actor": "old"} for n in (1, 2, 3)
        ])  # fmt: skip
        conn.execute(insert(t.accounts), [
            {"target": "app", "employee_id": e, "account_id": f"id-{e}", "created_run": 1, "updated_run": 1}
            for e in ("E1", "E2", "E3", "E4")
        ])  # fmt: skip
        conn.execute(insert(t.grants), [
            {"target": "app", "employee_id": "E1", "entitlement": "eng", "reason": "r", "run_id": 2, "granted_at": at}
        ])  # fmt: skip
        ops = [  # (run, employee, action, detail, status)
            (1, "E1", "create", {"attributes": {}, "active": True}, "done"),
            (2, "E1", "disable", {}, "done"),
            (1, "E2", "create", {"attributes": {}, "active": False}, "done"),
            (2, "E3", "disable", {}, "done"),
            (3, "E3", "enable", {}, "failed"),
            (3, "E4", "grant", {"entitlement": "x"}, "done"),
        ]
        conn.execute(insert(t.operations), [
            {"run_id": run, "seq": seq, "target": "app", "employee_id": e, "action": action, "detail": detail,
             "reason": "r", "status": status, "created_at": at, "updated_at": at}
            for seq, (run, e, action, detail, status) in enumerate(ops)
        ])  # fmt: skip
    engine.dispose()
    with Ledger.open(ledger_url) as ledger:  # upgrades to head
        assert held(ledger, 1) == [("E2", "app", False, ()), ("E4", "app", True, ())]
        assert held(ledger, 3) == [
            ("E1", "app", False, ("eng",)), ("E2", "app", False, ()), ("E3", "app", False, ()),
            ("E4", "app", True, ()),
        ]  # fmt: skip
        run = start(ledger, 4)
        ledger.record_access(run, "app", [account("E1", True), grant("E1", "eng", False)])
        assert held(ledger, 4, employee_id="E1") == [("E1", "app", True, ())]
        assert held(ledger, 3, employee_id="E1") == [("E1", "app", False, ("eng",))]


# ------------------------------------------------------------------------ property

PEOPLE = ("E1", "E2")
CHANGE = st.one_of(
    st.builds(account, st.sampled_from(PEOPLE), st.booleans()),
    st.builds(grant, st.sampled_from(PEOPLE), st.sampled_from(("a", "b")), st.booleans()),
    st.builds(delete, st.sampled_from(PEOPLE)),
)
RUN = st.tuples(
    st.integers(0, 4),  # as-of day
    st.booleans(),  # a dry run (records nothing)
    st.lists(st.lists(CHANGE, max_size=4), max_size=2),  # batches on "app"
)


class Replay:
    """What a target holds after changes, the obvious way: accounts and grants."""

    def __init__(self) -> None:
        self.accounts: dict[str, bool] = {}
        self.grants: set[tuple[str, str]] = set()

    def apply(self, changes: list[AccessChange]) -> None:
        for c in changes:
            if c.entitlement is not None:
                (self.grants.add if c.held else self.grants.discard)((c.employee_id, c.entitlement))
            elif c.held:
                self.accounts[c.employee_id] = c.active
            else:
                self.accounts.pop(c.employee_id, None)
                self.grants = {pair for pair in self.grants if pair[0] != c.employee_id}

    def state(self) -> list[tuple[str, str, bool, tuple[str, ...]]]:
        people = self.accounts.keys() | {eid for eid, _ in self.grants}
        return [
            (eid, "app", self.accounts.get(eid, False), tuple(sorted(n for e, n in self.grants if e == eid)))
            for eid in sorted(people)
        ]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(RUN, min_size=1, max_size=5))
def test_as_of_each_run_equals_replaying_the_changes_up_to_it(runs):
    """For any runs of changes, the answer on each run's day, right after it (and on any
    day, after all of them) is the replay of every change of the runs it covers."""
    with Ledger.open("sqlite://") as store:
        model = Replay()
        after: dict[int, list] = {}  # run id -> the replayed state it left
        as_of: dict[int, int] = {}
        for n, dry_run, batches in runs:
            run = start(store, n, dry_run=dry_run)
            for batch in [] if dry_run else batches:
                store.record_access(run, "app", batch)
                model.apply(batch)
            state = model.state()
            if not dry_run:
                after[run], as_of[run] = state, n
                assert held(store, n) == state
        for d in range(5):
            covering = [run for run, n in as_of.items() if n <= d]
            assert held(store, d) == (after[max(covering)] if covering else [])
