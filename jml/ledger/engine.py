"""The ledger's database plumbing, shared by every ledger module.

- `make_engine(url)`: a SQLAlchemy engine, with the folder of a SQLite file created and,
  on SQLite, foreign keys, WAL and a busy timeout switched on for every connection.
  Unusable URLs, missing drivers and unmakeable folders raise `LedgerError`.
- `upgrade(engine)`: the schema brought to the Alembic head (a no-op when it is there;
  Alembic itself is imported only when there is something to migrate, `HEAD` says
  which revision is the head without it).
- `write(engine)` / `read(engine)`: one short transaction. On SQLite a writing one starts
  with `BEGIN IMMEDIATE`, so it takes the write lock up front and waits (busy timeout)
  instead of failing half-way when another process writes. Threads may share an engine
  (targets are worked on in parallel); on an in-memory SQLite ledger, whose threads
  share one connection, they take turns.
- `execute_many` and `chunks`: the set-based style; rows go out in executemany batches
  of `BATCH`, ids in IN lists of `IN_BATCH`, never one round trip per row.
- JSON columns accept dates, sets, tuples and enums (stored as ISO text, sorted lists,
  lists and values); `now()` is the aware UTC time every timestamp uses.
"""

from __future__ import annotations

import enum
import json
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import fields
from datetime import UTC, date, datetime
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from sqlalchemy import Column, Executable, Table, create_engine, event, inspect, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from jml.ledger.errors import LedgerError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: Rows per executemany call and ids per IN list: well under SQLite's and
#: PostgreSQL's bound-parameter limits.
BATCH = 5000
IN_BATCH = 500

#: An arbitrary constant: the PostgreSQL advisory lock that serialises migrations.
_MIGRATION_LOCK = 0x6A6D6C  # "jml"

#: The revision of the newest migration in `MIGRATIONS`, Alembic's only head (a test
#: holds the two equal): an up-to-date ledger opens without importing Alembic.
HEAD = "0010"


# ------------------------------------------------------------------------ values


def now() -> datetime:
    return datetime.now(UTC)


def _json_default(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, (set, frozenset)):
        return sorted(value, key=str)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def json_dumps(value: Any) -> str:
    """The JSON text a JSON column stores for `value`."""
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def text_of(value: Any) -> Any:
    """Plain text for an enum member (Lifecycle, Action, IssueKind are str enums)."""
    return value.value if isinstance(value, enum.Enum) else value


def columns_of(table: Table, record: type) -> list[Column]:
    """The columns of `table` named like the fields of the dataclass `record`, in its
    field order: `record(*row)` then builds one from a row of them."""
    return [table.c[f.name] for f in fields(record)]


def first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


# ------------------------------------------------------------------- set-based


def chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def execute_many(conn: Connection, statement: Executable, rows: Iterable[dict]) -> None:
    """Run `statement` once per row, in executemany batches of BATCH rows."""
    for chunk in chunks(rows, BATCH):
        conn.execute(statement, chunk)


# ---------------------------------------------------------------- transactions

#: The engines whose threads share one connection (an in-memory SQLite ledger), each
#: with the lock that gives one transaction at a time; other engines' pools give each
#: thread a connection of its own.
_SHARED: WeakKeyDictionary[Engine, threading.RLock] = WeakKeyDictionary()
_UNSHARED = nullcontext()


@contextmanager
def write(engine: Engine) -> Iterator[Connection]:
    """A writing transaction (on SQLite: BEGIN IMMEDIATE), committed on exit."""
    with _SHARED.get(engine, _UNSHARED), engine.connect() as conn:
        conn.execution_options(ledger_write=True)
        with conn.begin():
            yield conn


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """A reading transaction."""
    with _SHARED.get(engine, _UNSHARED), engine.connect() as conn, conn.begin():
        yield conn


# ---------------------------------------------------------------------- engine


def _sqlite_on_connect(dbapi_connection, _record) -> None:
    # We emit BEGIN ourselves (see _sqlite_on_begin), so the driver must not.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA busy_timeout = 30000")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA journal_mode = WAL")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: Connection) -> None:
    if connection.get_execution_options().get("ledger_write"):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        connection.exec_driver_sql("BEGIN")


def make_engine(url: str) -> Engine:
    """An engine for the ledger at the SQLAlchemy `url` (see the module docstring)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise LedgerError(f"invalid state database URL {url!r}") from exc
    shown = parsed.render_as_string(hide_password=True)
    options: dict[str, Any] = {"json_serializer": json_dumps}
    sqlite = parsed.get_backend_name() == "sqlite"
    shared = False
    if sqlite:
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            # One shared connection, or every checkout would see a new empty database.
            options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
            shared = True
        else:
            try:
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise LedgerError(f"cannot create the folder of {shown}: {exc}") from exc
    else:
        options["pool_pre_ping"] = True
    try:
        engine = create_engine(parsed, **options)
    except (NoSuchModuleError, ModuleNotFoundError, ImportError) as exc:
        raise LedgerError(f"no database driver for {shown}: {exc}") from exc
    except ArgumentError as exc:
        raise LedgerError(f"invalid state database URL {shown}: {exc}") from exc
    if sqlite:
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
    if shared:
        _SHARED[engine] = threading.RLock()
    return engine


# ------------------------------------------------------------------ migrations


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for the ledger's migrations, without any alembic.ini.

    `upgrade` passes its connection in `config.attributes["connection"]`; `url` is for
    a developer's `alembic revision --autogenerate` run (see migrations/README).
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def _schema_revisions(conn: Connection) -> set[str]:
    if not inspect(conn).has_table("alembic_version"):
        return set()
    return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def upgrade(engine: Engine) -> None:
    """Bring the schema to the migrations' head, in one transaction (on PostgreSQL
    under an advisory lock, so concurrent openers migrate once). LedgerError when the
    database cannot be reached or was made by a newer jml."""
    shown = engine.url.render_as_string(hide_password=True)
    try:
        with write(engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
            # Up to date (the usual case): skip Alembic's machinery, its import and its log lines.
            if _schema_revisions(conn) == {HEAD}:
                return
            _migrate(conn, shown)
    except SQLAlchemyError as exc:
        raise LedgerError(f"cannot open the state database {shown}: {first_line(exc)}") from exc


def _migrate(conn: Connection, shown: str) -> None:
    """Run Alembic's upgrade to head on `conn` (the database `shown`); LedgerError when
    Alembic refuses (a revision it does not know: a newer jml's database)."""
    from alembic import command
    from alembic.util.exc import CommandError

    config = alembic_config()
    config.attributes["connection"] = conn
    try:
        command.upgrade(config, "head")
    except CommandError as exc:
        raise LedgerError(
            f"cannot upgrade the state database {shown}: {first_line(exc)} (was it made by a newer jml?)"
        ) from exc
