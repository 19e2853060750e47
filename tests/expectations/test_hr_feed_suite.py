"""The HR feed suite and its runner: every rule, quarantine, the feed gate, conversion.

GX costs ~0.2 s per validation whatever the size, so most rule tests share one feed
holding one bad row per rule, validated once (the GX context is cached per process).
"""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest

from expectations.hr_feed import (
    EMAIL_REGEX,
    EMPLOYEE_ID_REGEX,
    REAL_DATE_REGEX,
    RULES,
    build_suite,
    rule_of,
)
from expectations.runner import FeedValidation, validate_feed
from jml.model import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, HrRecord, IssueKind

COLUMNS = (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS, "cost_center")


def person(i: int, **changes: str | None) -> dict[str, str | None]:
    row: dict[str, str | None] = {
        "employee_id": f"E{i:03d}",
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "email": f"user{i}@example.com",
        "department": "Engineering",
        "job_code": "ENG-1",
        "location": "Berlin",
        "manager_id": None,
        "employment_type": "employee",
        "status": "active",
        "hire_date": "2024-01-15",
        "termination_date": None,
        "contract_end_date": None,
        "cost_center": "CC1",
    }
    row.update(changes)
    return row


def feed(rows: list[dict], *, first_line: int = 2, columns=None) -> pd.DataFrame:
    """A frame as the CSV source returns it: object cells, `_row` from line 2."""
    columns = list(columns or rows[0].keys())
    frame = pd.DataFrame(
        {name: pd.Series([row.get(name) for row in rows], dtype=object) for name in columns}
    )
    frame["_row"] = pd.Series(range(first_line, first_line + len(rows)), dtype="int64")
    return frame


def validate(frame: pd.DataFrame, fraction: float = 1.0) -> FeedValidation:
    return validate_feed(frame, source="hr", max_invalid_fraction=fraction)


# -- one bad row per rule ------------------------------------------------------------

#: (rule reported, changes that break it). Each case is one row of one shared feed.
CASES: list[tuple[str, dict]] = [
    ("employee_id_present", {"employee_id": None}),
    ("employee_id_present", {"employee_id": "   "}),
    ("employee_id_format", {"employee_id": "E 17"}),
    ("employee_id_format", {"employee_id": "E" * 65}),
    ("employee_id_format", {"employee_id": "Émile"}),
    ("first_name_present", {"first_name": None}),
    ("first_name_present", {"first_name": " \t "}),
    ("last_name_present", {"last_name": ""}),
    ("email_present", {"email": None}),
    ("email_valid", {"email": "not-an-address"}),
    ("email_valid", {"email": "a@b"}),
    ("email_valid", {"email": "a..b@example.com"}),
    ("email_valid", {"email": "a@exa mple.com"}),
    ("email_valid", {"email": ".a@example.com"}),
    ("email_valid", {"email": "a@-example.com"}),
    ("department_present", {"department": None}),
    ("job_code_present", {"job_code": " "}),
    ("employment_type_present", {"employment_type": None}),
    ("employment_type_valid", {"employment_type": "Employee"}),
    ("employment_type_valid", {"employment_type": "freelancer"}),
    ("status_present", {"status": None}),
    ("status_valid", {"status": "fired"}),
    ("hire_date_present", {"hire_date": None}),
    ("hire_date_format", {"hire_date": "2024/01/15"}),
    ("hire_date_format", {"hire_date": "15.01.2024"}),
    ("hire_date_format", {"hire_date": "2024-1-15"}),
    ("hire_date_format", {"hire_date": "２０２４-01-15"}),  # fullwidth digits
    ("hire_date_real", {"hire_date": "2023-02-29"}),
    ("hire_date_real", {"hire_date": "2024-13-01"}),
    ("hire_date_real", {"hire_date": "0000-01-01"}),
    ("termination_date_format", {"termination_date": "31/12/2024"}),
    ("termination_date_real", {"termination_date": "2024-04-31"}),
    ("termination_not_before_hire", {"termination_date": "2024-01-14"}),
    ("contract_end_date_format", {"contract_end_date": "2025-6-30"}),
    ("contract_end_date_real", {"contract_end_date": "2025-06-31"}),
    ("first_name_no_formula", {"first_name": "=cmd|' /C calc'!A0"}),
    ("first_name_no_formula", {"first_name": "\t=HYPERLINK(\"http://x\")"}),
    ("last_name_no_formula", {"last_name": "+SUM(A1:A9)"}),
    ("department_no_formula", {"department": "@risk"}),
    ("job_code_no_formula", {"job_code": "-2+3"}),
    ("email_no_formula", {"email": "=cmd@example.com"}),  # a valid address: issue 14, finding 10
    ("email_no_formula", {"email": "-2+3@example.com"}),
    ("first_name_too_long", {"first_name": "x" * 4097}),  # issue 14, finding 10: a 50 MB field
    ("location_too_long", {"location": "y" * 5000}),
]

#: Rows whose cells break a rule the runner does not repeat (see MASKED_BY).
MASKED_CASES: list[tuple[list[str], dict]] = [
    (["hire_date_format"], {"hire_date": "garbage"}),
    (["hire_date_format"], {"hire_date": "1999/01/01", "termination_date": "2000-01-01"}),
    (["termination_date_format"], {"termination_date": "1999/01/01"}),
    (["hire_date_real"], {"hire_date": "2024-02-30", "termination_date": "2024-02-01"}),
    (
        ["email_valid", "status_valid", "hire_date_real"],
        {"email": "x", "status": "gone", "hire_date": "2023-02-29"},
    ),
]

GOOD_ROWS = 3  # valid rows at the top of the shared feed (lines 2-4)
DUP_ID = "E900"


@pytest.fixture(scope="module")
def shared() -> tuple[pd.DataFrame, FeedValidation]:
    rows = [person(i) for i in range(GOOD_ROWS)]
    for position, (_, changes) in enumerate(CASES):
        rows.append(person(100 + position, **changes))
    for position, (_, changes) in enumerate(MASKED_CASES):
        rows.append(person(200 + position, **changes))
    rows += [person(300, employee_id=DUP_ID), person(301, employee_id=DUP_ID)]
    frame = feed(rows)
    return frame, validate(frame)


def issue_at(result: FeedValidation, line: int):
    found = [issue for issue in result.issues if issue.data["row"] == line]
    assert len(found) == 1, (line, result.issues)
    return found[0]


def test_every_rule_has_a_case():
    covered = {rule for rule, _ in CASES} | {"employee_id_unique"}
    assert {rule for rule in covered if not rule.endswith("_too_long")} == set(RULES) - {"required_columns"}
    assert {"first_name_too_long", "location_too_long"} <= covered


@pytest.mark.parametrize(
    ("position", "rule", "changes"),
    [(position, rule, changes) for position, (rule, changes) in enumerate(CASES)],
    ids=[f"{rule}-{position}" for position, (rule, _) in enumerate(CASES)],
)
def test_a_row_breaking_a_rule_is_quarantined_with_that_rule(shared, position, rule, changes):
    frame, result = shared
    line = 2 + GOOD_ROWS + position
    issue = issue_at(result, line)
    assert issue.kind is IssueKind.QUARANTINE
    assert issue.data == {"source": "hr", "row": line, "rules": [rule]}
    assert f"hr line {line}" in issue.detail and issue.detail.endswith(f"broke {rule}")
    employee_id = frame.loc[frame["_row"] == line, "employee_id"].iloc[0]
    if rule in ("employee_id_present", "employee_id_format"):
        assert issue.employee_id is None
        assert issue.key == f"quarantine:hr:row{line}"
        assert "(employee_id" not in issue.detail
    else:
        assert issue.employee_id == employee_id
        assert issue.key == f"quarantine:hr:{employee_id}"
        assert issue.detail == f"hr line {line} (employee_id {employee_id}): broke {rule}"
        assert employee_id in result.held
    assert line not in {record.row for record in result.records}


@pytest.mark.parametrize(
    ("position", "rules"), [(position, rules) for position, (rules, _) in enumerate(MASKED_CASES)]
)
def test_a_rule_implied_by_another_is_not_repeated(shared, position, rules):
    _, result = shared
    line = 2 + GOOD_ROWS + len(CASES) + position
    assert issue_at(result, line).data["rules"] == rules


def test_every_row_sharing_an_employee_id_is_quarantined(shared):
    _, result = shared
    first = 2 + GOOD_ROWS + len(CASES) + len(MASKED_CASES)
    issues = [issue_at(result, first), issue_at(result, first + 1)]
    assert [issue.data["rules"] for issue in issues] == [["employee_id_unique"]] * 2
    assert all(issue.employee_id == DUP_ID for issue in issues)
    assert len({issue.key for issue in issues}) == 2, "each row keeps its own exception"
    assert DUP_ID in result.held
    assert DUP_ID not in {record.employee_id for record in result.records}


def test_the_shared_feed_in_numbers(shared):
    frame, result = shared
    bad = len(CASES) + len(MASKED_CASES) + 2
    assert (result.rows, result.invalid) == (len(frame), bad)
    assert len(result.issues) == bad and len(result.records) == GOOD_ROWS
    assert len({issue.key for issue in result.issues}) == bad
    assert [record.row for record in result.records] == [2, 3, 4]
    assert result.halt is None  # max_invalid_fraction 1.0


def test_quarantine_details_never_name_the_person(shared):
    frame, result = shared
    for issue in result.issues:
        row = frame.loc[frame["_row"] == issue.data["row"]].iloc[0]
        for column in ("first_name", "last_name", "email"):
            if row[column] and row[column].strip():
                assert row[column].strip() not in issue.detail


# -- conversion of valid rows ----------------------------------------------------------


def test_valid_rows_become_records():
    rows = [
        person(
            1,
            email="  Ada.Lovelace@Example.COM ",
            first_name=" Ada ",
            location="  ",
            manager_id="E002",
            employment_type="contractor",
            status="terminated",
            termination_date="2024-06-30",
            contract_end_date="2024-12-31",
            cost_center=" CC7 ",
        ),
        person(2, cost_center=None, hire_date="2024-02-29", termination_date="2024-02-29"),
    ]
    result = validate(feed(rows, first_line=5))
    assert result.issues == [] and result.held == set() and result.halt is None
    first, second = result.records
    assert first == HrRecord(
        employee_id="E001",
        first_name="Ada",
        last_name="Last1",
        email="ada.lovelace@example.com",
        department="Engineering",
        job_code="ENG-1",
        employment_type="contractor",
        status="terminated",
        hire_date=date(2024, 1, 15),
        location=None,
        manager_id="E002",
        termination_date=date(2024, 6, 30),
        contract_end_date=date(2024, 12, 31),
        extra={"cost_center": "CC7"},
        source="hr",
        row=5,
    )
    assert second.extra == {} and second.row == 6
    assert second.termination_date == second.hire_date == date(2024, 2, 29)
    assert first.attribute("cost_center") == "CC7"


def test_feed_without_optional_columns():
    rows = [{name: person(1)[name] for name in REQUIRED_COLUMNS}]
    result = validate(feed(rows))
    (record,) = result.records
    assert record.location is None and record.termination_date is None and record.extra == {}


def test_optional_column_rules_only_when_the_column_exists():
    names = lambda columns: [rule_of(e) for e in build_suite(columns).expectations]  # noqa: E731
    bare = names(REQUIRED_COLUMNS)
    assert not any(rule.startswith(("termination", "contract")) for rule in bare)
    full = names(COLUMNS)
    lengths = [f"{column}_too_long" for column in sorted(COLUMNS)]
    assert full == [rule for rule in RULES if rule in full] + lengths  # RULES order, then every column's length
    assert set(full) == set(RULES) | set(lengths)
    assert len(full) == len(set(full))


def test_duplicate_emails_and_unknown_managers_are_left_to_resolve():
    rows = [
        person(1, email="same@example.com"),
        person(2, email="SAME@example.com", manager_id="NOBODY"),
    ]
    result = validate(feed(rows))
    assert result.invalid == 0 and len(result.records) == 2
    assert result.records[1].manager_id == "NOBODY"


def test_a_frame_without_row_numbers_counts_rows_from_one():
    frame = feed([person(1), person(2, email="bad")]).drop(columns="_row")
    result = validate(frame)
    assert result.issues[0].data["row"] == 2 and result.records[0].row == 1


def test_non_text_cells_are_compared_as_text():
    frame = feed([person(1)])
    frame["employee_id"] = pd.Series([12345], dtype=object)
    frame["cost_center"] = pd.Series([7.5], dtype=object)
    frame["location"] = pd.Series([float("nan")], dtype=object)
    frame["manager_id"] = pd.Series([pd.NA], dtype=object)
    (record,) = validate(frame).records
    assert record.employee_id == "12345" and record.extra == {"cost_center": "7.5"}
    assert record.location is None and record.manager_id is None


def test_validations_do_not_leak_into_each_other():
    good = feed([person(1), person(2)])
    bad = feed([person(1), person(2, email="nope")])
    assert validate(good).invalid == 0
    assert validate(bad).invalid == 1
    assert validate(good).invalid == 0


# -- the feed gate -----------------------------------------------------------------------


def test_an_empty_frame_halts():
    result = validate_feed(pd.DataFrame(), source="hr", max_invalid_fraction=0.05)
    assert result.halt == "feed hr is empty"
    assert (result.records, result.issues, result.rows) == ([], [], 0)


def test_a_header_only_feed_halts():
    frame = feed([person(1)]).iloc[0:0]
    assert validate(frame).halt == "feed hr is empty"


def test_missing_required_columns_halt_before_anything_else():
    frame = feed([person(1), person(2, email="bad")]).drop(columns=["status", "email"])
    result = validate(frame)
    assert result.halt == "feed hr lacks required column(s): email, status"
    assert result.records == [] and result.issues == [] and result.rows == 2


def test_a_frame_naming_a_column_twice_halts():
    frame = feed([person(1)])
    frame = pd.concat([frame, frame[["email"]]], axis=1)
    assert validate(frame).halt == "feed hr names column(s) more than once: email"


def gate_feed(bad: int, total: int) -> pd.DataFrame:
    return feed([person(i, status="x" if i < bad else "active") for i in range(total)])


def test_too_many_invalid_rows_halt_the_feed():
    result = validate_feed(gate_feed(12, 100), source="hr", max_invalid_fraction=0.05)
    assert result.halt == (
        "feed hr: 12 of 100 rows (12.0%) are invalid, over max_invalid_fraction 5.0%"
    )
    # What was found is still reported, for the operator and for --override-safety.
    assert (result.rows, result.invalid, len(result.records)) == (100, 12, 88)
    assert len(result.issues) == 12


@pytest.mark.parametrize(
    ("bad", "total", "fraction", "halts"),
    [
        (5, 100, 0.05, False),
        (6, 100, 0.05, True),
        (0, 10, 0.0, False),
        (1, 10, 0.0, True),
        (10, 10, 1.0, False),
    ],
)
def test_the_gate_trips_only_above_the_fraction(bad, total, fraction, halts):
    result = validate_feed(gate_feed(bad, total), source="hr", max_invalid_fraction=fraction)
    assert (result.halt is not None) is halts
    assert result.invalid == bad


def test_the_gate_message_shows_a_difference_at_the_boundary():
    result = validate_feed(gate_feed(501, 10000), source="hr", max_invalid_fraction=0.05)
    assert result.halt == (
        "feed hr: 501 of 10000 rows (5.01%) are invalid, over max_invalid_fraction 5.00%"
    )


# -- the regexes ------------------------------------------------------------------------


def test_the_real_date_regex_agrees_with_the_calendar():
    pattern = re.compile(REAL_DATE_REGEX)
    years = [
        *range(0, 12), *range(96, 104), *range(396, 404),
        1600, 1700, 1800, 1900, 1999, 2000, 2023, 2024, 2100, 2400, 9996, 9999,
    ]  # fmt: skip
    for year in years:
        for month in range(0, 14):
            for day in range(0, 33):
                text = f"{year:04d}-{month:02d}-{day:02d}"
                try:
                    date(year, month, day)
                    real = True
                except ValueError:
                    real = False
                assert bool(pattern.search(text)) is real, text
    for year in range(0, 10000):  # every leap day
        text = f"{year:04d}-02-29"
        real = year > 0 and (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0))
        assert bool(pattern.search(text)) is real, text


@pytest.mark.parametrize(
    "address",
    [
        "a@example.com",
        "first.last+tag@sub.example.co.uk",
        "o'neil@example.ie",
        "A_B-c@x-y.io",
        "x@1.2.3.4.example",
    ],
)
def test_sane_addresses_pass(address):
    assert re.search(EMAIL_REGEX, address)


@pytest.mark.parametrize(
    "address",
    [
        "",
        "a",
        "a@",
        "@example.com",
        "a@example",
        "a@@example.com",
        "a@example..com",
        "a.@example.com",
        "a@example.com.",
        "a b@example.com",
        "a@exam_ple.com",
        "ü@example.com",
        "a@" + "x" * 64 + ".com",
        "x" * 65 + "@example.com",
        "a@" + ("x" * 60 + ".") * 5 + "com",
    ],
)
def test_other_addresses_fail(address):
    assert not re.search(EMAIL_REGEX, address)


def test_employee_id_regex():
    assert re.search(EMPLOYEE_ID_REGEX, "Ab_9-" + "x" * 59)
    assert not re.search(EMPLOYEE_ID_REGEX, "Ab_9-" + "x" * 60)
    assert not re.search(EMPLOYEE_ID_REGEX, "E1\n")  # `$` would let a final newline by
    assert not re.search(EMAIL_REGEX, "a@example.com\n")

