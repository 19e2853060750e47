"""The SQL target on SQLite and PostgreSQL, beyond the contract: the app's own schema
choices (the issue's minimal mapping, a 0/1 active column, a key the app does not
generate), a refused batch applied again one by one, the rows themselves, clear
errors for a mapping that does not fit the database, and what a failed transaction
may have applied."""

from __future__ import annotations

import sqlite3
from datetime import date

import psycopg
import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, event, text
from sqlalchemy.engine import make_url

from connectors.base import ConfigurationError, Conflict, Permanent, Retryable
from connectors.kernel import Kernel
from connectors.targets.sql import SqlDriver
from jml.config import ConfigError, SqlTarget, load_config
from jml.model import ACCOUNT_ATTRIBUTES, HrRecord, Lifecycle
from jml.operations import Action
from jml.plan import Desired, build_plan
from tests.connectors.apps import FULL_USERS, ROLES, create_app_schema, sql_target
from tests.connectors.test_contract import accounts, apply, create, grant, ok, op

#: One try per operation: these tests are about what the database answers.
ONE_TRY = {"attempts": 1}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'app.db'}"
    return request.getfixturevalue("pg_database")


def config_of(url: str, **options) -> SqlTarget:
    return SqlTarget.model_validate(sql_target("app", url, **{"retry": ONE_TRY, **options}))


def on_kernel(config: SqlTarget) -> Kernel:
    """The SQL driver on the kernel, with the config's retry policy."""
    return Kernel(SqlDriver(config, environ={}), config.retry)


def connector(url: str, **options) -> Kernel:
    return on_kernel(config_of(url, **options))


def rows(url: str, query: str) -> list[tuple]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(query))]
    finally:
        engine.dispose()


def test_rows_as_the_app_keeps_them(database: str) -> None:
    create_app_schema(database)
    with connector(database) as target:
        outcomes = ok(apply(target, [create("M1"), create("R1", manager="M1", active=False), grant("R1", "crm-user")]))
    users = rows(database, "SELECT id, employee_id, login, is_active, full_name, manager_id FROM app_users ORDER BY id")
    (m_id, *_), (r_id, *_) = users
    assert users == [
        (m_id, "M1", "m1@example.com", True, "Given M1 Family", None),
        (r_id, "R1", "r1@example.com", False, "Given R1 Family", m_id),
    ]
    assert [o.account_id for o in outcomes[:2]] == [str(m_id), str(r_id)]  # the app's generated keys
    assert rows(database, "SELECT user_id, role_name FROM app_user_roles") == [(r_id, "crm-user")]


def test_the_minimal_mapping_holds_only_what_it_maps(database: str) -> None:
    create_app_schema(database, minimal=True)
    record = HrRecord("E1", "Ada", "Lovelace", "ada@example.com", "Eng", "ENG", "employee", "active", date(2020, 1, 1))
    desired = {"E1": Desired("E1", Lifecycle.ACTIVE, record, {"app": {"staff": "rule r -> bundle b"}})}
    held = {"user_name", "email", "display_name"}
    with connector(database, minimal=True) as target:
        assert target.schema.attributes == held
        plan = build_plan(desired, {"app": target.read()}, {"app": {}}, {"app": {"staff"}})
        (create_op,) = [o for o in plan.operations if o.action is Action.CREATE]
        assert set(create_op.detail["attributes"]) == held  # the planner writes only what is held
        ok(apply(target, plan.operations))
        snapshot = target.read()
        assert snapshot.held == held
        (account,) = snapshot.accounts
        assert set(account.attributes) == held  # given_name, manager...: not held, not read back
        assert (account.user_name, account.attributes["display_name"]) == ("ada@example.com", "Ada Lovelace")
        assert build_plan(desired, {"app": target.read()}, {"app": {}}, {"app": {"staff"}}).operations == ()
        ok(apply(target, [op("E1", Action.UPDATE, {"changes": {"department": ["Eng", "Sales"], "display_name": ["Ada Lovelace", "Ada L"]}})]))
    assert rows(database, "SELECT full_name FROM app_users") == [("Ada L",)]


def test_the_held_attributes_are_known_from_the_mapping_alone(tmp_path) -> None:
    nowhere = f"sqlite:///{tmp_path / 'no-such-folder' / 'app.db'}"  # nothing is opened
    with connector(nowhere) as full, connector(nowhere, minimal=True) as minimal:
        assert full.schema.attributes == set(ACCOUNT_ATTRIBUTES)
        assert minimal.schema.attributes == {"user_name", "email", "display_name"}


def test_an_integer_active_column_and_ids_given_as_text(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    create_app_schema(url, integer_active=True)
    with connector(url) as target:
        (created,) = ok(apply(target, [create("A1")]))
        ok(apply(target, [op("A1", Action.DISABLE, account_id=created.account_id)]))
        assert rows(url, "SELECT is_active FROM app_users") == [(0,)]
        assert accounts(target.read())["A1"].active is False
        ok(apply(target, [op("A1", Action.ENABLE, account_id=created.account_id)]))
    assert rows(url, "SELECT is_active FROM app_users") == [(1,)]


def test_a_key_the_app_does_not_generate_is_the_employee_id(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    metadata = MetaData()
    Table("people", metadata, Column("uid", String(64), primary_key=True), Column("ext", String(64)),
          Column("login", String(64)), Column("mail", String(64)), Column("on", Integer), Column("name", String(64)))  # fmt: skip
    Table("grants", metadata, Column("who", String(64)), Column("what", String(64)))
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()
    mapping = {"table": "people", "key": "uid", "external_id": "ext", "username": "login", "email": "mail", "active": "on", "display_name": "name"}
    config = SqlTarget.model_validate({"name": "app", "type": "sql", "url": url, "users": mapping, "roles": {"table": "grants", "user": "who", "role": "what"}, "retry": ONE_TRY})
    with on_kernel(config) as target:
        (outcome, _) = ok(apply(target, [create("E7"), grant("E7", "g")]))
    assert outcome.account_id == "E7"
    assert rows(url, "SELECT uid, ext, \"on\" FROM people") == [("E7", "E7", 1)]
    assert rows(url, "SELECT who, what FROM grants") == [("E7", "g")]


def test_a_refused_batch_is_applied_again_one_by_one(database: str) -> None:
    create_app_schema(database)
    with connector(database) as target:
        ok(apply(target, [create("A1")]))
        outcomes = apply(target, [
            create("B1", user_name="a1@example.com"),  # the app's unique login: refused
            create("C1"),
            grant("C1", "g"),
            grant("B1", "g"),
            op("A1", Action.DISABLE),
        ])
        errors = [type(o.error).__name__ if o.error else None for o in outcomes]
        assert errors == ["Conflict", None, None, "Conflict", None]
        assert "UniqueViolation" in str(outcomes[0].error) or "IntegrityError" in str(outcomes[0].error)
        assert "a1@example.com" not in str(outcomes[0].error)  # no values in messages
        found = accounts(target.read())
    assert set(found) == {"A1", "C1"}
    assert found["C1"].entitlements == {"g"} and found["A1"].active is False


def test_a_mapping_that_does_not_fit_is_a_clear_error(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    create_app_schema(url)
    wrong = sql_target("app", url, retry=ONE_TRY)
    wrong["users"] = {**FULL_USERS, "email": "mail"}
    with on_kernel(SqlTarget.model_validate(wrong)) as target:
        with pytest.raises(Permanent, match="app: users.email: column 'mail' not found in table app_users"):
            target.read()
        assert isinstance(apply(target, [create("A1")])[0].error, Permanent)
    missing = sql_target("app", url, retry=ONE_TRY)
    missing["roles"] = {**ROLES, "table": "nope"}
    with on_kernel(SqlTarget.model_validate(missing)) as target:
        with pytest.raises(Permanent, match="app: table nope not found"):
            target.read()


def test_config_keeps_secrets_out_of_the_url_and_names_safe(tmp_path) -> None:
    base = sql_target("app", "postgresql+psycopg://jml:hunter2@db/app")
    with pytest.raises(ValueError, match="must not hold a password"):
        SqlTarget.model_validate(base)
    with pytest.raises(ValueError, match="String should match pattern"):
        SqlTarget.model_validate({**sql_target("app", "sqlite://"), "users": {**FULL_USERS, "table": 'users"; DROP TABLE x; --'}})
    config = SqlTarget.model_validate({**sql_target("app", "postgresql+psycopg://jml@db/app"), "password_env": "APP_DB_PASSWORD"})
    with pytest.raises(ConfigurationError, match="target app: environment variable APP_DB_PASSWORD is not set"):
        SqlDriver(config, environ={})
    driver = SqlDriver(config, environ={"APP_DB_PASSWORD": "s3cret-value"})
    assert "s3cret-value" not in repr(driver) and "s3cret-value" not in repr(Kernel(driver, config.retry))
    assert driver._db.engine.url.password == "s3cret-value"
    driver.close()
    (tmp_path / "jml.yaml").write_text(
        "sources: [{name: hr, type: csv, path: w.csv}]\n"
        "targets: [{name: app, type: sql, url: 'sqlite:///data/app.db', users: {table: u, key: id,"
        " external_id: e, username: n, email: m, active: a, display_name: d}, roles: {table: r, user: u, role: r}}]\n"
        "policy: policy.yaml\n",
        encoding="utf-8",
    )
    loaded = load_config(tmp_path / "jml.yaml")
    assert loaded.targets[0].url == f"sqlite:///{(tmp_path / 'data' / 'app.db').resolve()}"
    (tmp_path / "jml.yaml").write_text(
        "sources: [{name: hr, type: csv, path: w.csv}]\n"
        "targets: [{name: app, type: sql, url: 'mysql://u:pw@h/d', users: {}, roles: {}}]\npolicy: p.yaml\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"targets\.0\.sql\.url: Value error, the URL must not hold a password"):
        load_config(tmp_path / "jml.yaml")


def test_a_conflict_on_the_unique_external_id(database: str) -> None:
    create_app_schema(database)
    with connector(database) as target:
        ok(apply(target, [create("A1")]))
        (again,) = apply(target, [create("A1", user_name="other@example.com")])
    assert isinstance(again.error, Conflict)


def test_a_locked_database_is_retryable_and_nothing_was_applied(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    create_app_schema(url)
    with connector(url, timeout=0.2) as target:
        target.read()  # the tables are reflected before the lock
        locker = sqlite3.connect(tmp_path / "app.db", isolation_level=None)
        locker.execute("BEGIN EXCLUSIVE")
        try:
            outcomes = apply(target, [create("A1"), grant("A1", "g"), create("B1")])
        finally:
            locker.execute("ROLLBACK")
            locker.close()
        assert all(isinstance(o.error, Retryable) for o in outcomes), [repr(o.error) for o in outcomes]
        assert "database is locked" in str(outcomes[0].error)
        assert not any(o.error.maybe_applied for o in outcomes)  # each transaction was rolled back
        ok(apply(target, [create("A1"), grant("A1", "g"), create("B1")]))  # and once the lock is gone
        assert set(accounts(target.read())) == {"A1", "B1"}


def test_a_connection_lost_at_commit_may_have_applied(pg_database: str) -> None:
    create_app_schema(pg_database)
    url = make_url(pg_database)
    config = config_of(pg_database)
    driver = SqlDriver(config, environ={})

    def lose_the_connection(conn) -> None:  # the server goes away as the COMMIT is sent
        pid = conn.connection.dbapi_connection.info.backend_pid
        with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s, 10000)", [pid])  # and waits until it is gone

    event.listen(driver._db.engine, "commit", lose_the_connection)
    with Kernel(driver, config.retry) as target:
        (outcome,) = apply(target, [create("A1")])
    assert isinstance(outcome.error, Retryable) and str(outcome.error).startswith("app: commit: "), repr(outcome.error)
    assert outcome.error.maybe_applied  # the database may have committed: the create is looked up before a resend
    assert rows(pg_database, "SELECT employee_id FROM app_users") == []  # (here it had not)


def test_a_create_whose_commit_reply_was_lost_is_not_made_twice(pg_database: str) -> None:
    create_app_schema(pg_database)
    config = config_of(pg_database, retry={"attempts": 2, "backoff_seconds": 0})
    driver = SqlDriver(config, environ={})
    dialect = driver._db.engine.dialect
    commit = dialect.do_commit

    def commit_and_lose_the_reply(dbapi_connection) -> None:  # once: the database commits, the reply is lost
        dialect.do_commit = commit
        commit(dbapi_connection)
        dbapi_connection.dbapi_connection.close()  # the psycopg connection under the pool's
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    dialect.do_commit = commit_and_lose_the_reply
    with Kernel(driver, config.retry) as target:
        (outcome,) = apply(target, [create("A1")])
    assert rows(pg_database, "SELECT employee_id FROM app_users") == [("A1",)]
    assert outcome.ok, repr(outcome.error)  # settled by a lookup, not sent again
