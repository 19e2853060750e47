"""The SCIM target's delta read (`read_changes`) against a real scim2-server: what jml
knew brought up to date is what a full read gives; a deletion, or a change of more than
a quarter of the users, reads in full instead (None)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import pytest

from app import launchers
from connectors.kernel import driver as kernel_driver
from jml.model import Snapshot
from tests.connectors.test_scim import apply, assert_all_ok, connect, create, grant, raw_client

PATCH = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}


@pytest.fixture(autouse=True)
def exact_since(monkeypatch):
    """The delta starts at the server's clock to the second (one clock here); each test
    waits past that second before changing the target."""
    monkeypatch.setattr(kernel_driver, "OVERLAP", timedelta(0))


def same(delta: Snapshot | None, full: Snapshot) -> None:
    assert delta is not None
    by_id = {a.id: a for a in delta.accounts}
    assert by_id == {a.id: a for a in full.accounts}
    assert replace(delta, accounts=[], memo={}) == replace(full, accounts=[], memo={})
    assert delta.memo["groups"] == full.memo["groups"]


def test_a_delta_read_is_what_a_full_read_gives(scim_tenant: launchers.ScimTenant) -> None:
    people = [f"E{n:02d}" for n in range(8)]
    with connect(scim_tenant) as target, raw_client(scim_tenant) as scim:
        assert_all_ok(apply(target, [create(people[0])] + [create(e, manager=people[0]) for e in people[1:]]
                            + [grant(e, "staff") for e in people]))  # fmt: skip
        known = target.read()
        time.sleep(1.1)
        ids = {a.external_id: a.id for a in known.accounts}
        staff = scim.get("Groups", params={"filter": 'displayName eq "staff"'}).json()["Resources"][0]
        scim.patch(f"Users/{ids['E03']}", json={**PATCH, "Operations": [{"op": "replace", "path": "active", "value": False}]})
        scim.patch(f"Users/{ids['E04']}", json={**PATCH, "Operations": [{"op": "replace", "path": "title", "value": "Boss"}]})
        scim.patch(f"Groups/{staff['id']}", json={**PATCH, "Operations": [{"op": "remove", "path": f'members[value eq "{ids["E05"]}"]'}]})
        assert_all_ok(apply(target, [create("E08", manager="E04"), grant("E08", "admins")]))
        delta = target.read_changes(known)
        same(delta, target.read())
        assert delta is not None and len(delta.accounts) == 9


def test_a_deletion_or_a_large_change_reads_in_full(scim_tenant: launchers.ScimTenant) -> None:
    people = [f"E{n:02d}" for n in range(8)]
    with connect(scim_tenant, page_size=2) as target, raw_client(scim_tenant) as scim:
        assert_all_ok(apply(target, [create(e) for e in people]))
        time.sleep(1.1)  # the creates before the read's second: not in its delta
        known = target.read()
        time.sleep(1.1)
        assert target.read_changes(known) is not None  # nothing changed: the delta is exact
        assert_all_ok(apply(target, [create(e) for e in ("E10", "E11", "E12")]))  # 3 > max(page_size, 8 // 4)
        assert target.read_changes(known) is None
        time.sleep(1.1)
        known = target.read()
        time.sleep(1.1)
        scim.delete(f"Users/{known.accounts[0].id}").raise_for_status()
        assert target.read_changes(known) is None  # the counts do not add up
