"""The audit trail's hash chain (jml.ledger.chain, `Ledger.verify_audit`): intact after
any appends, concurrent ones included; each kind of tampering by someone with the
database (an event edited, deleted, inserted, reordered; the last events cut off) is
found and named by the first event it touches; migration 0004 chains a trail written
before it. On SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime

import pytest
from alembic import command
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine

from jml.ledger import AuditEntry, Ledger, chain, tables
from jml.ledger.engine import alembic_config, make_engine, write

pytestmark = pytest.mark.both_ledgers

_a = tables.audit.c


def entries(run_id: int | None, n: int, who: str = "hr_sync") -> list[AuditEntry]:
    return [
        AuditEntry(run_id, who, "grant", f"E{i}", "app", {"entitlement": f"g{i}", "ü": [i, 1.5, None]}, f"rule {i}")
        for i in range(n)
    ]


def trail_of(ledger: Ledger, runs: int = 3, per_run: int = 4) -> list[int]:
    """A trail of `runs` runs of `per_run` events each, each run finished with its
    document's audit_head; the ids of the events."""
    for _ in range(runs):
        run_id = ledger.start_run(as_of=date(2026, 3, 2), dry_run=False, override_safety=False, actor="cli")
        ledger.append_audit(entries(run_id, per_run))
        ledger.finish_run(run_id, "converged", {"audit_head": ledger.audit_head()})
    return [e.id for e in ledger.audit_trail()]


def rows(db: Engine) -> list[dict]:
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(tables.audit).order_by(_a.id))]


def tamper(db: Engine, *statements) -> None:
    with db.begin() as conn:
        for statement in statements:
            conn.execute(statement)


def tamper_with(url: str, statement) -> None:
    engine = make_engine(url)
    with write(engine) as conn:
        conn.execute(statement)
    engine.dispose()


def test_an_empty_trail_is_intact_with_the_genesis_head(ledger):
    report = ledger.verify_audit()
    assert (report.intact, report.events, report.head) == (True, 0, chain.GENESIS)


def test_appends_chain_each_event_to_the_one_before(ledger, db):
    ids = trail_of(ledger)
    stored = rows(db)
    assert [r["id"] for r in stored] == ids and len(ids) == 12
    assert stored[0]["prev_hash"] == chain.GENESIS
    assert [r["prev_hash"] for r in stored[1:]] == [r["hash"] for r in stored[:-1]]
    for r in stored:  # each hash is SHA-256 over the previous hash and the canonical JSON
        event = chain.content(
            r["at"], r["run_id"], r["actor"], r["action"], r["employee_id"], r["target"], r["detail"], r["reason"]
        )
        assert r["hash"] == chain.link(r["prev_hash"], event)
    report = ledger.verify_audit(stored[-1]["hash"])
    assert (report.intact, report.events, report.head) == (True, 12, stored[-1]["hash"])
    assert ledger.audit_head() == stored[-1]["hash"] == ledger.audit_trail()[-1].hash


def test_an_edited_event_is_named(ledger, db):
    ids = trail_of(ledger)
    tamper(db, update(tables.audit).where(_a.id == ids[5]).values(reason="approved by the CEO"))
    report = ledger.verify_audit()
    assert (report.intact, report.event_id, report.events) == (False, ids[5], 5)
    assert f"event {ids[5]} was edited" in report.problem


def test_an_edit_that_recomputes_the_events_own_hash_is_found_at_the_next_event(ledger, db):
    ids = trail_of(ledger)
    row = rows(db)[5]
    forged = chain.link(row["prev_hash"], chain.content(row["at"], row["run_id"], row["actor"], row["action"],
                                                         row["employee_id"], row["target"], row["detail"], "forged"))  # fmt: skip
    tamper(db, update(tables.audit).where(_a.id == ids[5]).values(reason="forged", hash=forged))
    report = ledger.verify_audit()
    assert (report.intact, report.event_id) == (False, ids[6])
    assert "rewritten" in report.problem


def test_a_deleted_event_is_named_by_the_event_after_it(ledger, db):
    ids = trail_of(ledger)
    tamper(db, delete(tables.audit).where(_a.id == ids[5]))
    report = ledger.verify_audit()
    assert (report.intact, report.event_id) == (False, ids[6])
    assert f"after event {ids[4]} were deleted" in report.problem


def test_the_first_event_deleted_is_found(ledger, db):
    ids = trail_of(ledger)
    tamper(db, delete(tables.audit).where(_a.id == ids[0]))
    report = ledger.verify_audit()
    assert (report.intact, report.event_id) == (False, ids[1])
    assert "at the start were deleted" in report.problem


def test_an_inserted_event_is_named(ledger, db):
    """The forger makes room (ids after the 6th moved up by one) and inserts an event
    with a correct hash of its own, linked to the 6th: the event after it links to the
    6th, so the inserted one is named."""
    ids = trail_of(ledger)
    stored = rows(db)
    statements = [update(tables.audit).where(_a.id == r["id"]).values(id=r["id"] + 1000) for r in reversed(stored[6:])]
    statements += [update(tables.audit).where(_a.id == r["id"] + 1000).values(id=r["id"] + 1) for r in stored[6:]]
    at = datetime.now(UTC)
    detail = {"entitlement": "domain-admins"}
    event = chain.content(at, None, "mallory", "grant", "E9", "app", detail, "looks legit")
    statements.append(insert(tables.audit).values(
        id=ids[6], at=at, run_id=None, actor="mallory", action="grant", employee_id="E9", target="app",
        detail=detail, reason="looks legit", prev_hash=stored[5]["hash"], hash=chain.link(stored[5]["hash"], event),
    ))  # fmt: skip
    tamper(db, *statements)
    report = ledger.verify_audit()
    assert (report.intact, report.event_id) == (False, ids[6])
    assert f"event {ids[6]} was inserted" in report.problem


def test_two_events_swapped_are_found(ledger, db):
    ids = trail_of(ledger)
    stored = rows(db)
    fields = {k: v for k, v in stored[3].items() if k != "id"}, {k: v for k, v in stored[4].items() if k != "id"}
    tamper(db, update(tables.audit).where(_a.id == ids[3]).values(**fields[1]),
           update(tables.audit).where(_a.id == ids[4]).values(**fields[0]))  # fmt: skip
    report = ledger.verify_audit()
    assert (report.intact, report.event_id) == (False, ids[3])


def test_the_last_events_cut_off_are_found_by_the_head_a_run_kept(ledger, db):
    ids = trail_of(ledger)
    tamper(db, delete(tables.audit).where(_a.id >= ids[-2]))
    report = ledger.verify_audit()
    assert (report.intact, report.event_id, report.events) == (False, None, 10)
    assert "kept in run 3's document" in report.problem and f"after event {ids[-3]} were deleted" in report.problem


def test_a_head_kept_outside_the_ledger_must_be_in_the_chain(ledger):
    trail_of(ledger)
    unknown = "ab" * 32
    report = ledger.verify_audit(unknown)
    assert not report.intact and f"the head {unknown} kept in --head" in report.problem


def test_concurrent_appenders_each_continue_the_chain(ledger_url, ledger):
    """Eight writers, each its own Ledger (connection pool), append at once: every
    event is there once and the chain is intact (appends are serialised)."""

    def writer(n: int) -> None:
        own = Ledger.open(ledger_url)
        try:
            for _ in range(10):
                own.append_audit(entries(None, 3, who=f"writer-{n}"))
        finally:
            own.close()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(writer, range(8)))
    report = ledger.verify_audit()
    assert (report.intact, report.events) == (True, 240)


def test_migration_0004_chains_a_trail_written_before_it(ledger_url):
    engine = make_engine(ledger_url)
    config = alembic_config()
    with write(engine) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0003")
    at = datetime(2026, 3, 2, 9, 30, 0, 123456, tzinfo=UTC)
    old = [{"at": at, "run_id": None, "actor": "cli", "action": "approve", "employee_id": f"E{i}",
            "target": None, "detail": {"role": "hr", "n": i}, "reason": None} for i in range(7)]  # fmt: skip
    with write(engine) as conn:  # the 0003 audit table: no hash columns (the statement names none)
        conn.execute(insert(tables.audit), old)
    engine.dispose()
    ledger = Ledger.open(ledger_url)  # upgrades to head
    try:
        report = ledger.verify_audit()
        assert (report.intact, report.events) == (True, 7)
        expected = chain.chained(chain.GENESIS, (chain.content(*row.values()) for row in old))[-1][1]
        assert report.head == expected
        ledger.append_audit(entries(None, 2))
        assert ledger.verify_audit().intact and ledger.verify_audit().events == 9
    finally:
        ledger.close()


# ------------------------------------------------------------------------ property

#: Values an event can hold: what jml writes (text of any script, numbers, nesting).
_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=12)  # PostgreSQL text holds no NUL
_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | _text,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=6,
)
_entry = st.builds(
    AuditEntry, run_id=st.none(), actor=_text.filter(bool), action=st.sampled_from(["grant", "revoke", "approve"]),
    employee_id=st.none() | _text, target=st.none() | _text, detail=st.dictionaries(_text, _json, max_size=3),
    reason=st.none() | _text,
)  # fmt: skip


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(_entry, min_size=1, max_size=4), min_size=2, max_size=4), data=st.data())
def test_any_appends_verify_and_any_single_change_breaks_them(ledger_url, batches, data):
    """Any sequence of appends verifies intact; then any one change of one stored event
    (a field edited, the event deleted) makes verify fail, naming it or the next one."""
    ledger = Ledger.open(ledger_url)
    try:
        tamper_with(ledger_url, delete(tables.audit))  # a fresh trail per example
        for batch in batches:
            ledger.append_audit(batch)
        report = ledger.verify_audit()
        ids = [e.id for e in ledger.audit_trail()]
        assert (report.intact, report.events) == (True, len(ids))
        victim = data.draw(st.sampled_from(ids[:-1]), label="event")  # the last one: only a head kept elsewhere sees it
        change = data.draw(
            st.sampled_from(["actor", "action", "employee_id", "target", "detail", "reason", "at", "delete"])
        )
        if change == "delete":
            statement = delete(tables.audit).where(_a.id == victim)
        else:  # a value no example holds (the strategies draw no such text, nor that year)
            forged = "tampered \u2603"
            value = {"actor": forged, "action": "delete", "employee_id": forged, "target": forged,
                     "detail": {forged: True}, "reason": forged, "at": datetime(2001, 1, 1, tzinfo=UTC)}[change]  # fmt: skip
            statement = update(tables.audit).where(_a.id == victim).values({change: value})
        tamper_with(ledger_url, statement)
        broken = ledger.verify_audit()
        assert not broken.intact
        assert broken.event_id in (victim, ids[ids.index(victim) + 1])
    finally:
        ledger.close()
