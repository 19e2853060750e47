"""The SCIM target connector against a real scim2-server process (one per session, a
fresh tenant per test). A scripted HTTP server stands in only for faults scim2-server
cannot produce (429/503 with Retry-After, 500, slow answers); a closed port for
connection errors."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace

import httpx
import pytest

from app import launchers
from connectors.base import ConfigurationError, Conflict, NotFound, Outcome, Permanent, Retryable, Target
from connectors.kernel import Kernel
from connectors.targets.scim import ScimDriver, scim_filter_string
from connectors.targets.scim.resources import REMOVALS_PER_OPERATION, patch_members
from jml.config import ScimTarget
from jml.model import ACCOUNT_ATTRIBUTES, Account, Snapshot
from jml.operations import Action, Create, Operation, from_journal
from tests import servers

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
TOKEN_ENV = "JML_TEST_SCIM_TOKEN"


# -- helpers ------------------------------------------------------------------------


def connect(
    tenant: launchers.ScimTenant, *, bulk: bool = True, token: str | None = None, **options
) -> Kernel:
    """The SCIM driver on the kernel, one try per operation (the driver's own answers)."""
    config = ScimTarget(
        name="scim", type="scim", url=tenant.url, token_env=TOKEN_ENV, bulk=bulk, retry={"attempts": 1}, **options
    )
    return Kernel(ScimDriver(config, environ={TOKEN_ENV: token or tenant.token}), config.retry)


def apply(target: Kernel, operations: list[Operation]) -> list[Outcome]:
    return target.apply(operations).outcomes


def attributes(employee_id: str, **changes: str | None) -> dict[str, str | None]:
    lower = employee_id.lower()
    values: dict[str, str | None] = {
        "user_name": f"{lower}@example.com",
        "given_name": f"Given{employee_id}",
        "family_name": "Family",
        "display_name": f"Given{employee_id} Family",
        "email": f"{lower}@example.com",
        "employee_number": employee_id,
        "department": "Engineering",
        "title": "Engineer",
        "manager": None,
    }
    values.update(changes)
    return values


def create(employee_id: str, *, active: bool = True, **changes: str | None) -> Operation:
    return Create(target="scim", employee_id=employee_id, reason="hire", attributes=attributes(employee_id, **changes), active=active)


def op(employee_id: str, action: Action, detail: dict | None = None, account_id: str | None = None) -> Operation:
    return from_journal(
        target="scim", employee_id=employee_id, action=action.value, detail=detail or {}, reason="test", account_id=account_id
    )


def grant(employee_id: str, entitlement: str, account_id: str | None = None) -> Operation:
    return op(employee_id, Action.GRANT, {"entitlement": entitlement}, account_id)


def revoke(employee_id: str, entitlement: str, account_id: str | None = None) -> Operation:
    return op(employee_id, Action.REVOKE, {"entitlement": entitlement}, account_id)


def by_employee(snapshot: Snapshot) -> dict[str | None, Account]:
    return {account.external_id: account for account in snapshot.accounts}


def assert_all_ok(outcomes) -> None:
    failed = [(o.operation.action.value, o.operation.employee_id, o.error) for o in outcomes if not o.ok]
    assert not failed


def raw_client(tenant: launchers.ScimTenant) -> httpx.Client:
    return httpx.Client(base_url=tenant.url + "/", headers={"Authorization": f"Bearer {tenant.token}"})


def requests_logged(
    caplog: pytest.LogCaptureFixture, method: str, endpoint: str, *, with_id: bool = False
) -> int:
    """How many requests httpx logged for `method` on `/<endpoint>` (or on
    `/<endpoint>/<id>` with `with_id`), whatever the query."""
    count = 0
    for record in caplog.records:
        if record.name == "httpx" and record.args and len(record.args) >= 2:
            parts = httpx.URL(str(record.args[1])).path.rstrip("/").split("/")
            where = parts[-2] if with_id else parts[-1]
            if record.args[0] == method and where == endpoint:
                count += 1
    return count


@pytest.fixture(params=["bulk", "single"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def connector(scim_tenant: launchers.ScimTenant, mode: str) -> Iterator[Kernel]:
    with connect(scim_tenant, bulk=mode == "bulk") as target:
        yield target


# -- construction -------------------------------------------------------------------


def test_is_a_target(connector: Kernel) -> None:
    assert isinstance(connector, Target)
    assert connector.name == "scim"


def test_missing_token_variable_is_a_clear_configuration_error() -> None:
    config = ScimTarget(name="hr-scim", type="scim", url="http://127.0.0.1:9", token_env="NOPE_TOKEN")
    with pytest.raises(ConfigurationError, match="target hr-scim: environment variable NOPE_TOKEN is not set"):
        ScimDriver(config, environ={})


# -- the filter string --------------------------------------------------------------


def test_filter_string_escapes_quotes_and_backslashes() -> None:
    assert scim_filter_string("plain") == '"plain"'
    assert scim_filter_string('O"Brien') == '"O\\"Brien"'
    assert scim_filter_string('a" or "1" eq "1') == '"a\\" or \\"1\\" eq \\"1"'
    assert scim_filter_string("back\\slash") == '"back\\\\slash"'


def test_lookup_by_external_id_matches_only_that_account(scim_tenant: launchers.ScimTenant) -> None:
    tricky = ['O"Brien', 'a" or "1" eq "1', "back\\slash"]
    with connect(scim_tenant) as first:
        assert_all_ok(apply(first, [create(e, user_name=f"u{n}@example.com") for n, e in enumerate(tricky)]))
    # A fresh instance knows no ids: each operation finds its account by one filter query.
    with connect(scim_tenant) as fresh:
        assert_all_ok(apply(fresh, [op('O"Brien', Action.DISABLE), op('a" or "1" eq "1', Action.DISABLE)]))
        accounts = by_employee(fresh.read())
    assert accounts['O"Brien'].active is False
    assert accounts['a" or "1" eq "1'].active is False
    assert accounts["back\\slash"].active is True


# -- create -------------------------------------------------------------------------


def test_create_with_managers_in_the_same_batch(connector: Kernel) -> None:
    operations = [
        create("E1"),
        create("E2", manager="E1"),
        create("E3", manager="E2", active=False),
        create("E4", manager="E1", title=None),
    ]
    outcomes = apply(connector, operations)
    assert_all_ok(outcomes)
    assert all(outcome.account_id for outcome in outcomes)
    assert len({outcome.account_id for outcome in outcomes}) == 4

    snapshot = connector.read()
    accounts = by_employee(snapshot)
    assert set(accounts) == {"E1", "E2", "E3", "E4"}
    assert accounts["E1"].id == outcomes[0].account_id
    assert accounts["E1"].attributes == attributes("E1")
    assert accounts["E2"].attributes["manager"] == "E1"
    assert accounts["E3"].attributes["manager"] == "E2"
    assert accounts["E3"].active is False
    assert accounts["E4"].attributes["manager"] == "E1"
    assert accounts["E4"].attributes["title"] is None
    assert all(set(account.attributes) == set(ACCOUNT_ATTRIBUTES) for account in snapshot.accounts)


def test_create_sends_the_scim_mapping(scim_tenant: launchers.ScimTenant, mode: str) -> None:
    with connect(scim_tenant, bulk=mode == "bulk") as target:
        outcomes = apply(target, [create("E1"), create("E2", manager="E1")])
    assert_all_ok(outcomes)
    with raw_client(scim_tenant) as client:
        user = client.get(f"Users/{outcomes[1].account_id}").json()
    assert user["userName"] == "e2@example.com"
    assert user["externalId"] == "E2"
    assert user["name"] == {"givenName": "GivenE2", "familyName": "Family"}
    assert user["displayName"] == "GivenE2 Family"
    assert user["emails"] == [{"value": "e2@example.com", "type": "work", "primary": True}]
    assert user["title"] == "Engineer"
    assert user["active"] is True
    assert user[ENTERPRISE]["employeeNumber"] == "E2"
    assert user[ENTERPRISE]["department"] == "Engineering"
    assert user[ENTERPRISE]["manager"]["value"] == outcomes[0].account_id


def test_create_with_manager_across_batches_and_instances(scim_tenant: launchers.ScimTenant, mode: str) -> None:
    bulk = mode == "bulk"
    with connect(scim_tenant, bulk=bulk) as target:
        assert_all_ok(apply(target, [create("E1")]))
        assert_all_ok(apply(target, [create("E2", manager="E1")]))  # the instance's map
    with connect(scim_tenant, bulk=bulk) as fresh:
        assert_all_ok(apply(fresh, [create("E3", manager="E1")]))  # one filter query
        accounts = by_employee(fresh.read())
    assert accounts["E2"].attributes["manager"] == "E1"
    assert accounts["E3"].attributes["manager"] == "E1"


def test_manager_without_account_is_left_out(
    connector: Kernel, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="connectors.kernel"):
        assert_all_ok(apply(connector, [create("E1", manager="E404")]))
    assert by_employee(connector.read())["E1"].attributes["manager"] is None
    assert "manager E404 of E1 has no account" in caplog.text


def test_person_operations_follow_their_create(connector: Kernel) -> None:
    operations = [create("E1"), grant("E1", "staff"), op("E1", Action.DISABLE), create("E2", manager="E1")]
    assert_all_ok(apply(connector, operations))
    accounts = by_employee(connector.read())
    assert accounts["E1"].active is False
    assert accounts["E1"].entitlements == {"staff"}
    assert accounts["E2"].attributes["manager"] == "E1"


# -- update, enable, disable --------------------------------------------------------


def test_update_replaces_and_removes(connector: Kernel) -> None:
    created = apply(connector, [create("E1"), create("E2"), create("E3", manager="E1")])
    assert_all_ok(created)
    changes = {
        "given_name": ["GivenE3", "Newgiven"],
        "display_name": ["GivenE3 Family", "Newgiven Family"],
        "email": ["e3@example.com", "new.e3@example.com"],
        "department": ["Engineering", "Sales"],
        "title": ["Engineer", None],
        "manager": ["E1", "E2"],
    }
    outcomes = apply(connector, [op("E3", Action.UPDATE, {"changes": changes}, created[2].account_id)])
    assert_all_ok(outcomes)
    account = by_employee(connector.read())["E3"]
    assert account.attributes == attributes(
        "E3",
        given_name="Newgiven",
        display_name="Newgiven Family",
        email="new.e3@example.com",
        department="Sales",
        title=None,
        manager="E2",
    )


def test_update_removes_the_manager(connector: Kernel) -> None:
    assert_all_ok(apply(connector, [create("E1"), create("E2", manager="E1")]))
    assert_all_ok(apply(connector, [op("E2", Action.UPDATE, {"changes": {"manager": ["E1", None]}})]))
    assert by_employee(connector.read())["E2"].attributes["manager"] is None


def test_update_adopts_an_unlinked_account(scim_tenant: launchers.ScimTenant, mode: str) -> None:
    with raw_client(scim_tenant) as client:
        existing = client.post("Users", json={"schemas": [USER], "userName": "e7@example.com"}).json()
    with connect(scim_tenant, bulk=mode == "bulk") as target:
        before = by_employee(target.read())
        assert before[None].id == existing["id"]
        adopt = op("E7", Action.UPDATE, {"changes": {"external_id": [None, "E7"], "department": [None, "Ops"]}}, existing["id"])
        # Later operations of the same call and of later calls find it by employee_id.
        outcomes = apply(target, [adopt, grant("E7", "ops")])
        assert_all_ok(outcomes)
        assert_all_ok(apply(target, [op("E7", Action.DISABLE)]))
        account = by_employee(target.read())["E7"]
    assert account.id == existing["id"]
    assert account.attributes["department"] == "Ops"
    assert account.entitlements == {"ops"}
    assert account.active is False


def test_enable_and_disable(connector: Kernel) -> None:
    created = apply(connector, [create("E1", active=False), create("E2")])
    assert_all_ok(created)
    outcomes = apply(
        connector,
        [op("E1", Action.ENABLE, account_id=created[0].account_id), op("E2", Action.DISABLE)]
    )
    assert_all_ok(outcomes)
    accounts = by_employee(connector.read())
    assert accounts["E1"].active is True
    assert accounts["E2"].active is False


def test_update_of_an_unknown_attribute_is_permanent(connector: Kernel) -> None:
    created = apply(connector, [create("E1")])
    outcomes = apply(
        connector,
        [op("E1", Action.UPDATE, {"changes": {"shoe_size": [None, "44"]}}, created[0].account_id)]
    )
    assert isinstance(outcomes[0].error, Permanent)
    assert "shoe_size" in str(outcomes[0].error)


@pytest.mark.parametrize(
    ("action", "detail"),
    [
        (Action.CREATE, {"active": True}),
        (Action.GRANT, {}),
        (Action.UPDATE, {"changes": {"title": "not a pair"}}),
        (Action.UPDATE, {}),
    ],
)
def test_malformed_operations_are_refused_when_read(action: Action, detail: dict) -> None:
    """A typed operation cannot be malformed; a journal row that is fails to load."""
    with pytest.raises(ValueError, match="malformed"):
        op("E1", action, detail, account_id="x")


def test_operation_on_a_missing_account_is_not_found(connector: Kernel) -> None:
    outcomes = apply(
        connector,
        [
            op("E9", Action.DISABLE),  # no id given, no such externalId
            op("E8", Action.ENABLE, account_id="no-such-id"),
            grant("E9", "staff"),
        ]
    )
    assert [type(outcome.error) for outcome in outcomes] == [NotFound, NotFound, NotFound]
    assert outcomes[1].error.status == 404


# -- grant, revoke ------------------------------------------------------------------


def test_grant_creates_the_group_and_revoke_removes(connector: Kernel) -> None:
    created = apply(connector, [create("E1"), create("E2"), grant("E1", "vpn"), grant("E2", "vpn"), grant("E2", "wiki")])
    assert_all_ok(created)
    snapshot = connector.read()
    assert snapshot.groups == {"vpn", "wiki"}
    accounts = by_employee(snapshot)
    assert accounts["E1"].entitlements == {"vpn"}
    assert accounts["E2"].entitlements == {"vpn", "wiki"}

    outcomes = apply(
        connector,
        [
            revoke("E1", "vpn", created[0].account_id),
            grant("E1", "wiki"),
            revoke("E2", "no-such-group"),  # revoking from a missing group is done
            revoke("E2", "vpn"),
        ]
    )
    assert_all_ok(outcomes)
    accounts = by_employee(connector.read())
    assert accounts["E1"].entitlements == {"wiki"}
    assert accounts["E2"].entitlements == {"wiki"}


def test_grants_and_revokes_on_a_group_are_one_patch(
    connector: Kernel, caplog: pytest.LogCaptureFixture
) -> None:
    assert_all_ok(apply(connector, [create("E1"), create("E2"), create("E3"), grant("E3", "vpn")]))
    operations = [grant("E1", "vpn"), grant("E2", "vpn"), revoke("E3", "vpn"), grant("E1", "wiki")]
    with caplog.at_level(logging.INFO, logger="httpx"):
        assert_all_ok(apply(connector, operations))
    assert requests_logged(caplog, "PATCH", "Groups", with_id=True) == 1  # vpn
    assert requests_logged(caplog, "POST", "Groups") == 1  # wiki, created with E1
    accounts = by_employee(connector.read())
    assert {e for e, a in accounts.items() if "vpn" in a.entitlements} == {"E1", "E2"}
    assert accounts["E1"].entitlements == {"vpn", "wiki"}


def test_many_revokes_of_a_group_are_one_patch(
    scim_tenant: launchers.ScimTenant, caplog: pytest.LogCaptureFixture
) -> None:
    """230 revokes of one group (one of them of a member already gone): one PATCH, and
    exactly the members not revoked stay."""
    connector = connect(scim_tenant)
    people = [f"E{n:03d}" for n in range(240)]
    assert_all_ok(apply(connector, [create(eid) for eid in people] + [grant(eid, "vpn") for eid in people]))
    assert_all_ok(apply(connector, [revoke(people[5], "vpn")]))
    with caplog.at_level(logging.INFO, logger="httpx"):
        assert_all_ok(apply(connector, [revoke(eid, "vpn") for eid in people[:230]]))
    assert requests_logged(caplog, "PATCH", "Groups", with_id=True) == 1
    accounts = by_employee(connector.read())
    assert {eid for eid, account in accounts.items() if "vpn" in account.entitlements} == set(people[230:])


def test_a_patch_names_up_to_a_hundred_removals_per_operation() -> None:
    """Consecutive removals share a "remove" (one value filter, every id quoted) up to
    REMOVALS_PER_OPERATION; additions and removals keep their order."""
    changes = [(False, f"u{n}") for n in range(REMOVALS_PER_OPERATION + 1)] + [(True, "a"), (True, 'b"'), (False, "z")]
    operations = patch_members("g1", changes).body["Operations"]
    assert [operation["op"] for operation in operations] == ["remove", "remove", "add", "remove"]
    first = " or ".join(f'value eq "u{n}"' for n in range(REMOVALS_PER_OPERATION))
    assert operations[0]["path"] == f"members[{first}]"
    assert operations[1]["path"] == f'members[value eq "u{REMOVALS_PER_OPERATION}"]'
    assert operations[2]["value"] == [{"value": "a"}, {"value": 'b"'}]
    assert operations[3]["path"] == 'members[value eq "z"]'


def test_group_deleted_since_the_read(connector: Kernel, scim_tenant: launchers.ScimTenant) -> None:
    assert_all_ok(apply(connector, [create("E1"), create("E2"), grant("E1", "vpn")]))
    snapshot = connector.read()
    with raw_client(scim_tenant) as client:
        group = client.get("Groups").json()["Resources"][0]
        assert client.delete(f"Groups/{group['id']}").status_code == 204
    outcomes = apply(connector, [revoke("E1", "vpn"), grant("E2", "vpn")])
    assert outcomes[0].ok  # the membership is gone with the group
    assert outcomes[1].ok  # the group is created again, with E2
    assert snapshot.groups == {"vpn"}
    assert_all_ok(apply(connector, [grant("E2", "vpn")]))  # idempotent
    accounts = by_employee(connector.read())
    assert accounts["E2"].entitlements == {"vpn"} and accounts["E1"].entitlements == set()


def test_group_created_meanwhile_on_a_server_with_unique_names() -> None:
    """POST /Groups answers 409: the group is found by its name and patched."""
    state = {"created": False}
    group = {"id": "g1", "displayName": "vpn", "members": []}

    def respond(method: str, path: str) -> servers.Scripted:
        if path.endswith("/ServiceProviderConfig"):
            return servers.Scripted(200, {"bulk": {"supported": False}})
        if method == "GET" and path.startswith("/Groups"):
            resources = [group] if state["created"] else []
            return servers.Scripted(200, {"totalResults": len(resources), "Resources": resources})
        if method == "POST" and path == "/Groups":
            state["created"] = True  # another client won the race
            return servers.Scripted(409, {"status": "409", "scimType": "uniqueness", "detail": "taken"})
        if method == "PATCH" and path == "/Groups/g1":
            return servers.Scripted(204)
        return servers.Scripted(500, {"detail": f"unexpected {method} {path}"})

    with servers.scripted_server(respond) as server:
        with connect(launchers.ScimTenant(url=server.url, token="t")) as target:
            outcomes = apply(target, [grant("E1", "vpn", account_id="u1")])
    assert_all_ok(outcomes)
    assert ("PATCH", "/Groups/g1") in server.requests


def test_grant_to_an_existing_group_of_a_fresh_instance(scim_tenant: launchers.ScimTenant, mode: str) -> None:
    bulk = mode == "bulk"
    with connect(scim_tenant, bulk=bulk) as first:
        assert_all_ok(apply(first, [create("E1"), create("E2"), grant("E1", "vpn")]))
    with connect(scim_tenant, bulk=bulk) as fresh:  # finds the group and E2 by filter queries
        assert_all_ok(apply(fresh, [grant("E2", "vpn")]))
        snapshot = fresh.read()
    assert snapshot.groups == {"vpn"}  # not a second "vpn"
    assert {e for e, a in by_employee(snapshot).items() if "vpn" in a.entitlements} == {"E1", "E2"}


# -- delete -------------------------------------------------------------------------


def test_delete_is_idempotent(connector: Kernel) -> None:
    created = apply(connector, [create("E1"), create("E2")])
    assert_all_ok(created)
    first = apply(connector, [op("E1", Action.DELETE, account_id=created[0].account_id)])
    assert_all_ok(first)
    again = apply(
        connector,
        [
            op("E1", Action.DELETE, account_id=created[0].account_id),  # 404: done
            op("E1", Action.DELETE),  # no id, no such externalId any more: done
        ]
    )
    assert_all_ok(again)
    assert set(by_employee(connector.read())) == {"E2"}


# -- read ---------------------------------------------------------------------------


def test_read_pages_through_users_and_groups(
    scim_tenant: launchers.ScimTenant, caplog: pytest.LogCaptureFixture
) -> None:
    people = [f"E{n:02d}" for n in range(10)]
    operations = [create(people[0])] + [create(e, manager=people[0]) for e in people[1:]]
    operations += [grant(e, f"group-{n % 4}") for n, e in enumerate(people)]
    with connect(scim_tenant, page_size=3) as target:
        assert_all_ok(apply(target, operations))
    with connect(scim_tenant, page_size=3) as target, caplog.at_level(logging.INFO, logger="httpx"):
        snapshot = target.read()
    assert snapshot.target == "scim"
    accounts = by_employee(snapshot)
    assert set(accounts) == set(people)
    assert snapshot.groups == {"group-0", "group-1", "group-2", "group-3"}
    for n, employee_id in enumerate(people):
        assert accounts[employee_id].entitlements == {f"group-{n % 4}"}
        assert accounts[employee_id].attributes["manager"] == (None if n == 0 else people[0])
    assert requests_logged(caplog, "GET", "Users") == 5  # the count (and the clock), then 3 + 3 + 3 + 1: never one per user
    assert requests_logged(caplog, "GET", "Groups") == 2
    assert requests_logged(caplog, "GET", "ServiceProviderConfig") == 1


def test_read_of_an_empty_target(connector: Kernel) -> None:
    snapshot = connector.read()
    assert replace(snapshot, memo={}) == Snapshot(target="scim", accounts=[], groups=set())
    assert snapshot.memo["groups"] == {} and snapshot.memo["since"]  # where the next delta read starts


# -- bulk ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def small_bulk_server() -> Iterator[launchers.ScimServer]:
    """A scim2-server announcing small Bulk limits, to see requests split."""
    config = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"],
        "patch": {"supported": True},
        "bulk": {"supported": True, "maxOperations": 4, "maxPayloadSize": 3000},
        "filter": {"supported": True, "maxResults": 200},
        "changePassword": {"supported": False},
        "sort": {"supported": False},
        "etag": {"supported": True},
    }
    with launchers.scim_server(service_provider_config=config) as server:
        yield server


def test_bulk_requests_respect_the_advertised_limits(
    small_bulk_server: launchers.ScimServer, caplog: pytest.LogCaptureFixture
) -> None:
    tenant = small_bulk_server.tenant()
    people = [f"E{n:02d}" for n in range(10)]
    # A chain of managers: each report's manager is in the same request or an earlier one.
    operations = [create(people[0])] + [create(e, manager=people[n]) for n, e in enumerate(people[1:])]
    operations += [op(people[3], Action.DISABLE), grant(people[3], "staff")]
    with connect(tenant) as target, caplog.at_level(logging.INFO, logger="httpx"):
        outcomes = apply(target, operations)
        assert_all_ok(outcomes)
        accounts = by_employee(target.read())
    bulks = requests_logged(caplog, "POST", "Bulk")
    assert bulks >= 3  # 11 operations, at most 4 per request
    assert requests_logged(caplog, "POST", "Users") == 0
    for n, employee_id in enumerate(people[1:]):
        assert accounts[employee_id].attributes["manager"] == people[n]
    assert accounts[people[3]].active is False
    assert accounts[people[3]].entitlements == {"staff"}


def test_bulk_and_single_paths_send_what_they_say(
    scim_tenant: launchers.ScimTenant, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    operations = [create("E1"), create("E2", manager="E1"), create("E3", manager="E1")]
    with connect(scim_tenant, bulk=mode == "bulk") as target, caplog.at_level(logging.INFO, logger="httpx"):
        assert_all_ok(apply(target, operations))
    if mode == "bulk":
        assert requests_logged(caplog, "POST", "Bulk") == 1
        assert requests_logged(caplog, "POST", "Users") == 0
    else:
        assert requests_logged(caplog, "POST", "Bulk") == 0
        assert requests_logged(caplog, "POST", "Users") == 3


# -- errors -------------------------------------------------------------------------


def test_errors_are_typed_per_operation_with_the_servers_detail(connector: Kernel) -> None:
    # Independent operations run concurrently: the userName is taken by an earlier call.
    assert_all_ok(apply(connector, [create("E0", user_name="taken@example.com")]))
    operations = [
        create("E1"),
        create("E2", user_name="taken@example.com"),  # 409 uniqueness
        create("E3", user_name=None),  # 400: userName is required
        create("E4", manager="E2"),  # its manager's create failed in this call
        grant("E2", "staff"),  # its person's create failed in this call
        create("E5"),
    ]
    outcomes = apply(connector, operations)
    assert [outcome.operation for outcome in outcomes] == operations
    assert outcomes[0].ok and outcomes[5].ok
    assert isinstance(outcomes[1].error, Conflict)
    assert outcomes[1].error.status == 409
    assert "uniqueness" in str(outcomes[1].error)
    assert isinstance(outcomes[2].error, Permanent)
    assert outcomes[2].error.status == 400
    assert "userName" in str(outcomes[2].error)  # the server's SCIM detail
    assert isinstance(outcomes[3].error, Conflict)
    assert "manager" in str(outcomes[3].error)
    assert isinstance(outcomes[4].error, Conflict)
    assert set(by_employee(connector.read())) == {"E0", "E1", "E5"}


def test_outcomes_keep_the_order_of_the_operations(connector: Kernel) -> None:
    created = apply(connector, [create("E1"), create("E2"), create("E3")])
    assert_all_ok(created)
    operations = [
        revoke("E3", "vpn"),
        op("E2", Action.DISABLE),
        grant("E1", "vpn"),
        op("E9", Action.ENABLE),  # fails: no account
        create("E4", manager="E3"),
        op("E3", Action.UPDATE, {"changes": {"title": ["Engineer", "Lead"]}}),
        grant("E4", "vpn"),
        op("E1", Action.DELETE, account_id=created[0].account_id),
    ]
    outcomes = apply(connector, operations)
    assert [outcome.operation for outcome in outcomes] == operations
    assert [outcome.ok for outcome in outcomes] == [True, True, True, False, True, True, True, True]
    assert outcomes[4].account_id and outcomes[4].account_id not in {c.account_id for c in created}


def test_wrong_token_is_a_typed_error(scim_tenant: launchers.ScimTenant, mode: str) -> None:
    with connect(scim_tenant, bulk=mode == "bulk", token="wrong") as target:
        with pytest.raises(Permanent) as raised:
            target.read()
        assert raised.value.status == 401
        outcomes = apply(target, [create("E1"), op("E2", Action.DISABLE, account_id="x")])
    assert all(isinstance(outcome.error, Permanent) and outcome.error.status == 401 for outcome in outcomes)


def test_connection_refused_is_retryable(dead_port: int) -> None:
    tenant = launchers.ScimTenant(url=f"http://127.0.0.1:{dead_port}/t", token="t")
    with connect(tenant, timeout=2) as target:
        with pytest.raises(Retryable) as raised:
            target.read()
        assert isinstance(raised.value.__cause__, httpx.ConnectError)
        outcomes = apply(target, [create("E1"), grant("E1", "vpn")])
    assert all(isinstance(outcome.error, Retryable) for outcome in outcomes)


def _no_bulk_discovery(method: str, path: str) -> servers.Scripted | None:
    if path.endswith("/ServiceProviderConfig"):
        return servers.Scripted(200, {"bulk": {"supported": False}, "patch": {"supported": True}})
    return None


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [
        (429, {"Retry-After": "7"}, 7.0),
        (503, {"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.0),  # a date in the past
        (500, {}, None),
        (408, {}, None),
    ],
)
def test_retryable_statuses(status: int, headers: dict, retry_after: float | None) -> None:
    error = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": str(status), "detail": "busy"}

    def respond(method: str, path: str) -> servers.Scripted:
        return _no_bulk_discovery(method, path) or servers.Scripted(status, error, headers)

    with servers.scripted_server(respond) as server:
        with connect(launchers.ScimTenant(url=server.url, token="t")) as target:
            with pytest.raises(Retryable) as raised:
                target.read()
            outcomes = apply(target, [op("E1", Action.DISABLE, account_id="u1"), create("E2")])
    for error_raised in [raised.value] + [outcome.error for outcome in outcomes]:
        assert isinstance(error_raised, Retryable)
        assert error_raised.status == status
        assert error_raised.retry_after == retry_after
        assert "busy" in str(error_raised)


def test_timeout_is_retryable() -> None:
    def respond(method: str, path: str) -> servers.Scripted:
        return _no_bulk_discovery(method, path) or servers.Scripted(200, {}, delay=1.0)

    with servers.scripted_server(respond) as server:
        with connect(launchers.ScimTenant(url=server.url, token="t"), timeout=0.2) as target:
            outcomes = apply(target, [op("E1", Action.DISABLE, account_id="u1")])
    assert isinstance(outcomes[0].error, Retryable)
    assert isinstance(outcomes[0].error.__cause__, httpx.TimeoutException)


def test_logs_name_people_by_employee_id_only(
    scim_tenant: launchers.ScimTenant, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG), connect(scim_tenant, bulk=mode == "bulk") as target:
        apply(target, [create("E1", user_name="dup@example.com"), grant("E1", "vpn")])
        apply(target, [create("E2", user_name="dup@example.com")])
        target.read()
    text = caplog.text
    assert "E2" in text  # the failure is logged, by employee_id
    assert scim_tenant.token not in text
    assert "GivenE1" not in text and "dup@example.com" not in text
