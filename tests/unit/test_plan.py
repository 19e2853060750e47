from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from jml.config import SafetyConfig
from jml.guard import check
from jml.model import Account, IssueKind, Lifecycle, Snapshot
from jml.operations import Action
from jml.plan import Desired, build_plan, desired_attributes, manager_depths
from tests.unit.factories import apply_to_snapshot, record

MANAGED = {"app": {"all-staff", "engineering", "sales"}}


def desired(eid, state=Lifecycle.ACTIVE, grants=("all-staff",), **fields):
    return Desired(eid, state, record(eid, **fields), {"app": {g: f"rule r -> bundle {g}" for g in grants}})


def plan_for(people, accounts=(), links=None):
    snapshot = Snapshot("app", list(accounts))
    return build_plan({d.employee_id: d for d in people}, {"app": snapshot}, {"app": links or {}}, MANAGED)


def account(eid, active=True, entitlements=(), external=True, **attrs):
    base = desired_attributes(record(eid), None)
    base.update(attrs)
    return Account(f"id-{eid}", eid if external else None, active, base, set(entitlements))


def actions(plan):
    return [(op.employee_id, op.action.value, op.detail.get("entitlement")) for op in plan.operations]


def test_joiner_is_created_then_granted():
    assert actions(plan_for([desired("E1")])) == [("E1", "create", None), ("E1", "grant", "all-staff")]


def test_manager_is_created_before_reports():
    people = [desired("E3", manager_id="E2"), desired("E2", manager_id="E1"), desired("E1")]
    creates = [op.employee_id for op in plan_for(people).operations if op.action is Action.CREATE]
    assert creates == ["E1", "E2", "E3"]
    e3 = next(op for op in plan_for(people).operations if op.employee_id == "E3")
    assert e3.detail["attributes"]["manager"] == "E2"


def test_grants_and_revokes_come_by_group():
    """Within their phase, the grants (and the revokes) of one group follow each other,
    persons in feed order: a batch then changes few groups."""
    people = [desired(eid, grants=("all-staff", "sales")) for eid in ("E2", "E1", "E3")]
    held = [account(eid, entitlements=["engineering"]) for eid in ("E2", "E1", "E3")]
    memberships = [a for a in actions(plan_for(people, held)) if a[1] != "update"]
    assert memberships == [
        ("E2", "grant", "all-staff"), ("E1", "grant", "all-staff"), ("E3", "grant", "all-staff"),
        ("E2", "grant", "sales"), ("E1", "grant", "sales"), ("E3", "grant", "sales"),
        ("E2", "revoke", "engineering"), ("E1", "revoke", "engineering"), ("E3", "revoke", "engineering"),
    ]  # fmt: skip


def test_manager_cycle_does_not_hang():
    depths = manager_depths({"A": record("A", manager_id="B"), "B": record("B", manager_id="A")})
    assert set(depths) == {"A", "B"}


def test_unchanged_person_has_empty_plan():
    assert plan_for([desired("E1")], [account("E1", entitlements=["all-staff"])]).operations == ()


def test_mover_updates_grants_and_revokes_managed_only():
    person = desired("E1", grants=("all-staff", "sales"), department="Sales")
    held = account("E1", entitlements=["all-staff", "engineering", "manual-group"])
    assert actions(plan_for([person], [held])) == [
        ("E1", "update", None), ("E1", "grant", "sales"), ("E1", "revoke", "engineering"),
    ]
    update = plan_for([person], [held]).operations[0]
    assert update.detail["changes"] == {"department": ["Engineering", "Sales"]}


def test_leaver_is_disabled_and_stripped_of_everything_then_deleted():
    held = account("E1", entitlements=["all-staff", "manual-group"])
    leaver = desired("E1", Lifecycle.TERMINATED, grants=())
    assert sorted(actions(plan_for([leaver], [held]))) == [
        ("E1", "disable", None), ("E1", "revoke", "all-staff"), ("E1", "revoke", "manual-group"),
    ]
    assert actions(plan_for([desired("E1", Lifecycle.DELETE, grants=())], [held])) == [("E1", "delete", None)]


def test_suspended_and_prehire_are_inactive_with_entitlements():
    for state in (Lifecycle.SUSPENDED, Lifecycle.PREHIRE):
        [create, grant] = plan_for([desired("E1", state)]).operations
        assert create.detail["active"] is False and grant.action is Action.GRANT
    assert actions(plan_for([desired("E1", Lifecycle.SUSPENDED)], [account("E1", entitlements=["all-staff"])])) == [
        ("E1", "disable", None)
    ]


def test_not_yet_creates_nothing():
    assert plan_for([desired("E1", Lifecycle.NOT_YET)]).operations == ()


def test_rehire_reuses_the_account():
    old = account("E1", active=False)
    assert actions(plan_for([desired("E1")], [old])) == [("E1", "enable", None), ("E1", "grant", "all-staff")]


def test_link_wins_over_external_id():
    moved = account("E1", external=False)
    ops = plan_for([desired("E1")], [moved], links={"E1": "id-E1"}).operations
    assert [op.action for op in ops] == [Action.GRANT]


def test_unlinked_account_with_same_user_name_is_adopted():
    unlinked = account("E1", external=False)
    [update, grant] = plan_for([desired("E1")], [unlinked]).operations
    assert update.action is Action.UPDATE and update.detail["changes"] == {"external_id": [None, "E1"]}
    assert update.account_id == "id-E1" and grant.action is Action.GRANT


def test_same_user_name_other_external_id_is_conflict():
    other = replace(account("E1"), external_id="X9")
    plan = plan_for([desired("E1")], [other])
    assert plan.operations == ()
    assert [i.kind for i in plan.issues] == [IssueKind.CONFLICT]


def test_guard_counts_persons_once():
    accounts = [account(f"E{i}", entitlements=["all-staff", "engineering"]) for i in range(10)]
    leavers = [desired(f"E{i}", Lifecycle.TERMINATED, grants=()) for i in range(6)]
    plan = plan_for(leavers, accounts)
    halt, figures = check(plan, {"app": Snapshot("app", accounts)}, SafetyConfig(deprovision_floor=5))
    assert figures["persons"] == 6 and "6 persons" in halt
    ok, _ = check(plan, {"app": Snapshot("app", accounts)}, SafetyConfig(deprovision_floor=6))
    assert ok is None


states = st.sampled_from(list(Lifecycle))
grant_sets = st.sets(st.sampled_from(["all-staff", "engineering", "sales"]))


@st.composite
def worlds(draw):
    n = draw(st.integers(1, 12))
    people, accounts = [], []
    for i in range(n):
        eid = f"E{i}"
        manager = draw(st.one_of(st.none(), st.sampled_from([f"E{j}" for j in range(n)])))
        person = desired(eid, draw(states), tuple(draw(grant_sets)), manager_id=manager,
                         department=draw(st.sampled_from(["Engineering", "Sales"])))
        people.append(person)
        if draw(st.booleans()):
            accounts.append(account(eid, active=draw(st.booleans()),
                                    entitlements=draw(st.sets(st.sampled_from(["all-staff", "engineering", "sales", "manual"]))),
                                    external=draw(st.booleans()), department=draw(st.sampled_from(["Engineering", "Sales"]))))
    return people, accounts


@settings(max_examples=150, deadline=None)
@given(worlds())
def test_applying_a_plan_then_planning_again_is_empty(world):
    people, accounts = world
    plan = plan_for(people, accounts)
    after = apply_to_snapshot(Snapshot("app", accounts), plan.operations)
    again = build_plan({d.employee_id: d for d in people}, {"app": after}, {"app": {}}, MANAGED)
    assert again.operations == ()


@settings(max_examples=150, deadline=None)
@given(worlds())
def test_plan_invariants(world):
    people, accounts = world
    plan = plan_for(people, accounts)
    creates = [op.employee_id for op in plan.operations if op.action is Action.CREATE]
    assert len(creates) == len(set(creates)), "no account is planned twice for one person"
    assert all(op.reason for op in plan.operations), "every operation says why"
    grants = [op for op in plan.operations if op.action is Action.GRANT]
    assert all(op.reason.startswith("rule ") for op in grants), "every grant has its rule and bundle"
    phases = [list(Action).index(op.action) for op in plan.operations]
    assert phases == sorted(phases)
