"""Mapped attributes (a target's config `attributes`) on the LDAP and SQL targets, against
a real slapd, SQLite and PostgreSQL: planned by the planner from a feed row, applied
through the kernel, read back, then changed and emptied (removed). One that names a
canonical attribute's own attribute (`cn`, the display_name column) takes its place.
The SCIM target's are in test_scim_attributes."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from app import launchers
from connectors.base import Permanent
from connectors.kernel import Kernel
from connectors.targets.ldap import LdapDriver
from jml.config import LdapTarget, SqlTarget
from jml.config.attributes import compiled
from jml.model import Lifecycle
from jml.operations import Action, Operation
from jml.plan import Desired, build_plan
from tests.connectors.apps import create_app_schema, ldap_target, sql_target
from tests.connectors.test_contract import ok
from tests.connectors.test_sql_target import on_kernel, rows
from tests.unit.factories import record


def plan(target: Kernel, attributes: dict, **extra: str) -> tuple[Operation, ...]:
    """The plan of person E1 (an active employee with these passthrough columns, granted
    `staff`) on the target as read now, with these mapped attributes (as configured)."""
    person = Desired("E1", Lifecycle.ACTIVE, record("E1", extra=extra), {target.name: {"staff": "rule r"}})
    mapped = {target.name: compiled(attributes)}
    return build_plan(
        {"E1": person}, {target.name: target.read()}, {target.name: {}}, {target.name: {"staff"}}, mapped
    ).operations


def converge(target: Kernel, attributes: dict, **extra: str) -> None:
    """Apply the plan, then check that nothing is left to do (read back as written)."""
    ok(target.apply(list(plan(target, attributes, **extra))).outcomes)
    assert plan(target, attributes, **extra) == ()


# -- LDAP ---------------------------------------------------------------------------

LDAP_ATTRIBUTES = {"employeeType": "{employment_type}", "roomNumber": "{room}", "cn": "{last_name}, {first_name}"}
ENV = "JML_TEST_LDAP_PASSWORD"


def test_ldap_mapped_attributes(slapd: launchers.SlapdServer, ldap_tree: launchers.LdapTree) -> None:
    config = LdapTarget.model_validate(ldap_target("dir", slapd, ldap_tree, ENV, attributes=LDAP_ATTRIBUTES))
    connection = slapd.connection()

    def entry() -> dict:
        connection.search(
            f"uid=E1,{ldap_tree.people_dn}", "(objectClass=*)", attributes=["cn", "employeeType", "roomNumber"]
        )
        return {k: list(v) for k, v in connection.response[0]["attributes"].items()}

    try:
        with Kernel(LdapDriver(config, environ={ENV: slapd.password}), config.retry) as target:
            assert "display_name" not in target.schema.attributes  # cn is mapped
            converge(target, config.attributes, room="101")
            assert entry() == {"cn": ["Lovelace, Ada"], "employeeType": ["employee"], "roomNumber": ["101"]}

            (update,) = plan(target, config.attributes, room="202")
            assert update.action is Action.UPDATE and update.new_values() == {"roomNumber": "202"}
            converge(target, config.attributes, room="202")
            assert entry()["roomNumber"] == ["202"]

            converge(target, config.attributes, room="")
            assert entry()["roomNumber"] == []
    finally:
        connection.unbind()


# -- SQL ----------------------------------------------------------------------------

SQL_ATTRIBUTES = {"cost_center": {"from": "cost_center", "case": "upper"}, "full_name": "{last_name}, {first_name}"}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path) -> str:
    """The test app's tables, with one column the canonical mapping does not know."""
    url = f"sqlite:///{tmp_path / 'app.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    create_app_schema(url)
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE app_users ADD COLUMN cost_center VARCHAR(64)"))
    finally:
        engine.dispose()
    return url


def test_sql_mapped_attributes(database: str) -> None:
    config = SqlTarget.model_validate(sql_target("app", database, attributes=SQL_ATTRIBUTES))
    with on_kernel(config) as target:
        assert {"cost_center", "full_name"} <= target.schema.attributes
        assert "display_name" not in target.schema.attributes  # its column is mapped
        converge(target, config.attributes, cost_center="cc-1")
        query = "SELECT full_name, cost_center FROM app_users WHERE employee_id = 'E1'"
        assert rows(database, query) == [("Lovelace, Ada", "CC-1")]

        (update,) = plan(target, config.attributes, cost_center="cc-2")
        assert update.new_values() == {"cost_center": "CC-2"}
        converge(target, config.attributes, cost_center="cc-2")
        assert rows(database, query) == [("Lovelace, Ada", "CC-2")]

        converge(target, config.attributes)
        assert rows(database, query) == [("Lovelace, Ada", None)]


def test_sql_mapped_column_the_table_lacks_is_named(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    create_app_schema(url)
    config = SqlTarget.model_validate(sql_target("app", url, attributes={"badge": "{x}"}))
    with on_kernel(config) as target, pytest.raises(Permanent, match="attributes.badge: column 'badge' not found"):
        target.read()
