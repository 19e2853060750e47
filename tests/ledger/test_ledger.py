"""The ledger (jml.ledger): schema by migration, every method of the facade, the
exception queue's open/keep/close rules, approvals, the append-only audit trail, and bulk
steps that send a statement per batch, never one per row.

Every test of a database runs twice (`both_ledgers`): on a SQLite file in tmp_path and
on a fresh database of the session's PostgreSQL. What the facade does not return (a
run's row, the journal's timestamps) the tests read with SQL on a connection of their
own (`db`).
"""

from __future__ import annotations

import importlib.util
import itertools
import math
import re
import sqlite3
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, date, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from jml.ledger import (
    AccessChange,
    AuditEntry,
    ExceptionRecord,
    JournalRecord,
    KnownRead,
    Ledger,
    LedgerError,
    LockHolder,
    PersonState,
    tables,
)
from jml.ledger.engine import BATCH, IN_BATCH, alembic_config, make_engine, write
from jml.ledger.tables import metadata
from jml.model import Account, Issue, IssueKind, Lifecycle, Snapshot
from jml.nhi import OwnerChange, Ownership, Watch
from jml.operations import Change, Create, Grant, Operation, Update
from pipeline.parallel import per_target

AS_OF = date(2026, 5, 20)
ALL_KINDS = set(IssueKind)

pytestmark = pytest.mark.both_ledgers  # every test taking `ledger_url`: SQLite and PostgreSQL


def upgrade_to(url: str, revision: str) -> Engine:
    """An engine on the ledger at `url`, its schema brought to `revision` (an older one:
    to fill it as that jml did before a migration test opens it at head)."""
    engine = make_engine(url)
    config = alembic_config()
    with write(engine) as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, revision)
    return engine


def run_row(db: Engine, run_id: int) -> dict:
    """The run's row (id, started_at, finished_at, as_of, status, ...), or {} if none."""
    with db.connect() as conn:
        row = conn.execute(select(tables.runs).where(tables.runs.c.id == run_id)).first()
    return dict(row._mapping) if row else {}


def journal_rows(db: Engine, run_id: int) -> list[dict]:
    """Every operation journalled by a run, in order, with all its columns."""
    o = tables.operations.c
    with db.connect() as conn:
        rows = conn.execute(select(tables.operations).where(o.run_id == run_id).order_by(o.seq, o.id))
        return [dict(row._mapping) for row in rows]


def exception_by_id(ledger: Ledger, exception_id: int) -> ExceptionRecord:
    return next(e for e in ledger.list_exceptions("all") if e.id == exception_id)


@pytest.fixture
def run(ledger) -> int:
    return ledger.start_run(as_of=AS_OF, dry_run=False, override_safety=False, actor="test")


def new_run(ledger: Ledger) -> int:
    return ledger.start_run(as_of=AS_OF, dry_run=False, override_safety=False, actor="test")


def issue(kind: IssueKind, key: str, detail: str = "d", **kwargs) -> Issue:
    return Issue(kind=kind, key=key, detail=detail, **kwargs)


def approval_issue(key: str = "approval:E1:finance-admin", approvers=("hr", "owner")) -> Issue:
    return Issue(
        kind=IssueKind.APPROVAL,
        key=key,
        detail="finance-admin needs approval",
        employee_id="E1",
        data={"bundle": "finance-admin", "rule": "rule 3", "approvers": list(approvers)},
    )


def open_keys(ledger: Ledger) -> set[str]:
    return {e.key for e in ledger.list_exceptions("open")}


# ------------------------------------------------------------------------ schema, open


def test_migrated_schema_matches_tables(ledger, db):
    with db.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
        head = ScriptDirectory.from_config(alembic_config()).get_current_head()
        assert context.get_current_revision() == head


def test_revisions_form_one_line_from_the_initial_one():
    script = ScriptDirectory.from_config(alembic_config())
    revisions = list(script.walk_revisions())  # head first
    assert len(script.get_heads()) == 1
    assert revisions[-1].revision == "0001" and revisions[-1].down_revision is None
    for newer, older in itertools.pairwise(revisions):
        assert newer.down_revision == older.revision


def test_open_twice_keeps_the_data(ledger_url, db):
    first = Ledger.open(ledger_url)
    run_id = new_run(first)
    first.close()
    again = Ledger.open(ledger_url)  # upgrading an up-to-date database is a no-op
    assert run_row(db, run_id)["actor"] == "test"
    again.close()


def test_open_a_database_from_a_newer_jml_is_a_ledger_error(ledger_url, db):
    Ledger.open(ledger_url).close()
    with db.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '9999'")
    with pytest.raises(LedgerError, match="newer jml"):
        Ledger.open(ledger_url)


def test_sqlite_file_folder_is_created_and_pragmas_set(tmp_path):
    path = tmp_path / "a" / "b" / "jml.db"
    with Ledger.open(f"sqlite:///{path}") as store:
        assert path.exists()
        engine = make_engine(f"sqlite:///{path}")  # as the ledger makes its engine
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
        engine.dispose()
        # Foreign keys are enforced: a person's first run must exist.
        with pytest.raises(IntegrityError):
            store.save_person_states(999, [PersonState("E1", "active")])
    raw = sqlite3.connect(path)
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert raw.execute("SELECT version_num FROM alembic_version").fetchone() == (head,)
    raw.close()


def test_in_memory_sqlite_works():
    """An in-memory database is one shared connection: each transaction sees the last."""
    with Ledger.open("sqlite://") as store:
        run_id = new_run(store)
        store.save_person_states(run_id, [PersonState("E1", "active")])  # needs the run
        assert store.person_states() == {"E1": PersonState("E1", "active")}


def test_threads_take_turns_on_an_in_memory_ledger():
    """Targets are worked on in parallel; the threads of an in-memory ledger share one
    connection, so their transactions must not interleave."""
    with Ledger.open("sqlite://") as store:
        run_id = new_run(store)

        def save(name: str) -> None:
            for i in range(40):
                store.save_person_states(run_id, [PersonState(f"{name}{i}", "active")])
                store.person_states()

        per_target([f"T{n}-" for n in range(4)], save)
        assert len(store.person_states()) == 160


def test_shared_in_memory_sqlite_works():
    name = f"jml-{uuid.uuid4().hex[:8]}"
    with Ledger.open(f"sqlite:///file:{name}?mode=memory&cache=shared&uri=true") as store:
        run_id = new_run(store)
        raw = sqlite3.connect(f"file:{name}?mode=memory&cache=shared", uri=True)
        assert raw.execute("SELECT status FROM runs WHERE id = ?", (run_id,)).fetchone() == ("running",)
        raw.close()


BAD_URLS = ["not a url", "nosuchdb://x/y", "postgresql+nosuchdriver://u@127.0.0.1/x"]
if importlib.util.find_spec("psycopg"):  # a server that is not there
    BAD_URLS.append("postgresql+psycopg://u:secret@127.0.0.1:1/x")


@pytest.mark.parametrize("bad_url", BAD_URLS)
def test_open_bad_url_is_a_ledger_error(bad_url):
    with pytest.raises(LedgerError) as caught:
        Ledger.open(bad_url)
    message = str(caught.value)
    assert "\n" not in message
    assert "secret" not in message


def test_open_where_the_folder_cannot_be_made(tmp_path):
    (tmp_path / "file").write_text("not a folder")
    with pytest.raises(LedgerError, match="cannot create the folder"):
        Ledger.open(f"sqlite:///{tmp_path / 'file' / 'sub' / 'jml.db'}")


# ------------------------------------------------------------------------------- runs


def test_runs(ledger, db):
    run_id = ledger.start_run(as_of=AS_OF, dry_run=True, override_safety=True, actor="alice")
    got = run_row(db, run_id)
    assert got["status"] == "running"
    assert got["as_of"] == AS_OF
    assert got["dry_run"] is True and got["override_safety"] is True
    assert got["actor"] == "alice"
    assert got["started_at"].tzinfo is not None and got["finished_at"] is None
    assert abs((datetime.now(UTC) - got["started_at"]).total_seconds()) < 60

    ledger.finish_run(run_id, "attention", {"operations": {"planned": 3}, "on": date(2026, 1, 2)})
    got = run_row(db, run_id)
    assert got["status"] == "attention"
    assert got["summary"] == {"operations": {"planned": 3}, "on": "2026-01-02"}
    assert got["finished_at"] >= got["started_at"]
    assert new_run(ledger) > run_id


def test_run_errors(ledger, run):
    with pytest.raises(LedgerError, match="no run with id 12345"):
        ledger.finish_run(12345, "converged", {})
    with pytest.raises(ValueError):
        ledger.finish_run(run, "splendid", {})


# ---------------------------------------------------------------------------- persons


def test_person_states(ledger, db):
    r1 = new_run(ledger)
    assert ledger.person_states() == {}
    ledger.save_person_states(
        r1,
        [
            PersonState("E1", Lifecycle.ACTIVE),
            PersonState("E2", "terminated", terminated_on=date(2026, 1, 31)),
        ],
    )
    states = ledger.person_states()
    assert states == {
        "E1": PersonState("E1", "active"),
        "E2": PersonState("E2", "terminated", date(2026, 1, 31), None),
    }
    assert type(states["E1"].lifecycle) is str

    r2 = new_run(ledger)
    ledger.save_person_states(
        r2,
        [
            PersonState("E1", "suspended"),
            PersonState(
                "E2", "terminated", terminated_on=date(2026, 1, 31), absent_since=date(2026, 5, 20)
            ),
            PersonState("E3", "prehire"),
        ],
    )
    states = ledger.person_states()
    assert states["E1"].lifecycle == "suspended"
    assert states["E2"].absent_since == date(2026, 5, 20)
    assert set(states) == {"E1", "E2", "E3"}

    r3 = new_run(ledger)
    ledger.save_person_states(r3, [PersonState("E1", "suspended")])  # unchanged, seen
    with db.connect() as conn:
        rows = {
            r[0]: (r[1], r[2])
            for r in conn.exec_driver_sql(
                "SELECT employee_id, first_seen_run, last_seen_run FROM persons"
            )
        }
    assert rows["E1"] == (r1, r3)
    assert rows["E2"] == (r1, r1)  # absent in r2: not seen there
    assert rows["E3"] == (r2, r2)


# --------------------------------------------------------------------------- accounts


def test_account_links(ledger, db, run):
    assert ledger.account_links("app") == {}
    ledger.link_accounts(run, "app", {"E1": "id-1", "E2": "id-2"})
    ledger.link_accounts(run, "dir", {"E1": "cn=e1"})
    assert ledger.account_links("app") == {"E1": "id-1", "E2": "id-2"}

    r2 = new_run(ledger)
    ledger.link_accounts(r2, "app", {"E2": "id-2b", "E3": "id-3"})
    assert ledger.account_links("app") == {"E1": "id-1", "E2": "id-2b", "E3": "id-3"}
    with db.connect() as conn:
        row = conn.exec_driver_sql(
            "SELECT created_run, updated_run FROM accounts WHERE employee_id = 'E2'"
            " AND target = 'app'"
        ).one()
    assert tuple(row) == (run, r2)

    ledger.unlink_accounts("app", ["E1", "E3", "nobody"])
    assert ledger.account_links("app") == {"E2": "id-2b"}
    assert ledger.account_links("dir") == {"E1": "cn=e1"}


# ----------------------------------------------------------------------------- grants


def test_grants(ledger, run):
    ledger.record_grants(
        run,
        "app",
        [
            ("E1", "all-staff", "rule 1: staff"),
            ("E1", "eng", "rule 2: engineering"),
            ("E2", "all-staff", "rule 1: staff"),
        ],
    )
    ledger.record_grants(run, "directory", [("E1", "eng", "rule 2: engineering")])
    assert ledger.grants("app") == {
        ("E1", "all-staff"): "rule 1: staff",
        ("E1", "eng"): "rule 2: engineering",
        ("E2", "all-staff"): "rule 1: staff",
    }
    ledger.record_grants(run, "app", [("E1", "eng", "rule 5: engineering")])
    assert ledger.grants("app")[("E1", "eng")] == "rule 5: engineering"

    ledger.remove_grants("app", [("E1", "eng"), ("E9", "none")])
    assert set(ledger.grants("app")) == {("E1", "all-staff"), ("E2", "all-staff")}
    assert ledger.grants("directory") == {("E1", "eng"): "rule 2: engineering"}
    ledger.remove_grants("app", [])
    ledger.record_grants(run, "app", [])


# ---------------------------------------------------------------------------- journal


def _op(employee_id: str, account_id: str | None = None) -> Operation:
    return Grant(target="app", employee_id=employee_id, reason="rule 1: staff", entitlement="all-staff", account_id=account_id)


def test_journal(ledger, db):
    r1 = new_run(ledger)
    ops = [
        Create(target="app", employee_id="E1", reason="rule 1: staff", attributes={"user_name": "a@x"}),
        _op("E2", account_id="acc-2"),
        Update(target="app", employee_id="E3", reason="rule 1: staff", changes={"ends": Change(None, date(2026, 5, 1))}),
    ]
    ids = ledger.journal_pending(r1, ops)
    assert len(ids) == 3 and ids == sorted(ids)
    assert ledger.journal_pending(r1, []) == []
    more = ledger.journal_pending(r1, [_op("E4")])

    journal = journal_rows(db, r1)
    assert [o["id"] for o in journal] == ids + more
    assert [o["seq"] for o in journal] == [1, 2, 3, 4]
    first = journal[0]
    assert first["action"] == "create" and first["status"] == "pending"
    assert first["detail"] == {"attributes": {"user_name": "a@x"}, "active": True}
    assert journal[1]["account_id"] == "acc-2"
    assert journal[2]["detail"] == {"changes": {"ends": [None, "2026-05-01"]}}
    assert first["created_at"].tzinfo is not None

    ledger.journal_finish([(ids[0], "done", None), (ids[1], "failed", "HTTP 400: bad")])
    r2 = new_run(ledger)
    later = ledger.journal_pending(r2, [_op("E5")])
    pending = ledger.pending_operations()
    assert [o.id for o in pending] == [ids[2], more[0], later[0]]
    assert {o.run_id for o in pending} == {r1, r2}
    assert pending[0] == JournalRecord(
        ids[2], r1, 3, "app", "E3", "update", None, {"changes": {"ends": [None, "2026-05-01"]}}, "rule 1: staff",
        "pending", None
    )
    settled = {o["id"]: o for o in journal_rows(db, r1)}
    assert settled[ids[0]]["status"] == "done" and settled[ids[0]]["error"] is None
    assert settled[ids[1]]["status"] == "failed" and settled[ids[1]]["error"] == "HTTP 400: bad"
    assert settled[ids[1]]["updated_at"] >= settled[ids[1]]["created_at"]
    assert journal_rows(db, r2)[0]["seq"] == 1

    with pytest.raises(ValueError):
        ledger.journal_finish([(ids[2], "pending", None)])
    with pytest.raises(LedgerError, match="no run with id 777"):
        ledger.journal_pending(777, [_op("E1")])


def test_journal_concurrent_batches_of_one_run(ledger, db, run):
    batches = [[_op(f"E{b}-{i}") for i in range(50)] for b in range(8)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda ops: ledger.journal_pending(run, ops), batches))
    journal = journal_rows(db, run)
    assert sorted(o["seq"] for o in journal) == list(range(1, 401))
    by_id = {o["id"]: o for o in journal}
    for ops, ids in zip(batches, results, strict=True):
        assert [by_id[i]["employee_id"] for i in ids] == [op.employee_id for op in ops]


# ------------------------------------------------------------------------- exceptions


def test_sync_issues_opens_keeps_and_closes(ledger):
    kinds = {IssueKind.QUARANTINE, IssueKind.DUPLICATE}
    r1 = new_run(ledger)
    found = [
        issue(IssueKind.QUARANTINE, "q:hr:3", "row 3: bad email", employee_id="E3"),
        issue(IssueKind.QUARANTINE, "q:hr:4", "row 4: bad date"),
        issue(IssueKind.DUPLICATE, "dup:a@x", "E5, E6 share a@x", data={"ids": ("E5", "E6")}),
    ]
    assert ledger.sync_issues(r1, found, kinds=kinds) == (3, 0)
    assert ledger.count_open() == 3
    first_ids = {e.key: e.id for e in ledger.list_exceptions()}

    # The same causes found again: the same exceptions, refreshed.
    r2 = new_run(ledger)
    found[0] = issue(IssueKind.QUARANTINE, "q:hr:3", "row 3: bad email, bad date", employee_id="E3")
    assert ledger.sync_issues(r2, found, kinds=kinds) == (0, 0)
    now = {e.key: e for e in ledger.list_exceptions()}
    assert {k: e.id for k, e in now.items()} == first_ids
    assert now["q:hr:3"].detail == "row 3: bad email, bad date"
    assert now["dup:a@x"].data == {"ids": ["E5", "E6"]}
    assert now["q:hr:3"].opened_run == r1

    # A cause gone closes its exception, with the run that saw it gone.
    r3 = new_run(ledger)
    assert ledger.sync_issues(r3, found[1:], kinds=kinds) == (0, 1)
    closed = exception_by_id(ledger, first_ids["q:hr:3"])
    assert closed.status == "closed" and closed.closed_run == r3
    assert open_keys(ledger) == {"q:hr:4", "dup:a@x"}

    # The cause back again: a new exception, the closed one stays closed.
    r4 = new_run(ledger)
    assert ledger.sync_issues(r4, found, kinds=kinds) == (1, 0)
    reopened = [e for e in ledger.list_exceptions("all") if e.key == "q:hr:3"]
    assert [e.status for e in reopened] == ["closed", "open"]
    assert reopened[1].opened_run == r4

    # Exceptions of kinds the run did not look at are left alone.
    r5 = new_run(ledger)
    assert ledger.sync_issues(r5, [], kinds={IssueKind.DRIFT}) == (0, 0)
    assert ledger.count_open() == 3
    assert ledger.sync_issues(r5, [], kinds={IssueKind.DUPLICATE}) == (0, 1)
    assert open_keys(ledger) == {"q:hr:3", "q:hr:4"}


def test_sync_issues_skip_targets(ledger):
    kinds = {IssueKind.DRIFT, IssueKind.FAILED_OPERATION}
    r1 = new_run(ledger)
    ledger.sync_issues(
        r1,
        [
            issue(IssueKind.DRIFT, "drift:app:E1", target="app", employee_id="E1"),
            issue(IssueKind.DRIFT, "drift:dir:E1", target="dir", employee_id="E1"),
            issue(IssueKind.FAILED_OPERATION, "failed:dir", target="dir"),
            issue(IssueKind.FAILED_OPERATION, "failed:global"),
        ],
        kinds=kinds,
    )
    # "dir" could not be read this run: its exceptions say nothing; the others close.
    r2 = new_run(ledger)
    assert ledger.sync_issues(r2, [], kinds=kinds, skip_targets={"dir"}) == (0, 2)
    assert open_keys(ledger) == {"drift:dir:E1", "failed:dir"}
    r3 = new_run(ledger)
    assert ledger.sync_issues(r3, [], kinds=kinds) == (0, 2)
    assert ledger.count_open() == 0


def test_sync_issues_rejects_issue_of_unlisted_kind(ledger, run):
    with pytest.raises(ValueError):
        ledger.sync_issues(run, [issue(IssueKind.SOD, "sod:E1")], kinds={IssueKind.DRIFT})


def test_approval_decisions_are_kept_then_void_when_no_longer_needed(ledger):
    kinds = {IssueKind.APPROVAL}
    r1 = new_run(ledger)
    a, b = approval_issue("approval:E1:fa"), approval_issue("approval:E2:fa")
    b.employee_id = "E2"
    assert ledger.sync_issues(r1, [a, b], kinds=kinds) == (2, 0)
    ids = {e.key: e.id for e in ledger.list_exceptions()}
    ledger.approve(ids[a.key], by="hanna", role="hr", rosters=None)
    ledger.approve(ids[a.key], by="omar", role="owner", rosters=None)
    ledger.reject(ids[b.key], by="hanna", reason="not in finance", rosters=None)
    assert ledger.approval_decisions() == {a.key: "approved", b.key: "rejected"}

    # Found again: the decisions stand, nothing is reopened.
    r2 = new_run(ledger)
    assert ledger.sync_issues(r2, [a, b], kinds=kinds) == (0, 0)
    assert exception_by_id(ledger, ids[a.key]).status == "approved"
    assert exception_by_id(ledger, ids[b.key]).status == "rejected"
    assert ledger.count_open() == 0

    # E1 no longer needs the bundle: the approval is void (closed).
    r3 = new_run(ledger)
    assert ledger.sync_issues(r3, [b], kinds=kinds) == (0, 1)
    assert exception_by_id(ledger, ids[a.key]).status == "closed"
    assert exception_by_id(ledger, ids[a.key]).closed_run == r3
    assert ledger.approval_decisions() == {b.key: "rejected"}

    # Needed again later: asked anew.
    r4 = new_run(ledger)
    assert ledger.sync_issues(r4, [a, b], kinds=kinds) == (1, 0)
    assert open_keys(ledger) == {a.key}


def test_list_and_count_exceptions(ledger, run):
    ledger.sync_issues(
        run,
        [
            issue(IssueKind.SOD, "sod:E1", "E1: pay-and-approve", employee_id="E1"),
            issue(IssueKind.CONFLICT, "conflict:app:a@x", "taken", target="app"),
        ],
        kinds={IssueKind.SOD, IssueKind.CONFLICT},
    )
    listed = ledger.list_exceptions()
    assert [e.kind for e in listed] == ["sod", "conflict"]
    assert set(asdict(listed[0])) == {
        "id",
        "kind",
        "key",
        "employee_id",
        "target",
        "detail",
        "status",
        "data",
        "opened_run",
        "closed_run",
        "owner",
    }
    assert listed[0].employee_id == "E1" and listed[1].target == "app"
    assert listed[1] == ExceptionRecord(
        listed[1].id, "conflict", "conflict:app:a@x", None, "app", "taken", "open", {}, run, None, "iam"
    )
    ledger.sync_issues(new_run(ledger), [], kinds={IssueKind.SOD})
    assert ledger.count_open() == 1
    assert len(ledger.list_exceptions("all")) == 2
    assert [e.kind for e in ledger.list_exceptions("closed")] == ["sod"]
    with pytest.raises(LedgerError, match="no exception with id 999"):
        ledger.approvals(999)
    with pytest.raises(LedgerError):
        ledger.list_exceptions("pending")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sets(st.sampled_from(["k1", "k2", "k3", "k4"])),  # keys found this run
            st.sampled_from([frozenset(), frozenset({"t1"})]),  # targets skipped
        ),
        min_size=1,
        max_size=6,
    )
)
def test_sync_issues_property(runs):
    """After every run, the open keys are those found, plus the open ones of skipped
    targets; each key has at most one open exception."""
    target_of = {"k1": "t1", "k2": "t2", "k3": None, "k4": "t1"}
    with Ledger.open("sqlite://") as store:
        model: set[str] = set()
        for keys, skip in runs:
            run_id = new_run(store)
            found = [issue(IssueKind.DRIFT, k, target=target_of[k]) for k in sorted(keys)]
            opened, closed = store.sync_issues(
                run_id, found, kinds={IssueKind.DRIFT}, skip_targets=set(skip)
            )
            kept = {k for k in model if target_of[k] in skip}
            assert opened == len(keys - model)
            assert closed == len(model - keys - kept)
            model = keys | kept
            open_now = [e.key for e in store.list_exceptions()]
            assert sorted(open_now) == sorted(model)


# -------------------------------------------------------------------------- approvals


@pytest.fixture
def pending_approval(ledger, run) -> int:
    ledger.sync_issues(run, [approval_issue()], kinds={IssueKind.APPROVAL})
    return ledger.list_exceptions()[0].id


def test_approval_completes_only_after_every_role(ledger, pending_approval):
    first = ledger.approve(pending_approval, by="hanna", role="hr", rosters=None)
    assert first.status == "open"
    assert ledger.approval_decisions() == {}
    second = ledger.approve(pending_approval, by="omar", role="owner", rosters=None)
    assert second.status == "approved"
    assert ledger.approval_decisions() == {"approval:E1:finance-admin": "approved"}
    assert ledger.count_open() == 0
    decisions = ledger.approvals(pending_approval)
    assert [(d.role, d.approver, d.decision) for d in decisions] == [
        ("hr", "hanna", "approved"),
        ("owner", "omar", "approved"),
    ]
    trail = ledger.audit_trail("E1")
    assert [(e.actor, e.action) for e in trail] == [("hanna", "approve"), ("omar", "approve")]
    assert trail[0].detail["waiting_for"] == ["owner"]
    assert trail[1].detail["status"] == "approved"
    assert trail[1].detail["bundle"] == "finance-admin"
    assert trail[1].run_id is None


def test_reject(ledger, pending_approval):
    ledger.approve(pending_approval, by="hanna", role="hr", rosters=None)
    got = ledger.reject(pending_approval, by="omar", reason="no business need", rosters=None)
    assert got.status == "rejected"
    assert ledger.approval_decisions() == {"approval:E1:finance-admin": "rejected"}
    last = ledger.audit_trail("E1")[-1]
    assert (last.actor, last.action, last.reason) == ("omar", "reject", "no business need")
    with pytest.raises(LedgerError, match="already rejected"):
        ledger.reject(pending_approval, by="omar", reason=None, rosters=None)
    with pytest.raises(LedgerError, match="already rejected"):
        ledger.approve(pending_approval, by="zoe", role="owner", rosters=None)


def test_approve_errors(ledger, run, pending_approval):
    with pytest.raises(LedgerError, match="no exception with id 4242"):
        ledger.approve(4242, by="hanna", role="hr", rosters=None)
    with pytest.raises(LedgerError, match="no exception with id 4242"):
        ledger.reject(4242, by="hanna", reason=None, rosters=None)
    with pytest.raises(LedgerError, match="role 'cfo' may not approve"):
        ledger.approve(pending_approval, by="hanna", role="cfo", rosters=None)
    with pytest.raises(LedgerError, match="empty"):
        ledger.approve(pending_approval, by=" ", role="hr", rosters=None)

    ledger.approve(pending_approval, by="hanna", role="hr", rosters=None)
    with pytest.raises(LedgerError, match="role 'hr' has already approved"):
        ledger.approve(pending_approval, by="someone", role="hr", rosters=None)
    with pytest.raises(LedgerError, match="each role needs a different approver"):
        ledger.approve(pending_approval, by="hanna", role="owner", rosters=None)
    ledger.approve(pending_approval, by="omar", role="owner", rosters=None)
    with pytest.raises(LedgerError, match="already approved"):
        ledger.approve(pending_approval, by="omar", role="owner", rosters=None)
    with pytest.raises(LedgerError, match="already approved"):
        ledger.reject(pending_approval, by="omar", reason=None, rosters=None)

    ledger.sync_issues(run, [issue(IssueKind.SOD, "sod:E1")], kinds={IssueKind.SOD})
    sod = next(e.id for e in ledger.list_exceptions() if e.kind == "sod")
    with pytest.raises(LedgerError, match="not an approval"):
        ledger.approve(sod, by="hanna", role="hr", rosters=None)
    with pytest.raises(LedgerError, match="not an approval"):
        ledger.reject(sod, by="hanna", reason=None, rosters=None)

    # Errors record nothing.
    assert len(ledger.approvals(pending_approval)) == 2
    assert [e.action for e in ledger.audit_trail()] == ["approve", "approve"]


def test_approve_a_void_approval(ledger, pending_approval):
    ledger.sync_issues(new_run(ledger), [], kinds={IssueKind.APPROVAL})
    with pytest.raises(LedgerError, match="closed"):
        ledger.approve(pending_approval, by="hanna", role="hr", rosters=None)


# ------------------------------------------------------------------------------ audit


def test_audit_trail(ledger, run):
    ledger.append_audit(
        [
            AuditEntry(run, "hr_sync", "create", "E1", "app", {"operation": 1}, "rule 1"),
            AuditEntry(run, "hr_sync", "grant", "E2", "app", {"entitlement": "eng"}, "rule 2"),
            AuditEntry(run, "alice", "override_safety", reason="planned reorg"),
        ]
    )
    ledger.append_audit([AuditEntry(None, "hr_sync", "disable", "E1", "app")])
    ledger.append_audit([])

    trail = ledger.audit_trail()
    assert [e.action for e in trail] == ["create", "grant", "override_safety", "disable"]
    assert [e.id for e in trail] == sorted(e.id for e in trail)
    assert trail[0].detail == {"operation": 1} and trail[0].reason == "rule 1"
    assert trail[2].employee_id is None and trail[3].detail == {}
    assert trail[0].at.tzinfo is not None and trail[0].run_id == run
    assert [e.action for e in ledger.audit_trail("E1")] == ["create", "disable"]
    assert ledger.audit_trail("nobody") == []
    assert [e.action for e in ledger.audit_trail(limit=2)] == ["override_safety", "disable"]
    assert [e.action for e in ledger.audit_trail("E1", limit=1)] == ["disable"]


class Called:
    """A ledger that notes the name of every attribute (method) used through it."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.names: set[str] = set()

    def __getattr__(self, name: str):
        self.names.add(name)
        return getattr(self.ledger, name)


def use_every_method(spy: Called, url: str) -> None:
    """Call every public method of the facade through `spy`, each writing one that
    writes, closing the ledger last."""
    run_id = spy.start_run(as_of=AS_OF, dry_run=False, override_safety=False, actor="later")
    holder = LockHolder("later", "elsewhere", 1)
    spy.acquire_lock(holder, ttl=60)
    spy.renew_lock(holder, ttl=60)
    spy.check_lock(holder, spy.lock_lease().token)
    spy.release_lock(holder)
    spy.save_person_states(run_id, [PersonState("E1", "terminated", terminated_on=AS_OF)])
    spy.person_states()
    spy.link_accounts(run_id, "app", {"E1": "id-1", "E2": "id-2"})
    spy.reserve_identifiers(run_id, "email", {"E1": "Jane.Doe@corp.example.com"})
    read_at = datetime(2026, 12, 3, tzinfo=UTC)
    spy.keep_known_state(Snapshot("app", [Account("id-1", "E1", True, {})]), KnownRead(read_at, read_at, "c"))
    assert spy.known_state("app") is not None
    spy.forget_known_state("app")
    assert spy.reserved_identifiers("email") == {"E1": "jane.doe@corp.example.com"}
    spy.unlink_accounts("app", ["E2"])
    spy.account_links("app")
    spy.record_grants(run_id, "app", [("E1", "eng", "rule 2"), ("E1", "all-staff", "rule 1")])
    spy.remove_grants("app", [("E1", "eng")])
    spy.grants("app")
    spy.grants_held(["E1"])
    spy.record_access(run_id, "app", [AccessChange("E1", active=False), AccessChange("E1", "eng")])
    spy.adopt_access(run_id, "app", {"E2": True})
    spy.access_as_of(AS_OF, "E1", "app")
    spy.knows_person("E1")
    spy.access_targets()
    ids = spy.journal_pending(run_id, [_op("E1"), _op("E2")])
    spy.journal_finish([(ids[0], "done", None), (ids[1], "failed", "boom")])
    spy.pending_operations()
    second, third = approval_issue("approval:E2:fa"), approval_issue("approval:E3:fa")
    kinds = {IssueKind.APPROVAL, IssueKind.SOD}
    spy.sync_issues(run_id, [second, third, issue(IssueKind.SOD, "sod:E1")], kinds=kinds)
    opened = {e.key: e.id for e in spy.list_exceptions()}
    spy.count_open()
    spy.opened_in(run_id)
    spy.approve(opened[second.key], by="hanna", role="hr", rosters=None)
    spy.reject(opened[third.key], by="omar", reason="no", rosters=None)
    spy.approvals(opened[second.key])
    spy.approval_decisions()
    spy.sync_issues(new_run(spy.ledger), [], kinds=kinds)  # closes the rest
    owned = Ownership("app", "svc-backup", "bot", "", "E1", "E1", AS_OF)
    spy.save_nhis(run_id, "later", Watch((owned,), (OwnerChange("app", "svc-backup", None, "E1", "registered"),)))
    assert spy.nhi_ownerships() == {owned.key: owned}
    spy.append_audit([AuditEntry(run_id, "later", "disable", "E1", "app", {}, "left")])
    spy.audit_trail("E1", limit=1)
    assert spy.verify_audit(spy.audit_head()).intact
    spy.deprovisioned(AS_OF, AS_OF)
    spy.finish_run(run_id, "converged", {"operations": {"planned": 2}})
    spy.open(url).close()  # opening again runs the migrations (all at head: none)
    spy.close()


def audit_rows(db: Engine) -> list[dict]:
    with db.connect() as conn:
        return [dict(r._mapping) for r in conn.execute(select(tables.audit).order_by(tables.audit.c.id))]


def test_audit_lines_written_are_never_changed_or_removed(ledger, ledger_url, db, run, pending_approval):
    """The audit trail is append-only (jml.ledger.audit): after every method of the
    facade has been used, the lines written before are all there, unchanged, and no
    statement the ledger sent updated, deleted from or truncated the audit table."""
    ledger.append_audit([AuditEntry(run, "hr_sync", "create", "E1", "app", {"operation": 1}, "rule 1")])
    ledger.approve(pending_approval, by="hanna", role="hr", rosters=None)  # an approval writes a line too
    before = audit_rows(db)
    assert [row["action"] for row in before] == ["create", "approve"]
    spy = Called(ledger)
    with statements_sent() as sent:
        use_every_method(spy, ledger_url)
    assert spy.names == {name for name in dir(Ledger) if not name.startswith("_")}, "a method not used"
    after = audit_rows(db)
    assert after[: len(before)] == before
    assert [row["action"] for row in after[len(before) :]] == ["approve", "reject", "nhi_owner", "disable"]
    changing = re.compile(rf'^\s*(update|delete\s+from|truncate|drop\s+table)\s+"?{tables.audit.name}\b', re.I)
    assert [statement for statement in sent if changing.match(statement)] == []


# -------------------------------------------------------------------------- bulk


#: Rows of the bulk tests: several executemany batches (BATCH) and many IN lists.
BULK = 4 * BATCH
#: Rows of the same steps made small: what a step costs whatever its size.
SMALL = 10


@contextmanager
def statements_sent() -> Iterator[list[str]]:
    """The SQL statements every engine hands its driver while the block runs: one per
    execute, or per executemany of many rows."""
    sent: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany) -> None:
        sent.append(statement)

    event.listen(Engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(Engine, "before_cursor_execute", note)


def driver_calls(fn, *args, **kwargs) -> tuple[object, int]:
    """What `fn` returns, and how many statements it sent."""
    with statements_sent() as sent:
        result = fn(*args, **kwargs)
    return result, len(sent)


def assert_batched(small: dict[str, int], bulk: dict[str, int]) -> None:
    """Each step on BULK rows sent at most the statements of the same step on SMALL rows
    plus one per IN_BATCH rows: the set-based contract of jml.ledger.engine (rows in
    executemany batches of BATCH >= IN_BATCH, ids in IN lists of IN_BATCH), where a
    statement per row would send BULK."""
    allowed = {step: calls + math.ceil(BULK / IN_BATCH) for step, calls in small.items()}
    assert {step: calls for step, calls in bulk.items() if calls > allowed[step]} == {}, (bulk, allowed)


def persons_steps(ledger: Ledger, prefix: str, n: int) -> dict[str, int]:
    """Statements of each step over n persons: all new, unchanged, 10 % changed, read."""
    states = [PersonState(f"{prefix}{i:06d}", "active") for i in range(n)]
    changed = [PersonState(s.employee_id, "suspended") if i % 10 == 0 else s for i, s in enumerate(states)]
    calls = {}
    for step, wanted in (("insert", states), ("unchanged", states), ("10% changed", changed)):
        _, calls[step] = driver_calls(ledger.save_person_states, new_run(ledger), wanted)
    _, calls["read"] = driver_calls(ledger.person_states)
    return calls


def test_bulk_person_states_take_a_statement_per_batch_not_per_row(ledger):
    small = persons_steps(ledger, "S", SMALL)
    assert_batched(small, persons_steps(ledger, "E", BULK))
    got = ledger.person_states()
    assert len(got) == SMALL + BULK
    assert got["E000010"].lifecycle == "suspended" and got["E000011"].lifecycle == "active"


def issues_steps(ledger: Ledger, kind: IssueKind, n: int) -> dict[str, int]:
    """Statements of each step over n issues of one kind: open all, keep all, close half."""
    found = [
        issue(kind, f"{kind}:E{i:06d}", "unknown manager", employee_id=f"E{i:06d}", data={"manager_id": f"M{i}"})
        for i in range(n)
    ]
    calls = {}
    for step, now_found, expected in (("open", found, (n, 0)), ("keep", found, (0, 0)),
                                      ("close half", found[: n // 2], (0, n - n // 2))):  # fmt: skip
        got, calls[step] = driver_calls(ledger.sync_issues, new_run(ledger), now_found, kinds={kind})
        assert got == expected, step
    return calls


def test_bulk_sync_issues_takes_a_statement_per_batch_not_per_row(ledger):
    small = issues_steps(ledger, IssueKind.QUARANTINE, SMALL)
    assert_batched(small, issues_steps(ledger, IssueKind.DATA_QUALITY, BULK))
    assert ledger.count_open() == SMALL // 2 + BULK // 2


def journal_steps(ledger: Ledger, n: int) -> dict[str, int]:
    """Statements of each step over n operations: journalled, settled, none left."""
    calls = {}
    ids, calls["pending"] = driver_calls(ledger.journal_pending, new_run(ledger), [_op(f"E{i:06d}") for i in range(n)])
    assert len(set(ids)) == n
    results = [(i, "done", None) if k % 100 else (i, "failed", "boom") for k, i in enumerate(ids)]
    _, calls["finish"] = driver_calls(ledger.journal_finish, results)
    left, calls["pending_operations"] = driver_calls(ledger.pending_operations)
    assert left == []
    return calls


def test_bulk_journal_takes_a_statement_per_batch_not_per_row(ledger, db):
    small = journal_steps(ledger, SMALL)
    assert_batched(small, journal_steps(ledger, BULK))
    with db.connect() as conn:
        statuses = dict(conn.exec_driver_sql("SELECT status, count(*) FROM operations GROUP BY status").all())
    assert statuses == {"done": SMALL - 1 + BULK - BULK // 100, "failed": 1 + BULK // 100}


def test_bulk_audit_appends_take_a_statement_per_batch_not_per_event(ledger):
    """Chaining costs no round trip per event: one read of the head, then executemany."""
    calls = {}
    for n in (SMALL, BULK):
        entries = [AuditEntry(None, "hr_sync", "grant", f"E{i:06d}", "app", {"entitlement": "eng"}, "rule") for i in range(n)]
        _, calls[n] = driver_calls(ledger.append_audit, entries)
    assert_batched({"append": calls[SMALL]}, {"append": calls[BULK]})
    assert ledger.verify_audit().events == SMALL + BULK


def test_run_lock_is_exclusive_renewable_and_released(ledger_url):
    ledger = Ledger.open(ledger_url)
    first = LockHolder("a", "elsewhere", 1)
    second = LockHolder("b", "elsewhere", 2)
    assert ledger.acquire_lock(first, ttl=60) is None
    held = ledger.acquire_lock(second, ttl=60)
    assert held.holder == "a"
    assert (held.host, held.pid) == ("elsewhere", 1)
    assert held.acquired_at.tzinfo is not None and held.expires_at > held.acquired_at
    ledger.renew_lock(first, ttl=60)
    with pytest.raises(LedgerError):
        ledger.renew_lock(second, ttl=60)
    ledger.release_lock(first)
    assert ledger.acquire_lock(second, ttl=60) is None
    ledger.close()


def test_run_lock_expires_and_a_dead_local_holder_frees_it(ledger_url, db):
    import socket
    import subprocess
    import sys

    ledger = Ledger.open(ledger_url)
    run_id = new_run(ledger)
    assert ledger.acquire_lock(LockHolder("old", "elsewhere", 1), ttl=0.01) is None
    time.sleep(0.05)
    assert ledger.acquire_lock(LockHolder("new", "elsewhere", 2), ttl=60) is None  # expired
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    ledger.release_lock(LockHolder("new", "elsewhere", 2))
    assert ledger.acquire_lock(LockHolder("dead", socket.gethostname(), gone.pid), ttl=600) is None
    assert ledger.acquire_lock(LockHolder("next", socket.gethostname(), 0), ttl=600) is None
    assert run_row(db, run_id)["status"] == "failed"  # the dead holder's run
    ledger.close()
