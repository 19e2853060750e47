"""The approval rules (jml.approvals), pure: no database. Who may approve or reject an
approval exception, what each decision does, and the one-line refusals."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jml.approvals import (
    Approve,
    Decision,
    DecisionRefused,
    Reject,
    decide,
    waiting_for,
)

DATA = {"bundle": "finance-admin", "rule": "rule 3", "approvers": ["hr", "owner"]}


@dataclass(frozen=True)
class Facts:
    """What the rules read of an exception (the ledger passes its ExceptionRecord)."""

    id: int
    kind: str
    status: str
    data: dict
    employee_id: str | None = "E011"


@dataclass(frozen=True)
class Prior:
    """A decision recorded earlier (the ledger passes its ApprovalRecords)."""

    role: str | None
    approver: str
    decision: str


def exception(kind: str = "approval", status: str = "open", data: dict | None = None) -> Facts:
    return Facts(7, kind, status, DATA if data is None else data)


def approved(role: str, by: str) -> Prior:
    return Prior(role, by, "approved")


def refusal(subject, recorded, request, *rosters_and_people) -> str:
    """The one-line message `decide` refuses `request` with."""
    with pytest.raises(DecisionRefused) as caught:
        decide(subject, recorded, request, *rosters_and_people)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_the_first_of_two_roles_approves_and_the_exception_stays_open():
    decision = decide(exception(), [], Approve("hanna", "hr"))
    assert decision == Decision(
        approver="hanna", role="hr", decision="approved", reason=None, status="open",
        waiting_for=("owner",), action="approve",
        detail={"exception_id": 7, "bundle": "finance-admin", "rule": "rule 3", "role": "hr",
                "status": "open", "waiting_for": ["owner"]},
    )  # fmt: skip


def test_the_last_role_approves_and_the_exception_is_approved():
    decision = decide(exception(), [approved("hr", "hanna")], Approve("omar", "owner"))
    assert (decision.status, decision.waiting_for, decision.role) == ("approved", (), "owner")
    assert decision.detail == {
        "exception_id": 7, "bundle": "finance-admin", "rule": "rule 3", "role": "owner",
        "status": "approved", "waiting_for": [],
    }  # fmt: skip


def test_a_rejection_rejects_at_once_whatever_was_approved():
    decision = decide(exception(), [approved("hr", "hanna")], Reject("omar", "no business need"))
    assert decision == Decision(
        approver="omar", role=None, decision="rejected", reason="no business need",
        status="rejected", waiting_for=(), action="reject",
        detail={"exception_id": 7, "bundle": "finance-admin", "rule": "rule 3", "status": "rejected"},
    )  # fmt: skip


def test_a_recorded_rejection_is_no_approval():
    rejection = Prior(None, "zoe", "rejected")
    assert waiting_for(exception(), [rejection, approved("owner", "omar")]) == ("hr",)


def test_names_are_recorded_without_blanks_and_never_empty():
    assert Approve("  hanna ", "hr").by == "hanna"
    assert Reject(" omar").by == "omar"
    for empty in ("", "  ", None):
        with pytest.raises(DecisionRefused, match="^the approver's name is empty$"):
            Approve(empty, "hr")
        with pytest.raises(DecisionRefused, match="^the approver's name is empty$"):
            Reject(empty)


@pytest.mark.parametrize("again", ["Alice", "ALICE", "alice\u200b", "\u200balice", " alice ", "ａｌｉｃｅ", "al\u00adice"])
def test_one_person_cannot_pass_two_roles_by_spelling_their_name_otherwise(again):
    """Finding 2 of issue 14: `alice`/`Alice`, or a zero-width space, passed both roles."""
    assert refusal(exception(), [approved("hr", "alice")], Approve(again, "owner")) == (
        f"{Approve(again, 'owner').by} has already approved exception 7 as 'hr'; each role needs a different approver"
    )


@pytest.mark.parametrize("request_", [Approve("E011", "hr"), Approve("e011\u200b", "hr"), Reject("E011")])
def test_nobody_decides_a_grant_for_themselves(request_):
    """Finding 2 of issue 14: `E011` approved both roles of their own grant."""
    assert refusal(exception(), [], request_) == f"{request_.by} may not decide exception 7: the grant is for them"


def test_a_name_of_invisible_characters_only_is_empty():
    with pytest.raises(DecisionRefused, match="^the approver's name is empty$"):
        Approve("\u200b\u2060\ufeff", "hr")


def test_refusals_of_an_approval():
    assert refusal(exception(), [], Approve("hanna", "cfo")) == (
        "role 'cfo' may not approve exception 7 (bundle 'finance-admin' lists approvers: hr, owner)"
    )
    assert refusal(exception(data={"bundle": "x"}), [], Approve("hanna", "hr")) == (
        "role 'hr' may not approve exception 7 (bundle 'x' lists approvers: none)"
    )
    assert refusal(exception(), [approved("hr", "hanna")], Approve("someone", "hr")) == (
        "role 'hr' has already approved exception 7 (by hanna)"
    )
    assert refusal(exception(), [approved("hr", "hanna")], Approve("hanna", "owner")) == (
        "hanna has already approved exception 7 as 'hr'; each role needs a different approver"
    )


@pytest.mark.parametrize("request_", [Approve("hanna", "hr"), Reject("hanna")], ids=["approve", "reject"])
def test_only_an_open_approval_can_be_decided(request_):
    assert refusal(exception(kind="sod"), [], request_) == (
        "exception 7 is a sod exception, not an approval"
    )
    assert refusal(exception(status="closed"), [], request_) == (
        "exception 7 is closed: the approval is no longer needed"
    )
    assert refusal(exception(status="approved"), [], request_) == "exception 7 is already approved"
    assert refusal(exception(status="rejected"), [], request_) == "exception 7 is already rejected"


@given(st.permutations(["hr", "owner", "cfo", "audit"]))
def test_approved_exactly_when_the_last_listed_role_approves(order):
    subject = exception(data={**DATA, "approvers": ["hr", "owner", "cfo", "audit"]})
    recorded: list[Prior] = []
    for count, role in enumerate(order, start=1):
        decision = decide(subject, recorded, Approve(f"person-{role}", role))
        assert decision.status == ("approved" if count == len(order) else "open")
        assert set(decision.waiting_for) == set(order[count:])
        recorded.append(approved(role, decision.approver))

