"""The SQL driver: an application's own database (any SQLAlchemy URL) as the kernel's
primitives. The mapping of the app's tables is in `connectors.targets.sql.schema`, the
rows and statements in `...rows`, transactions in `...connection`.

- The schema (what the target holds) is known from the mapping alone; the tables are
  reflected on first use, so a mapping naming a table or column the database lacks
  fails each operation (and a read) with a clear Permanent error.
- A handle is the user's key, typed as the key column; `account_id` is its text.
  `read` is one streamed SELECT of each table (with an `updated_at` column, the
  database's clock first); `read_changes` reads only the users changed since, beside a
  census of keys and the role rows (`connectors.targets.sql.changes`); `lookup`
  selects by external_id (two users with one external_id are a Conflict); `resolve`
  types an id given as text without asking for the row (updating a key that is not
  there is NotFound; deleting it is done).
- Transactional: every round of the kernel runs in one transaction (`session`). When the
  database refuses a statement, the primitive raises `Aborted` with the typed error
  (`connectors.targets.sql.errors`): the kernel rolls the round back and applies each
  operation again in a transaction of its own. A failure that is not the database
  refusing a statement (an account not found, an attribute that is no canonical one)
  is raised as the typed error and the transaction goes on.
- `create` inserts one row (the manager's key in it); `update` and `set_active` update
  the row (none updated: NotFound); `delete` removes the user's roles, the manager
  links to it, then the user (an account already gone is fine). A grant inserts the
  role row only when it is missing and a revoke deletes it: consecutive grants of a
  role are one executemany, and so are consecutive revokes. Roles need no group.
"""

from __future__ import annotations

import itertools
import logging
import os
import threading
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

from connectors.base import ConfigurationError, Conflict, NotFound, Permanent, TargetSchema
from connectors.kernel.driver import Driver, Handle, Reading, chunked
from connectors.sqlutil import database_url, engine_for, shown
from connectors.targets.sql import changes, rows
from connectors.targets.sql.connection import Connections
from connectors.targets.sql.schema import Tables, held_attributes, reflect
from jml.config import SqlTarget
from jml.model import Snapshot

__all__ = ["SqlDriver"]

log = logging.getLogger(__name__)


class SqlDriver(Driver):
    """An app database as the kernel's driver; see the module docstring.

    `SqlDriver(config, environ=os.environ)` creates the engine but opens no connection;
    the password, if the config names `password_env`, is read from the environment here
    (a ConfigurationError when it is not set).
    """

    transactional = True
    lookup_chunk = 500  # employee_ids per IN list

    def __init__(self, config: SqlTarget, *, environ: Mapping[str, str] = os.environ) -> None:
        url = database_url(config.url, config.password_env, environ, f"target {config.name}", ConfigurationError)
        self.name = config.name
        try:
            self.schema = TargetSchema(held_attributes(config))
        except ValueError as exc:
            raise ConfigurationError(f"target {config.name}: {exc}") from None
        self._config = config
        self._db = Connections(config.name, engine_for(url, config.timeout))
        self._lock = threading.Lock()
        self._reflected: Tables | None = None

    def __repr__(self) -> str:
        return f"SqlDriver(name={self.name!r}, url={shown(self._config.url)!r})"

    def close(self) -> None:
        self._db.close()

    def session(self) -> AbstractContextManager[None]:
        return self._db.session()

    def _tables(self) -> Tables:
        """The mapped tables, reflected once (a failure is raised, and tried again next
        time)."""
        with self._lock:
            if self._reflected is None:
                self._reflected = reflect(self._config, self._db.engine)
            return self._reflected

    # -- reading ---------------------------------------------------------------------

    def read(self) -> Reading:
        """Every user and role row, from one streamed SELECT of each table; with an
        `updated_at` column, the database's clock first (the memo of the next delta)."""
        tables = self._tables()
        with self._db.connected("read") as conn:
            clock = conn.execute(changes.clock_query()).scalar_one() if tables.updated_at is not None else None
            users = conn.execute(rows.users_query(tables), execution_options=self._streamed).all()
            roles = conn.execute(rows.roles_query(tables), execution_options=self._streamed).all()
        reading = rows.reading_of(self.name, tables, users, rows.entitlements_of(roles))
        if clock is not None:
            reading.snapshot.memo = changes.memo(clock)
        return reading

    def read_changes(self, known: Snapshot) -> Reading | None:
        """The users changed since the last read, a census of every user's key and
        external_id, and the role rows, merged into `known` (`...sql.changes`); None
        without an `updated_at` column or a memo to start from, or when the merge
        cannot be exact."""
        tables = self._tables()
        since = changes.since_of(known.memo)
        if tables.updated_at is None or since is None:
            return None
        with self._db.connected("read changes") as conn:
            clock = conn.execute(changes.clock_query()).scalar_one()
            changed_query = changes.changed_query(tables, since, dialect=conn.dialect.name)
            changed = conn.execute(changed_query, execution_options=self._streamed).all()
            census = conn.execute(changes.census_query(tables), execution_options=self._streamed).all()
            roles = conn.execute(rows.roles_query(tables), execution_options=self._streamed).all()
        log.info("target %s: %d users changed since %s", self.name, len(changed), since.isoformat())
        reading = changes.merged(self.name, tables, known, census, changed, roles, changes.memo(clock))
        if reading is None:
            log.info("target %s: the delta read cannot be exact; reading in full", self.name)
        return reading

    @property
    def _streamed(self) -> dict[str, Any]:
        return {"yield_per": self._config.page_size}

    def read_accounts(
        self, employee_ids: Sequence[str], handles: Mapping[str, Any], groups: Collection[str] | None = None
    ) -> Reading:
        """The users linked to these employee_ids, their role rows, and the
        external_ids of their managers not among them: SELECTs with IN lists of
        `lookup_chunk`, never a full one. Every role row of theirs, whatever `groups`
        names."""
        tables = self._tables()
        users: list = []
        roles: list = []
        with self._db.connected("read back") as conn:
            for chunk in chunked(list(employee_ids), self.lookup_chunk):
                users += conn.execute(rows.users_query(tables).where(tables.external_id.in_(chunk))).all()
            keys = [row[0] for row in users]
            for chunk in chunked(keys, self.lookup_chunk):
                roles += conn.execute(rows.roles_query(tables).where(tables.role_user.in_(chunk))).all()
            others = sorted(rows.manager_keys(tables, users) - set(keys), key=str)
            managers: dict[Any, Any] = {}
            for chunk in chunked(others, self.lookup_chunk):
                managers.update(conn.execute(rows.external_ids_query(tables, chunk)).all())
        return rows.reading_of(self.name, tables, users, rows.entitlements_of(roles), managers)

    def lookup(self, employee_ids: Sequence[str]) -> dict[str, Handle]:
        tables = self._tables()
        with self._db.connected("find") as conn:
            matches = conn.execute(rows.keys_query(tables, employee_ids)).all()
        found: dict[str, Handle] = {}
        for external_id, key in matches:
            if str(external_id) in found:
                raise Conflict(f"{self.name}: several users have external_id {external_id}")
            found[str(external_id)] = key
        return found

    def resolve(self, employee_id: str, account_id: str) -> Handle | None:
        return self._tables().key_of(account_id)

    def account_id(self, handle: Handle) -> str:
        return str(handle)

    # -- accounts --------------------------------------------------------------------

    def create(self, employee_id: str, values: Mapping[str, Any], active: bool) -> Handle:
        tables = self._tables()
        statement, row = rows.insert_user(tables, employee_id, values, active)
        with self._db.connected("create") as conn:
            result = conn.execute(statement, row)
            return result.scalar_one() if tables.generated_key else tables.key_of(employee_id)

    def update(self, handle: Handle, employee_id: str, values: Mapping[str, Any], link: bool) -> Handle:
        tables = self._tables()
        try:
            columns = rows.changed_columns(tables, values, employee_id if link else None)
        except ValueError as exc:
            raise Permanent(f"{self.name}: {exc}") from None
        if columns:
            self._update(tables, "update", handle, employee_id, columns)
        return handle

    def set_active(self, handle: Handle, employee_id: str, active: bool) -> Handle:
        tables = self._tables()
        self._update(tables, "enable" if active else "disable", handle, employee_id, rows.active_columns(tables, active))
        return handle

    def _update(self, tables: Tables, what: str, key: Handle, employee_id: str, columns: Mapping[str, Any]) -> None:
        """Set these columns of the user of `key`; NotFound when there is no such row."""
        with self._db.connected(what) as conn:
            updated = conn.execute(rows.update_user(tables, key, columns)).rowcount
        if updated == 0:
            raise NotFound(f"{self.name}: no account for employee_id {employee_id}")

    def delete(self, handle: Handle, employee_id: str) -> None:
        tables = self._tables()
        with self._db.connected("delete") as conn:
            for statement in rows.delete_user(tables, handle):
                conn.execute(statement)

    # -- roles -----------------------------------------------------------------------

    def change_members(self, group: str, changes: Sequence[tuple[bool, Handle]]) -> None:
        """One executemany per run of consecutive additions (a role row inserted where
        missing) and per run of consecutive removals, in order."""
        tables = self._tables()
        for add, run in itertools.groupby(changes, key=lambda change: change[0]):
            params = [rows.role_params(key, group) for _, key in run]
            with self._db.connected("grant" if add else "revoke") as conn:
                conn.execute(rows.add_roles(tables) if add else rows.remove_roles(tables), params)

    def create_group(self, group: str, members: Sequence[Handle]) -> bool:
        """Never needed: a role is a name on role rows, so `change_members` never finds
        one missing. Answers "there already" (False): the changes are sent as they are."""
        return False
