"""`Ledger`: the repository over the ledger's tables, the only API the rest of jml uses.

Design notes:
- One method, one short transaction (`_write` / `_read`). On SQLite a writing
  transaction starts with `BEGIN IMMEDIATE`, so it takes the write lock up front and
  waits (busy timeout) instead of failing half-way when another process writes.
- Bulk methods are set-based: one query reads what exists, then inserts and updates go
  out in executemany batches. No per-row round trip, no dialect-specific upsert.
- The schema is made by Alembic (`Ledger.open` upgrades to head); `tables.metadata` is
  never used to create tables here.
- Timestamps are aware UTC datetimes; JSON columns accept dates, sets and enums
  (stored as ISO text, sorted lists and values).
"""

from __future__ import annotations

import enum
import json
import os
import socket
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import (
    Text,
    and_,
    bindparam,
    cast,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError
from sqlalchemy.pool import StaticPool

from jml.ledger import LedgerError
from jml.ledger import tables as t
from jml.model import Issue, IssueKind, Operation

MIGRATIONS = Path(__file__).resolve().parent / "migrations"

#: Rows per executemany call and ids per IN list: well under SQLite's and
#: PostgreSQL's bound-parameter limits.
BATCH = 5000
IN_BATCH = 500

#: An arbitrary constant: the PostgreSQL advisory lock that serialises migrations.
_MIGRATION_LOCK = 0x6A6D6C  # "jml"

_APPROVAL = IssueKind.APPROVAL.value
_DECIDED = ("approved", "rejected")


@dataclass(frozen=True, slots=True)
class PersonState:
    """What the ledger remembers of a person between runs."""

    employee_id: str
    lifecycle: str
    terminated_on: date | None = None
    absent_since: date | None = None


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds the run lock: a unique id, and the host and pid of its process."""

    id: str
    host: str
    pid: int

    @classmethod
    def this_process(cls) -> LockHolder:
        return cls(f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}", socket.gethostname(), os.getpid())


def _lock_is_stale(row: dict, now: datetime) -> bool:
    """A lease past its expiry, or held by a process of this host that is gone."""
    if row["expires_at"] <= now:
        return True
    if row["host"] != socket.gethostname():
        return False
    try:
        os.kill(row["pid"], 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line of the audit trail: who (`actor`) did what (`action`) to whom, and why."""

    run_id: int | None
    actor: str
    action: str
    employee_id: str | None = None
    target: str | None = None
    detail: dict = field(default_factory=dict)
    reason: str | None = None


# ---------------------------------------------------------------------------- helpers


def _now() -> datetime:
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


def _json_dumps(value: Any) -> str:
    return json.dumps(value, default=_json_default, ensure_ascii=False)


def _text(value: Any) -> Any:
    """Plain text for an enum member (Lifecycle, Action, IssueKind are str enums)."""
    return value.value if isinstance(value, enum.Enum) else value


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


def alembic_config(url: str | None = None) -> Config:
    """An Alembic config for the ledger's migrations, without any alembic.ini.

    `Ledger.open` passes its connection in `config.attributes["connection"]`; `url` is
    for a developer's `alembic revision --autogenerate` run (see migrations/README).
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


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


def _make_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise LedgerError(f"invalid state database URL {url!r}") from exc
    shown = parsed.render_as_string(hide_password=True)
    options: dict[str, Any] = {"json_serializer": _json_dumps}
    sqlite = parsed.get_backend_name() == "sqlite"
    if sqlite:
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            # One shared connection, or every checkout would see a new empty database.
            options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
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
    return engine


def _schema_revisions(conn: Connection) -> set[str]:
    if not inspect(conn).has_table("alembic_version"):
        return set()
    return set(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())


def _execute_many(conn: Connection, statement, rows: Iterable[dict]) -> None:
    """Run `statement` once per row, in executemany batches of BATCH rows."""
    for chunk in _chunks(rows, BATCH):
        conn.execute(statement, chunk)


def _first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc).strip()
    return message.splitlines()[0] if message else type(exc).__name__


_EXCEPTION_FIELDS = (
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
)


def _exception_dict(row) -> dict:
    mapping = row._mapping
    return {name: mapping[name] for name in _EXCEPTION_FIELDS}


# ----------------------------------------------------------------------------- Ledger


class Ledger:
    """The state store. Make one with `Ledger.open(url)`; `close()` when done."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- life cycle ----------------------------------------------------------------

    @classmethod
    def open(cls, url: str) -> Ledger:
        """Connect to the ledger at the SQLAlchemy `url`, upgrading its schema to head.

        For a SQLite file the parent folder is created if missing; foreign keys, WAL
        and a busy timeout are switched on for every connection.
        """
        engine = _make_engine(url)
        ledger = cls(engine)
        try:
            ledger._upgrade()
        except BaseException:
            engine.dispose()
            raise
        return ledger

    def close(self) -> None:
        """Release every connection."""
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @property
    def engine(self) -> Engine:
        """The underlying engine (tests and diagnostics only)."""
        return self._engine

    def _upgrade(self) -> None:
        shown = self._engine.url.render_as_string(hide_password=True)
        config = alembic_config()
        heads = set(ScriptDirectory.from_config(config).get_heads())
        try:
            with self._write() as conn:
                if conn.dialect.name == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
                # Up to date (the usual case): skip Alembic's machinery and its log lines.
                if _schema_revisions(conn) == heads:
                    return
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
        except CommandError as exc:
            raise LedgerError(
                f"cannot upgrade the state database {shown}: {_first_line(exc)}"
                " (was it made by a newer jml?)"
            ) from exc
        except SQLAlchemyError as exc:
            raise LedgerError(
                f"cannot open the state database {shown}: {_first_line(exc)}"
            ) from exc

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(ledger_write=True)
            with conn.begin():
                yield conn

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._engine.connect() as conn, conn.begin():
            yield conn

    # -- runs ----------------------------------------------------------------------

    def acquire_lock(self, holder: LockHolder, ttl: float, name: str = "run") -> dict | None:
        """Take the run lock (a lease of `ttl` seconds) for `holder`; None when taken.

        The lock is free when nobody holds it, when its lease has expired, or when its
        holder was a process on this host that no longer exists (a killed run). Taking
        it over from such a holder marks that holder's unfinished runs `failed`.
        Otherwise the current holder's row is returned and nothing changes.
        """
        lock = t.run_lock.c
        now = _now()
        with self._write() as conn:
            row = conn.execute(
                select(t.run_lock).where(lock.name == name).with_for_update()
            ).first()
            values = {
                "holder": holder.id, "host": holder.host, "pid": holder.pid,
                "acquired_at": now, "expires_at": now + timedelta(seconds=ttl),
            }  # fmt: skip
            if row is None:
                conn.execute(insert(t.run_lock).values(name=name, **values))
                return None
            current = dict(row._mapping)
            if current["holder"] != holder.id and not _lock_is_stale(current, now):
                return current
            if current["holder"] != holder.id:
                conn.execute(
                    update(t.runs).where(t.runs.c.status == "running").values(
                        status="failed", finished_at=now, summary={"error": "the run stopped without finishing"}
                    )
                )
            conn.execute(update(t.run_lock).where(lock.name == name).values(**values))
            return None

    def renew_lock(self, holder: LockHolder, ttl: float, name: str = "run") -> None:
        """Extend the holder's lease; LedgerError if it no longer holds the lock."""
        lock = t.run_lock.c
        with self._write() as conn:
            result = conn.execute(
                update(t.run_lock)
                .where(lock.name == name, lock.holder == holder.id)
                .values(expires_at=_now() + timedelta(seconds=ttl))
            )
            if result.rowcount == 0:
                raise LedgerError("the run lock was lost: another run took it over")

    def release_lock(self, holder: LockHolder, name: str = "run") -> None:
        """Give the lock back (nothing happens if the holder no longer has it)."""
        lock = t.run_lock.c
        with self._write() as conn:
            conn.execute(delete(t.run_lock).where(lock.name == name, lock.holder == holder.id))

    def start_run(self, *, as_of: date, dry_run: bool, override_safety: bool, actor: str) -> int:
        """Record a run as `running`; returns its id."""
        with self._write() as conn:
            result = conn.execute(
                insert(t.runs).values(
                    started_at=_now(),
                    as_of=as_of,
                    status="running",
                    dry_run=bool(dry_run),
                    override_safety=bool(override_safety),
                    actor=actor,
                    summary=None,
                )
            )
            return int(result.inserted_primary_key[0])

    def finish_run(self, run_id: int, status: str, summary: dict) -> None:
        """Record how a run ended (`status` one of tables.RUN_STATUSES) and its summary."""
        if status not in t.RUN_STATUSES:
            raise ValueError(f"run status {status!r} is not one of {', '.join(t.RUN_STATUSES)}")
        with self._write() as conn:
            result = conn.execute(
                update(t.runs)
                .where(t.runs.c.id == run_id)
                .values(status=status, summary=summary, finished_at=_now())
            )
            if result.rowcount == 0:
                raise LedgerError(f"no run with id {run_id}")

    def get_run(self, run_id: int) -> dict:
        """The run's row as a dict (id, started_at, finished_at, as_of, status, ...)."""
        with self._read() as conn:
            return dict(self._run_row(conn, run_id)._mapping)

    @staticmethod
    def _run_row(conn: Connection, run_id: int, *, lock: bool = False):
        query = select(t.runs).where(t.runs.c.id == run_id)
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise LedgerError(f"no run with id {run_id}")
        return row

    # -- persons -------------------------------------------------------------------

    def person_states(self) -> dict[str, PersonState]:
        """Every person the ledger knows, by employee_id."""
        p = t.persons.c
        with self._read() as conn:
            rows = conn.execute(
                select(p.employee_id, p.lifecycle, p.terminated_on, p.absent_since)
            ).all()
        return {row[0]: PersonState(*row) for row in rows}

    def save_person_states(self, run_id: int, states: Iterable[PersonState]) -> None:
        """Insert or update the given persons' states (others are left as they are).

        A new person gets `first_seen_run = last_seen_run = run_id`. A known one gets
        the new state, and `last_seen_run = run_id` unless the state says it is absent
        (`absent_since` set): last_seen_run is the last run whose feed had the person.
        """
        wanted: dict[str, PersonState] = {s.employee_id: s for s in states}
        if not wanted:
            return
        p = t.persons.c
        with self._write() as conn:
            existing = {
                row[0]: row[1:]
                for row in conn.execute(
                    select(p.employee_id, p.lifecycle, p.terminated_on, p.absent_since)
                )
            }
            new, changed, seen = [], [], []
            for employee_id, state in wanted.items():
                lifecycle = _text(state.lifecycle)
                values = (lifecycle, state.terminated_on, state.absent_since)
                old = existing.get(employee_id)
                if old is None:
                    new.append(
                        {
                            "employee_id": employee_id,
                            "lifecycle": lifecycle,
                            "terminated_on": state.terminated_on,
                            "absent_since": state.absent_since,
                        }
                    )
                elif tuple(old) != values:
                    changed.append(
                        {
                            "b_id": employee_id,
                            "b_lifecycle": lifecycle,
                            "b_terminated_on": state.terminated_on,
                            "b_absent_since": state.absent_since,
                            "b_run": run_id if state.absent_since is None else None,
                        }
                    )
                elif state.absent_since is None:
                    seen.append(employee_id)
            statement = insert(t.persons).values(first_seen_run=run_id, last_seen_run=run_id)
            _execute_many(conn, statement, new)
            if changed:
                statement = (
                    update(t.persons)
                    .where(p.employee_id == bindparam("b_id"))
                    .values(
                        lifecycle=bindparam("b_lifecycle"),
                        terminated_on=bindparam("b_terminated_on"),
                        absent_since=bindparam("b_absent_since"),
                        last_seen_run=func.coalesce(bindparam("b_run"), p.last_seen_run),
                    )
                )
                _execute_many(conn, statement, changed)
            for chunk in _chunks(seen, IN_BATCH):
                conn.execute(
                    update(t.persons).where(p.employee_id.in_(chunk)).values(last_seen_run=run_id)
                )

    # -- accounts ------------------------------------------------------------------

    def account_links(self, target: str) -> dict[str, str]:
        """employee_id -> the target's account id, for the accounts jml has linked."""
        a = t.accounts.c
        with self._read() as conn:
            rows = conn.execute(select(a.employee_id, a.account_id).where(a.target == target)).all()
        return dict(rows)

    def link_accounts(self, run_id: int, target: str, links: dict[str, str]) -> None:
        """Remember (or change) which account on `target` belongs to each employee_id."""
        if not links:
            return
        a = t.accounts.c
        with self._write() as conn:
            existing = dict(
                conn.execute(select(a.employee_id, a.account_id).where(a.target == target)).all()
            )
            new = [
                {"employee_id": employee_id, "account_id": account_id}
                for employee_id, account_id in links.items()
                if employee_id not in existing
            ]
            changed = [
                {"b_id": employee_id, "b_account": account_id, "b_run": run_id}
                for employee_id, account_id in links.items()
                if employee_id in existing and existing[employee_id] != account_id
            ]
            statement = insert(t.accounts).values(
                target=target, created_run=run_id, updated_run=run_id
            )
            _execute_many(conn, statement, new)
            if changed:
                statement = (
                    update(t.accounts)
                    .where(and_(a.target == target, a.employee_id == bindparam("b_id")))
                    .values(account_id=bindparam("b_account"), updated_run=bindparam("b_run"))
                )
                _execute_many(conn, statement, changed)

    def unlink_accounts(self, target: str, employee_ids: Iterable[str]) -> None:
        """Forget the account links of these persons on `target` (e.g. after delete)."""
        a = t.accounts.c
        with self._write() as conn:
            for chunk in _chunks(dict.fromkeys(employee_ids), IN_BATCH):
                conn.execute(
                    delete(t.accounts).where(and_(a.target == target, a.employee_id.in_(chunk)))
                )

    # -- grants --------------------------------------------------------------------

    def grants(self, target: str) -> dict[tuple[str, str], str]:
        """(employee_id, entitlement) -> reason, for what jml granted on `target`."""
        g = t.grants.c
        with self._read() as conn:
            rows = conn.execute(
                select(g.employee_id, g.entitlement, g.reason).where(g.target == target)
            ).all()
        return {(row[0], row[1]): row[2] for row in rows}

    def record_grants(
        self, run_id: int, target: str, grants: Iterable[tuple[str, str, str]]
    ) -> None:
        """Remember grants made on `target`: (employee_id, entitlement, reason) each.

        A grant already known keeps its granted_at; a new reason replaces the old one.
        """
        wanted = {(e, n): r for e, n, r in grants}
        if not wanted:
            return
        g = t.grants.c
        now = _now()
        with self._write() as conn:
            existing = {
                (row[0], row[1]): row[2]
                for row in conn.execute(
                    select(g.employee_id, g.entitlement, g.reason).where(g.target == target)
                )
            }
            new = [
                {"employee_id": e, "entitlement": n, "reason": r}
                for (e, n), r in wanted.items()
                if (e, n) not in existing
            ]
            changed = [
                {"b_id": e, "b_ent": n, "b_reason": r, "b_run": run_id}
                for (e, n), r in wanted.items()
                if (e, n) in existing and existing[(e, n)] != r
            ]
            statement = insert(t.grants).values(target=target, run_id=run_id, granted_at=now)
            _execute_many(conn, statement, new)
            if changed:
                statement = (
                    update(t.grants)
                    .where(
                        and_(
                            g.target == target,
                            g.employee_id == bindparam("b_id"),
                            g.entitlement == bindparam("b_ent"),
                        )
                    )
                    .values(reason=bindparam("b_reason"), run_id=bindparam("b_run"))
                )
                _execute_many(conn, statement, changed)

    def remove_grants(self, target: str, pairs: Iterable[tuple[str, str]]) -> None:
        """Forget grants on `target`: (employee_id, entitlement) each."""
        params = [{"b_id": e, "b_ent": n} for e, n in dict.fromkeys(pairs)]
        if not params:
            return
        g = t.grants.c
        statement = delete(t.grants).where(
            and_(
                g.target == target,
                g.employee_id == bindparam("b_id"),
                g.entitlement == bindparam("b_ent"),
            )
        )
        with self._write() as conn:
            _execute_many(conn, statement, params)

    # -- the write-ahead journal ---------------------------------------------------

    def journal_pending(self, run_id: int, operations: list[Operation]) -> list[int]:
        """Record operations as `pending` before they are applied; returns their ids,
        in the order given. `seq` continues after the run's earlier operations."""
        if not operations:
            return []
        o = t.operations.c
        now = _now()
        with self._write() as conn:
            # Lock the run (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises) so
            # that concurrent batches of one run get distinct `seq`s.
            self._run_row(conn, run_id, lock=True)
            start = conn.execute(
                select(func.coalesce(func.max(o.seq), 0)).where(o.run_id == run_id)
            ).scalar_one()
            rows = [
                {
                    "seq": start + index,
                    "target": op.target,
                    "employee_id": op.employee_id,
                    "action": _text(op.action),
                    "account_id": op.account_id,
                    "detail": op.detail,
                    "reason": op.reason,
                }
                for index, op in enumerate(operations, start=1)
            ]
            statement = insert(t.operations).values(
                run_id=run_id, status="pending", error=None, created_at=now, updated_at=now
            )
            _execute_many(conn, statement, rows)
            # (run_id, seq) is unique per run; reading the ids back is faster and more
            # portable than INSERT .. RETURNING in executemany.
            ids = list(
                conn.execute(
                    select(o.id).where(o.run_id == run_id, o.seq > start).order_by(o.seq)
                ).scalars()
            )
        return ids

    def journal_finish(self, results: Iterable[tuple[int, str, str | None]]) -> None:
        """Settle journalled operations: (id, 'done' | 'failed', error or None) each."""
        now = _now()
        params = []
        for operation_id, status, error in results:
            if status not in ("done", "failed"):
                raise ValueError(f"operation status {status!r} is not 'done' or 'failed'")
            params.append({"b_id": operation_id, "b_status": status, "b_error": error})
        if not params:
            return
        statement = (
            update(t.operations)
            .where(t.operations.c.id == bindparam("b_id"))
            .values(status=bindparam("b_status"), error=bindparam("b_error"), updated_at=now)
        )
        with self._write() as conn:
            _execute_many(conn, statement, params)

    def pending_operations(self) -> list[dict]:
        """Operations still `pending`, from any run (a run that stopped mid-apply)."""
        o = t.operations.c
        with self._read() as conn:
            rows = conn.execute(
                select(t.operations).where(o.status == "pending").order_by(o.id)
            ).all()
        return [dict(row._mapping) for row in rows]

    def run_operations(self, run_id: int) -> list[dict]:
        """Every operation journalled by a run, in order."""
        o = t.operations.c
        with self._read() as conn:
            rows = conn.execute(
                select(t.operations).where(o.run_id == run_id).order_by(o.seq, o.id)
            ).all()
        return [dict(row._mapping) for row in rows]

    # -- exceptions ----------------------------------------------------------------

    def sync_issues(
        self,
        run_id: int,
        issues: list[Issue],
        *,
        kinds: set[IssueKind],
        skip_targets: set[str] = frozenset(),
    ) -> tuple[int, int]:
        """Make the exception queue agree with what a run found; returns (opened, closed).

        `issues` are all the issues the run found of the kinds in `kinds`. An issue
        whose key has a live exception (open; for approval also approved or rejected)
        refreshes it; any other opens a new exception. A live exception of one of
        `kinds` whose key was not found is closed (its cause is gone; a decided
        approval no longer needed is void) unless its target is in `skip_targets`
        (a target the run could not read says nothing about its causes).
        """
        kind_values = {IssueKind(kind).value for kind in kinds}
        found: dict[str, Issue] = {}
        for issue in issues:
            kind = IssueKind(issue.kind).value
            if kind not in kind_values:
                raise ValueError(f"issue {issue.key!r} is of kind {kind}, not one of `kinds`")
            found[issue.key] = issue
        if not kind_values:
            return (0, 0)
        x = t.exceptions.c
        live_status = or_(x.status == "open", and_(x.kind == _APPROVAL, x.status.in_(_DECIDED)))
        now = _now()
        with self._write() as conn:
            live = conn.execute(
                select(
                    x.id, x.key, x.employee_id, x.target, x.detail, cast(x.data, Text).label("data")
                ).where(x.kind.in_(sorted(kind_values)), live_status)
            ).all()
            live_keys = set()
            refresh, close = [], []
            for row in live:
                issue = found.get(row.key)
                if issue is None:
                    if row.target is None or row.target not in skip_targets:
                        close.append(row.id)
                    continue
                live_keys.add(row.key)
                # JSON compared as the text stored (PostgreSQL's json keeps it as sent).
                if (row.detail, row.data, row.employee_id, row.target) != (
                    issue.detail,
                    _json_dumps(issue.data),
                    issue.employee_id,
                    issue.target,
                ):
                    refresh.append(
                        {
                            "b_id": row.id,
                            "b_detail": issue.detail,
                            "b_data": issue.data,
                            "b_employee_id": issue.employee_id,
                            "b_target": issue.target,
                        }
                    )
            new = [
                {
                    "kind": IssueKind(issue.kind).value,
                    "key": key,
                    "employee_id": issue.employee_id,
                    "target": issue.target,
                    "detail": issue.detail,
                    "data": issue.data,
                }
                for key, issue in found.items()
                if key not in live_keys
            ]
            statement = insert(t.exceptions).values(
                status="open", opened_run=run_id, opened_at=now, closed_run=None, closed_at=None
            )
            _execute_many(conn, statement, new)
            if refresh:
                statement = (
                    update(t.exceptions)
                    .where(x.id == bindparam("b_id"))
                    .values(
                        detail=bindparam("b_detail"),
                        data=bindparam("b_data"),
                        employee_id=bindparam("b_employee_id"),
                        target=bindparam("b_target"),
                    )
                )
                _execute_many(conn, statement, refresh)
            for chunk in _chunks(close, IN_BATCH):
                conn.execute(
                    update(t.exceptions)
                    .where(x.id.in_(chunk))
                    .values(status="closed", closed_run=run_id, closed_at=now)
                )
        return (len(new), len(close))

    def list_exceptions(self, status: str = "open") -> list[dict]:
        """Exceptions with this status ("open", "closed", "approved", "rejected") or
        "all", oldest first. Keys: id, kind, key, employee_id, target, detail, status,
        data, opened_run, closed_run."""
        x = t.exceptions.c
        query = select(t.exceptions).order_by(x.id)
        if status != "all":
            if status not in t.EXCEPTION_STATUSES:
                allowed = ", ".join((*t.EXCEPTION_STATUSES, "all"))
                raise LedgerError(f"unknown exception status {status!r} (expected {allowed})")
            query = query.where(x.status == status)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [_exception_dict(row) for row in rows]

    def count_open(self) -> int:
        """How many exceptions are open."""
        with self._read() as conn:
            return conn.execute(
                select(func.count())
                .select_from(t.exceptions)
                .where(t.exceptions.c.status == "open")
            ).scalar_one()

    def get_exception(self, exception_id: int) -> dict:
        """One exception (as in list_exceptions); LedgerError if there is none."""
        with self._read() as conn:
            return _exception_dict(self._exception_row(conn, exception_id))

    # -- approvals -----------------------------------------------------------------

    def approve(self, exception_id: int, *, by: str, role: str) -> dict:
        """Record `by`'s approval, as `role`, of an open approval exception.

        When every role the bundle lists has approved (each by a different person),
        the exception becomes `approved`. Returns the exception. LedgerError for an
        unknown id, an exception that is not an open approval, a role the bundle does
        not list, a role that has approved already, or a person approving twice.
        """
        by = (by or "").strip()
        if not by:
            raise LedgerError("the approver's name is empty")
        now = _now()
        with self._write() as conn:
            row = self._open_approval(conn, exception_id)
            approvers = [str(r) for r in (row.data or {}).get("approvers") or []]
            bundle = (row.data or {}).get("bundle")
            if role not in approvers:
                listed = ", ".join(approvers) or "none"
                raise LedgerError(
                    f"role {role!r} may not approve exception {exception_id}"
                    f" (bundle {bundle!r} lists approvers: {listed})"
                )
            a = t.approvals.c
            done = {
                r.role: r.approver
                for r in conn.execute(
                    select(a.role, a.approver).where(
                        a.exception_id == exception_id, a.decision == "approved"
                    )
                )
            }
            if role in done:
                raise LedgerError(
                    f"role {role!r} has already approved exception {exception_id} (by {done[role]})"
                )
            for other_role, approver in done.items():
                if approver == by:
                    raise LedgerError(
                        f"{by} has already approved exception {exception_id} as"
                        f" {other_role!r}; each role needs a different approver"
                    )
            conn.execute(
                insert(t.approvals).values(
                    exception_id=exception_id,
                    role=role,
                    approver=by,
                    decision="approved",
                    reason=None,
                    at=now,
                )
            )
            complete = set(approvers) <= set(done) | {role}
            if complete:
                self._decide(conn, exception_id, "approved", now)
            waiting = [r for r in approvers if r not in done and r != role]
            self._audit(
                conn,
                [
                    AuditEntry(
                        run_id=None,
                        actor=by,
                        action="approve",
                        employee_id=row.employee_id,
                        target=row.target,
                        detail={
                            "exception_id": exception_id,
                            "bundle": bundle,
                            "rule": (row.data or {}).get("rule"),
                            "role": role,
                            "status": "approved" if complete else "open",
                            "waiting_for": waiting,
                        },
                        reason=None,
                    )
                ],
                now,
            )
            return _exception_dict(self._exception_row(conn, exception_id))

    def reject(self, exception_id: int, *, by: str, reason: str | None = None) -> dict:
        """Record `by`'s rejection of an open approval exception: it becomes `rejected`
        and the bundle is not granted. Returns the exception."""
        by = (by or "").strip()
        if not by:
            raise LedgerError("the approver's name is empty")
        now = _now()
        with self._write() as conn:
            row = self._open_approval(conn, exception_id)
            conn.execute(
                insert(t.approvals).values(
                    exception_id=exception_id,
                    role=None,
                    approver=by,
                    decision="rejected",
                    reason=reason,
                    at=now,
                )
            )
            self._decide(conn, exception_id, "rejected", now)
            self._audit(
                conn,
                [
                    AuditEntry(
                        run_id=None,
                        actor=by,
                        action="reject",
                        employee_id=row.employee_id,
                        target=row.target,
                        detail={
                            "exception_id": exception_id,
                            "bundle": (row.data or {}).get("bundle"),
                            "rule": (row.data or {}).get("rule"),
                            "status": "rejected",
                        },
                        reason=reason,
                    )
                ],
                now,
            )
            return _exception_dict(self._exception_row(conn, exception_id))

    def approval_decisions(self) -> dict[str, str]:
        """Issue key -> "approved" | "rejected", for the approvals decided and still live."""
        x = t.exceptions.c
        with self._read() as conn:
            rows = conn.execute(
                select(x.key, x.status).where(x.kind == _APPROVAL, x.status.in_(_DECIDED))
            ).all()
        return dict(rows)

    def approvals(self, exception_id: int) -> list[dict]:
        """The decisions recorded on an exception, oldest first (role None: a rejection)."""
        a = t.approvals.c
        with self._read() as conn:
            self._exception_row(conn, exception_id)
            rows = conn.execute(
                select(a.role, a.approver, a.decision, a.reason, a.at)
                .where(a.exception_id == exception_id)
                .order_by(a.id)
            ).all()
        return [dict(row._mapping) for row in rows]

    def _exception_row(self, conn: Connection, exception_id: int, *, lock: bool = False):
        query = select(t.exceptions).where(t.exceptions.c.id == exception_id)
        if lock:
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise LedgerError(f"no exception with id {exception_id}")
        return row

    def _open_approval(self, conn: Connection, exception_id: int):
        row = self._exception_row(conn, exception_id, lock=True)
        if row.kind != _APPROVAL:
            raise LedgerError(
                f"exception {exception_id} is a {row.kind} exception, not an approval"
            )
        if row.status == "closed":
            raise LedgerError(
                f"exception {exception_id} is closed: the approval is no longer needed"
            )
        if row.status != "open":
            raise LedgerError(f"exception {exception_id} is already {row.status}")
        return row

    @staticmethod
    def _decide(conn: Connection, exception_id: int, status: str, now: datetime) -> None:
        conn.execute(
            update(t.exceptions)
            .where(t.exceptions.c.id == exception_id)
            .values(status=status, closed_at=now)
        )

    # -- audit ---------------------------------------------------------------------

    def append_audit(self, entries: Iterable[AuditEntry]) -> None:
        """Append entries to the audit trail (there is no way to change or remove one)."""
        entries = list(entries)
        if not entries:
            return
        with self._write() as conn:
            self._audit(conn, entries, _now())

    @staticmethod
    def _audit(conn: Connection, entries: Sequence[AuditEntry], now: datetime) -> None:
        rows = [
            {
                "run_id": e.run_id,
                "actor": e.actor,
                "action": e.action,
                "employee_id": e.employee_id,
                "target": e.target,
                "detail": e.detail if e.detail is not None else {},
                "reason": e.reason,
            }
            for e in entries
        ]
        statement = insert(t.audit).values(at=now)
        _execute_many(conn, statement, rows)

    def audit_trail(self, employee_id: str | None = None, limit: int | None = None) -> list[dict]:
        """Audit entries in the order they were written, for one person or everyone;
        with `limit`, the latest `limit` entries (still oldest first)."""
        u = t.audit.c
        query = select(t.audit)
        if employee_id is not None:
            query = query.where(u.employee_id == employee_id)
        if limit is not None:
            if limit < 0:
                raise LedgerError(f"audit limit must not be negative (got {limit})")
            query = query.order_by(u.id.desc()).limit(limit)
        else:
            query = query.order_by(u.id)
        with self._read() as conn:
            rows = [dict(row._mapping) for row in conn.execute(query)]
        if limit is not None:
            rows.reverse()
        return rows
