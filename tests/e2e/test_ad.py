"""End to end: `jml run` into an Active Directory (an OU of the session's Samba AD DC)
over three days, the DC's state read from the DC itself after each run.

Day 1: joiners (a manager and a report, two Jane Does, a long name), a pre-hire, a
person on leave, a contractor with a contract end, a leaver-to-be whose termination
date is known, an unlinked account adopted by its UPN and one of another person (a
conflict). Day 2: the pre-hire starts, a mover changes OU, the contract is renewed,
the leaver leaves. Day 3: the leaver is rehired.
"""

from __future__ import annotations

import uuid

import pytest
import yaml

from app import launchers
from connectors.targets.ad.schema import ACCOUNTDISABLE, NEVER, filetime_of
from jml.dn import dn_key
from tests.e2e.helpers import ATTENTION, CONVERGED, Scenario, worker

POLICY = {
    "bundles": {"staff": {"grants": {"ad": ["all-staff"]}}, "engineering": {"grants": {"ad": ["engineering"]}}},
    "rules": [
        {"name": "everyone", "when": {"employment_type": ["employee", "contractor"]}, "grant": ["staff"]},
        {"name": "engineers", "when": {"department": ["Engineering"]}, "grant": ["engineering"]},
    ],
}


@pytest.fixture
def ad(scenario: Scenario, samba_dc: launchers.SambaDc, ad_ou: launchers.AdOu):
    tag = uuid.uuid4().hex[:6]
    target = {
        "name": "ad", "type": "ad", "url": samba_dc.url, "ca_file": str(samba_dc.ca_file),
        "bind_dn": samba_dc.bind_dn, "password_env": "AD_PASSWORD", "base_dn": ad_ou.base_dn,
        "ou": {"from": "department", "map": {"Engineering": ad_ou.engineering_dn}, "default": ad_ou.people_dn},
        "groups_ou": ad_ou.groups_dn, "disabled_ou": ad_ou.disabled_dn,
        "sam_account_name": {"template": "{first_name:.1}{last_name}", "max_length": 20},
    }  # fmt: skip
    document = yaml.safe_load(scenario.config.read_text(encoding="utf-8"))
    document["targets"] = [target]
    scenario.config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    scenario.write_policy(POLICY)
    return tag


def rows(tag: str, day: int) -> list[dict[str, str]]:
    def w(eid: str, **fields: str) -> dict[str, str]:
        return worker(eid, email=f"{eid.lower()}.{tag}@example.com", **fields)

    leaver = {1: {"termination_date": "2026-03-03"}, 2: {"status": "terminated", "termination_date": "2026-03-03"},
              3: {"hire_date": "2026-03-09"}}[day]  # fmt: skip
    return [
        w("M1", first_name="Mia", last_name=f"Boss{tag}"),
        w("R1", first_name="Rob", last_name=f"Report{tag}", manager_id="M1",
          department="Sales" if day == 1 else "Engineering"),
        w("J1", first_name="Jane", last_name=f"Doe{tag}"),
        w("J2", first_name="Jane", last_name=f"Doe{tag}"),
        w("N1", first_name="Max", last_name=f"Vanderbergh{tag}Oppenheimer"),
        w("P1", hire_date="2026-03-03"),
        w("V1", status="leave"),
        w("C1", employment_type="contractor", contract_end_date="2026-06-30" if day == 1 else "2026-12-31"),
        w("L1", **leaver),
        w("A1", first_name="Ada", last_name="Adopted"),
        w("X1", first_name="Xena", last_name="Clash"),
    ]  # fmt: skip


def users(dc: launchers.SambaDc, base: str) -> dict[str, dict]:
    """employeeID -> DN and attributes of the users under `base` (cn for unlinked ones)."""
    connection = dc.connection()
    try:
        connection.search(base, "(objectClass=user)", attributes=["*"])
        found = {}
        for item in connection.response:
            if item["type"] == "searchResEntry":
                values = {k: v[0] if isinstance(v, list) and len(v) == 1 else v for k, v in item["attributes"].items()}
                found[values.get("employeeID") or values["cn"]] = {"dn": item["dn"], **values}
        return found
    finally:
        connection.unbind()


def members(dc: launchers.SambaDc, ou: launchers.AdOu) -> dict[str, set[str]]:
    connection = dc.connection()
    try:
        connection.search(ou.groups_dn, "(objectClass=group)", attributes=["cn", "member"])
        return {item["attributes"]["cn"][0]: {dn_key(m) for m in item["attributes"].get("member", [])}
                for item in connection.response if item["type"] == "searchResEntry"}  # fmt: skip
    finally:
        connection.unbind()


def expires(day: str) -> str:
    return str(filetime_of(day))


def test_three_days_in_active_directory(scenario: Scenario, ad: str, samba_dc, ad_ou) -> None:
    tag = ad
    env = {"AD_PASSWORD": samba_dc.password}
    with samba_dc.connection() as raw:
        user = ["top", "person", "organizationalPerson", "user"]
        assert raw.add(f"CN=Old Ada,{ad_ou.people_dn}", user,
                       {"sAMAccountName": f"oldada{tag}", "userPrincipalName": f"a1.{tag}@example.com"})
        assert raw.add(f"CN=Someone Else,{ad_ou.people_dn}", user,
                       {"sAMAccountName": f"else{tag}", "userPrincipalName": f"x1.{tag}@example.com",
                        "employeeID": "X99"})  # fmt: skip

    # -- day 1 ---------------------------------------------------------------------
    scenario.write_feed(rows(tag, 1))
    scenario.run("run", "--as-of", "2026-03-02", env=env).expect(ATTENTION)  # the conflict
    found = users(samba_dc, ad_ou.base_dn)
    eng, people = ad_ou.engineering_dn, ad_ou.people_dn
    assert found["M1"]["dn"] == f"CN=Mia Boss{tag},{eng}"
    assert found["R1"]["dn"] == f"CN=Rob Report{tag},{people}"
    assert dn_key(found["R1"]["manager"]) == dn_key(found["M1"]["dn"])
    assert found["J1"]["dn"] == f"CN=Jane Doe{tag},{eng}"
    assert found["J2"]["dn"] == f"CN=Jane Doe{tag} (J2),{eng}"
    assert (found["J1"]["sAMAccountName"], found["J2"]["sAMAccountName"]) == (f"jdoe{tag}", f"jdoe{tag}2")
    assert found["N1"]["sAMAccountName"] == f"mvanderbergh{tag}oppenheimer"[:20]
    assert found["J1"]["userPrincipalName"] == f"j1.{tag}@example.com"
    for eid in ("P1", "V1"):  # a pre-hire and a person on leave: an account, disabled
        assert int(found[eid]["userAccountControl"]) & ACCOUNTDISABLE, eid
        assert found[eid]["pwdLastSet"] == "0"
    assert not int(found["M1"]["userAccountControl"]) & ACCOUNTDISABLE
    assert found["C1"]["accountExpires"] == expires("2026-06-30")
    assert found["L1"]["accountExpires"] == expires("2026-03-03")
    assert found["M1"]["accountExpires"] == str(NEVER)
    assert found["A1"]["dn"] == f"CN=Ada Adopted,{eng}"  # adopted by its UPN, moved to its OU
    assert found["A1"]["sAMAccountName"] == f"oldada{tag}"
    assert found["X99"]["dn"] == f"CN=Someone Else,{people}"  # another person's: left alone
    assert "X1" not in found
    assert [e["employee_id"] for e in scenario.exceptions_of("conflict")] == ["X1"]
    groups = members(samba_dc, ad_ou)
    assert dn_key(found["L1"]["dn"]) in groups["all-staff"] and dn_key(found["J1"]["dn"]) in groups["engineering"]
    assert dn_key(found["R1"]["dn"]) not in groups["engineering"]

    # -- day 2 ---------------------------------------------------------------------
    scenario.write_feed(rows(tag, 2))
    scenario.run("run", "--as-of", "2026-03-04", env=env).expect(ATTENTION)
    before, found = found, users(samba_dc, ad_ou.base_dn)
    assert not int(found["P1"]["userAccountControl"]) & ACCOUNTDISABLE  # started
    assert found["R1"]["dn"] == f"CN=Rob Report{tag},{eng}"  # the mover, moved
    assert found["R1"]["objectGUID"] == before["R1"]["objectGUID"]
    assert dn_key(found["R1"]["manager"]) == dn_key(found["M1"]["dn"])
    assert found["C1"]["accountExpires"] == expires("2026-12-31")  # renewed
    assert found["L1"]["dn"] == f"CN=Firstl1 Lastl1,{ad_ou.disabled_dn}"  # the leaver
    assert int(found["L1"]["userAccountControl"]) & ACCOUNTDISABLE
    groups = members(samba_dc, ad_ou)
    assert all(dn_key(found["L1"]["dn"]) not in held for held in groups.values())
    assert dn_key(found["R1"]["dn"]) in groups["engineering"]

    # -- day 3 ---------------------------------------------------------------------
    scenario.write_feed(rows(tag, 3))
    scenario.run("run", "--as-of", "2026-03-10", env=env).expect(ATTENTION)
    again = users(samba_dc, ad_ou.base_dn)
    assert again["L1"]["dn"] == f"CN=Firstl1 Lastl1,{eng}"  # rehired: back, enabled, never expires
    assert again["L1"]["objectGUID"] == found["L1"]["objectGUID"]
    assert not int(again["L1"]["userAccountControl"]) & ACCOUNTDISABLE
    assert again["L1"]["accountExpires"] == str(NEVER)
    assert dn_key(again["L1"]["dn"]) in members(samba_dc, ad_ou)["all-staff"]
    # the fixed point: the same day again plans nothing for AD
    document = scenario.run("run", "--as-of", "2026-03-10", "--dry-run", env=env).json
    assert document is not None and document["operations"]["planned"] == 0, document


def test_bad_input_in_active_directory(scenario: Scenario, ad: str, samba_dc, ad_ou) -> None:
    """ldap:// is a config error (exit 2); a wrong bind password and an OU that does not
    exist end the run `attention` (exit 3) with a failed_operation naming the target,
    nothing written."""
    document = yaml.safe_load(scenario.config.read_text(encoding="utf-8"))
    target = document["targets"][0]
    scenario.write_feed([worker("W1", email=f"w1.{ad}@example.com")])

    def configure(**changes: object) -> None:
        document["targets"] = [{**target, **changes}]
        scenario.config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")

    configure(url=samba_dc.url.replace("ldaps://", "ldap://").replace(":636", ":389"))
    refused = scenario.run("run", "--as-of", "2026-03-02", env={"AD_PASSWORD": samba_dc.password}).expect(2)
    assert "ldaps://" in refused.stderr and "targets.0" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr

    configure()
    wrong = scenario.run("run", "--as-of", "2026-03-02", env={"AD_PASSWORD": "not-the-password"}).expect(ATTENTION)
    assert "not-the-password" not in wrong.stdout + wrong.stderr
    [failure] = scenario.exceptions_of("failed_operation")
    assert failure["target"] == "ad"

    configure(ou=f"OU=Missing,{ad_ou.base_dn}")
    scenario.run("run", "--as-of", "2026-03-02", env={"AD_PASSWORD": samba_dc.password}).expect(ATTENTION)
    failures = scenario.exceptions_of("failed_operation")
    assert failures and all(f["target"] == "ad" for f in failures)
    assert any("OU=Missing" in f["detail"] for f in failures), [f["detail"] for f in failures]
    assert users(samba_dc, ad_ou.base_dn) == {}


KEPT = "SELECT employee_id, value FROM identifiers WHERE kind LIKE 'sam_account_name:%' ORDER BY employee_id"


def test_a_sam_account_name_is_kept_for_good(scenario: Scenario, ad: str, samba_dc, ad_ou) -> None:
    """K1's account is deleted in AD by hand, then K1 leaves: a new joiner with the same
    name does not get K1's sAMAccountName; while an object made by hand holds it, K1's
    rehire is a failed_operation (nothing written); once it is gone, the rehire gets it."""
    tag = ad
    env = {"AD_PASSWORD": samba_dc.password}
    kept = f"kkeep{tag}"

    def kim(eid: str, **fields: str) -> dict[str, str]:
        return worker(eid, email=f"{eid.lower()}.{tag}@example.com", first_name="Kim", last_name=f"Keep{tag}", **fields)

    scenario.write_feed([kim("K1")])
    scenario.run("run", "--as-of", "2026-03-02", env=env).expect(CONVERGED)
    found = users(samba_dc, ad_ou.base_dn)
    assert found["K1"]["sAMAccountName"] == kept
    assert scenario.ledger_rows(KEPT) == [("K1", kept)]  # kept from its first run
    squatter = f"CN=Squatter,{ad_ou.people_dn}"
    with samba_dc.connection() as raw:
        assert raw.delete(found["K1"]["dn"])
        assert raw.add(squatter, ["top", "person", "organizationalPerson", "user"],
                       {"sAMAccountName": kept, "employeeID": "Z9"})  # fmt: skip

    scenario.write_feed([kim("K1", status="terminated", termination_date="2026-03-03"), kim("K2")])
    second = scenario.run("run", "--as-of", "2026-03-04", env=env)
    found = users(samba_dc, ad_ou.base_dn)
    assert "K1" not in found and found["K2"]["sAMAccountName"] == f"{kept}2"  # K1's is not given away
    assert scenario.ledger_rows(KEPT) == [("K1", kept), ("K2", f"{kept}2")]  # not kept for Z9 too
    assert "Z9: its sAMAccountName is kept for K1" in second.stderr, second.stderr[-2000:]

    scenario.write_feed([kim("K1", hire_date="2026-03-09"), kim("K2")])
    scenario.run("run", "--as-of", "2026-03-10", env=env).expect(ATTENTION)
    assert "K1" not in users(samba_dc, ad_ou.base_dn)
    failures = scenario.exceptions_of("failed_operation")  # the create, and the grants relying on it
    assert {e["employee_id"] for e in failures} == {"K1"}
    assert any("sAMAccountName kept for them is held by another object" in e["detail"] for e in failures), failures
    with samba_dc.connection() as raw:
        assert raw.delete(squatter)
    scenario.run("run", "--as-of", "2026-03-10", env=env)
    found = users(samba_dc, ad_ou.base_dn)
    assert found["K1"]["sAMAccountName"] == kept  # the rehire gets it back
    assert found["K1"]["userPrincipalName"] == f"k1.{tag}@example.com"
