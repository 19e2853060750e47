"""The safety guards (jml.guard): deprovision, cumulative and identity, pure."""

from __future__ import annotations

from datetime import date

from jml.config import SafetyConfig
from jml.guard import check
from jml.lifecycle import Ending, has_ended
from jml.model import Account, Snapshot
from jml.operations import Change, Disable, Update
from jml.plan import Plan

SAFETY = SafetyConfig(deprovision_floor=2, max_deprovision_fraction=0.1)
ACCOUNTS = [Account(f"id{i}", f"E{i}", True, {}) for i in range(10)]
SNAPSHOTS = {"app": Snapshot("app", ACCOUNTS)}


def disable(eid: str) -> Disable:
    return Disable(target="app", employee_id=eid, reason="terminated")


def rename(eid: str, attribute: str = "user_name") -> Update:
    return Update(target="app", employee_id=eid, reason="HR attributes changed", changes={attribute: Change("a", "b")})


def test_the_fraction_sets_the_limit_when_it_is_above_the_floor():
    many = {"app": Snapshot("app", [Account(f"id{i}", f"E{i}", True, {}) for i in range(100)])}
    fraction = SafetyConfig(deprovision_floor=2, max_deprovision_fraction=0.1)  # 10% of 100 = 10 > 2
    assert check(Plan(tuple(disable(f"E{i}") for i in range(10))), many, fraction)[0] is None
    halt, figures = check(Plan(tuple(disable(f"E{i}") for i in range(11))), many, fraction)
    assert halt.startswith("deprovision guard") and figures["limit"] == 10


def test_disabled_accounts_do_not_count_as_active():
    accounts = [Account(f"id{i}", f"E{i}", i < 10, {}) for i in range(100)]  # 10 active, 90 disabled
    snapshots = {"app": Snapshot("app", accounts)}
    halve = SafetyConfig(deprovision_floor=1, max_deprovision_fraction=0.5)  # limit 5, not 50
    halt, figures = check(Plan(tuple(disable(f"E{i}") for i in range(6))), snapshots, halve)
    assert figures["active_persons"] == 10 and halt.startswith("deprovision guard")


def test_earlier_runs_persons_count_with_the_plans_once_each():
    plan = Plan((disable("E1"), disable("E2")))
    assert check(plan, SNAPSHOTS, SAFETY)[0] is None  # 2 persons: not over the floor of 2
    halt, figures = check(plan, SNAPSHOTS, SAFETY, earlier={"E1", "E3"})
    assert halt.startswith("cumulative deprovision guard") and "3 in all" in halt
    assert figures["persons"] == 2 and figures["earlier"] == 1
    assert check(plan, SNAPSHOTS, SAFETY, earlier={"E1", "E2"})[0] is None  # the same persons again


def test_logins_changed_of_more_persons_than_the_limit_halt():
    assert check(Plan((rename("E1"), rename("E2", "email"))), SNAPSHOTS, SAFETY)[0] is None
    halt, figures = check(Plan((rename("E1"), rename("E2", "email"), rename("E3"))), SNAPSHOTS, SAFETY)
    assert halt.startswith("identity guard") and figures["logins"] == 3
    other = Plan(tuple(rename(f"E{i}", "department") for i in range(5)))
    assert check(other, SNAPSHOTS, SAFETY)[0] is None  # not a login


def test_every_guard_that_trips_is_named_in_one_line():
    plan = Plan(tuple(disable(f"E{i}") for i in range(3)) + tuple(rename(f"E{i}") for i in range(5, 8)))
    halt, _ = check(plan, SNAPSHOTS, SAFETY)
    assert "deprovision guard" in halt and "identity guard" in halt and "\n" not in halt


def test_a_held_person_has_ended_when_any_row_says_so():
    today = date(2026, 3, 2)
    assert not has_ended([Ending("active"), Ending("leave")], today)
    assert has_ended([Ending("active"), Ending("terminated")], today)
    assert has_ended([Ending("active", termination_date=date(2026, 3, 1))], today)
    assert has_ended([Ending("active", contract_end_date=date(2026, 2, 1))], today)
    assert not has_ended([Ending("active", termination_date=today)], today)  # the last day still has access
