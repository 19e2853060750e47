"""The ledger's schema: SQLAlchemy Core tables, portable to SQLite and PostgreSQL.

Core, not ORM: the ledger moves tens of thousands of rows per run in executemany
batches. The schema itself is made by the Alembic migrations in `migrations/`; this
module is what they must produce (a test compares the two).

Conventions: every timestamp is a timezone-aware UTC `datetime` (`UtcDateTime`);
free text is `Text`; identifiers that take part in keys are bounded `String`s; the
few closed vocabularies (statuses, decisions) are checked by the database.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeDecorator

#: Constraint names are derived, so that migrations can name what they alter.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

RUN_STATUSES = ("running", "converged", "attention", "halted", "failed", "dry_run")
OPERATION_STATUSES = ("pending", "done", "failed")
EXCEPTION_STATUSES = ("open", "closed", "approved", "rejected")
DECISIONS = ("approved", "rejected")

EMPLOYEE_ID = 64  # the SPEC's `^[A-Za-z0-9_-]{1,64}$`
NAME = 255  # target names, actors, roles, lifecycle and kind names
ENTITLEMENT = 512  # group names; LDAP DNs can be long
HASH = 64  # a SHA-256 in hex


class UtcDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every backend.

    PostgreSQL stores `timestamp with time zone`; SQLite has no zone, so the value is
    stored as UTC and read back with `timezone.utc` attached. Naive datetimes are
    refused: a timestamp without a zone is a bug.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: the ledger stores UTC only")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _one_of(column: str, values: tuple[str, ...], name: str) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=name)


runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("as_of", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("dry_run", Boolean, nullable=False),
    Column("override_safety", Boolean, nullable=False),
    Column("actor", String(NAME), nullable=False),
    Column("summary", JSON, nullable=True),
    _one_of("status", RUN_STATUSES, "status"),
)

persons = Table(
    "persons",
    metadata,
    Column("employee_id", String(EMPLOYEE_ID), primary_key=True),
    Column("first_seen_run", Integer, ForeignKey("runs.id"), nullable=False),
    Column("last_seen_run", Integer, ForeignKey("runs.id"), nullable=False),
    Column("lifecycle", String(32), nullable=False),
    Column("terminated_on", Date, nullable=True),
    Column("absent_since", Date, nullable=True),
    Column("manager_id", String(EMPLOYEE_ID), nullable=True),
)

accounts = Table(
    "accounts",
    metadata,
    Column("target", String(NAME), primary_key=True),
    Column("employee_id", String(EMPLOYEE_ID), primary_key=True),
    Column("account_id", Text, nullable=False),
    Column("created_run", Integer, ForeignKey("runs.id"), nullable=False),
    Column("updated_run", Integer, ForeignKey("runs.id"), nullable=False),
)

grants = Table(
    "grants",
    metadata,
    Column("target", String(NAME), primary_key=True),
    Column("employee_id", String(EMPLOYEE_ID), primary_key=True),
    Column("entitlement", String(ENTITLEMENT), primary_key=True),
    Column("reason", Text, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("granted_at", UtcDateTime, nullable=False),
)

operations = Table(
    "operations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("target", String(NAME), nullable=False),
    Column("employee_id", String(EMPLOYEE_ID), nullable=False),
    Column("action", String(16), nullable=False),
    Column("account_id", Text, nullable=True),
    Column("detail", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    _one_of("status", OPERATION_STATUSES, "status"),
    Index(None, "run_id", "seq", unique=True),
    Index(None, "status"),
)

exceptions = Table(
    "exceptions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("key", Text, nullable=False),
    Column("employee_id", String(EMPLOYEE_ID), nullable=True),
    Column("target", String(NAME), nullable=True),
    Column("detail", Text, nullable=False),
    Column("data", JSON, nullable=False),
    Column("status", String(16), nullable=False),
    Column("opened_run", Integer, ForeignKey("runs.id"), nullable=False),
    Column("closed_run", Integer, ForeignKey("runs.id"), nullable=True),
    Column("opened_at", UtcDateTime, nullable=False),
    Column("closed_at", UtcDateTime, nullable=True),
    # Who works it (jml.owners), given when it opens; `iam` for those from before 0007.
    Column("owner", Text, nullable=False, server_default="iam"),
    _one_of("status", EXCEPTION_STATUSES, "status"),
    Index(None, "key", "status"),
    Index(None, "status", "kind"),
)

approvals = Table(
    "approvals",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("exception_id", Integer, ForeignKey("exceptions.id"), nullable=False),
    Column("role", String(NAME), nullable=True),  # None for a rejection
    Column("approver", String(NAME), nullable=False),
    Column("decision", String(16), nullable=False),
    Column("reason", Text, nullable=True),
    Column("at", UtcDateTime, nullable=False),
    _one_of("decision", DECISIONS, "decision"),
    Index(None, "exception_id"),
)

#: The registered non-human identities (jml.nhi) and who owns each: the registry's row
#: as last seen, and the current owner since which as-of date (`review`: a handover
#: waits for the new owner's confirmation). `account_key` is the account's login as
#: compared (jml.nhi.account_key); `account` is as the registry spells it.
nhis = Table(
    "nhis",
    metadata,
    Column("target", String(NAME), primary_key=True),
    Column("account_key", Text, primary_key=True),
    Column("account", Text, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("description", Text, nullable=False),
    Column("registry_owner", String(EMPLOYEE_ID), nullable=False),
    Column("owner", String(EMPLOYEE_ID), nullable=False),
    Column("since", Date, nullable=False),
    Column("review", Boolean, nullable=False),
    Column("updated_run", Integer, ForeignKey("runs.id"), nullable=False),
    Index(None, "owner"),
)

#: Identifiers jml generated (SPEC "Generated identifiers"), kept for good: `kind` says
#: which (`email`; an AD target's `sam_account_name:<target>`), `value` is lowercased and
#: never given to anyone else; a person has at most one of each kind.
identifiers = Table(
    "identifiers",
    metadata,
    Column("kind", String(NAME), primary_key=True),
    Column("value", String(NAME), primary_key=True),
    Column("employee_id", String(EMPLOYEE_ID), nullable=False),
    Column("created_run", Integer, ForeignKey("runs.id"), nullable=False),
    Index(None, "kind", "employee_id", unique=True),
)

#: What jml knows of each target between runs (SPEC "Incremental runs"): the target as
#: its last read left it (a full read, or a full read brought up to date by delta reads),
#: planned against instead of reading the target in full again. `memo` is the driver's
#: note of where its next delta read starts; `full_read_at` when it was last read in full;
#: `config` a hash of the target's config when it was read (another config reads in full).
known_targets = Table(
    "known_targets",
    metadata,
    Column("target", String(NAME), primary_key=True),
    Column("config", String(HASH), nullable=False),
    Column("full_read_at", UtcDateTime, nullable=False),
    Column("read_at", UtcDateTime, nullable=False),
    Column("memo", JSON, nullable=False),
    Column("groups", JSON, nullable=False),
    Column("held", JSON, nullable=False),
    Column("limits", JSON, nullable=False),
)

#: One row per account a target held when last read (`account`: the Account as JSON).
known_accounts = Table(
    "known_accounts",
    metadata,
    Column("target", String(NAME), primary_key=True),
    Column("account_id", Text, primary_key=True),
    Column("account", JSON, nullable=False),
)

#: The ids are given by the one appender (`audit.insert_entries`, under its lock), so
#: that their order is the hash chain's.
audit = Table(
    "audit",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UtcDateTime, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=True),
    Column("actor", String(NAME), nullable=False),
    Column("action", String(64), nullable=False),
    Column("employee_id", String(EMPLOYEE_ID), nullable=True),
    Column("target", String(NAME), nullable=True),
    Column("detail", JSON, nullable=False),
    Column("reason", Text, nullable=True),
    Column("prev_hash", String(HASH), nullable=False),  # the hash chain (jml.ledger.chain)
    Column("hash", String(HASH), nullable=False),
    Index(None, "employee_id"),
    Index(None, "run_id"),
)

#: One row per lock name. A released lock keeps its row, with holder "", so that the
#: fencing token of the next acquisition still follows the last one.
run_lock = Table(
    "run_lock",
    metadata,
    Column("name", String(NAME), primary_key=True),
    Column("holder", String(NAME), nullable=False),
    Column("host", String(NAME), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("acquired_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("pid_scope", String(NAME), nullable=False, server_default=""),
    Column("token", Integer, nullable=False, server_default="0"),
)

def _history(name: str, held: Column) -> Table:
    """A history table: what each person held on each target over time (`held`), as
    validity intervals in run ids. A row holds from the end of run `from_run` until the
    end of run `to_run` (NULL: still held): the state after run R is the rows with
    from_run <= R < to_run (or to_run NULL), so an interval opened and closed by one run
    (from_run = to_run) is never held."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("target", String(NAME), nullable=False),
        Column("employee_id", String(EMPLOYEE_ID), nullable=False),
        held,
        Column("from_run", Integer, ForeignKey("runs.id"), nullable=False),
        Column("to_run", Integer, ForeignKey("runs.id"), nullable=True),
        Index(None, "target", "employee_id", "to_run"),
        Index(None, "from_run", "to_run"),
    )


account_history = _history("account_history", Column("active", Boolean, nullable=False))
grant_history = _history("grant_history", Column("entitlement", String(ENTITLEMENT), nullable=False))
