"""The LDAP target's delta read (`read_changes`) against a real slapd: what jml knew
brought up to date is what a full read gives, through changes made by jml and outside it
(moves, renames and deletions that leave other entries naming a DN that is gone); a
delta reads only what changed; one it cannot merge exactly reads in full (None)."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import timedelta

import ldap3
import pytest

from connectors.kernel import driver as kernel_driver
from connectors.targets.ldap import changes
from jml.model import Snapshot
from jml.operations import Action
from tests.connectors import test_ldap
from tests.connectors.test_contract import apply, create, grant, ok, op, update
from tests.connectors.test_ldap import config, connect

directory, raw = test_ldap.directory, test_ldap.raw  # the fixtures, as this module's own


@pytest.fixture(autouse=True)
def exact_since(monkeypatch):
    """The delta starts at the read's second (one clock here; `>=` reads that second
    again), so no test waits."""
    monkeypatch.setattr(kernel_driver, "OVERLAP", timedelta(0))


def settled(directory) -> Snapshot:
    """A full read a second after the writes before it, but one: a new entry `T`. The
    next delta starts at the newest write's second, so it reads `T` again, not them."""
    time.sleep(1.1)
    ok(apply(directory, [create("T")]))
    return directory.read()


def same(delta: Snapshot | None, full: Snapshot) -> None:
    assert delta is not None
    assert {a.id: a for a in delta.accounts} == {a.id: a for a in full.accounts}
    assert replace(delta, accounts=[], memo={}) == replace(full, accounts=[], memo={})
    assert delta.memo["unlinked"] == full.memo["unlinked"]


def test_a_delta_read_is_what_a_full_read_gives(directory, raw, ldap_tree) -> None:
    people = [f"E{n:02d}" for n in range(8)]
    ok(apply(directory, [create("E00"), *(create(e, manager="E00") for e in people[1:]),
                         *(grant(e, "staff") for e in people), grant("E01", "admins"), grant("E00", "managers")]))  # fmt: skip
    raw.add(f"cn=Outsider,{ldap_tree.people_dn}", ["inetOrgPerson"], {"cn": "Outsider", "sn": "O"})
    known = settled(directory)
    assert known.memo["unlinked"] and set(known.memo) == {"since", "newest", "unlinked"}
    dn = {e: f"uid={e},{ldap_tree.people_dn}" for e in people}
    # by jml: an update, a disable (a move), a new entry and a grant
    ok(apply(directory, [update("E02", title="Boss"), op("E03", Action.DISABLE), create("E08", manager="E02"),
                         grant("E08", "admins")]))  # fmt: skip
    # outside jml: a member removed, a manager renamed (reports keep naming the old DN),
    # an entry deleted (its groups and reports keep naming it), an unlinked entry moved
    raw.modify(f"cn=staff,{ldap_tree.groups_dn}", {"member": [(ldap3.MODIFY_DELETE, [dn["E04"]])]})
    raw.modify_dn(dn["E00"], "uid=E99")
    raw.delete(dn["E01"])
    raw.modify_dn(f"cn=Outsider,{ldap_tree.people_dn}", "cn=Outsider", new_superior=ldap_tree.disabled_dn)
    delta = directory.read_changes(known)
    full = directory.read()
    same(delta, full)
    accounts = {a.external_id: a for a in full.accounts}
    assert accounts["E05"].attributes["manager"] == dn["E00"]  # the dangling DN, as a full read has it
    assert "staff" not in accounts["E04"].entitlements and not accounts["E03"].active
    assert "E01" not in accounts and accounts["E99"].entitlements == set()  # its groups name the old DN


def test_groups_that_come_and_go(directory, raw, ldap_tree) -> None:
    ok(apply(directory, [create("E1"), create("E2"), grant("E1", "staff"), grant("E2", "old")]))
    known = settled(directory)
    raw.delete(f"cn=old,{ldap_tree.groups_dn}")
    raw.modify_dn(f"cn=staff,{ldap_tree.groups_dn}", "cn=everyone")
    ok(apply(directory, [grant("E2", "new")]))
    same(directory.read_changes(known), directory.read())


def test_a_delta_reads_only_what_changed(directory, raw, ldap_tree, monkeypatch) -> None:
    ok(apply(directory, [*(create(f"E{n}") for n in range(6)), *(grant(f"E{n}", "staff") for n in range(6))]))
    known = settled(directory)
    asked: list[tuple[str, int]] = []  # (filter, entries found) of each search but the census
    search = directory.driver._wire.search

    def counting(base, wanted, attributes, **kw):
        found = search(base, wanted, attributes, **kw)
        if attributes not in (["entryUUID"], ["1.1"]):
            asked.append((wanted, len(found)))
        return found

    monkeypatch.setattr(directory.driver._wire, "search", counting)
    delta = directory.read_changes(known)
    since = known.memo["since"]
    person, group = "(objectClass=inetOrgPerson)", "(objectClass=groupOfNames)"
    delta_searches = [changes.changed_since(person, since)] * 2 + [changes.changed_since(group, since)]
    assert asked == list(zip(delta_searches, [1, 0, 0], strict=True))  # T again, and nothing more asked
    same(delta, directory.read())
    ok(apply(directory, [update("E1", title="Boss")]))
    asked.clear()
    delta = directory.read_changes(known)
    assert asked == list(zip(delta_searches, [2, 0, 0], strict=True))
    same(delta, directory.read())


def test_what_cannot_be_merged_reads_in_full(slapd, ldap_tree, raw) -> None:
    with connect(config(slapd, ldap_tree, page_size=2), slapd.password) as directory:
        ok(apply(directory, [create(f"E{n}") for n in range(8)]))
        known = directory.read()
        assert directory.read_changes(replace(known, memo={})) is None  # no memo: never a delta
        raw.delete(f"uid=E0,{ldap_tree.people_dn}")
        raw.delete(f"uid=E1,{ldap_tree.people_dn}")
        assert directory.read_changes(known) is not None  # two DNs touched: a delta
        raw.delete(f"uid=E2,{ldap_tree.people_dn}")
        assert directory.read_changes(known) is None  # 3 > max(page_size, 8 // 4): a full read costs less
