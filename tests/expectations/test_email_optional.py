"""The feed suite with `naming.email` set (`email_required=False`): the email column may
be missing and a row may lack an email (its record's email is "", one is generated
later); an email HR gives must still pass the email rules."""

from __future__ import annotations

from expectations.hr_feed import RULES, build_suite, rule_of
from expectations.runner import validate_feed
from tests.expectations.test_hr_feed_suite import feed, person


def test_without_an_email_column_every_row_is_valid_and_waits_for_one():
    rows = [{k: v for k, v in person(i).items() if k != "email"} for i in (1, 2)]
    checked = validate_feed(feed(rows), source="hr", max_invalid_fraction=0.0, email_required=False)
    assert checked.halt is None and checked.issues == []
    assert [r.email for r in checked.records] == ["", ""]
    required = validate_feed(feed(rows), source="hr", max_invalid_fraction=0.0)
    assert required.halt == "feed hr lacks required column(s): email"


def test_an_empty_email_waits_and_a_bad_one_is_still_quarantined():
    rows = [person(1, email=None), person(2, email="not-an-address"), person(3, email="Jane@Example.com")]
    checked = validate_feed(feed(rows), source="hr", max_invalid_fraction=1.0, email_required=False)
    assert [(r.employee_id, r.email) for r in checked.records] == [("E001", ""), ("E003", "jane@example.com")]
    assert [issue.data["rules"] for issue in checked.issues] == [["email_valid"]]


def test_the_suite_drops_only_email_present():
    names = [rule_of(e) for e in build_suite(["email"], email_required=False).expectations]
    assert "email_present" not in names and "email_valid" in names
    assert set(RULES) - set(names) == {"email_present", *(r for r in RULES if "termination" in r or "contract" in r)}
