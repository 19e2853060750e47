"""The owner rule (jml.owners): who works each kind of exception, and how
`--owner NAME` matches an owner of several names."""

from __future__ import annotations

import pytest

from jml.model import Issue, IssueKind
from jml.owners import DEFAULT_OWNER, Owners, approval_owner, owns
from jml.resolve import resolve
from tests.unit.factories import record

OWNERS = Owners(
    default="iam-team",
    sources={"hr": "hr-data", "contractors": "vendor-desk", "interns": "hr-data"},
    targets={"app": "app-admins", "dir": "ldap-ops"},
)


def owner(kind: IssueKind, employee_id: str | None = "E1", target: str | None = None, **data) -> str:
    return OWNERS.of(Issue(kind, f"{kind}:x", "detail", employee_id=employee_id, target=target, data=data))


def test_a_quarantine_goes_to_its_sources_owner():
    assert owner(IssueKind.QUARANTINE, source="contractors", row=3, rules=["x"]) == "vendor-desk"
    assert owner(IssueKind.QUARANTINE, employee_id=None, source="hr", row=4) == "hr-data"


def test_a_duplicate_goes_to_the_owners_of_the_sources_holding_that_person():
    sources = {"E1": ["contractors", "hr"], "E2": ["interns"]}
    assert owner(IssueKind.DUPLICATE, "E1", sources=sources) == "hr-data,vendor-desk"  # config order, once each
    assert owner(IssueKind.DUPLICATE, "E2", sources=sources) == "hr-data"


def test_a_data_quality_issue_goes_to_the_owners_of_the_persons_sources():
    assert owner(IssueKind.DATA_QUALITY, manager_id="M9", sources=["contractors"]) == "vendor-desk"


def test_an_absent_person_goes_to_every_sources_owner():
    assert owner(IssueKind.ABSENT, absent_since="2026-01-01") == "hr-data,vendor-desk"


def test_an_approval_goes_to_the_roles_it_waits_for():
    assert owner(IssueKind.APPROVAL, approvers=["hr", "business-owner"]) == "hr,business-owner"
    assert owner(IssueKind.APPROVAL, approvers=[]) == "iam-team"
    assert approval_owner(("business-owner",), "hr,business-owner") == "business-owner"
    assert approval_owner((), "hr,business-owner") == "hr,business-owner"


@pytest.mark.parametrize(
    ("kind", "target", "expected"),
    [
        (IssueKind.CONFLICT, "app", "app-admins"),
        (IssueKind.FAILED_OPERATION, "dir", "ldap-ops"),
        (IssueKind.DRIFT, "app", "app-admins"),
        (IssueKind.ORPHAN, "dir", "ldap-ops"),
        (IssueKind.FAILED_OPERATION, "gone", "iam-team"),  # a target the config no longer has
    ],
)
def test_target_kinds_go_to_their_targets_owner(kind, target, expected):
    assert owner(kind, target=target) == expected


@pytest.mark.parametrize("kind", [IssueKind.SOD, IssueKind.SAFETY_HALT])
def test_sod_and_safety_halts_go_to_the_default_owner(kind):
    assert owner(kind, target="app") == "iam-team"


def test_a_source_the_config_does_not_know_goes_to_the_default_owner():
    assert owner(IssueKind.QUARANTINE, source="old-feed") == "iam-team"
    assert owner(IssueKind.DATA_QUALITY, manager_id="M9") == "iam-team"


def test_every_kind_has_an_owner_and_without_a_config_it_is_iam():
    for kind in IssueKind:
        assert OWNERS.of(Issue(kind, "k", "d", target="app", data={"source": "hr", "approvers": ["hr"]}))
        assert Owners().of(Issue(kind, "k", "d", target="app", data={"source": "hr"})) == DEFAULT_OWNER


def test_owns_matches_whole_names_only():
    assert owns("hr,business-owner", "hr") and owns("hr,business-owner", "business-owner")
    assert owns("iam", "iam")
    assert not owns("hr,business-owner", "business") and not owns("hr-data", "hr") and not owns(None, "hr")


def test_the_issues_resolve_finds_name_their_sources_so_they_reach_the_sources_owners():
    """The rule reads the sources from the issues' data: resolve must put them there."""
    resolved = resolve([
        [record("E1", source="hr", email="ada@example.com"), record("E2", source="hr", manager_id="M9")],
        [record("H-7", source="contractors", email="Ada@Example.com"), record("E2", source="interns")],
    ])
    owners = {(i.kind.value, i.employee_id): OWNERS.of(i) for i in resolved.issues}
    assert owners == {
        ("duplicate", "E1"): "hr-data",
        ("duplicate", "H-7"): "vendor-desk",
        ("data_quality", "E2"): "hr-data",  # hr and interns: one owner, once
    }
