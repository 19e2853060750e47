"""The downstream systems the connector tests (and the e2e tests and benchmarks) set
up: an app database schema the SQL target maps, and config entries for each target."""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    create_engine,
)

#: How the SQL target maps the test app's tables (every canonical attribute mapped).
FULL_USERS = {
    "table": "app_users",
    "key": "id",
    "external_id": "employee_id",
    "username": "login",
    "email": "email",
    "active": "is_active",
    "display_name": "full_name",
    "given_name": "first_name",
    "family_name": "last_name",
    "employee_number": "employee_number",
    "department": "department",
    "title": "job_title",
    "manager": "manager_id",
}
#: The columns an app must have at least (the issue's mapping).
MINIMAL_USERS = {k: FULL_USERS[k] for k in ("table", "key", "external_id", "username", "email", "active", "display_name")}
ROLES = {"table": "app_user_roles", "user": "user_id", "role": "role_name"}


def create_app_schema(url: str, *, minimal: bool = False, integer_active: bool = False, stamped: bool = False) -> None:
    """Create the app's tables (as the app would): users with a generated integer key,
    unique employee_id and login, a manager foreign key; role rows unique per user;
    `stamped`: an `updated_at` column too (which the app sets when it writes a row)."""
    metadata = MetaData()
    columns = [
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("employee_id", String(64), unique=True),
        Column("login", String(255), nullable=False, unique=True),
        Column("email", String(255)),
        Column("is_active", Integer if integer_active else Boolean, nullable=False),
        Column("full_name", String(255)),
    ]
    if not minimal:
        columns += [
            Column("first_name", String(255)),
            Column("last_name", String(255)),
            Column("employee_number", String(64)),
            Column("department", String(255)),
            Column("job_title", String(255)),
            Column("manager_id", Integer, ForeignKey("app_users.id")),
        ]
    if stamped:
        columns.append(Column("updated_at", DateTime(timezone=True)))
    Table("app_users", metadata, *columns)
    Table(
        "app_user_roles",
        metadata,
        Column("user_id", Integer, ForeignKey("app_users.id"), nullable=False),
        Column("role_name", String(255), nullable=False),
        UniqueConstraint("user_id", "role_name"),
    )
    engine = create_engine(url)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()


def sql_target(name: str, url: str, *, minimal: bool = False, stamped: bool = False, **options: Any) -> dict:
    """The config entry of the SQL target over the test app's tables (`stamped`: with
    the `updated_at` column mapped)."""
    users = {**(MINIMAL_USERS if minimal else FULL_USERS), **({"updated_at": "updated_at"} if stamped else {})}
    return {"name": name, "type": "sql", "url": url, "users": users, "roles": dict(ROLES), **options}


def ldap_target(name: str, server, tree, password_env: str, **options: Any) -> dict:
    """The config entry of the LDAP target over one test subtree of a slapd."""
    return {
        "name": name,
        "type": "ldap",
        "url": server.url,
        "bind_dn": server.bind_dn,
        "password_env": password_env,
        "people_dn": tree.people_dn,
        "groups_dn": tree.groups_dn,
        "disabled_dn": tree.disabled_dn,
        **options,
    }


def ad_target(name: str, dc, ou, password_env: str, **options: Any) -> dict:
    """The config entry of the AD target over one test OU of a Samba DC: Engineering
    people in People's Engineering OU, others in People (department `Nowhere`: an OU
    that does not exist), LDAPS verified against the test CA."""
    return {
        "name": name,
        "type": "ad",
        "url": dc.url,
        "ca_file": str(dc.ca_file),
        "bind_dn": dc.bind_dn,
        "password_env": password_env,
        "base_dn": ou.base_dn,
        "ou": {"from": "department", "default": ou.people_dn,
               "map": {"Engineering": ou.engineering_dn, "Nowhere": f"OU=Nowhere,{ou.base_dn}"}},
        "groups_ou": ou.groups_dn,
        "disabled_ou": ou.disabled_dn,
        **options,
    }  # fmt: skip
