"""The access review's pure logic (`jml.review`): direct reports or the whole chain,
cycles in HR data, terminated reports left out, an unknown manager, the items and the
CSV a spreadsheet opens."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jml.ledger.records import GrantRecord
from jml.lifecycle import Ending
from jml.resolve import Resolved, resolve
from jml.review import REVIEW_FIELDS, UnknownManager, csv_text, items, reports, under_review
from jml.text import FORMULA_START, spreadsheet_cell
from tests.unit.factories import record

D = date(2026, 3, 10)

#: M0 manages M1 and A; M1 manages B and C (C terminated the day before D); C manages E.
ORG = {
    "M0": record("M0"),
    "M1": record("M1", manager_id="M0"),
    "A": record("A", manager_id="M0"),
    "B": record("B", manager_id="M1", status="leave"),
    "C": record("C", manager_id="M1", termination_date=date(2026, 3, 9)),
    "E": record("E", manager_id="C"),
    "X": record("X"),
}


def review(manager: str, *, all_levels: bool, persons=ORG) -> list[str]:
    return under_review(Resolved(persons), manager, D, all_levels=all_levels)


def test_direct_reports_only_without_all_levels():
    assert review("M0", all_levels=False) == ["A", "M1"]
    assert review("M1", all_levels=False) == ["B"], "C is terminated; B on leave still holds access"


def test_all_levels_is_the_whole_chain_below_even_under_a_terminated_report():
    assert review("M0", all_levels=True) == ["A", "B", "E", "M1"]
    assert review("C", all_levels=True) == ["E"]


def test_a_manager_with_no_reports_has_an_empty_review():
    assert review("X", all_levels=True) == []
    assert review("E", all_levels=False) == []


def test_terminated_is_the_lifecycle_on_the_day():
    persons = {"M": record("M"), "R": record("R", manager_id="M", termination_date=D)}
    assert review("M", all_levels=False, persons=persons) == ["R"], "the last day still has access"
    gone = {**persons, "R": record("R", manager_id="M", status="terminated")}
    assert review("M", all_levels=False, persons=gone) == []
    ended = {**persons, "R": record("R", manager_id="M", employment_type="contractor", contract_end_date=date(2026, 3, 1))}
    assert review("M", all_levels=False, persons=ended) == []


def test_a_cycle_in_hr_data_ends_where_it_closes():
    loop = {"P": record("P", manager_id="Q"), "Q": record("Q", manager_id="R"), "R": record("R", manager_id="P")}
    assert review("P", all_levels=True, persons=loop) == ["Q", "R"], "never P itself, and it ends"
    assert review("P", all_levels=False, persons=loop) == ["R"]
    assert reports({"S": "S"}, "S", all_levels=True) == [], "nobody is their own report"


@given(st.dictionaries(st.sampled_from("ABCDEFGH"), st.none() | st.sampled_from("ABCDEFGH"), min_size=1))
def test_any_org_chart_ends_each_report_once_and_the_chain_holds_the_direct_ones(managers):
    manager = min(managers)
    chain = reports(managers, manager, all_levels=True)
    assert len(chain) == len(set(chain)) and manager not in chain
    direct = reports(managers, manager, all_levels=False)
    assert direct == sorted(e for e, boss in managers.items() if boss == manager and e != manager)
    assert set(direct) <= set(chain)
    line = {manager, *chain}
    assert set(chain) == {e for e, boss in managers.items() if boss in line and e != manager}, "all of the line, no one else"


def test_an_unknown_manager_is_refused_and_a_held_one_is_known():
    with pytest.raises(UnknownManager, match="'NOPE' is not an employee_id of the feed"):
        review("NOPE", all_levels=True)
    # H's row was quarantined (held, never acted on): still in the feed, and R's manager
    resolved = resolve([[record("R", manager_id="H")]], held={"H"})
    assert under_review(resolved, "H", D, all_levels=False) == ["R"]


def test_held_reports_still_hold_access_and_are_reviewed_unless_a_row_ends_it():
    """Two rows sharing an email are held (a duplicate): nothing about them changes, so
    they keep what they hold and their manager reviews it; a held person whose
    quarantined row says terminated is a leaver (the run takes their access)."""
    resolved = resolve(
        [[record("M"), record("D1", manager_id="M", email="same@example.com"),
          record("D2", manager_id="D1", email="same@example.com"), record("Q", manager_id="M")]],
        held={"Q"},
        held_endings={"Q": (Ending("terminated"),)},
    )  # fmt: skip
    assert resolved.held == {"D1", "D2", "Q"}, "the duplicates and the quarantined row are held"
    assert under_review(resolved, "M", D, all_levels=False) == ["D1"], "Q's row ended their access"
    assert under_review(resolved, "M", D, all_levels=True) == ["D1", "D2"]
    assert under_review(resolved, "D1", D, all_levels=False) == ["D2"], "a held manager is known"


SINCE = datetime(2026, 3, 2, 9, 30, 15, 123456, tzinfo=UTC)


def test_items_carry_the_five_fields_in_the_order_given():
    grants = [
        GrantRecord("A", "app", "all-staff", "rule everyone -> bundle staff", SINCE),
        GrantRecord("A", "dir", "eng", "rule engineers -> bundle engineering", SINCE),
    ]
    assert items(grants) == [
        {"employee_id": "A", "target": "app", "entitlement": "all-staff",
         "reason": "rule everyone -> bundle staff", "since": "2026-03-02T09:30:15+00:00"},
        {"employee_id": "A", "target": "dir", "entitlement": "eng",
         "reason": "rule engineers -> bundle engineering", "since": "2026-03-02T09:30:15+00:00"},
    ]  # fmt: skip


@pytest.mark.parametrize("start", FORMULA_START)
def test_a_cell_starting_like_a_formula_is_text(start):
    assert spreadsheet_cell(f"{start}1+1") == f"'{start}1+1"


def test_csv_has_the_header_and_no_cell_a_spreadsheet_would_run():
    hostile = ["-2-3", "=HYPERLINK(\"http://x\",\"y\")", "+1", "@SUM(A1)", "\tTAB", "\rCR", "a,\"b\"\nc"]
    review_items = items(GrantRecord(value, "app", value, value, SINCE) for value in hostile)
    rows = list(csv.reader(io.StringIO(csv_text(review_items), newline="")))
    assert rows[0] == list(REVIEW_FIELDS)
    assert len(rows) == 1 + len(hostile)
    for row, value in zip(rows[1:], hostile, strict=True):
        expected = value if value[0].isalpha() else "'" + value
        assert row == [expected, "app", expected, expected, "2026-03-02T09:30:15+00:00"]
    assert csv_text([]) == "employee_id,target,entitlement,reason,since\r\n"
