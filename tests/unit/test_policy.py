

from jml.model import IssueKind
from jml.policy import APPROVED, REJECTED, Policy, PolicyEngine, approval_key
from tests.unit.factories import record

POLICY = Policy.model_validate(
    {
        "bundles": {
            "staff": {"grants": {"app": ["all-staff"]}},
            "engineering": {"grants": {"app": ["engineering"], "dir": ["eng"]}},
            "finance-admin": {"grants": {"app": ["finance-admin"]}, "risk": "high",
                              "approvers": ["hr", "business-owner"]},
            "finance-approver": {"grants": {"app": ["finance-approver"]}},
        },
        "rules": [
            {"when": {"employment_type": ["employee", "contractor", "intern"]}, "grant": ["staff"]},
            {"name": "engineers", "when": {"department": ["Engineering"]}, "grant": ["engineering"]},
            {"when": {"job_code": ["FIN-ADM"]}, "grant": ["finance-admin"]},
            {"when": {"job_code": ["FIN-ADM"], "signing": ["yes"]}, "grant": ["finance-approver"]},
        ],
        "sod": [{"name": "pay-and-approve", "bundles": ["finance-admin", "finance-approver"]}],
    }
)
ENGINE = PolicyEngine(POLICY)


def test_rules_give_bundles_with_reasons():
    result = ENGINE.entitle(record(), decisions={}, held={})
    assert result.grants == {
        "app": {"all-staff": "rule rules[0] -> bundle staff", "engineering": "rule engineers -> bundle engineering"},
        "dir": {"eng": "rule engineers -> bundle engineering"},
    }
    assert result.issues == []


def test_match_is_case_sensitive():
    assert "dir" not in ENGINE.entitle(record(department="engineering"), decisions={}, held={}).grants


def test_high_risk_waits_for_approval_then_is_granted():
    fin = record(department="Finance", job_code="FIN-ADM")
    pending = ENGINE.entitle(fin, decisions={}, held={})
    assert "finance-admin" not in pending.grants["app"]
    [issue] = pending.issues
    assert issue.kind is IssueKind.APPROVAL and issue.data["approvers"] == ["hr", "business-owner"]
    key = approval_key("E1", "finance-admin")
    approved = ENGINE.entitle(fin, decisions={key: APPROVED}, held={})
    assert approved.grants["app"]["finance-admin"].endswith("(approved)")
    rejected = ENGINE.entitle(fin, decisions={key: REJECTED}, held={})
    assert "finance-admin" not in rejected.grants["app"]


def test_sod_grants_neither_new_and_keeps_what_is_held():
    both = record(department="Finance", job_code="FIN-ADM", extra={"signing": "yes"})
    fresh = ENGINE.entitle(both, decisions={}, held={})
    assert set(fresh.grants["app"]) == {"all-staff"}
    assert [i.kind for i in fresh.issues] == [IssueKind.SOD]  # SoD before approvals: no approval asked
    kept = ENGINE.entitle(both, decisions={}, held={"app": {"finance-approver"}})
    assert set(kept.grants["app"]) == {"all-staff", "finance-approver"}


def test_any_two_bundles_of_a_longer_sod_entry_conflict():
    """SPEC: rules giving *two* bundles of one `sod` entry conflict, however many
    bundles the entry names; the third need not match."""
    three = PolicyEngine(Policy.model_validate({
        "bundles": {name: {"grants": {"app": [name]}} for name in ("pay", "approve", "audit")},
        "rules": [{"when": {"job_code": ["FIN-ADM"]}, "grant": ["pay", "approve"]}],
        "sod": [{"name": "money", "bundles": ["pay", "approve", "audit"]}],
    }))  # fmt: skip
    result = three.entitle(record(job_code="FIN-ADM"), decisions={}, held={})
    assert not result.grants.get("app")  # neither is newly granted
    [issue] = result.issues
    assert issue.kind is IssueKind.SOD and issue.data == {"sod": "money", "bundles": ["pay", "approve"]}


def test_every_grant_has_a_reason():
    for rec in (record(), record(department="Finance", job_code="FIN-ADM")):
        for grants in ENGINE.entitle(rec, decisions={}, held={}).grants.values():
            assert all(reason.startswith("rule ") for reason in grants.values())


def test_people_sharing_the_rules_attributes_are_matched_once_and_alike():
    """The engine keeps each combination of the rules' attribute values' match: every
    combination, in any order, matches as a fresh engine matches it, and a caller's
    change to what it was given does not reach the next person."""
    import itertools

    shared = PolicyEngine(POLICY)
    combinations = list(itertools.product(
        ["employee", "vendor", None], ["Engineering", "engineering", None], ["FIN-ADM", "X", None], ["yes", None],
    ))  # fmt: skip
    for kind, department, job, signing in combinations + combinations[::-1]:
        person = record(employment_type=kind, department=department, job_code=job,
                        extra={"signing": signing} if signing else {})  # fmt: skip
        matched = shared.matched_bundles(person)
        assert matched == PolicyEngine(POLICY).matched_bundles(person), (kind, department, job, signing)
        matched["planted"] = "by the caller"
    assert len(shared._matched) == len(combinations)
