"""Duplicates when jml generates emails (jml.resolve with `reserved`): only HR's emails
count; a record without one is nobody's duplicate; an HR email equal to an address kept
for another person holds that record (not the person it is kept for)."""

from __future__ import annotations

from jml.model import IssueKind
from jml.resolve import resolve
from tests.unit.factories import record

KEPT = {"E1": "jane.doe@corp.example.com"}


def test_records_without_an_email_are_no_duplicates():
    resolved = resolve([[record("E1", email=""), record("E2", email="")]], reserved=KEPT)
    assert set(resolved.persons) == {"E1", "E2"} and not resolved.issues


def test_an_hr_email_kept_for_someone_else_is_a_duplicate_naming_both():
    resolved = resolve([[record("E1", email=""), record("E2", email="Jane.Doe@corp.example.com")]], reserved=KEPT)
    assert set(resolved.persons) == {"E1"} and resolved.held == {"E2"}
    [issue] = resolved.issues
    assert issue.kind is IssueKind.DUPLICATE and issue.employee_id == "E2"
    assert issue.data["employee_ids"] == ["E1", "E2"] and "E1" in issue.detail


def test_the_person_it_is_kept_for_may_get_it_from_hr_too():
    resolved = resolve([[record("E1", email="jane.doe@corp.example.com")]], reserved=KEPT)
    assert set(resolved.persons) == {"E1"} and not resolved.issues


def test_a_kept_address_of_a_person_no_longer_in_the_feed_still_holds_an_hr_claim():
    resolved = resolve([[record("E9", source="hr", email="jane.doe@corp.example.com")]], reserved=KEPT)
    assert resolved.held == {"E9"}
    assert resolved.issues[0].data["sources"] == {"E1": [], "E9": ["hr"]}
