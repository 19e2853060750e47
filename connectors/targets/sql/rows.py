"""Accounts as the app's rows, and every statement the SQL driver sends; no I/O.

Statements are SQLAlchemy constructs over `Tables` (names quoted by the dialect) and
every value is a bound parameter. Keys are typed as the key column (the driver's
handles); a manager is written as the manager's key.

- reading: `users_query`, `roles_query` (`entitlements_of` its rows), then `reading_of` makes the accounts (exactly
  the held attributes each, `manager` as the manager's employee_id) and the handles;
  `keys_query` finds keys by external_id;
- writing a user: `insert_user` (RETURNING the key when the app generates it, else the
  key is the employee_id), `update_user` with `changed_columns` or `active_columns`,
  `delete_user` (its roles, the manager links to it, then the row); each row written
  gets `updated_at` (when mapped) from the database's clock;
- roles: `add_roles` inserts a row only where it is missing, `remove_roles` deletes;
  both are executed with `role_params` per change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import Delete, Insert, Select, Update, and_, bindparam, delete, exists, func, insert, select, update
from sqlalchemy.sql.elements import BindParameter

from connectors.kernel.driver import Handle, Reading
from connectors.targets.sql.schema import Tables
from jml.model import ACCOUNT_ATTRIBUTES, Account, Snapshot

__all__ = [
    "external_ids_query",
    "manager_keys",
    "active_columns",
    "add_roles",
    "changed_columns",
    "cell_text",
    "delete_user",
    "entitlements_of",
    "insert_user",
    "keys_query",
    "reading_of",
    "remove_roles",
    "role_params",
    "roles_query",
    "update_user",
    "users_query",
]


# -- reading -----------------------------------------------------------------------


def users_query(tables: Tables) -> Select:
    """key, external_id, active, then the held attributes' columns (in `tables.columns`
    order), of every user."""
    return select(tables.key, tables.external_id, tables.active, *tables.columns.values())


def roles_query(tables: Tables) -> Select:
    """(user key, role name) of every role row."""
    return select(tables.role_user, tables.role_name)


def manager_keys(tables: Tables, users: Iterable[Sequence[Any]]) -> set[Any]:
    """The keys of the managers the rows of `users_query` name."""
    if "manager" not in tables.columns:
        return set()
    at = 3 + list(tables.columns).index("manager")
    return {row[at] for row in users if row[at] is not None}


def external_ids_query(tables: Tables, keys: Sequence[Any]) -> Select:
    """(key, external_id) of the users of these keys."""
    return select(tables.key, tables.external_id).where(tables.key.in_(list(keys)))


def keys_query(tables: Tables, employee_ids: Sequence[str]) -> Select:
    """(external_id, key) of the users linked to these employee_ids."""
    return select(tables.external_id, tables.key).where(tables.external_id.in_(list(employee_ids)))


def reading_of(
    target: str,
    tables: Tables,
    users: Sequence[Sequence[Any]],
    entitlements: Mapping[Any, set[str]],
    managers: Mapping[Any, Any] | None = None,
) -> Reading:
    """The snapshot of the rows of `users_query` with their `entitlements` (user key ->
    role names, `entitlements_of` the rows of `roles_query`), and the handles;
    `managers` (key -> external_id) names the managers who are not among `users`."""
    external_of = {**(managers or {}), **{row[0]: row[1] for row in users}}
    held = list(tables.columns)
    accounts = []
    for row in users:
        attributes: dict[str, str | None] = {}
        for canonical, value in zip(held, row[3:], strict=True):
            if canonical == "manager":
                attributes[canonical] = cell_text(external_of.get(value)) if value is not None else None
            else:
                attributes[canonical] = cell_text(value)
        accounts.append(
            Account(
                id=str(row[0]),
                external_id=cell_text(row[1]),
                active=bool(row[2]),
                attributes=attributes,
                entitlements=entitlements.get(row[0], set()),
            )
        )
    handles: dict[str, Handle] = {str(row[1]): row[0] for row in users if row[1] is not None}
    groups = {name for names in entitlements.values() for name in names}
    snapshot = Snapshot(target=target, accounts=accounts, groups=groups, held=frozenset(held))
    return Reading(snapshot, handles)


def entitlements_of(roles: Iterable[Sequence[Any]]) -> dict[Any, set[str]]:
    """User key -> the role names of the rows of `roles_query` (a NULL role is none)."""
    entitlements: dict[Any, set[str]] = {}
    for user, role in roles:
        if role is not None:
            entitlements.setdefault(user, set()).add(str(role))
    return entitlements


# -- writing a user ----------------------------------------------------------------


def insert_user(tables: Tables, employee_id: str, values: Mapping[str, Any], active: bool) -> tuple[Insert, dict[str, Any]]:
    """The INSERT of one user and its parameters: the held attributes of `values`
    (`manager`: the manager's key), RETURNING the key when the app generates it."""
    row: dict[str, Any] = {
        tables.external_id.name: employee_id,
        tables.active.name: tables.active_value(active),
    }
    for canonical, column in tables.columns.items():
        row[column.name] = values.get(canonical)
    statement = insert(tables.users).values(_stamp(tables))
    if tables.generated_key:
        return statement.returning(tables.key), row
    row[tables.key.name] = employee_id
    return statement, row


def changed_columns(tables: Tables, values: Mapping[str, Any], link_to: str | None) -> dict[str, Any]:
    """column name -> value of an update: the held attributes of `values` (None: no
    value; `manager`: the manager's key), and the external_id when it links the account
    to `link_to`. ValueError for an attribute that is neither a canonical one nor
    held."""
    columns: dict[str, Any] = {}
    for attribute, value in values.items():
        if attribute in tables.columns:
            columns[tables.columns[attribute].name] = value
        elif attribute not in ACCOUNT_ATTRIBUTES:  # a canonical one not held is left out
            raise ValueError(f"cannot update unknown attribute {attribute!r}")
    if link_to is not None:
        columns[tables.external_id.name] = link_to
    return columns


def active_columns(tables: Tables, active: bool) -> dict[str, Any]:
    """column name -> value that enables or disables a user."""
    return {tables.active.name: tables.active_value(active)}


def update_user(tables: Tables, key: Handle, columns: Mapping[str, Any]) -> Update:
    """The UPDATE of the user of `key` (its rowcount says whether the user is there)."""
    return update(tables.users).where(tables.key == key).values({**columns, **_stamp(tables)})


def delete_user(tables: Tables, key: Handle) -> list[Delete | Update]:
    """The statements removing a user: its roles, the manager links to it, the row."""
    statements: list[Delete | Update] = [delete(tables.roles).where(tables.role_user == key)]
    manager = tables.columns.get("manager")
    if manager is not None:
        statements.append(update(tables.users).where(manager == key).values({manager.name: None, **_stamp(tables)}))
    statements.append(delete(tables.users).where(tables.key == key))
    return statements


def _stamp(tables: Tables) -> dict[str, Any]:
    """The `updated_at` column (when mapped) set to the database's clock: a row jml
    writes is in the next delta read, as one the app writes is."""
    return {tables.updated_at.name: func.current_timestamp()} if tables.updated_at is not None else {}


# -- roles -------------------------------------------------------------------------


def role_params(key: Handle, role: str) -> dict[str, Any]:
    """The parameters of `add_roles` / `remove_roles` for one user and role."""
    return {"u": key, "r": role}


def add_roles(tables: Tables) -> Insert:
    """Insert the role row of `role_params` unless it is there already."""
    user, role = _role_binds(tables)
    held = and_(tables.role_user == user, tables.role_name == role)
    return insert(tables.roles).from_select(
        [tables.role_user, tables.role_name], select(user, role).where(~exists().where(held))
    )


def remove_roles(tables: Tables) -> Delete:
    """Delete the role row of `role_params` (none there is fine)."""
    user, role = _role_binds(tables)
    return delete(tables.roles).where(and_(tables.role_user == user, tables.role_name == role))


def _role_binds(tables: Tables) -> tuple[BindParameter, BindParameter]:
    return bindparam("u", type_=tables.role_user.type), bindparam("r", type_=tables.role_name.type)


def cell_text(value: object) -> str | None:
    """A cell as the text an Account holds (None stays None)."""
    return None if value is None else str(value)
