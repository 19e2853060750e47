"""Several HR systems: merging one person's records by precedence, the cross-system
duplicate rule (same email under different employee_ids), and distinct precedences."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from jml.config import Config
from jml.model import IssueKind
from jml.resolve import resolve
from tests.unit.factories import record


def test_attributes_merge_by_precedence_and_lifecycle_comes_whole_from_the_best_source() -> None:
    best = record("E1", source="hr", department="Engineering", location=None, status="active", extra={"grade": "7"})
    other = record("E1", source="hris", department="Sales", location="Paris", status="terminated",
                   termination_date=date(2026, 1, 31), extra={"grade": "9", "desk": "4B"})  # fmt: skip
    resolved = resolve([[best], [other]])
    person = resolved.persons["E1"]
    assert (person.department, person.location) == ("Engineering", "Paris")  # best with a value
    assert (person.status, person.termination_date) == ("active", None)  # never mixed in
    assert person.extra == {"grade": "7", "desk": "4B"}
    assert person.source == "hr" and not resolved.issues


def test_a_person_only_a_lesser_source_holds_takes_its_status() -> None:
    resolved = resolve([[record("E1", source="hr")], [record("E2", source="hris", status="leave")]])
    assert resolved.persons["E2"].status == "leave"


def test_the_same_email_under_two_employee_ids_holds_both_naming_the_sources() -> None:
    resolved = resolve([
        [record("E1", source="hr", email="ada@example.com"), record("E3", source="hr", manager_id="E1")],
        [record("H-77", source="hris", email="Ada@Example.com")],
    ])
    assert resolved.held == {"E1", "H-77"}
    assert set(resolved.persons) == {"E3"}
    duplicates = {i.employee_id: i for i in resolved.issues if i.kind is IssueKind.DUPLICATE}
    assert set(duplicates) == {"E1", "H-77"}
    assert duplicates["E1"].detail == "E1: the same email is held by E1 (hr), H-77 (hris); held until resolved"
    assert duplicates["H-77"].data["sources"] == {"E1": ["hr"], "H-77": ["hris"]}
    # E3's manager is held, not unknown: no data_quality issue, the link stays
    assert resolved.persons["E3"].manager_id == "E1"
    assert not [i for i in resolved.issues if i.kind is IssueKind.DATA_QUALITY]


def test_same_name_and_manager_is_not_a_duplicate() -> None:
    twins = [record("E1", source="hr", first_name="Jo", last_name="Lee", manager_id="M")]
    twins2 = [record("H1", source="hris", first_name="Jo", last_name="Lee", manager_id="M")]
    resolved = resolve([twins + [record("M", source="hr")], twins2])
    assert not resolved.held and set(resolved.persons) == {"E1", "H1", "M"}


def test_sources_must_have_distinct_precedences() -> None:
    base = {"targets": [{"name": "app", "type": "scim", "url": "https://x"}], "policy": "p.yaml"}
    sources = [
        {"name": "hr", "type": "csv", "path": "a.csv"},
        {"name": "hris", "type": "rest", "url": "https://h/w", "items": "data", "fields": {"employee_id": "id"}},
    ]
    with pytest.raises(ValidationError, match="sources hr and hris have the same precedence 1"):
        Config.model_validate({**base, "sources": sources})
    sources[1]["precedence"] = 2
    assert [s.type for s in Config.model_validate({**base, "sources": sources}).sources] == ["csv", "rest"]
