"""run lock fencing

The fencing token of each acquisition of the run lock, and the pid scope (boot id and
PID namespace) that says whether a holder's pid can be checked from another process.
A lock held when the schema is upgraded gets token 0 (the next acquisition's is 1) and
an empty pid scope (its pid is never checked: only its lease's expiry frees it).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("run_lock") as table:
        table.add_column(sa.Column("pid_scope", sa.String(255), nullable=False, server_default=""))
        table.add_column(sa.Column("token", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    op.execute("DELETE FROM run_lock WHERE holder = ''")  # released: 0002 deletes the row
    with op.batch_alter_table("run_lock") as table:
        table.drop_column("token")
        table.drop_column("pid_scope")
