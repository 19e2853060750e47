"""known state

What jml knows of each target between runs (`known_targets`, `known_accounts`; SPEC
"Incremental runs"): a run that follows a full read plans against it and reads only
what changed.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "known_targets",
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("config", sa.String(64), nullable=False),
        sa.Column("full_read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("memo", sa.JSON(), nullable=False),
        sa.Column("groups", sa.JSON(), nullable=False),
        sa.Column("held", sa.JSON(), nullable=False),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("target", name="pk_known_targets"),
    )
    op.create_table(
        "known_accounts",
        sa.Column("target", sa.String(255), nullable=False),
        sa.Column("account_id", sa.Text(), nullable=False),
        sa.Column("account", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("target", "account_id", name="pk_known_accounts"),
    )


def downgrade() -> None:
    op.drop_table("known_accounts")
    op.drop_table("known_targets")
