"""person manager

Each person's manager (`persons.manager_id`) as HR named them at the last run that had
the person: what the built-in approver role `manager` is checked against when a
decision is recorded. Existing persons have none until the next run saves their state.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("persons") as table:
        table.add_column(sa.Column("manager_id", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("persons") as table:
        table.drop_column("manager_id")
