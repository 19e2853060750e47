"""The planner diffs a target's mapped attributes (config `attributes`) like the
canonical ones: created with the account, updated when the feed changes, removed when
the value becomes empty, overriding a canonical attribute of the same name."""

from dataclasses import replace

from jml.config import ScimTarget
from jml.config.attributes import compiled
from jml.model import ACCOUNT_ATTRIBUTES, Account, Lifecycle, Snapshot
from jml.operations import Create, Update
from jml.plan import Desired, build_plan, desired_attributes
from tests.unit.factories import record

COST = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"


def mapping(attributes):
    """The target attributes as the config loads and compiles them."""
    return compiled(ScimTarget(name="app", type="scim", url="http://127.0.0.1:1", attributes=attributes).attributes)


MAPPED = mapping({COST: "{cost_center}", "title": {"from": "job_title", "default": "staff", "case": "upper"}})
HELD = frozenset(ACCOUNT_ATTRIBUTES) | {COST}


def person(eid="E1", **extra):
    return Desired(eid, Lifecycle.ACTIVE, record(eid, extra=extra), {"app": {"all-staff": "rule r"}})


def plan_for(people, accounts=(), mapped=MAPPED):
    snapshot = Snapshot("app", list(accounts), held=HELD)
    return build_plan(
        {d.employee_id: d for d in people}, {"app": snapshot}, {"app": {}}, {"app": {"all-staff"}}, {"app": mapped}
    )


def account(eid="E1", **attrs):
    values = {**desired_attributes(record(eid), None), COST: None}
    values.update(attrs)
    return Account(f"id-{eid}", eid, True, values, {"all-staff"})


def test_a_joiner_is_created_with_the_mapped_attributes():
    create = plan_for([person(cost_center="CC-1", job_title="Dev")]).operations[0]
    assert isinstance(create, Create)
    assert create.attributes[COST] == "CC-1"
    assert create.attributes["title"] == "DEV"  # overrides the canonical title (the job code)
    assert create.attributes["given_name"] == "Ada"


def test_an_empty_value_is_no_value_and_the_default_applies():
    create = plan_for([person()]).operations[0]
    assert create.attributes[COST] is None
    assert create.attributes["title"] == "staff"  # the default comes last, after `case`


def test_a_changed_mapped_value_is_an_update_of_that_attribute_only():
    held = account(**{COST: "CC-1", "title": "DEV"})
    (update,) = plan_for([person(cost_center="CC-2", job_title="dev")], [held]).operations
    assert isinstance(update, Update)
    assert {name: (c.old, c.new) for name, c in update.changes.items()} == {COST: ("CC-1", "CC-2")}


def test_an_emptied_value_removes_the_attribute():
    held = account(**{COST: "CC-1", "title": "DEV"})
    (update,) = plan_for([person(job_title="dev")], [held]).operations
    assert update.new_values() == {COST: None}


def test_an_unchanged_account_has_an_empty_plan():
    held = account(**{COST: "CC-1", "title": "DEV"})
    assert plan_for([person(cost_center="CC-1", job_title="dev")], [held]).operations == ()


def test_without_mapped_attributes_only_the_canonical_ones_are_written():
    create = plan_for([person(cost_center="CC-1")], mapped={}).operations[0]
    assert COST not in create.attributes
    assert create.attributes["title"] == "ENG"


def test_a_mapped_attribute_reads_known_columns_and_dates():
    mapped = mapping({"nickName": "{department}/{hire_date}"})
    desired = replace(person(), record=record("E1", department="Ops"))
    create = plan_for([desired], mapped=mapped).operations[0]
    assert create.attributes["nickName"] == "Ops/2020-01-01"


def test_a_value_longer_than_the_target_holds_is_cut_once_and_named_in_a_data_quality_issue():
    long_cost = "CC-" + "9" * 30 + "  tail"
    limits = {COST: 33, "given_name": 64}
    snapshot = Snapshot("app", [], held=HELD, limits=limits)
    desired = {"E1": person(cost_center=long_cost)}
    plan = build_plan(desired, {"app": snapshot}, {"app": {}}, {"app": {"all-staff"}}, {"app": MAPPED})
    create = next(op for op in plan.operations if isinstance(op, Create))
    assert create.attributes[COST] == long_cost[:33] and create.attributes["given_name"] == "Ada"
    [issue] = plan.issues
    assert (issue.kind, issue.key, issue.target) == ("data_quality", f"data_quality:app:E1:{COST}", "app")
    assert long_cost not in issue.detail and "cut to fit" in issue.detail

    # the account holds the cut value: nothing to write, while HR's value stays too long
    held = Snapshot("app", [account(**{COST: long_cost[:33], "title": "staff"})], held=HELD, limits=limits)
    again = build_plan(desired, {"app": held}, {"app": {}}, {"app": {"all-staff"}}, {"app": MAPPED})
    assert again.operations == () and [i.key for i in again.issues] == [issue.key]
