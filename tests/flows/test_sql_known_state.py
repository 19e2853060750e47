"""Runs against an app database with an `updated_at` column plan from what the ledger
knows of it and read only the rows changed since (`read_changes`), and still heal what
the app changed on the next run: a leaver enabled again, a deleted user, a role added.
The driver's full reads are counted (a wrapper that calls the real one)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from connectors.targets.sql import SqlDriver
from flows.hr_sync import hr_sync
from flows.reconcile import reconcile
from tests.connectors.apps import create_app_schema, sql_target
from tests.flows.running import run_bound
from tests.flows.test_hr_sync import AS_OF, people
from tests.flows.test_hr_sync import write_world as scim_world

pytestmark = pytest.mark.usefixtures("exact_since")


@pytest.fixture
def full_reads(count_full_reads) -> list[str]:
    return count_full_reads(SqlDriver)


def write_world(folder: Path, url: str, rows: list[str]) -> Path:
    """The flow tests' world (`test_hr_sync.write_world`), its target `app` the app
    database at `url`, its `updated_at` column mapped."""
    config = scim_world(folder, "http://unused.invalid", rows)
    world = yaml.safe_load(config.read_text())
    world["targets"] = [sql_target("app", url, stamped=True)]
    config.write_text(yaml.safe_dump(world))
    return config


def run(config, flow=hr_sync) -> dict:
    time.sleep(1.1)  # past the last run's second: CURRENT_TIMESTAMP on SQLite counts whole seconds
    return run_bound(config, flow, as_of=AS_OF, return_state=True).result()


def test_runs_read_what_changed_and_heal_what_the_app_changed(tmp_path, full_reads):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    create_app_schema(url, stamped=True)
    rows = people(8)
    rows[6] = rows[6].replace(",Engineering,", ",Sales,")
    config = write_world(tmp_path, url, rows)
    assert run(config)["status"] == "converged"
    rows[7] = rows[7].replace(",active,", ",terminated,")
    write_world(tmp_path, url, rows)
    assert run(config)["operations"]["applied"] == 3  # E00007 leaves: disable, two revokes
    assert full_reads == ["app"]  # only the first run read in full

    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE app_users SET is_active = 1, updated_at = CURRENT_TIMESTAMP WHERE employee_id = 'E00007'"))
            conn.execute(text("INSERT INTO app_user_roles (user_id, role_name) "
                              "SELECT id, 'engineering' FROM app_users WHERE employee_id = 'E00006'"))  # fmt: skip
            conn.execute(text("DELETE FROM app_user_roles WHERE user_id = (SELECT id FROM app_users WHERE employee_id = 'E00003')"))
            conn.execute(text("DELETE FROM app_users WHERE employee_id = 'E00003'"))
        healed = run(config)
        assert healed["status"] == "converged", healed
        # disable E00007; revoke E00006's engineering; create E00003 and its two grants
        assert healed["operations"]["applied"] == 5, healed
        assert full_reads == ["app"]  # healed from the delta, not a full read
        with engine.connect() as conn:
            assert conn.execute(text("SELECT is_active FROM app_users WHERE employee_id = 'E00007'")).scalar_one() == 0
            roles = conn.execute(text("SELECT u.employee_id, r.role_name FROM app_user_roles r JOIN app_users u ON u.id = r.user_id")).all()
        assert ("E00006", "engineering") not in roles and ("E00003", "engineering") in roles
    finally:
        engine.dispose()
    assert run(config)["operations"]["planned"] == 0
    assert run(config, reconcile)["status"] == "converged"
    assert full_reads == ["app", "app"]  # reconcile reads in full
