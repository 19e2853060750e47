"""initial ledger schema

Runs, persons, accounts, grants, operations (the journal), exceptions, approvals, audit.

Revision ID: 0001
Revises:
Create Date: 2026-05-20

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RUN_STATUSES = ("running", "converged", "attention", "halted", "failed", "dry_run")
OPERATION_STATUSES = ("pending", "done", "failed")
EXCEPTION_STATUSES = ("open", "closed", "approved", "rejected")
DECISIONS = ("approved", "rejected")


def _one_of(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return sa.CheckConstraint(f"{column} IN ({listed})", name=name)


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk_run(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["runs.id"], name=f"fk_{table}_{column}_runs")


def upgrade() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _ts("started_at"),
        _ts("finished_at", nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("override_safety", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_runs"),
        _one_of("status", RUN_STATUSES, "ck_runs_status"),
    )
    op.create_table(
        "persons",
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("first_seen_run", sa.Integer(), nullable=False),
        sa.Column("last_seen_run", sa.Integer(), nullable=False),
        sa.Column("lifecycle", sa.String(32), nullable=False),
        sa.Column("terminated_on", sa.Date(), nullable=True),
        sa.Column("absent_since", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("employee_id", name="pk_persons"),
        _fk_run("persons", "first_seen_run"),
        _fk_run("persons", "last_seen_run"),
    )
    op.create_table(
        "accounts",
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("account_id", sa.Text(), nullable=False),
        sa.Column("created_run", sa.Integer(), nullable=False),
        sa.Column("updated_run", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("target", "employee_id", name="pk_accounts"),
        _fk_run("accounts", "created_run"),
        _fk_run("accounts", "updated_run"),
    )
    op.create_table(
        "grants",
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("entitlement", sa.String(512), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        _ts("granted_at"),
        sa.PrimaryKeyConstraint("target", "employee_id", "entitlement", name="pk_grants"),
        _fk_run("grants", "run_id"),
    )
    op.create_table(
        "operations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("account_id", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_operations"),
        _fk_run("operations", "run_id"),
        _one_of("status", OPERATION_STATUSES, "ck_operations_status"),
    )
    op.create_index("ix_operations_run_id_seq", "operations", ["run_id", "seq"], unique=True)
    op.create_index("ix_operations_status", "operations", ["status"])
    op.create_table(
        "exceptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=True),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_run", sa.Integer(), nullable=False),
        sa.Column("closed_run", sa.Integer(), nullable=True),
        _ts("opened_at"),
        _ts("closed_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_exceptions"),
        _fk_run("exceptions", "opened_run"),
        _fk_run("exceptions", "closed_run"),
        _one_of("status", EXCEPTION_STATUSES, "ck_exceptions_status"),
    )
    op.create_index("ix_exceptions_key_status", "exceptions", ["key", "status"])
    op.create_index("ix_exceptions_status_kind", "exceptions", ["status", "kind"])
    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("exception_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(255), nullable=True),
        sa.Column("approver", sa.String(255), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        _ts("at"),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
        sa.ForeignKeyConstraint(["exception_id"], ["exceptions.id"], name="fk_approvals_exception_id_exceptions"),
        _one_of("decision", DECISIONS, "ck_approvals_decision"),
    )
    op.create_index("ix_approvals_exception_id", "approvals", ["exception_id"])
    op.create_table(
        "audit",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _ts("at"),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=True),
        sa.Column("target", sa.String(255), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_audit"),
        _fk_run("audit", "run_id"),
    )
    op.create_index("ix_audit_employee_id", "audit", ["employee_id"])
    op.create_index("ix_audit_run_id", "audit", ["run_id"])


def downgrade() -> None:
    for table in (
        "audit",
        "approvals",
        "exceptions",
        "operations",
        "grants",
        "accounts",
        "persons",
        "runs",
    ):
        op.drop_table(table)
