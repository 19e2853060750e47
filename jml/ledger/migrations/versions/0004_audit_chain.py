"""audit hash chain

Every audit event gets `prev_hash` and `hash` (jml.ledger.chain). The events already
there are chained in id order, as they were written, streaming in batches; the
columns are then made NOT NULL. A ledger from before this revision verifies intact
after it: the chain starts from what the trail held when it was upgraded (what was
done to the trail before the upgrade cannot be proved).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02

"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from jml.ledger import chain
from jml.ledger import tables as t

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Events chained per executemany batch.
_BATCH = 5000


def upgrade() -> None:
    with op.batch_alter_table("audit") as table:
        table.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        table.add_column(sa.Column("hash", sa.String(64), nullable=True))
    conn = op.get_bind()
    audit = sa.table("audit", sa.column("id"), sa.column("prev_hash"), sa.column("hash"))
    update = audit.update().where(audit.c.id == sa.bindparam("b_id"))
    update = update.values(prev_hash=sa.bindparam("b_prev"), hash=sa.bindparam("b_hash"))
    head, after = chain.GENESIS, 0
    while True:  # keyset pages: the updates never disturb a cursor still open
        query = sa.select(t.audit.c.id, *chain.CONTENT).where(t.audit.c.id > after).order_by(t.audit.c.id)
        rows = conn.execute(query.limit(_BATCH)).all()
        if not rows:
            break
        links = chain.chained(head, (chain.content(*row[1:]) for row in rows))
        conn.execute(
            update, [{"b_id": row[0], "b_prev": p, "b_hash": h} for row, (p, h) in zip(rows, links, strict=True)]
        )
        head, after = links[-1][1], rows[-1][0]
    with op.batch_alter_table("audit") as table:
        table.alter_column("prev_hash", existing_type=sa.String(64), nullable=False)
        table.alter_column("hash", existing_type=sa.String(64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("audit") as table:
        table.drop_column("hash")
        table.drop_column("prev_hash")
