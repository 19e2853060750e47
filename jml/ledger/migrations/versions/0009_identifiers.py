"""identifiers

The identifiers jml generated (`identifiers`, SPEC "Generated identifiers"): kept for
good, one of each kind per person.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identifiers",
        sa.Column("kind", sa.String(255), nullable=False),
        sa.Column("value", sa.String(255), nullable=False),
        sa.Column("employee_id", sa.String(64), nullable=False),
        sa.Column(
            "created_run",
            sa.Integer(),
            sa.ForeignKey("runs.id", name="fk_identifiers_created_run_runs"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("kind", "value", name="pk_identifiers"),
    )
    op.create_index("ix_identifiers_kind_employee_id", "identifiers", ["kind", "employee_id"], unique=True)


def downgrade() -> None:
    op.drop_index("ix_identifiers_kind_employee_id", table_name="identifiers")
    op.drop_table("identifiers")
