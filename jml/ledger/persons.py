"""Person states: what the ledger remembers of each person between runs (lifecycle,
termination date, since when absent from the feed, their manager), and in which runs it
was first and last seen. Set-based: one read of what exists, then executemany batches."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.engine import Engine

from jml.ledger import tables as t
from jml.ledger.engine import IN_BATCH, chunks, execute_many, read, text_of, write
from jml.ledger.records import PersonState

_p = t.persons.c
_STATE = (_p.employee_id, _p.lifecycle, _p.terminated_on, _p.absent_since, _p.manager_id)


def states(engine: Engine) -> dict[str, PersonState]:
    """Every person the ledger knows, by employee_id."""
    with read(engine) as conn:
        rows = conn.execute(select(*_STATE)).all()
    return {row[0]: PersonState(*row) for row in rows}


def save(engine: Engine, run_id: int, wanted: Iterable[PersonState]) -> None:
    """Insert or update these persons' states; the seen/absent rule of first_seen_run
    and last_seen_run is `Ledger.save_person_states`'s."""
    by_id: dict[str, PersonState] = {s.employee_id: s for s in wanted}
    if not by_id:
        return
    with write(engine) as conn:
        existing = {row[0]: tuple(row[1:]) for row in conn.execute(select(*_STATE))}
        new, changed, seen = [], [], []
        for employee_id, state in by_id.items():
            lifecycle = text_of(state.lifecycle)
            old = existing.get(employee_id)
            if old is None:
                new.append(
                    {
                        "employee_id": employee_id,
                        "lifecycle": lifecycle,
                        "terminated_on": state.terminated_on,
                        "absent_since": state.absent_since,
                        "manager_id": state.manager_id,
                    }
                )
            elif old != (lifecycle, state.terminated_on, state.absent_since, state.manager_id):
                changed.append(
                    {
                        "b_id": employee_id,
                        "b_lifecycle": lifecycle,
                        "b_terminated_on": state.terminated_on,
                        "b_absent_since": state.absent_since,
                        "b_manager_id": state.manager_id,
                        "b_run": run_id if state.absent_since is None else None,
                    }
                )
            elif state.absent_since is None:
                seen.append(employee_id)
        execute_many(conn, insert(t.persons).values(first_seen_run=run_id, last_seen_run=run_id), new)
        if changed:
            statement = (
                update(t.persons)
                .where(_p.employee_id == bindparam("b_id"))
                .values(
                    lifecycle=bindparam("b_lifecycle"),
                    terminated_on=bindparam("b_terminated_on"),
                    absent_since=bindparam("b_absent_since"),
                    manager_id=bindparam("b_manager_id"),
                    last_seen_run=func.coalesce(bindparam("b_run"), _p.last_seen_run),
                )
            )
            execute_many(conn, statement, changed)
        for chunk in chunks(seen, IN_BATCH):
            conn.execute(update(t.persons).where(_p.employee_id.in_(chunk)).values(last_seen_run=run_id))
