"""The exception queue: every issue a run finds that people must work becomes an
exception, kept while its cause lasts and closed by the first run that finds it gone.

A live exception is an open one, or an approval already decided (approved, rejected):
its decision stands while the approval is needed. Issues are matched to exceptions by
`key`. `sync` is set-based: one read of the live exceptions of the kinds looked at,
then inserts, refreshes and closes in batches. Each exception gets its owner when it
opens (`Owners.of`) and keeps it while it lives; only an approval's changes, to the
roles still waited for, when one of them approves (jml.ledger.approvals).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Text, and_, bindparam, cast, func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from jml.ledger import tables as t
from jml.ledger.engine import (
    IN_BATCH,
    chunks,
    columns_of,
    execute_many,
    json_dumps,
    now,
    read,
    write,
)
from jml.ledger.errors import LedgerError
from jml.ledger.records import ExceptionRecord
from jml.model import Issue, IssueKind
from jml.owners import EVERYONE_DEFAULT, Owners, owns

APPROVAL = IssueKind.APPROVAL.value
DECIDED = ("approved", "rejected")

_x = t.exceptions.c
_RECORD = columns_of(t.exceptions, ExceptionRecord)


def sync(
    engine: Engine,
    run_id: int,
    issues: Iterable[Issue],
    *,
    kinds: Iterable[IssueKind],
    skip_targets: Iterable[str] = frozenset(),
    owners: Owners = EVERYONE_DEFAULT,
) -> tuple[int, int]:
    """Make the queue agree with the issues a run found of `kinds`; returns (opened,
    closed). See `Ledger.sync_issues`. ValueError for an issue of another kind."""
    kind_values = {IssueKind(kind).value for kind in kinds}
    skipped = set(skip_targets)
    found: dict[str, Issue] = {}
    for issue in issues:
        kind = IssueKind(issue.kind).value
        if kind not in kind_values:
            raise ValueError(f"issue {issue.key!r} is of kind {kind}, not one of `kinds`")
        found[issue.key] = issue
    if not kind_values:
        return (0, 0)
    live_status = or_(_x.status == "open", and_(_x.kind == APPROVAL, _x.status.in_(DECIDED)))
    at = now()
    with write(engine) as conn:
        live = conn.execute(
            select(_x.id, _x.key, _x.employee_id, _x.target, _x.detail, cast(_x.data, Text).label("data")).where(
                _x.kind.in_(sorted(kind_values)), live_status
            )
        ).all()
        live_keys: set[str] = set()
        refresh: list[dict] = []
        close: list[int] = []
        for row in live:
            still = found.get(row.key)
            if still is None:
                if row.target is None or row.target not in skipped:
                    close.append(row.id)
                continue
            live_keys.add(row.key)
            # JSON compared as the text stored (PostgreSQL's json keeps it as sent).
            if (row.detail, row.data, row.employee_id, row.target) != (
                still.detail,
                json_dumps(still.data),
                still.employee_id,
                still.target,
            ):
                refresh.append(
                    {
                        "b_id": row.id,
                        "b_detail": still.detail,
                        "b_data": still.data,
                        "b_employee_id": still.employee_id,
                        "b_target": still.target,
                    }
                )
        new = [
            {
                "kind": IssueKind(issue.kind).value,
                "key": key,
                "employee_id": issue.employee_id,
                "target": issue.target,
                "detail": issue.detail,
                "data": issue.data,
                "owner": owners.of(issue),
            }
            for key, issue in found.items()
            if key not in live_keys
        ]
        opening = insert(t.exceptions).values(
            status="open", opened_run=run_id, opened_at=at, closed_run=None, closed_at=None
        )
        execute_many(conn, opening, new)
        if refresh:
            refreshing = (
                update(t.exceptions)
                .where(_x.id == bindparam("b_id"))
                .values(
                    detail=bindparam("b_detail"),
                    data=bindparam("b_data"),
                    employee_id=bindparam("b_employee_id"),
                    target=bindparam("b_target"),
                )
            )
            execute_many(conn, refreshing, refresh)
        for chunk in chunks(close, IN_BATCH):
            conn.execute(
                update(t.exceptions).where(_x.id.in_(chunk)).values(status="closed", closed_run=run_id, closed_at=at)
            )
    return (len(new), len(close))


def listed(engine: Engine, status: str, owner: str | None = None) -> list[ExceptionRecord]:
    """Exceptions with this status, or "all", oldest first, with `owner` only those
    it is one of the owners of (`jml.owners.owns`); LedgerError for another status."""
    query = select(*_RECORD).order_by(_x.id)
    if status != "all":
        if status not in t.EXCEPTION_STATUSES:
            allowed = ", ".join((*t.EXCEPTION_STATUSES, "all"))
            raise LedgerError(f"unknown exception status {status!r} (expected {allowed})")
        query = query.where(_x.status == status)
    if owner is not None:
        query = query.where(_x.owner.contains(owner, autoescape=True))  # then matched exactly
    with read(engine) as conn:
        records = [ExceptionRecord(*row) for row in conn.execute(query)]
    return [r for r in records if owner is None or owns(r.owner, owner)]


def opened_in(engine: Engine, run_id: int) -> list[ExceptionRecord]:
    """The exceptions run `run_id` opened, oldest first."""
    with read(engine) as conn:
        return [
            ExceptionRecord(*row)
            for row in conn.execute(select(*_RECORD).where(_x.opened_run == run_id).order_by(_x.id))
        ]


def count_open(engine: Engine) -> int:
    """How many exceptions are open."""
    with read(engine) as conn:
        return conn.execute(select(func.count()).select_from(t.exceptions).where(_x.status == "open")).scalar_one()


def one(conn: Connection, exception_id: int, *, lock: bool = False) -> ExceptionRecord:
    """The exception `exception_id` (with `lock`, its row held until commit);
    LedgerError if there is none."""
    query = select(*_RECORD).where(_x.id == exception_id)
    if lock:
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise LedgerError(f"no exception with id {exception_id}")
    return ExceptionRecord(*row)
