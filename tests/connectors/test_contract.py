"""The contract every target connector honours, run against each real system: a
scim2-server tenant, an OpenLDAP slapd subtree, an OU of a Samba AD DC, and the SQL
target on SQLite and on PostgreSQL (a fresh database each).

What is checked is what the planner and the apply stage rely on (connectors.base.Target):
read-back of every canonical attribute, manager links as employee_ids, create, update,
enable, disable, grant, revoke and delete, idempotent grant/revoke/delete, operations
on missing accounts, failures carried over to dependent operations, `find`, the read of
some persons' accounts (`read_accounts`), escaping of
values that mean something to the system, and an unreachable system.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from connectors.base import NotFound, Outcome, Retryable, Target, TargetError
from connectors.factory import build_target
from jml.config import AdTarget, LdapTarget, ScimTarget, SqlTarget
from jml.model import ACCOUNT_ATTRIBUTES, Account, Snapshot
from jml.operations import Action, Create, Operation, from_journal
from tests.connectors.apps import ad_target, create_app_schema, ldap_target, sql_target

SECRET_ENV = "JML_CONTRACT_SECRET"
SYSTEMS = ["scim", "ldap", "ad", "sqlite", "postgresql"]


#: One try per operation: the contract is about what the system answers.
ONE_TRY = {"attempts": 1}


@dataclass
class System:
    """One real system under test: `connect()` a fresh connector to it; `dead()` a
    connector to the same kind of system where nothing answers; `refused` the
    attributes of a create this system refuses for good."""

    kind: str
    connect: Callable[[], Target]
    dead: Callable[[], Target]
    refused: dict[str, str | None]


@pytest.fixture(params=SYSTEMS)
def system(request: pytest.FixtureRequest, tmp_path, dead_port: int) -> System:
    kind = request.param
    if kind == "scim":
        tenant = request.getfixturevalue("scim_tenant")
        env = {SECRET_ENV: tenant.token}

        def scim(url: str) -> Target:
            config = ScimTarget(name="t", type="scim", url=url, token_env=SECRET_ENV, timeout=5, retry=ONE_TRY)
            return build_target(config, env)

        dead = f"http://127.0.0.1:{dead_port}"
        return System(kind, lambda: scim(tenant.url), lambda: scim(dead), {"user_name": None})  # 400
    if kind == "ldap":
        slapd = request.getfixturevalue("slapd")
        tree = request.getfixturevalue("ldap_tree")
        env = {SECRET_ENV: slapd.password}

        def ldap(url: str) -> Target:
            entry = ldap_target("t", slapd, tree, SECRET_ENV, timeout=5, retry=ONE_TRY)
            return build_target(LdapTarget.model_validate({**entry, "url": url}), env)

        dead = f"ldap://127.0.0.1:{dead_port}"
        # mail is an IA5String: the directory refuses a non-ASCII address
        return System(kind, lambda: ldap(slapd.url), lambda: ldap(dead), {"email": "bäd@example.com"})
    if kind == "ad":
        dc = request.getfixturevalue("samba_dc")
        ou = request.getfixturevalue("ad_ou")
        env = {SECRET_ENV: dc.password}

        def ad(url: str) -> Target:
            # userPrincipalName is unique in the domain, which the tests share: made from
            # the (numbered) sAMAccountName here, the user name read back from mail
            entry = ad_target("t", dc, ou, SECRET_ENV, timeout=5, retry=ONE_TRY, upn_suffix="corp.example.com")
            return build_target(AdTarget.model_validate({**entry, "url": url}), env)

        dead = f"ldaps://127.0.0.1:{dead_port}"
        # its mapped OU does not exist
        return System(kind, lambda: ad(dc.url), lambda: ad(dead), {"department": "Nowhere"})
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
        dead_url = f"sqlite:///{tmp_path / 'no-such-folder' / 'app.db'}"
    else:
        url = request.getfixturevalue("pg_database")
        dead_url = f"postgresql+psycopg://postgres@127.0.0.1:{dead_port}/app"
    create_app_schema(url)

    def sql(target_url: str) -> Target:
        return build_target(SqlTarget.model_validate(sql_target("t", target_url, timeout=5, retry=ONE_TRY)), {})

    return System(kind, lambda: sql(url), lambda: sql(dead_url), {"user_name": None})  # login is NOT NULL


@pytest.fixture
def target(system: System) -> Iterator[Target]:
    connector = system.connect()
    try:
        yield connector
    finally:
        connector.close()


# -- helpers ------------------------------------------------------------------------


def attributes(eid: str, **changes: str | None) -> dict[str, str | None]:
    slug = "".join(c for c in eid.lower() if c.isalnum()) or "x"
    values: dict[str, str | None] = {
        "user_name": f"{slug}@example.com",
        "given_name": f"Given {eid}",
        "family_name": "Family",
        "display_name": f"Given {eid} Family",
        "email": f"{slug}@example.com",
        "employee_number": eid,
        "department": "Engineering",
        "title": "ENG",
        "manager": None,
    }
    values.update(changes)
    return values


def create(eid: str, *, active: bool = True, **changes: str | None) -> Operation:
    return Create(target="t", employee_id=eid, reason="joiner", attributes=attributes(eid, **changes), active=active)


def op(eid: str, action: Action, detail: dict | None = None, account_id: str | None = None) -> Operation:
    return from_journal(target="t", employee_id=eid, action=action.value, detail=detail or {}, reason="test", account_id=account_id)


def apply(target: Target, operations: list[Operation]) -> list[Outcome]:
    """The outcomes of applying the operations (one try each)."""
    return target.apply(operations).outcomes


def update(eid: str, **changes: str | None) -> Operation:
    return op(eid, Action.UPDATE, {"changes": {k: [None, v] for k, v in changes.items()}})


def grant(eid: str, name: str) -> Operation:
    return op(eid, Action.GRANT, {"entitlement": name})


def revoke(eid: str, name: str) -> Operation:
    return op(eid, Action.REVOKE, {"entitlement": name})


def ok(outcomes) -> list:
    failed = [(o.operation.action.value, o.operation.employee_id, repr(o.error)) for o in outcomes if not o.ok]
    assert not failed, failed
    return outcomes


def canonical(account: Account) -> dict[str, str | None]:
    """The canonical attributes of an account (a target may hold more: AD's accountExpires)."""
    return {key: value for key, value in account.attributes.items() if key in ACCOUNT_ATTRIBUTES}


def accounts(snapshot: Snapshot) -> dict[str | None, Account]:
    found = {a.external_id: a for a in snapshot.accounts}
    assert len(found) == len(snapshot.accounts), "two accounts with one external_id"
    return found


# -- the contract -------------------------------------------------------------------


def test_is_a_target_that_starts_empty(target: Target) -> None:
    assert isinstance(target, Target)
    assert target.name == "t"
    snapshot = target.read()
    assert snapshot.target == "t"
    assert snapshot.accounts == []


def test_create_reads_back_every_canonical_attribute_and_manager_links(target: Target) -> None:
    outcomes = ok(apply(target, [
        create("M1"),
        create("R1", manager="M1", department="Sales", title="SAL-REP"),
        create("P1", active=False),  # a pre-hire or a person first seen on leave
    ]))
    snapshot = target.read()
    found = accounts(snapshot)
    assert set(found) == {"M1", "R1", "P1"}
    assert canonical(found["R1"]) == attributes("R1", manager="M1", department="Sales", title="SAL-REP")
    assert canonical(found["M1"]) == attributes("M1")
    assert set(found["R1"].attributes) == snapshot.held >= set(ACCOUNT_ATTRIBUTES)
    assert (found["M1"].active, found["R1"].active, found["P1"].active) == (True, True, False)
    # each create reports the id the target reads back
    assert [o.account_id for o in outcomes] == [found[e].id for e in ("M1", "R1", "P1")]


def test_values_meaningful_to_the_system_are_escaped(system: System) -> None:
    tricky = ["O'Brien, Jr.", "A+B=C", "*)(uid=*", "back\\slash", 'quo"te']
    with system.connect() as target:
        ok(apply(target, [create(eid, given_name=eid, family_name=eid, display_name=eid, user_name=f"u{n}@example.com", email=f"u{n}@example.com") for n, eid in enumerate(tricky)] + [create("plain")]))
    # a fresh connector knows no ids: it finds each account by its employee_id
    with system.connect() as fresh:
        ok(apply(fresh, [op("*)(uid=*", Action.DISABLE), op("A+B=C", Action.DISABLE), grant("O'Brien, Jr.", "x*)(cn=*")]))
        found = accounts(fresh.read())
    assert {eid for eid, account in found.items() if not account.active} == {"*)(uid=*", "A+B=C"}
    assert found["O'Brien, Jr."].attributes["given_name"] == "O'Brien, Jr."
    assert found["O'Brien, Jr."].entitlements == {"x*)(cn=*"}
    assert all(not found[eid].entitlements for eid in found if eid != "O'Brien, Jr.")


def test_update_changes_attributes_and_the_manager(target: Target) -> None:
    ok(apply(target, [create("M1"), create("M2"), create("R1", manager="M1")]))
    ok(apply(target, [update("R1", department="Finance", title="FIN-ADM", display_name="New Name", given_name="New", manager="M2")]))
    found = accounts(target.read())
    expected = attributes("R1", department="Finance", title="FIN-ADM", display_name="New Name", given_name="New", manager="M2")
    assert canonical(found["R1"]) == expected
    ok(apply(target, [update("R1", manager=None, title=None)]))
    assert canonical(accounts(target.read())["R1"]) == {**expected, "manager": None, "title": None}


def test_disable_keeps_entitlements_and_links_and_enable_restores(system: System) -> None:
    with system.connect() as target:
        ok(apply(target, [create("M1"), create("R1", manager="M1"), grant("M1", "staff"), grant("M1", "eng"), grant("R1", "staff")]))
        ok(apply(target, [op("M1", Action.DISABLE)]))
        found = accounts(target.read())
        assert found["M1"].active is False
        assert found["M1"].entitlements == {"staff", "eng"}  # a suspended person keeps them
        assert found["R1"].attributes["manager"] == "M1"  # the link follows the manager
    with system.connect() as fresh:
        ok(apply(fresh, [op("M1", Action.DISABLE), op("M1", Action.ENABLE)]))  # disable twice: fine
        found = accounts(fresh.read())
    assert found["M1"].active is True
    assert found["M1"].entitlements == {"staff", "eng"}
    assert found["R1"].attributes["manager"] == "M1"
    assert found["R1"].entitlements == {"staff"}


def test_grant_and_revoke_are_idempotent(target: Target) -> None:
    ok(apply(target, [create("A1"), create("B1"), grant("A1", "g1"), grant("A1", "g2"), grant("B1", "g1")]))
    ok(apply(target, [grant("A1", "g1"), revoke("A1", "g1"), revoke("A1", "g1"), revoke("A1", "never-created")]))
    snapshot = target.read()
    found = accounts(snapshot)
    assert found["A1"].entitlements == {"g2"}
    assert found["B1"].entitlements == {"g1"}
    assert {"g1", "g2"} <= snapshot.groups
    ok(apply(target, [revoke("B1", "g1")]))  # the group's last member
    ok(apply(target, [grant("B1", "g1")]))  # and back
    assert accounts(target.read())["B1"].entitlements == {"g1"}


def test_delete_removes_account_and_memberships_and_is_idempotent(system: System) -> None:
    with system.connect() as target:
        ok(apply(target, [create("M1"), create("R1", manager="M1"), grant("M1", "g1"), grant("R1", "g1")]))
        ok(apply(target, [update("R1", manager=None), op("M1", Action.DELETE)]))
    with system.connect() as fresh:
        ok(apply(fresh, [op("M1", Action.DELETE), op("NEVER", Action.DELETE)]))
        found = accounts(fresh.read())
    assert set(found) == {"R1"}
    assert found["R1"].entitlements == {"g1"}
    assert found["R1"].attributes["manager"] is None


def test_operations_on_a_missing_account(target: Target) -> None:
    outcomes = apply(target, [
        update("GHOST", title="X"),
        op("GHOST", Action.ENABLE),
        op("GHOST", Action.DISABLE),
        grant("GHOST", "g1"),
        revoke("GHOST", "g1"),
        op("GHOST", Action.DELETE),
    ])
    assert [type(o.error) for o in outcomes] == [NotFound, NotFound, NotFound, NotFound, type(None), type(None)]
    assert target.read().accounts == []


def test_a_failed_create_fails_what_depends_on_it(system: System, target: Target) -> None:
    broken = create("BAD", **system.refused)
    outcomes = apply(target, [broken, create("OK1"), create("R1", manager="BAD"), grant("BAD", "g1"), grant("OK1", "g1")])
    errors = [o.error for o in outcomes]
    assert errors[0] is not None and not isinstance(errors[0], Retryable), repr(errors[0])
    assert errors[1] is None and errors[4] is None
    assert type(errors[2]) is type(errors[0]) and type(errors[3]) is type(errors[0])
    found = accounts(target.read())
    assert set(found) == {"OK1"}
    assert found["OK1"].entitlements == {"g1"}


def test_find_names_the_accounts_that_exist(target: Target) -> None:
    outcomes = ok(apply(target, [create("A1"), create("B1", active=False)]))
    found = target.find(["A1", "B1", "NOPE"])
    assert found == {"A1": outcomes[0].account_id, "B1": outcomes[1].account_id}


def test_read_accounts_is_the_full_read_cut_to_those_persons(system: System, target: Target) -> None:
    """Some persons' accounts exactly as the full read gives them (a manager outside
    the set still named by employee_id, entitlements, inactive ones), more persons than
    one lookup takes, and an unknown employee_id left out; the same from a connector
    that knows no handle yet (it must ask by employee_id)."""
    people = [f"E{n:03d}" for n in range(70)]
    operations = [create("M1")] + [create(eid, manager="M1", active=n % 7 != 3) for n, eid in enumerate(people)]
    operations += [grant(eid, "g1") for eid in people[::3]] + [grant("M1", "g2"), grant(people[3], "g2")]
    ok(apply(target, operations))
    full = accounts(target.read())
    asked = [*people[1:66], "NOPE"]
    part = target.read_accounts(asked)
    found = accounts(part)
    assert set(found) == set(people[1:66])
    assert {eid: found[eid] for eid in found} == {eid: full[eid] for eid in found}
    assert found[people[3]].entitlements == {"g1", "g2"} and found[people[3]].attributes["manager"] == "M1"
    assert not found[people[3]].active
    assert {"g1", "g2"} <= part.groups
    assert part.held == target.read().held
    with system.connect() as cold:
        assert accounts(cold.read_accounts(asked)) == found


def test_a_batch_of_many_creates_and_grants(target: Target) -> None:
    people = [f"E{n:03d}" for n in range(60)]
    operations = [create(people[0])] + [create(eid, manager=people[0]) for eid in people[1:]]
    operations += [grant(eid, "all-staff") for eid in people] + [grant(eid, "even") for eid in people[::2]]
    ok(apply(target, operations))
    found = accounts(target.read())
    assert set(found) == set(people)
    assert all(found[eid].attributes["manager"] == people[0] for eid in people[1:])
    assert sum("even" in found[eid].entitlements for eid in people) == 30


def test_an_unreachable_system(system: System) -> None:
    with system.dead() as dead:
        with pytest.raises(TargetError) as raised:
            dead.read()
        assert isinstance(raised.value, Retryable), repr(raised.value)
        outcomes = apply(dead, [create("A1"), grant("A1", "g1")])
    assert all(isinstance(o.error, Retryable) for o in outcomes), [repr(o.error) for o in outcomes]


def test_planning_again_after_applying_a_plan_finds_nothing_to_do(system: System) -> None:
    """The planner's fixed point on the real system: plan, apply, read, plan again."""
    from datetime import date

    from jml.model import HrRecord, Lifecycle
    from jml.plan import Desired, build_plan

    def person(eid: str, state: Lifecycle, manager: str | None = None, first: str = "Ada", **grants: str) -> Desired:
        record = HrRecord(eid, first, "O'Brien, Jr.", f"{eid.lower()}@example.com", "R&D", "ENG", "employee",
                          "active", date(2020, 1, 1), manager_id=manager)  # fmt: skip
        return Desired(eid, state, record, {"t": {name: "rule r -> bundle b" for name in grants.values()}})

    desired = {
        "M1": person("M1", Lifecycle.ACTIVE, a="staff", b="eng"),
        "R1": person("R1", Lifecycle.ACTIVE, "M1", first="A+B=C", a="staff"),
        "S1": person("S1", Lifecycle.SUSPENDED, "M1", a="staff"),
        "P1": person("P1", Lifecycle.PREHIRE, a="staff"),
    }
    managed = {"t": {"staff", "eng"}}
    with system.connect() as target:
        plan = build_plan(desired, {"t": target.read()}, {"t": {}}, managed)
        assert {op.action for op in plan.operations} == {Action.CREATE, Action.GRANT}
        ok(apply(target, plan.operations))
    with system.connect() as fresh:
        again = build_plan(desired, {"t": fresh.read()}, {"t": {}}, managed)
        assert [(o.employee_id, o.action.value, o.detail) for o in again.operations] == []
        # a mover and a leaver, then the fixed point again
        desired["R1"] = person("R1", Lifecycle.ACTIVE, None, first="Moved", b="eng")
        desired["S1"] = Desired("S1", Lifecycle.TERMINATED, desired["S1"].record)
        ok(apply(fresh, build_plan(desired, {"t": fresh.read()}, {"t": {}}, managed).operations))
        found = accounts(fresh.read())
        assert build_plan(desired, {"t": fresh.read()}, {"t": {}}, managed).operations == ()
    assert found["R1"].entitlements == {"eng"} and found["R1"].attributes["manager"] is None
    assert found["S1"].entitlements == set() and found["S1"].active is False
