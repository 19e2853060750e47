"""A SCIM target's mapped attributes (config `attributes`) against a real scim2-server:
planned by the planner, applied through the kernel (Bulk and single requests), read
back; and the check against the server's /Schemas that refuses what it cannot hold."""

from __future__ import annotations

import pytest

from app import launchers
from connectors.base import Permanent
from jml.operations import Action, Create
from tests.connectors.test_scim import ENTERPRISE, apply, assert_all_ok, by_employee, connect, create, op, raw_client
from tests.connectors.test_target_attributes import plan

COST = f"{ENTERPRISE}:costCenter"
ATTRIBUTES = {COST: "{cost_center}", "name.middleName": "{middle}", "displayName": "{last_name}, {first_name}"}


def user_of(tenant: launchers.ScimTenant, account_id: str) -> dict:
    with raw_client(tenant) as client:
        return client.get(f"Users/{account_id}").json()


BOTH = pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "single"])


@BOTH
def test_mapped_attributes_are_created_updated_and_removed(scim_tenant: launchers.ScimTenant, bulk: bool) -> None:
    with connect(scim_tenant, bulk=bulk, attributes=ATTRIBUTES) as target:
        assert COST in target.schema.attributes and "display_name" not in target.schema.attributes
        created = apply(target, list(plan(target, ATTRIBUTES, cost_center="CC-1", middle="Byron")))
        assert_all_ok(created)
        user = user_of(scim_tenant, created[0].account_id)
        assert user[ENTERPRISE]["costCenter"] == "CC-1"
        assert user["name"] == {"givenName": "Ada", "familyName": "Lovelace", "middleName": "Byron"}
        assert user["displayName"] == "Lovelace, Ada"  # overrides the canonical "First Last"
        assert plan(target, ATTRIBUTES, cost_center="CC-1", middle="Byron") == ()  # read back as written

        (update,) = plan(target, ATTRIBUTES, cost_center="CC-2", middle="Byron")
        assert update.action is Action.UPDATE and set(update.changes) == {COST}
        assert_all_ok(apply(target, [update]))
        assert user_of(scim_tenant, created[0].account_id)[ENTERPRISE]["costCenter"] == "CC-2"

        (removal,) = plan(target, ATTRIBUTES, cost_center="", middle="Byron")
        assert removal.new_values() == {COST: None}
        assert_all_ok(apply(target, [removal]))
        assert "costCenter" not in user_of(scim_tenant, created[0].account_id).get(ENTERPRISE, {})
        assert by_employee(target.read())["E1"].attributes[COST] is None
        assert plan(target, ATTRIBUTES, cost_center="", middle="Byron") == ()


@BOTH
def test_attributes_the_servers_schemas_do_not_know_are_refused_before_any_write(
    scim_tenant: launchers.ScimTenant, bulk: bool
) -> None:
    with connect(scim_tenant, bulk=bulk) as plain:
        assert_all_ok(apply(plain, [create("E1")]))
    refused = {f"{ENTERPRISE}:nope": "{department}", "name": "{first_name}", "phoneNumbers": "{x}", "title": "{x}"}
    with connect(scim_tenant, bulk=bulk, attributes=refused) as target:
        accounts = by_employee(target.read())  # the read works: the target stays reachable
        account_id = accounts["E1"].id
        outcomes = apply(
            target,
            [
                Create(target="scim", employee_id="E2", reason="hire", attributes={"user_name": "e2@x"}, active=True),
                op("E1", Action.UPDATE, {"changes": {"title": ["Engineer", "Boss"]}}, account_id),
                op("E1", Action.DISABLE, account_id=account_id),
            ],
        )
    create_error, update_error = outcomes[0].error, outcomes[1].error
    assert isinstance(create_error, Permanent) and isinstance(update_error, Permanent)
    message = str(create_error)
    assert f"'{ENTERPRISE}:nope': no such attribute" in message
    assert "'name': a complex attribute" in message and "'phoneNumbers': a multi-valued attribute" in message
    assert "title" not in message  # a known attribute is fine
    assert outcomes[2].ok  # access is still taken away: fail closed
    with raw_client(scim_tenant) as client:
        users = client.get("Users").json()["Resources"]
    assert [(u["externalId"], u["title"], u["active"]) for u in users] == [("E1", "Engineer", False)]


def test_an_unknown_extension_schema_is_named(scim_tenant: launchers.ScimTenant) -> None:
    other = "urn:example:params:scim:schemas:extension:acme:2.0:User:badge"
    with connect(scim_tenant, attributes={other: "{x}"}) as target:
        target.read()
        (outcome,) = apply(target, [create("E1")])
    assert "the server publishes no schema urn:example:params:scim:schemas:extension:acme:2.0:User" in str(
        outcome.error
    )
