"""The AD target's delta read (`read_changes`) against a real Samba DC: what jml knew
brought up to date is what a full read gives, through changes made by jml and outside
it (a deleted manager and one moved out of the base, whose reports' `manager` changes
without their uSNChanged; a renamed and a deleted group); a delta reads only what
changed; another DC, or no memo, reads in full (None)."""

from __future__ import annotations

from dataclasses import replace

import ldap3

from jml.model import Snapshot
from jml.operations import Action
from tests.connectors import test_ad
from tests.connectors.test_ad import objects, person
from tests.connectors.test_contract import apply, grant, ok, op, update

domain, raw, tag = test_ad.domain, test_ad.raw, test_ad.tag  # the fixtures, as this module's own


def same(delta: Snapshot | None, full: Snapshot) -> None:
    assert delta is not None
    assert {a.id: a for a in delta.accounts} == {a.id: a for a in full.accounts}
    assert replace(delta, accounts=[], memo={}) == replace(full, accounts=[], memo={})
    assert delta.memo == full.memo


def test_a_delta_read_is_what_a_full_read_gives(domain, raw, ad_ou, samba_dc, tag) -> None:
    staff, old, admins = f"staff.{tag}", f"old.{tag}", f"admins.{tag}"
    ok(apply(domain, [person("M1", tag), person("M2", tag), person("M3", tag),
                      person("R1", tag, manager="M1"), person("R2", tag, manager="M2"), person("R3", tag, manager="M3"),
                      person("R4", tag, manager="R1"), person("P1", tag), grant("R1", staff), grant("R2", staff), grant("R3", old),
                      grant("R4", admins)]))  # fmt: skip
    known = domain.read()
    assert set(known.memo) == {"usn", "server"}
    found = objects(raw, ad_ou.base_dn)
    # by jml: an update, a disable (a move to Disabled), a new person and a grant (R1, R2
    # and R3 are left alone: only their managers change)
    ok(apply(domain, [update("R4", title="Boss"), op("P1", Action.DISABLE), person("N1", tag, manager="R2"),
                      grant("N1", admins)]))  # fmt: skip
    # outside jml: a manager deleted, one moved out of the base, one's employeeID changed;
    # a member removed, a group renamed, one deleted; a user without employeeID added
    assert raw.delete(found["M1"]["dn"]), raw.result
    assert raw.modify_dn(found["M2"]["dn"], found["M2"]["dn"].split(",", 1)[0], new_superior=samba_dc.base_dn), raw.result
    assert raw.modify(found["M3"]["dn"], {"employeeID": [(ldap3.MODIFY_REPLACE, ["M3X"])]}), raw.result
    assert raw.modify(f"CN={staff},{ad_ou.groups_dn}", {"member": [(ldap3.MODIFY_DELETE, [found["R2"]["dn"]])]})
    assert raw.modify_dn(f"CN={admins},{ad_ou.groups_dn}", f"CN=everyone.{tag}"), raw.result
    assert raw.delete(f"CN={old},{ad_ou.groups_dn}"), raw.result
    assert raw.add(f"CN=Outsider {tag},{ad_ou.people_dn}", ["top", "person", "organizationalPerson", "user"],
                   {"sAMAccountName": f"out{tag}"}), raw.result  # fmt: skip
    delta = domain.read_changes(known)
    full = domain.read()
    try:
        same(delta, full)
        accounts = {a.external_id: a for a in full.accounts}
        assert accounts["R1"].attributes["manager"] is None  # its manager is gone
        assert accounts["R2"].attributes["manager"].lower().endswith(samba_dc.base_dn.lower())  # read as the DN
        assert accounts["R3"].attributes["manager"] == "M3X" and not accounts["P1"].active
        assert accounts["N1"].entitlements == {f"everyone.{tag}"} and accounts["R2"].entitlements == set()
        # a manager outside the base renamed: its report's `manager` (read as its DN) follows
        outside = f"{found['M2']['dn'].split(',', 1)[0]},{samba_dc.base_dn}"
        assert raw.modify_dn(outside, f"CN=Moved {tag}"), raw.result
        same(domain.read_changes(full), domain.read())
    finally:
        raw.delete(f"CN=Moved {tag},{samba_dc.base_dn}")


def test_a_delta_reads_only_what_changed(domain, raw, ad_ou, tag, monkeypatch) -> None:
    ok(apply(domain, [*(person(f"E{n}", tag, manager="E0" if n else None) for n in range(5)),
                      *(grant(f"E{n}", f"staff.{tag}") for n in range(5))]))  # fmt: skip
    known = domain.read()
    asked: list[tuple[str, int]] = []  # (filter, objects found) of each search but the census and the clock
    search = domain.driver._wire.search

    def counting(base, wanted, attributes, **kw):
        found = search(base, wanted, attributes, **kw)
        if "uSNChanged" in wanted or "objectGUID=" in wanted:
            asked.append((wanted.split("(uSNChanged")[0], len(found)))
        return found

    monkeypatch.setattr(domain.driver._wire, "search", counting)
    delta = domain.read_changes(known)
    assert [found for _, found in asked] == [0, 0]  # nothing changed: nothing read, none read again
    same(delta, domain.read())
    ok(apply(domain, [update("E3", title="Boss")]))
    asked.clear()
    delta = domain.read_changes(known)
    assert [found for _, found in asked] == [1, 0]
    same(delta, domain.read())


def test_without_a_memo_or_on_another_dc_it_reads_in_full(domain, tag) -> None:
    ok(apply(domain, [person("E1", tag)]))
    known = domain.read()
    assert domain.read_changes(replace(known, memo={})) is None
    assert domain.read_changes(replace(known, memo={**known.memo, "server": "CN=NTDS Settings,CN=other"})) is None
    assert domain.read_changes(known) is not None
