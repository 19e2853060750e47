"""The write-ahead journal: an operation is recorded `pending` before it is applied
and settled `done` or `failed` after, so that a run which stopped mid-apply leaves
behind exactly what it may or may not have done.

An operation is stored as its target, employee_id, action, account id, reason and
`detail` (its JSON, as `jml plan --json` prints it); `jml.operations.from_journal`
makes it again from a `JournalRecord`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Engine

from jml.ledger import runs
from jml.ledger import tables as t
from jml.ledger.engine import columns_of, execute_many, now, read, text_of, write
from jml.ledger.records import JournalRecord
from jml.operations import Operation

_o = t.operations.c
SETTLED = ("done", "failed")


def pending(engine: Engine, run_id: int, operations: Sequence[Operation]) -> list[int]:
    """Record operations as `pending`; returns their ids in the order given. `seq`
    continues after the run's earlier operations; LedgerError for an unknown run."""
    if not operations:
        return []
    created = now()
    with write(engine) as conn:
        # Lock the run so that concurrent batches of one run get distinct `seq`s.
        runs.require(conn, run_id, lock=True)
        start = conn.execute(select(func.coalesce(func.max(_o.seq), 0)).where(_o.run_id == run_id)).scalar_one()
        rows = [
            {
                "seq": start + index,
                "target": op.target,
                "employee_id": op.employee_id,
                "action": text_of(op.action),
                "account_id": op.account_id,
                "detail": op.detail,
                "reason": op.reason,
            }
            for index, op in enumerate(operations, start=1)
        ]
        statement = insert(t.operations).values(
            run_id=run_id, status="pending", error=None, created_at=created, updated_at=created
        )
        execute_many(conn, statement, rows)
        # (run_id, seq) is unique per run; reading the ids back is faster and more
        # portable than INSERT .. RETURNING in executemany.
        return list(conn.execute(select(_o.id).where(_o.run_id == run_id, _o.seq > start).order_by(_o.seq)).scalars())


def finish(engine: Engine, results: Iterable[tuple[int, str, str | None]]) -> None:
    """Settle journalled operations: (id, 'done' | 'failed', error or None) each;
    ValueError for any other status."""
    params = []
    for operation_id, status, error in results:
        if status not in SETTLED:
            raise ValueError(f"operation status {status!r} is not 'done' or 'failed'")
        params.append({"b_id": operation_id, "b_status": status, "b_error": error})
    if not params:
        return
    statement = (
        update(t.operations)
        .where(_o.id == bindparam("b_id"))
        .values(status=bindparam("b_status"), error=bindparam("b_error"), updated_at=now())
    )
    with write(engine) as conn:
        execute_many(conn, statement, params)


def unsettled(engine: Engine) -> list[JournalRecord]:
    """Operations still `pending`, from any run (a run that stopped mid-apply)."""
    with read(engine) as conn:
        rows = conn.execute(
            select(*columns_of(t.operations, JournalRecord)).where(_o.status == "pending").order_by(_o.id)
        ).all()
    return [JournalRecord(*row) for row in rows]
