"""A SQL target's delta read (SPEC "Incremental runs"), on SQLite and PostgreSQL: with
an `updated_at` column mapped, `read_changes` gives what a full read gives after
changes made by jml and by the app, or None when it cannot be exact."""

from __future__ import annotations

import logging
import time

import pytest
from sqlalchemy import create_engine, text

from connectors.kernel import Kernel
from connectors.kernel import driver as kernel_driver
from connectors.targets.sql import SqlDriver
from jml.config import SqlTarget
from jml.model import Snapshot
from tests.connectors.apps import create_app_schema, sql_target
from tests.connectors.test_contract import apply, create, grant, ok, update


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        url = request.getfixturevalue("pg_database")
    create_app_schema(url, stamped=True)
    return url


def kernel(url: str, *, stamped: bool = True) -> Kernel:
    config = SqlTarget.model_validate(sql_target("app", url, stamped=stamped, retry={"attempts": 1}))
    return Kernel(SqlDriver(config, environ={}), config.retry)


def app_writes(url: str, *statements: str) -> None:
    """What the app does to its own tables, outside jml."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            for statement in statements:
                conn.execute(text(statement))
    finally:
        engine.dispose()


def same(delta: Snapshot | None, full: Snapshot) -> None:
    assert delta is not None
    assert sorted(delta.accounts, key=lambda a: a.id or "") == sorted(full.accounts, key=lambda a: a.id or "")
    assert (delta.groups, delta.held) == (full.groups, full.held)


def loaded(target: Kernel, *, settled: bool = False) -> Snapshot:
    """M1 managing R1 and R2, R1 with a role, then a full read (`settled`: a second
    later, so that with no margin the next delta does not read those writes again)."""
    ok(apply(target, [create("M1"), create("R1", manager="M1"), create("R2", manager="M1"), grant("R1", "crm-user")]))
    if settled:
        time.sleep(1.1)  # CURRENT_TIMESTAMP on SQLite counts whole seconds
    return target.read()


@pytest.fixture
def no_margin(monkeypatch):
    """A delta starts at the database's clock to the second: what it reads is exact."""
    monkeypatch.setattr(kernel_driver, "OVERLAP", kernel_driver.OVERLAP * 0)


def test_a_delta_gives_what_a_full_read_gives_after_changes_by_jml_and_by_the_app(database):
    stamp = "CURRENT_TIMESTAMP"
    with kernel(database) as target:
        known = loaded(target)
        assert known.memo["since"]
        ok(apply(target, [update("R1", title="Lead"), grant("R2", "crm-admin")]))  # jml's own writes are stamped
        app_writes(
            database,
            f"UPDATE app_users SET is_active = false, updated_at = {stamp} WHERE employee_id = 'R2'",
            "DELETE FROM app_user_roles WHERE role_name = 'crm-user'",  # a role row leaves no stamp
            "INSERT INTO app_users (employee_id, login, is_active, full_name, manager_id, updated_at) "
            f"SELECT 'N1', 'n1@example.com', true, 'New One', id, {stamp} FROM app_users WHERE employee_id = 'M1'",
            "INSERT INTO app_users (login, is_active, full_name, updated_at) VALUES ('orphan', true, 'Orphan', NULL)",
        )
        delta = target.read_changes(known)
        full = target.read()
    same(delta, full)
    by_id = {a.external_id: a for a in full.accounts}
    assert by_id["R1"].attributes["title"] == "Lead" and by_id["R1"].entitlements == set()
    assert by_id["R2"].active is False and by_id["R2"].entitlements == {"crm-admin"}
    assert by_id["N1"].attributes["manager"] == "M1" and by_id[None].user_name == "orphan"
    assert delta is not None and delta.memo["since"] >= known.memo["since"]


def test_a_deletion_by_jml_or_the_app_is_found_by_the_census(database):
    with kernel(database) as target:
        known = loaded(target)
        app_writes(database, "DELETE FROM app_users WHERE employee_id = 'R2'")
        same(target.read_changes(known), target.read())
        known = target.read()
        ok(apply(target, [create("X1"), update("R1", title="Lead")]))
        same(target.read_changes(known), target.read())


@pytest.mark.parametrize(
    "outside",
    [
        # the manager's employee_id changed: the reports' rows name them only by key
        ["UPDATE app_users SET employee_id = 'M9', updated_at = CURRENT_TIMESTAMP WHERE employee_id = 'M1'"],
        # the manager deleted, the reports' links cleared without a stamp (ON DELETE SET NULL)
        [
            "UPDATE app_users SET manager_id = NULL WHERE manager_id = (SELECT id FROM app_users WHERE employee_id = 'M1')",
            "DELETE FROM app_users WHERE employee_id = 'M1'",
        ],
        # a row written with a stamp from the past
        ["INSERT INTO app_users (employee_id, login, is_active, full_name, updated_at) "
         "VALUES ('P1', 'p1@example.com', true, 'Past', '2001-01-01 00:00:00')"],
        # an unstamped edit that changes a link
        ["UPDATE app_users SET employee_id = 'R7' WHERE employee_id = 'R2'"],
    ],
    ids=["manager-relinked", "manager-deleted", "stamp-in-the-past", "unstamped-relink"],
)
def test_what_a_delta_cannot_make_exact_reads_in_full(database, outside, no_margin):
    with kernel(database) as target:
        known = loaded(target, settled=True)
        app_writes(database, *outside)
        assert target.read_changes(known) is None


def test_without_a_stamp_column_or_a_memo_there_is_no_delta(database):
    with kernel(database, stamped=False) as target:
        known = loaded(target)
        assert known.memo == {}
        assert target.read_changes(known) is None
    with kernel(database) as target:
        assert target.read_changes(Snapshot("app", known.accounts, known.groups, known.held)) is None


def test_an_unchanged_target_reads_no_user_row(database, no_margin, caplog):
    """Past the margin, a delta selects no user: only the census and the role rows."""
    with kernel(database) as target:
        known = loaded(target, settled=True)
        time.sleep(1.1)
        with caplog.at_level(logging.INFO, logger="connectors.targets.sql.driver"):
            same(target.read_changes(known), target.read())
    assert "0 users changed" in caplog.text
