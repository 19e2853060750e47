"""Who may approve (jml.approvals with `Rosters`, and the policy's `roles`), pure: each
refusal of a decision checked against rosters and HR, a manager approving, the
normalisation of approver ids, and the policy errors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
import yaml

from jml.approvals import Approve, DecisionRefused, Reject, Rosters, decide
from jml.config import ConfigError
from jml.policy import load_policy
from tests.unit.test_approvals import refusal as one_line_refusal

ROSTERS = Rosters({"hr": ["E100", "E101"], "owner": ["E200"]})
DATA = {"bundle": "finance-admin", "rule": "admins", "approvers": ["hr", "owner", "manager"]}


@dataclass(frozen=True)
class Facts:
    id: int = 7
    kind: str = "approval"
    status: str = "open"
    data: dict | None = None
    employee_id: str | None = "E011"


@dataclass(frozen=True)
class Person:
    """What the ledger remembers of a person (its PersonState has these)."""

    employee_id: str
    lifecycle: str = "active"
    absent_since: date | None = None
    manager_id: str | None = None


@dataclass(frozen=True)
class Prior:
    role: str | None
    approver: str
    decision: str = "approved"


SUBJECT = Facts(data=DATA)
PEOPLE = [
    Person("E011", manager_id="E300"), Person("E100"), Person("E101"), Person("E200"), Person("E300"),
    Person("E400", lifecycle="suspended"), Person("E401", lifecycle="prehire"),
    Person("E402", lifecycle="terminated"), Person("E403", absent_since=date(2026, 3, 1)),
]  # fmt: skip


def check(request, recorded=(), people=PEOPLE):
    return decide(SUBJECT, list(recorded), request, ROSTERS, people)


def refusal(request, recorded=(), people=PEOPLE) -> str:
    return one_line_refusal(SUBJECT, list(recorded), request, ROSTERS, people)


def test_a_roster_member_approves_and_is_recorded_by_their_employee_id():
    decision = check(Approve(" e100\u200b", "hr"))
    assert (decision.approver, decision.role, decision.status) == ("E100", "hr", "open")


def test_the_persons_manager_approves_as_manager():
    decision = check(Approve("E300", "manager"), [Prior("hr", "E100"), Prior("owner", "E200")])
    assert (decision.approver, decision.status) == ("E300", "approved")


def test_off_the_roster_is_refused():
    assert "E200 is not on the roster of role 'hr'" in refusal(Approve("E200", "hr"))
    assert "not on the roster of role 'owner'" in refusal(Reject("E100", role="owner"))


def test_the_manager_role_is_only_the_persons_manager():
    assert "E100 is not the manager of E011 (HR names E300)" in refusal(Approve("E100", "manager"))
    no_manager = [Person("E011"), Person("E300")]
    assert "HR names no manager" in refusal(Approve("E300", "manager"), people=no_manager)
    unknown_person = [Person("E300")]
    assert "is not the manager of E011" in refusal(Approve("E300", "manager"), people=unknown_person)


@pytest.mark.parametrize(
    ("who", "state"),
    [("E400", "suspended"), ("E401", "prehire"), ("E402", "terminated"), ("E403", "absent from the feed")],
)
def test_an_approver_who_is_not_an_active_person_is_refused(who, state):
    rosters = Rosters({"hr": [who]})
    with pytest.raises(DecisionRefused, match=f"{who} is not an active person in HR \\({state}\\)"):
        decide(SUBJECT, [], Approve(who, "hr"), rosters, PEOPLE)


def test_an_approver_unknown_to_hr_is_refused_even_on_the_roster():
    message = refusal(Approve("E101", "hr"), people=[p for p in PEOPLE if p.employee_id != "E101"])
    assert "E101 is not a person in HR" in message
    assert "is not a person in HR" in refusal(Approve("alice", "hr"))


def test_nobody_decides_their_own_grant_even_on_a_roster():
    rosters = Rosters({"hr": ["E011"]})
    for request in (Approve("e011", "hr"), Reject("E011\u200b", role="hr")):
        with pytest.raises(DecisionRefused, match="the grant is for them"):
            decide(SUBJECT, [], request, rosters, PEOPLE)


@pytest.mark.parametrize("again", ["E100", "e100", "E100\u200b", "\uff25100"])  # fullwidth E: NFKC
def test_an_approver_who_decided_one_role_cannot_decide_another(again):
    rosters = Rosters({"hr": ["E100"], "owner": ["E100"]})
    for request in (Approve(again, "owner"), Reject(again, role="owner")):
        with pytest.raises(DecisionRefused, match="has already approved exception 7 as 'hr'"):
            decide(SUBJECT, [Prior("hr", "E100")], request, rosters, PEOPLE)


def test_with_rosters_a_rejection_names_its_role():
    assert "name the role you act as" in refusal(Reject("E100"))
    decision = check(Reject("E100", "no need", role="hr"))
    assert (decision.approver, decision.role, decision.status) == ("E100", "hr", "rejected")
    assert decision.detail["role"] == "hr"


def test_without_rosters_names_stay_free():
    decision = decide(SUBJECT, [], Approve("Alice", "hr"))
    assert decision.approver == "Alice"
    assert decide(SUBJECT, [Prior("hr", "alice")], Reject("Alice")).status == "rejected"


# ------------------------------------------------------------------------- policy

BUNDLES = {"fa": {"grants": {"app": ["x"]}, "risk": "high", "approvers": ["hr", "manager"]}}


def policy_file(tmp_path: Path, **extra) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump({"bundles": BUNDLES, "rules": [], **extra}), encoding="utf-8")
    return path


def test_a_policy_with_rosters_gives_them_to_the_rules(tmp_path):
    policy = load_policy(policy_file(tmp_path, roles={"hr": ["E100"]}), {"app"})
    rosters = policy.rosters()
    assert rosters is not None and rosters.lists("hr", "e100") and not rosters.lists("hr", "e101")
    assert load_policy(policy_file(tmp_path), {"app"}).rosters() is None


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        ({"owner": ["E1"]}, "bundles.fa.approvers: role 'hr' has no roster in roles"),
        ({"hr": ["E1"], "manager": ["E2"]}, "roles.manager: the built-in role manager"),
        ({"hr": []}, "roles.hr"),
        ({"hr": ["not an id"]}, "roles.hr.0"),
        ({"hr": "E1"}, "roles.hr"),
    ],
)
def test_policy_errors_of_roles_are_one_line_naming_the_file(tmp_path, roles, expected):
    path = policy_file(tmp_path, roles=roles)
    with pytest.raises(ConfigError) as caught:
        load_policy(path, {"app"})
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and expected in message
