"""access history

What each person held on each target over time, as validity intervals in run ids
(`account_history`, `grant_history`; see jml.ledger.history). An existing ledger's
history is seeded from what it holds now: each linked account, active or not as the
last done create, enable or disable of the journal left it (else active), held since
the run of that operation (else the run that linked it); each grant since the run that
recorded it. What was held before and let go is not in the ledger, so not seeded.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACCOUNT_STATE = ("create", "enable", "disable")

accounts = sa.table("accounts", sa.column("target"), sa.column("employee_id"), sa.column("created_run"))
grants = sa.table("grants", sa.column("target"), sa.column("employee_id"), sa.column("entitlement"), sa.column("run_id"))
operations = sa.table(
    "operations", sa.column("id"), sa.column("run_id"), sa.column("target"), sa.column("employee_id"),
    sa.column("action"), sa.column("detail", sa.JSON), sa.column("status"),
)  # fmt: skip


def _history_table(name: str, *held: sa.Column) -> sa.Table:
    return op.create_table(
        name,
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=False),
        *held,
        sa.Column("from_run", sa.Integer(), nullable=False),
        sa.Column("to_run", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=f"pk_{name}"),
        sa.ForeignKeyConstraint(["from_run"], ["runs.id"], name=f"fk_{name}_from_run_runs"),
        sa.ForeignKeyConstraint(["to_run"], ["runs.id"], name=f"fk_{name}_to_run_runs"),
    )


def _indexes(name: str) -> None:
    op.create_index(f"ix_{name}_target_employee_id_to_run", name, ["target", "employee_id", "to_run"])
    op.create_index(f"ix_{name}_from_run_to_run", name, ["from_run", "to_run"])


def _account_states(conn: sa.Connection) -> dict[tuple[str, str], tuple[bool, int]]:
    """(target, employee_id) -> (active, run) of the last done create/enable/disable."""
    o = operations.c
    query = (
        sa.select(o.target, o.employee_id, o.action, o.detail, o.run_id)
        .where(o.status == "done", o.action.in_(_ACCOUNT_STATE))
        .order_by(o.id)
    )
    states: dict[tuple[str, str], tuple[bool, int]] = {}
    for target, employee_id, action, detail, run_id in conn.execute(query):
        active = bool((detail or {}).get("active", True)) if action == "create" else action == "enable"
        states[(target, employee_id)] = (active, run_id)
    return states


def upgrade() -> None:
    account_history = _history_table("account_history", sa.Column("active", sa.Boolean(), nullable=False))
    grant_history = _history_table("grant_history", sa.Column("entitlement", sa.String(512), nullable=False))
    conn = op.get_bind()
    states = _account_states(conn)
    seeded = []
    for target, employee_id, created_run in conn.execute(sa.select(accounts.c.target, accounts.c.employee_id,
                                                                    accounts.c.created_run)):  # fmt: skip
        active, since = states.get((target, employee_id), (True, created_run))
        seeded.append({"target": target, "employee_id": employee_id, "active": active, "from_run": since})
    if seeded:
        op.bulk_insert(account_history, seeded)
    g = grants.c
    held = [
        {"target": target, "employee_id": employee_id, "entitlement": entitlement, "from_run": run_id}
        for target, employee_id, entitlement, run_id in conn.execute(
            sa.select(g.target, g.employee_id, g.entitlement, g.run_id)
        )
    ]
    if held:
        op.bulk_insert(grant_history, held)
    _indexes("account_history")
    _indexes("grant_history")


def downgrade() -> None:
    op.drop_table("grant_history")
    op.drop_table("account_history")
