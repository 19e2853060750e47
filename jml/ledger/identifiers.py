"""Generated identifiers in the ledger (SPEC "Generated identifiers"; the rules are
`jml.naming`): kept for good, one value of each kind per person, never given to anyone
else. Values are stored lowercased; a person's value, once kept, is never changed."""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import insert, select
from sqlalchemy.engine import Engine

from jml.ledger import tables as t
from jml.ledger.engine import execute_many, read, write

_i = t.identifiers.c


def reserved(engine: Engine, kind: str) -> dict[str, str]:
    """employee_id -> the value of `kind` kept for that person."""
    with read(engine) as conn:
        return dict(conn.execute(select(_i.employee_id, _i.value).where(_i.kind == kind)).all())


def reserve(engine: Engine, run_id: int, kind: str, values: Mapping[str, str]) -> None:
    """Keep `values` (employee_id -> value) of `kind`; a person who has one already
    keeps theirs. A value kept for someone else is an IntegrityError: never given twice."""
    with write(engine) as conn:
        known = set(conn.execute(select(_i.employee_id).where(_i.kind == kind)).scalars())
        rows = [
            {"kind": kind, "value": value.lower(), "employee_id": eid, "created_run": run_id}
            for eid, value in values.items()
            if eid not in known
        ]
        execute_many(conn, insert(t.identifiers), rows)
