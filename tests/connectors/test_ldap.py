"""The LDAP target against a real OpenLDAP slapd (one per session, a fresh subtree per
test), checked by reading the directory itself: DNs and escaping, objectClasses,
group entries, memberships and manager links that follow a moved entry, the last
member of a groupOfNames, adoption of an unlinked entry, and clear errors."""

from __future__ import annotations

from collections.abc import Iterator

import ldap3
import pytest

from app import launchers
from connectors.base import Permanent, Retryable
from connectors.targets.ldap import LdapTargetConnector
from connectors.targets.ldap_dn import dn_key, rdn_value
from jml.config import LdapTarget
from jml.model import Action
from tests.connectors.apps import ldap_target
from tests.connectors.test_contract import accounts, attributes, create, grant, ok, op, revoke, update

ENV = "JML_TEST_LDAP_PASSWORD"


def config(slapd: launchers.SlapdServer, tree: launchers.LdapTree, **options) -> LdapTarget:
    return LdapTarget.model_validate(ldap_target("dir", slapd, tree, ENV, **options))


@pytest.fixture
def directory(slapd: launchers.SlapdServer, ldap_tree: launchers.LdapTree) -> Iterator[LdapTargetConnector]:
    with LdapTargetConnector(config(slapd, ldap_tree), environ={ENV: slapd.password}) as target:
        yield target


@pytest.fixture
def raw(slapd: launchers.SlapdServer) -> Iterator[ldap3.Connection]:
    connection = slapd.connection()
    try:
        yield connection
    finally:
        connection.unbind()


def entries(raw: ldap3.Connection, base: str, attributes: list[str] | None = None) -> dict[str, dict]:
    """dn -> attributes of the entries one level under `base`, as the server has them."""
    raw.search(base, "(objectClass=*)", search_scope=ldap3.LEVEL, attributes=attributes or ["*"])
    return {item["dn"]: item["attributes"] for item in raw.response if item["type"] == "searchResEntry"}


def test_entries_as_the_issue_maps_them(directory, raw, ldap_tree) -> None:
    ok(directory.apply([create("M1"), create("R1", manager="M1"), grant("R1", "staff")]))
    people = entries(raw, ldap_tree.people_dn)
    dn = f"uid=R1,{ldap_tree.people_dn}"
    assert set(people) == {f"uid=M1,{ldap_tree.people_dn}", dn}
    entry = people[dn]
    assert {"inetOrgPerson", "organizationalPerson", "person"} <= set(entry["objectClass"])
    assert entry["cn"] == ["Given R1 Family"]
    assert (entry["givenName"], entry["sn"], entry["mail"]) == (["Given R1"], ["Family"], ["r1@example.com"])
    assert (entry["employeeNumber"], entry["departmentNumber"], entry["title"]) == (["R1"], ["Engineering"], ["ENG"])
    assert dn_key(entry["manager"][0]) == dn_key(f"uid=M1,{ldap_tree.people_dn}")
    groups = entries(raw, ldap_tree.groups_dn)
    assert list(groups) == [f"cn=staff,{ldap_tree.groups_dn}"]
    assert "groupOfNames" in groups[f"cn=staff,{ldap_tree.groups_dn}"]["objectClass"]
    assert groups[f"cn=staff,{ldap_tree.groups_dn}"]["member"] == [dn]


def test_dn_and_filter_values_are_escaped(directory, raw, ldap_tree) -> None:
    tricky = ["O'Brien, Jr.", "A+B=C", "*)(uid=*", " lead#"]
    ok(directory.apply([create(eid, user_name=f"u{n}@x.org", email=f"u{n}@x.org") for n, eid in enumerate(tricky)]))
    ok(directory.apply([grant("A+B=C", "R&D, Ops+Sec"), grant("*)(uid=*", "R&D, Ops+Sec")]))
    uids = sorted(rdn_value(dn)[1] for dn in entries(raw, ldap_tree.people_dn))
    assert uids == sorted(tricky)  # one entry each, named by the exact employee_id
    groups = entries(raw, ldap_tree.groups_dn)
    assert [rdn_value(dn)[1] for dn in groups] == ["R&D, Ops+Sec"]
    # a fresh connector finds each by a filter: `*)(uid=*` must match itself only
    with LdapTargetConnector(directory._config, environ={ENV: directory._password}) as fresh:
        ok(fresh.apply([op("*)(uid=*", Action.DISABLE)]))
    assert [rdn_value(dn)[1] for dn in entries(raw, ldap_tree.disabled_dn)] == ["*)(uid=*"]
    found = accounts(directory.read())
    assert found["A+B=C"].entitlements == found["*)(uid=*"].entitlements == {"R&D, Ops+Sec"}


def test_memberships_and_manager_links_follow_a_moved_entry(directory, raw, ldap_tree) -> None:
    ok(directory.apply([create("M1"), create("R1", manager="M1"), grant("M1", "staff"), grant("R1", "staff")]))
    ok(directory.apply([op("M1", Action.DISABLE)]))
    moved = f"uid=M1,{ldap_tree.disabled_dn}"
    assert list(entries(raw, ldap_tree.disabled_dn)) == [moved]
    members = entries(raw, ldap_tree.groups_dn)[f"cn=staff,{ldap_tree.groups_dn}"]["member"]
    assert {dn_key(m) for m in members} == {dn_key(moved), dn_key(f"uid=R1,{ldap_tree.people_dn}")}
    report = entries(raw, ldap_tree.people_dn)[f"uid=R1,{ldap_tree.people_dn}"]
    assert dn_key(report["manager"][0]) == dn_key(moved)


def test_the_last_member_leaves_a_placeholder_and_a_delete_leaves_no_trace(directory, raw, ldap_tree) -> None:
    ok(directory.apply([create("A1"), create("R1", manager="A1"), grant("A1", "solo")]))
    ok(directory.apply([revoke("A1", "solo")]))
    group = f"cn=solo,{ldap_tree.groups_dn}"
    assert entries(raw, ldap_tree.groups_dn)[group]["member"] == [group]  # groupOfNames needs one
    assert accounts(directory.read())["A1"].entitlements == set()
    ok(directory.apply([grant("A1", "solo"), grant("R1", "solo"), op("A1", Action.DELETE)]))
    assert {dn_key(m) for m in entries(raw, ldap_tree.groups_dn)[group]["member"]} == {
        dn_key(group), dn_key(f"uid=R1,{ldap_tree.people_dn}")
    }
    report = entries(raw, ldap_tree.people_dn)[f"uid=R1,{ldap_tree.people_dn}"]
    assert "manager" not in report or report["manager"] in (None, [], "")


def test_an_unlinked_entry_is_adopted_and_renamed(directory, raw, ldap_tree) -> None:
    dn = f"cn=Jane Doe,{ldap_tree.people_dn}"
    assert raw.add(dn, ["inetOrgPerson"], {"cn": "Jane Doe", "sn": "Doe", "mail": "jane@x.org"}), raw.result
    snapshot = directory.read()
    (account,) = snapshot.accounts
    assert (account.external_id, account.user_name, account.active) == (None, "jane@x.org", True)
    changes = {"external_id": [None, "E9"], "given_name": [None, "Jane"]}
    ok(directory.apply([op("E9", Action.UPDATE, {"changes": changes}, account_id=account.id)]))
    (adopted,) = directory.read().accounts
    assert (adopted.external_id, adopted.id, adopted.attributes["given_name"]) == ("E9", account.id, "Jane")
    assert list(entries(raw, ldap_tree.people_dn)) == [f"uid=E9,{ldap_tree.people_dn}"]


def test_a_report_created_before_its_manager_exists_gets_no_dangling_link(directory, caplog) -> None:
    ok(directory.apply([create("R1", manager="NOBODY")]))
    assert accounts(directory.read())["R1"].attributes["manager"] is None
    assert "manager NOBODY of R1 has no entry" in caplog.text


def test_a_user_name_change_alone_is_written_to_mail(directory) -> None:
    ok(directory.apply([create("A1")]))
    ok(directory.apply([update("A1", user_name="new@example.com")]))
    found = accounts(directory.read())["A1"]
    assert found.attributes["email"] == found.attributes["user_name"] == "new@example.com"
    assert found.attributes == attributes("A1", user_name="new@example.com", email="new@example.com")


def test_clear_errors(slapd, ldap_tree) -> None:
    with pytest.raises(ValueError, match=f"target dir: environment variable {ENV} is not set"):
        LdapTargetConnector(config(slapd, ldap_tree), environ={})
    with pytest.raises(ValueError, match="target dir: people_dn is not a DN"):
        LdapTargetConnector(LdapTarget.model_validate({**ldap_target("dir", slapd, ldap_tree, ENV), "people_dn": "not a dn"}), environ={ENV: "x"})
    with LdapTargetConnector(config(slapd, ldap_tree), environ={ENV: "wrong"}) as wrong:
        with pytest.raises(Permanent, match="bind: LDAP 49 invalidCredentials"):
            wrong.read()
        outcomes = wrong.apply([create("A1")])
        assert isinstance(outcomes[0].error, Permanent)
    missing = {**ldap_target("dir", slapd, ldap_tree, ENV), "disabled_dn": f"ou=nowhere,{slapd.suffix}"}
    with LdapTargetConnector(LdapTarget.model_validate(missing), environ={ENV: slapd.password}) as target:
        with pytest.raises(Permanent, match=f"dir: ou=nowhere,{slapd.suffix} does not exist in the directory"):
            target.read()


def test_the_password_never_shows(slapd, ldap_tree, caplog) -> None:
    with LdapTargetConnector(config(slapd, ldap_tree), environ={ENV: slapd.password}) as target:
        ok(target.apply([create("A1"), grant("A1", "g")]))
        target.read()
        assert slapd.password not in repr(target)
    assert slapd.password not in caplog.text


def test_a_server_that_goes_away_is_retryable_and_comes_back(tmp_path) -> None:
    with launchers.slapd_server(tmp_path) as server:
        tree = server.tree()
        target = LdapTargetConnector(config(server, tree), environ={ENV: server.password})
        ok(target.apply([create("A1")]))
    try:  # the server stopped: the open connection is dead
        with pytest.raises(Retryable):
            target.read()
        assert isinstance(target.apply([op("A1", Action.DISABLE)])[0].error, Retryable)
    finally:
        target.close()


def test_paged_read_of_more_entries_than_a_page(slapd, ldap_tree) -> None:
    with LdapTargetConnector(config(slapd, ldap_tree, page_size=7), environ={ENV: slapd.password}) as target:
        people = [f"P{n:02d}" for n in range(30)]
        ok(target.apply([create(eid) for eid in people] + [grant(eid, "all") for eid in people]))
        snapshot = target.read()
    assert sorted(a.external_id for a in snapshot.accounts) == people
    assert all(a.entitlements == {"all"} for a in snapshot.accounts)
