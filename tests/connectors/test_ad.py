"""The AD target against a real Samba AD DC (one per session, an OU per test): the
objects as the SPEC maps them, sAMAccountName and cn collisions, the password, the
userAccountControl bit, accountExpires, OU moves, groups, adoption, and the failures
(an over-long employee_id, an unverifiable certificate, a wrong password)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import ldap3
import pytest

from app import launchers
from connectors.base import Conflict, Permanent, Retryable, TargetError
from connectors.kernel import Kernel
from connectors.targets.ad import AdDriver, schema
from jml.config import AdTarget
from jml.dn import dn_key
from jml.model import HrRecord, Lifecycle
from jml.operations import Action, Create
from jml.plan import Desired, build_plan
from tests.connectors.apps import ad_target
from tests.connectors.test_contract import accounts, apply, attributes, grant, ok, op, update

ENV = "JML_TEST_AD_PASSWORD"


def config(dc: launchers.SambaDc, ou: launchers.AdOu, **options) -> AdTarget:
    return AdTarget.model_validate(ad_target("ad", dc, ou, ENV, retry={"attempts": 1}, **options))


def connect(target: AdTarget, password: str) -> Kernel:
    return Kernel(AdDriver(target, environ={ENV: password}), target.retry)


@pytest.fixture
def domain(samba_dc: launchers.SambaDc, ad_ou: launchers.AdOu) -> Iterator[Kernel]:
    with connect(config(samba_dc, ad_ou), samba_dc.password) as target:
        yield target


@pytest.fixture
def raw(samba_dc: launchers.SambaDc) -> Iterator[ldap3.Connection]:
    connection = samba_dc.connection()
    try:
        yield connection
    finally:
        connection.unbind()


@pytest.fixture
def tag() -> str:
    """A word unique to the test: the domain (UPNs, sAMAccountNames) is shared."""
    return uuid.uuid4().hex[:6]


def person(eid: str, tag: str, **changes: str | None) -> Create:
    """A create of one person with an address unique in the domain."""
    values = attributes(eid, user_name=f"{eid.lower()}.{tag}@example.com", email=f"{eid.lower()}.{tag}@example.com")
    values.update(changes)
    return Create(target="ad", employee_id=eid, reason="joiner", attributes=values, active=True)


def objects(raw: ldap3.Connection, base: str, attributes: list[str] | None = None) -> dict[str, dict]:
    """employeeID (or cn) -> the user's DN and attributes under `base`, as the DC has them."""
    raw.search(base, "(objectClass=user)", attributes=attributes or ["*", "objectGUID"])
    found = {}
    for item in raw.response:
        if item["type"] == "searchResEntry":
            values = {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in item["attributes"].items()}
            found[values.get("employeeID") or values["cn"]] = {"dn": item["dn"], **values}
    return found


def test_a_user_as_the_spec_maps_it(domain, raw, ad_ou, tag) -> None:
    eng = f"Engineering.{tag}"
    outcomes = ok(apply(domain, [
        person("M1", tag, given_name="Jane", family_name="Doe", display_name="Jane Doe"),
        person("R1", tag, given_name="Jane", family_name="Doe", display_name="Jane Doe", manager="M1"),
        person("L1", tag, given_name="Maximilian", family_name="Vanderbergh-Oppenheimer", display_name="Max V",
               department="Sales"),
        grant("R1", eng),
    ]))  # fmt: skip
    found = objects(raw, ad_ou.base_dn)
    m1, r1, l1 = found["M1"], found["R1"], found["L1"]
    assert m1["dn"] == f"CN=Jane Doe,{ad_ou.engineering_dn}"
    assert r1["dn"] == f"CN=Jane Doe (R1),{ad_ou.engineering_dn}"  # the OU held a Jane Doe
    assert l1["dn"] == f"CN=Max V,{ad_ou.people_dn}"
    assert {"user", "person"} <= set(r1["objectClass"])
    sams = {m1["sAMAccountName"], r1["sAMAccountName"]}
    assert len(sams) == 2 and all(s.startswith("jdoe") for s in sams)
    assert len(l1["sAMAccountName"]) <= 20 and l1["sAMAccountName"].startswith("mvanderbergh-oppenh")
    assert r1["userPrincipalName"] == f"r1.{tag}@example.com" and r1["mail"] == f"r1.{tag}@example.com"
    assert (r1["givenName"], r1["sn"], r1["displayName"], r1["department"], r1["title"]) == (
        "Jane", "Doe", "Jane Doe", "Engineering", "ENG")  # fmt: skip
    assert dn_key(r1["manager"]) == dn_key(m1["dn"])
    assert r1["userAccountControl"] == str(schema.NORMAL_ACCOUNT)
    assert r1["pwdLastSet"] == "0"  # must change at first logon
    assert outcomes[1].account_id == str(uuid.UUID(bytes_le=r1["objectGUID"]))
    raw.search(ad_ou.groups_dn, "(objectClass=group)", attributes=["sAMAccountName", "groupType", "member"])
    group = raw.response[0]["attributes"]
    assert group["groupType"] == ["-2147483646"] and group["sAMAccountName"][0].startswith(f"engineering.{tag}")
    assert [dn_key(m) for m in group["member"]] == [dn_key(r1["dn"])]


def test_the_password_is_random_strong_set_and_never_shown(domain, ad_ou, samba_dc, tag, monkeypatch, caplog) -> None:
    made: list[str] = []
    original = schema.new_password

    def recording() -> str:
        made.append(original())
        return made[-1]

    monkeypatch.setattr("connectors.targets.ad.driver.new_password", recording)
    caplog.set_level("DEBUG")
    outcomes = ok(apply(domain, [person("P1", tag), person("P2", tag, department="Sales")]))
    assert len(made) == 2 and made[0] != made[1]
    for password in made:
        assert len(password) >= 24
        assert any(c.isupper() for c in password) and any(c.islower() for c in password)
        assert any(c.isdigit() for c in password) and any(not c.isalnum() for c in password)
        assert password not in caplog.text and password not in repr(outcomes)
    # the DC holds that password: a bind with it is refused only because it must be changed
    user = f"p1.{tag}@example.com"
    server = ldap3.Server(samba_dc.host, port=636, use_ssl=True, get_info=ldap3.NONE,
                          tls=ldap3.Tls(ca_certs_file=str(samba_dc.ca_file)))  # fmt: skip
    right = ldap3.Connection(server, user=user, password=made[0])
    wrong = ldap3.Connection(server, user=user, password=made[1])
    right_bound, wrong_bound = right.bind(), wrong.bind()
    assert not wrong_bound and "52e" in wrong.result["message"]  # a wrong password
    assert right_bound or "773" in right.result["message"], right.result  # must change it


def test_disable_sets_only_its_bit_moves_and_enable_moves_back(domain, raw, ad_ou, tag) -> None:
    ok(apply(domain, [person("U1", tag), person("U2", tag, manager="U1"), grant("U1", f"staff{tag}")]))
    dn = objects(raw, ad_ou.base_dn)["U1"]["dn"]
    dont_expire = 0x10000
    assert raw.modify(dn, {"userAccountControl": [(ldap3.MODIFY_REPLACE, [str(schema.NORMAL_ACCOUNT | dont_expire)])]})
    ok(apply(domain, [op("U1", Action.DISABLE)]))
    u1 = objects(raw, ad_ou.base_dn)["U1"]
    assert u1["dn"] == f"CN=Given U1 Family,{ad_ou.disabled_dn}"
    assert u1["userAccountControl"] == str(schema.NORMAL_ACCOUNT | dont_expire | schema.ACCOUNTDISABLE)
    found = accounts(domain.read())
    assert found["U1"].active is False and found["U1"].entitlements == {f"staff{tag}"}
    assert found["U2"].attributes["manager"] == "U1"  # the link followed the move
    ok(apply(domain, [op("U1", Action.ENABLE)]))
    u1 = objects(raw, ad_ou.base_dn)["U1"]
    assert u1["dn"] == f"CN=Given U1 Family,{ad_ou.engineering_dn}"
    assert u1["userAccountControl"] == str(schema.NORMAL_ACCOUNT | dont_expire)
    assert accounts(domain.read())["U2"].attributes["manager"] == "U1"


def test_account_expires_is_the_filetime_after_the_last_day(domain, raw, ad_ou, tag) -> None:
    ok(apply(domain, [person("C1", tag, accountExpires="2027-03-31"), person("C2", tag)]))
    found = objects(raw, ad_ou.base_dn, ["employeeID", "cn", "accountExpires"])
    expected = datetime(2027, 4, 1, tzinfo=UTC)
    ticks = (expected - datetime(1601, 1, 1, tzinfo=UTC)).days * 86400 * 10**7
    assert found["C1"]["accountExpires"] == str(ticks) == str(schema.filetime_of("2027-03-31"))
    read = accounts(domain.read())
    assert (read["C1"].attributes["accountExpires"], read["C2"].attributes["accountExpires"]) == ("2027-03-31", None)
    ok(apply(domain, [update("C1", accountExpires="2027-06-30")]))  # a renewal
    assert accounts(domain.read())["C1"].attributes["accountExpires"] == "2027-06-30"
    ok(apply(domain, [update("C1", accountExpires=None)]))  # a rehire: never
    raw.search(found["C1"]["dn"], "(objectClass=user)", ldap3.BASE, attributes=["accountExpires"])
    assert raw.response[0]["raw_attributes"]["accountExpires"] == [str(schema.NEVER).encode()]
    assert raw.modify(found["C1"]["dn"], {"accountExpires": [(ldap3.MODIFY_REPLACE, ["0"])]})
    assert accounts(domain.read())["C1"].attributes["accountExpires"] is None  # 0 is never too


def test_a_transfer_moves_the_object_keeping_guid_and_groups(domain, raw, ad_ou, tag) -> None:
    ok(apply(domain, [person("T1", tag), person("T2", tag, manager="T1"), grant("T1", f"g{tag}")]))
    before = objects(raw, ad_ou.base_dn)["T1"]
    ok(apply(domain, [update("T1", department="Sales", display_name="Renamed Person")]))
    after = objects(raw, ad_ou.base_dn)["T1"]
    assert after["dn"] == f"CN=Renamed Person,{ad_ou.people_dn}"
    assert after["objectGUID"] == before["objectGUID"]
    found = accounts(domain.read())
    assert found["T1"].entitlements == {f"g{tag}"} and found["T2"].attributes["manager"] == "T1"
    ok(apply(domain, [update("T1", title="NEW")]))  # nothing else changes: not moved again
    assert objects(raw, ad_ou.base_dn)["T1"]["dn"] == after["dn"]


def test_values_longer_than_ad_holds(domain, raw, ad_ou, tag, caplog) -> None:
    outcomes = apply(domain, [person("E" * 17, tag), person("G1", tag, given_name="G" * 70), grant("E" * 17, "x")])
    assert isinstance(outcomes[0].error, Permanent) and "employeeID" in str(outcomes[0].error)
    assert isinstance(outcomes[2].error, Permanent)
    assert outcomes[1].ok
    found = objects(raw, ad_ou.base_dn)
    assert "E" * 17 not in found and found["G1"]["givenName"] == "G" * 64
    assert "G1: givenName is longer than AD holds" in caplog.text and "G" * 64 not in caplog.text


def test_a_kept_sam_is_skipped_for_others_and_given_back_to_its_owner(domain, raw, ad_ou, tag) -> None:
    kept = f"zk{tag}"  # kept for OLD, whose account is gone: nobody else gets it
    domain.driver.reserve({"OLD": kept.upper(), "GONE": f"{kept}2"})
    new = ok(apply(domain, [person("N1", tag, given_name="Zoe", family_name=f"K{tag}", display_name="Zoe K")]))
    found = objects(raw, ad_ou.base_dn)
    assert found["N1"]["sAMAccountName"] == f"{kept}3" and new[0].ok  # both kept names skipped
    back = ok(apply(domain, [person("OLD", tag, given_name="Other", family_name="Name", display_name="Old Z")]))
    found = objects(raw, ad_ou.base_dn)
    assert found["OLD"]["sAMAccountName"] == kept and back[0].ok  # the rehire gets it back
    assert found["OLD"]["userPrincipalName"] == f"old.{tag}@example.com"
    assert domain.driver.made == {"N1": f"{kept}3", "OLD": kept}
    domain.driver.reserve({"X1": f"{kept}3"})  # kept for X1 but held by N1's account
    clash = apply(domain, [person("X1", tag, given_name="Zoe", family_name=f"K{tag}", display_name="Zoe X")])
    assert isinstance(clash[0].error, Conflict) and "X1" not in objects(raw, ad_ou.base_dn)


def test_adoption_by_upn_links_and_moves_the_account(domain, raw, ad_ou, tag) -> None:
    upn = f"ada.{tag}@example.com"
    dn = f"CN=Ada Unlinked,{ad_ou.people_dn}"
    assert raw.add(dn, ["top", "person", "organizationalPerson", "user"],
                   {"sAMAccountName": f"ada{tag}", "userPrincipalName": upn})  # fmt: skip
    other = f"CN=Bob Other,{ad_ou.people_dn}"
    assert raw.add(other, ["top", "person", "organizationalPerson", "user"],
                   {"sAMAccountName": f"bob{tag}", "userPrincipalName": f"bob.{tag}@example.com", "employeeID": "X9"})
    record = HrRecord("A1", "Ada", "Lovelace", upn, "Engineering", "ENG", "employee", "active", datetime(2020, 1, 1).date())
    bob = HrRecord("B1", "Bob", "Other", f"bob.{tag}@example.com", "Engineering", "ENG", "employee", "active",
                   datetime(2020, 1, 1).date())  # fmt: skip
    desired = {
        "A1": Desired("A1", Lifecycle.ACTIVE, record, {"ad": {"staff": "rule"}}),
        "B1": Desired("B1", Lifecycle.ACTIVE, bob, {"ad": {"staff": "rule"}}),
    }
    plan = build_plan(desired, {"ad": domain.read()}, {"ad": {}}, {"ad": {"staff"}})
    assert [i.kind.value for i in plan.issues] == ["conflict"]  # Bob's account is another person's
    ok(apply(domain, [o for o in plan.operations if o.employee_id == "A1"]))
    found = objects(raw, ad_ou.base_dn)
    assert found["A1"]["dn"] == f"CN=Ada Lovelace,{ad_ou.engineering_dn}"
    assert found["A1"]["sAMAccountName"] == f"ada{tag}"  # kept
    assert found["X9"]["dn"] == other  # left alone
    again = build_plan(desired, {"ad": domain.read()}, {"ad": {}}, {"ad": {"staff"}})
    assert [o for o in again.operations if o.employee_id == "A1"] == []


def test_an_unverifiable_dc_and_a_wrong_password(samba_dc, ad_ou) -> None:
    unverified = config(samba_dc, ad_ou).model_copy(update={"ca_file": None})
    with connect(unverified, samba_dc.password) as target, pytest.raises(Retryable):
        target.read()
    with connect(config(samba_dc, ad_ou), "not-the-password") as target, pytest.raises(TargetError) as raised:
        target.read()
    assert "not-the-password" not in str(raised.value)
