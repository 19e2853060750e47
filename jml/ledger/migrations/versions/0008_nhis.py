"""nhis

The registered non-human identities and their owners (`nhis`, SPEC "NHIs"; the rules
are jml.nhi): empty until a run reads a registry.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "nhis",
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("account_key", sa.Text(), nullable=False),
        sa.Column("account", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("registry_owner", sa.String(64), nullable=False),
        sa.Column("owner", sa.String(64), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("review", sa.Boolean(), nullable=False),
        sa.Column(
            "updated_run", sa.Integer(), sa.ForeignKey("runs.id", name="fk_nhis_updated_run_runs"), nullable=False
        ),
        sa.PrimaryKeyConstraint("target", "account_key", name="pk_nhis"),
    )
    op.create_index("ix_nhis_owner", "nhis", ["owner"])


def downgrade() -> None:
    op.drop_index("ix_nhis_owner", table_name="nhis")
    op.drop_table("nhis")
