"""Approvals in the ledger: recording decisions on approval exceptions, and reading
them back. The rules themselves are `jml.approvals` (pure); each function here reads
the exception (row-locked) and its recorded decisions, asks the rules, and writes the
decision, the exception's new status (and, while it waits for more roles, its owner:
those roles, jml.owners `approval_owner`) and the audit entry, in one transaction.
An `nhi_review` exception is decided by its NHI's owner's confirmation instead
(`jml.ledger.nhis.confirm`).
A refusal of the rules becomes a `LedgerError` with the same one-line message.

With rosters (the policy's `roles`), what HR says of the approver and of the grant's
person is the ledger's person states, as the last run saved them (lifecycle, absence,
manager), read in the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.engine import Connection, Engine

from jml import approvals as rules
from jml.ledger import audit, issues, nhis
from jml.ledger import tables as t
from jml.ledger.engine import columns_of, now, read, write
from jml.ledger.errors import LedgerError
from jml.ledger.records import ApprovalRecord, AuditEntry, ExceptionRecord, PersonState
from jml.model import IssueKind
from jml.owners import approval_owner

NHI_REVIEW = IssueKind.NHI_REVIEW.value
_a = t.approvals.c
_x = t.exceptions.c
_p = t.persons.c


def _recorded(conn: Connection, exception_id: int) -> list[ApprovalRecord]:
    rows = conn.execute(
        select(*columns_of(t.approvals, ApprovalRecord)).where(_a.exception_id == exception_id).order_by(_a.id)
    )
    return [ApprovalRecord(*row) for row in rows]


def _people(conn: Connection, approver: str, employee_id: str | None) -> list[PersonState]:
    """The persons who may be `approver` (employee_ids are ASCII, so SQL's lower() is
    the approval rules' case folding for them) and the grant's person."""
    key = rules.approver_key(approver)
    rows = conn.execute(
        select(_p.employee_id, _p.lifecycle, _p.terminated_on, _p.absent_since, _p.manager_id).where(
            or_(func.lower(_p.employee_id) == key, _p.employee_id == employee_id)
        )
    )
    return [PersonState(*row) for row in rows]


@contextmanager
def _refusal_as_ledger_error() -> Iterator[None]:
    try:
        yield
    except rules.DecisionRefused as exc:
        raise LedgerError(str(exc)) from exc


def approve(engine: Engine, exception_id: int, *, by: str, role: str, rosters: rules.Rosters | None) -> ExceptionRecord:
    """Record `by`'s approval as `role`; returns the exception afterwards."""
    with _refusal_as_ledger_error():
        request = rules.Approve(by, role)
    return _record(engine, exception_id, request, rosters)


def reject(
    engine: Engine, exception_id: int, *, by: str, reason: str | None, role: str | None, rosters: rules.Rosters | None
) -> ExceptionRecord:
    """Record `by`'s rejection (acting as `role`); returns the exception afterwards."""
    with _refusal_as_ledger_error():
        request = rules.Reject(by, reason, role)
    return _record(engine, exception_id, request, rosters)


def _record(
    engine: Engine, exception_id: int, request: rules.Approve | rules.Reject, rosters: rules.Rosters | None
) -> ExceptionRecord:
    at = now()
    with write(engine) as conn:
        subject = issues.one(conn, exception_id, lock=True)
        if subject.kind == NHI_REVIEW:
            with _refusal_as_ledger_error():
                _confirm_nhi(conn, subject, request, at)
            return issues.one(conn, exception_id)
        people = _people(conn, request.by, subject.employee_id) if rosters is not None else []
        with _refusal_as_ledger_error():
            decision = rules.decide(subject, _recorded(conn, exception_id), request, rosters, people)
        conn.execute(
            insert(t.approvals).values(
                exception_id=exception_id, role=decision.role, approver=decision.approver,
                decision=decision.decision, reason=decision.reason, at=at,
            )
        )  # fmt: skip
        if decision.status != rules.OPEN:
            conn.execute(update(t.exceptions).where(_x.id == exception_id).values(status=decision.status, closed_at=at))
        else:
            owner = approval_owner(decision.waiting_for, subject.owner)
            conn.execute(update(t.exceptions).where(_x.id == exception_id).values(owner=owner))
        entry = AuditEntry(
            run_id=None, actor=decision.approver, action=decision.action,
            employee_id=subject.employee_id, target=subject.target,
            detail=decision.detail, reason=decision.reason,
        )  # fmt: skip
        audit.insert_entries(conn, [entry], at)
        return issues.one(conn, exception_id)


def _confirm_nhi(conn: Connection, subject: ExceptionRecord, request: rules.Approve | rules.Reject, at) -> None:
    """An `nhi_review` is confirmed by the NHI's owner (`jml.nhi.confirmer`), never rejected."""
    if isinstance(request, rules.Reject):
        raise rules.DecisionRefused(
            f"exception {subject.id} is an NHI review: its owner confirms it (approve --role owner);"
            " to give the NHI to someone else, name them in the registry"
        )
    nhis.confirm(conn, subject, by=request.by, role=request.role, at=at)


def decided(engine: Engine) -> dict[str, str]:
    """Issue key -> "approved" | "rejected", for the approvals decided and still live."""
    with read(engine) as conn:
        rows = conn.execute(
            select(_x.key, _x.status).where(_x.kind == issues.APPROVAL, _x.status.in_(issues.DECIDED))
        ).all()
    return dict(rows)


def recorded(engine: Engine, exception_id: int) -> list[ApprovalRecord]:
    """The decisions recorded on an exception, oldest first; LedgerError if there is
    no such exception."""
    with read(engine) as conn:
        issues.one(conn, exception_id)
        return _recorded(conn, exception_id)
