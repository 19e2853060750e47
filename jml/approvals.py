"""The approval rules: who may decide a high-risk grant, and what a decision does.

Pure: no database, no I/O. The ledger reads an approval exception and the decisions
already recorded on it, asks `decide` what a request does, and writes the answer in
the same transaction::

    request = Approve(by="hanna", role="hr")       # DecisionRefused: empty name
    decision = decide(exception, recorded, request)  # DecisionRefused: not allowed

The rules:
- Only an `open` exception of kind `approval` can be decided (a closed one is no
  longer needed; an approved or rejected one is decided already).
- An approval names a role the bundle lists (`data["approvers"]`); each role approves
  once, and each by a different person. When every listed role has approved, the
  exception is `approved`.
- A rejection by anyone rejects the exception at once (with rosters: by anyone who
  may act as the listed role it names; a role it names must be listed).
- Nobody decides a grant for themselves (an approver named like the grant's
  employee_id is refused), nor decides two roles of one exception.
- With `Rosters` (the policy's `roles`), an approver is an employee_id and the decision
  names its role (a rejection too). It is refused unless that person is known to HR
  and active (lifecycle `active`, not absent from the feed: see `is_active`) and is on
  the role's roster; for the built-in role `manager`, is the grant's person's current
  manager. What HR says of the persons comes from the caller (`people`: the ledger's
  person states), and the decision is recorded under the person's employee_id.
  Without rosters, approver names are free text.
- Names are compared as `approver_key` makes them: Unicode NFKC, case folded, with
  invisible characters (format and control characters, such as a zero-width space)
  removed and blanks collapsed, so `alice`, `Alice` and `alice\u200b` are one approver.
  A name is recorded NFKC-normalised, without invisible characters or surrounding blanks.

Every refusal raises `DecisionRefused` with a one-line message for the user.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

from jml.model import IssueKind

APPROVAL = IssueKind.APPROVAL.value
OPEN, CLOSED, APPROVED, REJECTED = "open", "closed", "approved", "rejected"
#: The built-in approver role: the grant's person's current manager (no roster).
MANAGER = "manager"


class DecisionRefused(Exception):
    """The rules do not allow this decision; the message is one line for the user."""


class Subject(Protocol):
    """The facts of the exception a decision is about (an ExceptionRecord has them)."""

    @property
    def id(self) -> int: ...
    @property
    def employee_id(self) -> str | None: ...
    @property
    def kind(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def data(self) -> Mapping[str, Any]: ...


class Recorded(Protocol):
    """A decision already recorded on the exception (an ApprovalRecord has these)."""

    @property
    def role(self) -> str | None: ...
    @property
    def approver(self) -> str: ...
    @property
    def decision(self) -> str: ...


class Known(Protocol):
    """What HR said of a person at the last run (a ledger PersonState has these)."""

    @property
    def employee_id(self) -> str: ...
    @property
    def lifecycle(self) -> str: ...
    @property
    def absent_since(self) -> date | None: ...
    @property
    def manager_id(self) -> str | None: ...


def is_active(person: Known) -> bool:
    """An active person in HR: lifecycle `active` and present in the last feed. Not a
    pre-hire (not started yet), nor a person on leave, terminated or absent."""
    return person.lifecycle == "active" and person.absent_since is None


@dataclass(frozen=True, slots=True)
class Rosters:
    """The policy's `roles`: role -> the employee_ids who may act as it."""

    roles: Mapping[str, Sequence[str]]

    def lists(self, role: str, key: str) -> bool:
        """Whether the approver whose `approver_key` is `key` is on `role`'s roster."""
        return any(approver_key(member) == key for member in self.roles.get(role, ()))


def _visible(name: str) -> str:
    """`name` NFKC-normalised, without format or control characters, blanks collapsed."""
    normal = unicodedata.normalize("NFKC", name)
    kept = "".join(ch for ch in normal if unicodedata.category(ch) not in ("Cf", "Cc"))
    return " ".join(kept.split())


def approver_key(name: str | None) -> str:
    """How approver names (and ids) are compared: one key per person (see above)."""
    return _visible(name or "").casefold()


def _approver_name(name: str | None) -> str:
    """The name recorded for an approver (see above), never empty."""
    cleaned = _visible(name or "")
    if not cleaned:
        raise DecisionRefused("the approver's name is empty")
    return cleaned


@dataclass(frozen=True, slots=True)
class Approve:
    """`by` approves, acting as `role`. Construction refuses an empty name."""

    by: str
    role: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "by", _approver_name(self.by))


@dataclass(frozen=True, slots=True)
class Reject:
    """`by` rejects, for `reason`, acting as `role` (needed with rosters). Construction
    refuses an empty name."""

    by: str
    reason: str | None = None
    role: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "by", _approver_name(self.by))


@dataclass(frozen=True, slots=True)
class Decision:
    """What to record: the approval row (`role` None for a rejection), the exception's
    status afterwards (still `open` until every role has approved), the roles still
    waited for, and the audit entry's action and detail."""

    approver: str
    role: str | None
    decision: str
    reason: str | None
    status: str
    waiting_for: tuple[str, ...]
    action: str
    detail: dict[str, Any]


def approvers_of(subject: Subject) -> list[str]:
    """The roles the bundle lists as approvers, in its order."""
    return [str(role) for role in (subject.data or {}).get("approvers") or []]


def approved_roles(recorded: Iterable[Recorded]) -> dict[str, str]:
    """Role -> who approved as it, in the order recorded."""
    return {r.role: r.approver for r in recorded if r.decision == APPROVED and r.role is not None}


def waiting_for(subject: Subject, recorded: Iterable[Recorded]) -> tuple[str, ...]:
    """The approver roles that have not approved yet, in the bundle's order."""
    done = approved_roles(recorded)
    return tuple(role for role in approvers_of(subject) if role not in done)


def decide(
    subject: Subject,
    recorded: Iterable[Recorded],
    request: Approve | Reject,
    rosters: Rosters | None = None,
    people: Iterable[Known] = (),
) -> Decision:
    """What `request` does to the approval exception `subject`, given the decisions
    already `recorded` on it; DecisionRefused when the rules do not allow it. With
    `rosters`, `people` are the persons HR knows who might be the approver or the
    grant's person (others are ignored)."""
    _require_open_approval(subject)
    recorded = list(recorded)
    data = subject.data or {}
    if subject.employee_id is not None and approver_key(request.by) == approver_key(subject.employee_id):
        raise DecisionRefused(f"{request.by} may not decide exception {subject.id}: the grant is for them")
    role, by = request.role, request.by
    if role is not None:
        _require_listed(subject, role)
    if rosters is not None:
        by = _rostered(subject, request, rosters, list(people))
    if role is not None:
        _require_no_other_role(subject, recorded, by, role)
    if isinstance(request, Reject):
        return Decision(
            approver=by, role=role, decision=REJECTED, reason=request.reason,
            status=REJECTED, waiting_for=(), action="reject",
            detail={"exception_id": subject.id, "bundle": data.get("bundle"),
                    "rule": data.get("rule"), "status": REJECTED, **({"role": role} if role else {})},
        )  # fmt: skip
    done = approved_roles(recorded)
    if role in done:
        raise DecisionRefused(f"role {role!r} has already approved exception {subject.id} (by {done[role]})")
    waiting = tuple(r for r in approvers_of(subject) if r not in done and r != role)
    status = OPEN if waiting else APPROVED
    return Decision(
        approver=by, role=role, decision=APPROVED, reason=None, status=status,
        waiting_for=waiting, action="approve",
        detail={"exception_id": subject.id, "bundle": data.get("bundle"), "rule": data.get("rule"),
                "role": role, "status": status, "waiting_for": list(waiting)},
    )  # fmt: skip


def _require_listed(subject: Subject, role: str) -> None:
    approvers = approvers_of(subject)
    if role not in approvers:
        raise DecisionRefused(
            f"role {role!r} may not approve exception {subject.id}"
            f" (bundle {(subject.data or {}).get('bundle')!r} lists approvers: {', '.join(approvers) or 'none'})"
        )


def _require_no_other_role(subject: Subject, recorded: list[Recorded], by: str, role: str) -> None:
    """Nobody decides two roles of one exception."""
    for other_role, approver in approved_roles(recorded).items():
        if other_role != role and approver_key(approver) == approver_key(by):
            raise DecisionRefused(
                f"{by} has already approved exception {subject.id} as {other_role!r};"
                " each role needs a different approver"
            )


def _rostered(subject: Subject, request: Approve | Reject, rosters: Rosters, people: list[Known]) -> str:
    """The employee_id of the approver, once HR and the roster say they may act as the
    request's role; DecisionRefused otherwise."""
    role, key = request.role, approver_key(request.by)
    if role is None:
        raise DecisionRefused(
            f"exception {subject.id}: name the role you act as (--role); approvals are checked against rosters"
        )
    found = [person for person in people if approver_key(person.employee_id) == key]
    if len(found) != 1:
        raise DecisionRefused(f"{request.by} is not a person in HR (with rosters an approver is an employee_id)")
    approver = found[0]
    if not is_active(approver):
        state = "absent from the feed" if approver.absent_since is not None else approver.lifecycle
        raise DecisionRefused(f"{approver.employee_id} is not an active person in HR ({state})")
    if role == MANAGER:
        person = next((p for p in people if p.employee_id == subject.employee_id), None)
        manager = person.manager_id if person is not None else None
        if not manager or approver_key(manager) != key:
            raise DecisionRefused(
                f"{approver.employee_id} is not the manager of {subject.employee_id}"
                f" (HR names {manager or 'no manager'})"
            )
    elif not rosters.lists(role, key):
        raise DecisionRefused(f"{approver.employee_id} is not on the roster of role {role!r}")
    return approver.employee_id


def _require_open_approval(subject: Subject) -> None:
    if subject.kind != APPROVAL:
        raise DecisionRefused(f"exception {subject.id} is a {subject.kind} exception, not an approval")
    if subject.status == CLOSED:
        raise DecisionRefused(f"exception {subject.id} is closed: the approval is no longer needed")
    if subject.status != OPEN:
        raise DecisionRefused(f"exception {subject.id} is already {subject.status}")
