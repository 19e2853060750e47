"""exception owner

Each exception records who works it (`exceptions.owner`, SPEC "Owners"; the rule is
jml.owners), given when it opens. The migration cannot read the config, so an
exception already in the ledger gets `iam` (the default of `owners.default`), except an
approval still open: it gets the approver roles it still waits for, joined by commas
in the bundle's order (as jml.owners `approval_owner` does, from the bundle's
`approvers` and the approvals recorded), which needs no config. (Frozen here, not
imported: a migration must do tomorrow what it does today.)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEFAULT_OWNER = "iam"

exceptions = sa.table(
    "exceptions", sa.column("id"), sa.column("kind"), sa.column("status"), sa.column("data", sa.JSON),
    sa.column("owner"),
)  # fmt: skip
approvals = sa.table("approvals", sa.column("exception_id"), sa.column("role"), sa.column("decision"))


def upgrade() -> None:
    # NOT NULL with a default: SQLite adds it in place (a batch copy of `exceptions`
    # would trip the approvals' foreign key), and every row has `iam` at once.
    op.add_column("exceptions", sa.Column("owner", sa.Text(), nullable=False, server_default=DEFAULT_OWNER))
    conn = op.get_bind()
    open_approvals = conn.execute(
        sa.select(exceptions.c.id, exceptions.c.data).where(
            exceptions.c.kind == "approval", exceptions.c.status == "open"
        )
    ).all()
    approved = conn.execute(
        sa.select(approvals.c.exception_id, approvals.c.role).where(approvals.c.decision == "approved")
    ).all()
    for exception_id, data in open_approvals:
        done = {role for eid, role in approved if eid == exception_id}
        waiting = [str(role) for role in (data or {}).get("approvers") or () if role not in done]
        owner = ",".join(dict.fromkeys(waiting)) or DEFAULT_OWNER
        conn.execute(sa.update(exceptions).where(exceptions.c.id == exception_id).values(owner=owner))


def downgrade() -> None:
    op.drop_column("exceptions", "owner")
