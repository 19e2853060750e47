"""End to end: `jml run` over two HR systems (a CSV file, precedence 1, and an HRIS REST
API, precedence 2) into three real downstream systems (a scim2-server tenant, an OpenLDAP
slapd subtree, an app database on PostgreSQL), over a joiner day, a mover day and a
leaver day; after each run the state of each system is read from the system itself.

Self-contained on purpose: it needs only the session fixtures of tests/conftest.py.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
import ldap3
import pytest
import yaml
from sqlalchemy import create_engine, text

from jml.dn import dn_key, rdn_value
from tests import servers, zygote
from tests.connectors.apps import create_app_schema, ldap_target, sql_target

CSV_COLUMNS = ("employee_id", "first_name", "last_name", "email", "department", "job_code", "location",
               "manager_id", "employment_type", "status", "hire_date", "termination_date")  # fmt: skip
POLICY = {
    "bundles": {
        "staff": {"grants": {"app": ["all-staff"], "directory": ["staff"], "crm": ["crm-user"]}},
        "engineering": {"grants": {"app": ["engineering"], "directory": ["eng"]}},
        "sales": {"grants": {"crm": ["crm-sales"], "directory": ["sales"]}},
    },
    "rules": [
        {"name": "everyone", "when": {"employment_type": ["employee", "contractor"]}, "grant": ["staff"]},
        {"name": "engineers", "when": {"department": ["Engineering"]}, "grant": ["engineering"]},
        {"name": "sellers", "when": {"department": ["Sales"]}, "grant": ["sales"]},
    ],
}


def csv_row(eid: str, first: str, last: str, department: str, manager: str = "", **fields: str) -> dict:
    row = {
        "employee_id": eid, "first_name": first, "last_name": last, "email": f"{first.lower()}@example.com",
        "department": department, "job_code": department[:3].upper(), "location": "", "manager_id": manager,
        "employment_type": "employee", "status": "active", "hire_date": "2020-01-06", "termination_date": "",
    }  # fmt: skip
    row.update(fields)
    return row


def hris_item(eid: str, first: str, last: str, department: str, manager: str | None = None, **fields) -> dict:
    item = {
        "id": eid, "name": {"first": first, "last": last}, "work": {"email": f"{first.lower()}@example.com",
        "department": department, "job": department[:3].upper(), "site": fields.pop("site", None)},
        "manager": {"id": manager} if manager else None, "kind": fields.pop("kind", "employee"),
        "state": fields.pop("state", "active"), "hired": "2021-03-01",
    }  # fmt: skip
    assert not fields, fields
    return item


class World:
    """The config folder, the three downstream systems and the HRIS API of one test."""

    def __init__(self, root: Path, tenant, slapd, tree, pg_url: str, hris, prefect_env: dict) -> None:
        self.root, self.tenant, self.slapd, self.tree, self.pg_url, self.hris = root, tenant, slapd, tree, pg_url, hris
        self.env = {**os.environ, **prefect_env, "APP_TOKEN": tenant.token, "DIR_PASSWORD": slapd.password,
                    "HRIS_TOKEN": hris.token}  # fmt: skip
        (root / "policy.yaml").write_text(yaml.safe_dump(POLICY), encoding="utf-8")
        config = {
            "state": "sqlite:///jml.db",
            "sources": [
                {"name": "hr", "type": "csv", "path": "hr.csv", "precedence": 1},
                {"name": "hris", "type": "rest", "url": hris.url, "token_env": "HRIS_TOKEN", "precedence": 2,
                 "items": "data.workers", "next": "links.next",
                 "fields": {"employee_id": "id", "first_name": "name.first", "last_name": "name.last",
                            "email": "work.email", "department": "work.department", "job_code": "work.job",
                            "location": "work.site", "manager_id": "manager.id", "employment_type": "kind",
                            "status": "state", "hire_date": "hired"}},
            ],  # fmt: skip
            "targets": [
                {"name": "app", "type": "scim", "url": tenant.url, "token_env": "APP_TOKEN"},
                ldap_target("directory", slapd, tree, "DIR_PASSWORD"),
                sql_target("crm", pg_url),
            ],
            "policy": "policy.yaml",
            "lifecycle": {"prehire_days": 7, "delete_after_days": 30, "absent": "exception"},
            "safety": {"max_invalid_fraction": 0.25, "max_deprovision_fraction": 0.5, "deprovision_floor": 5},
        }
        (root / "jml.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")

    def feeds(self, csv_rows: list[dict], hris_items: list[dict]) -> None:
        lines = [",".join(CSV_COLUMNS)] + [",".join(row[c] for c in CSV_COLUMNS) for row in csv_rows]
        (self.root / "hr.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
        self.hris.paged(hris_items, size=2)

    def run(self, as_of: str, expect: int) -> dict:
        done = zygote.run(["run", "--config", str(self.root / "jml.yaml"), "--as-of", as_of, "--json"],
                          cwd=self.root, env=self.env, timeout=300)  # fmt: skip
        assert done.returncode == expect, f"exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
        return json.loads(done.stdout)

    def exceptions(self) -> list[dict]:
        done = zygote.run(["exceptions", "--config", str(self.root / "jml.yaml"), "--json"],
                          cwd=self.root, env=self.env, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)["exceptions"]

    # -- what each system really holds ---------------------------------------------

    def scim(self) -> dict[str, dict]:
        """externalId -> {active, manager, department, groups}."""
        headers = {"Authorization": f"Bearer {self.tenant.token}"}
        users = httpx.get(f"{self.tenant.url}/Users", params={"count": 1000}, headers=headers).json().get("Resources") or []
        groups = httpx.get(f"{self.tenant.url}/Groups", params={"count": 1000}, headers=headers).json().get("Resources") or []
        external = {u["id"]: u.get("externalId") for u in users}
        enterprise = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        return {
            u["externalId"]: {
                "active": u.get("active"),
                "manager": external.get(((u.get(enterprise) or {}).get("manager") or {}).get("value")),
                "department": (u.get(enterprise) or {}).get("department"),
                "groups": {g["displayName"] for g in groups if any(m["value"] == u["id"] for m in g.get("members") or [])},
            }
            for u in users
        }

    def ldap(self) -> dict[str, dict]:
        """uid -> {active, manager, department, groups}, from the directory's entries."""
        connection = self.slapd.connection()
        try:
            found: dict[str, dict] = {}
            members: dict[str, set[str]] = {}
            connection.search(self.tree.groups_dn, "(objectClass=groupOfNames)", ldap3.LEVEL, attributes=["member"])
            for group in connection.response:
                for member in group["attributes"]["member"]:
                    members.setdefault(dn_key(member), set()).add(rdn_value(group["dn"])[1])
            for active, base in ((True, self.tree.people_dn), (False, self.tree.disabled_dn)):
                connection.search(base, "(objectClass=inetOrgPerson)", ldap3.LEVEL, attributes=["manager", "departmentNumber"])
                for entry in connection.response:
                    manager = entry["attributes"].get("manager") or []
                    found[rdn_value(entry["dn"])[1]] = {
                        "active": active,
                        "manager": rdn_value(manager[0])[1] if manager else None,
                        "department": (entry["attributes"].get("departmentNumber") or [None])[0],
                        "groups": members.get(dn_key(entry["dn"]), set()),
                    }
            return found
        finally:
            connection.unbind()

    def crm(self) -> dict[str, dict]:
        """employee_id -> {active, manager, department, groups}, from the app's tables."""
        engine = create_engine(self.pg_url)
        try:
            with engine.connect() as conn:
                users = conn.execute(text("SELECT id, employee_id, is_active, manager_id, department FROM app_users")).all()
                roles = conn.execute(text("SELECT user_id, role_name FROM app_user_roles")).all()
        finally:
            engine.dispose()
        external = {row[0]: row[1] for row in users}
        return {
            row[1]: {
                "active": row[2],
                "manager": external.get(row[3]),
                "department": row[4],
                "groups": {role for user, role in roles if user == row[0]},
            }
            for row in users
        }


@pytest.fixture
def world(tmp_path, scim_tenant, slapd, ldap_tree, pg_database, prefect_api):
    create_app_schema(pg_database)
    with servers.hris_server() as hris:
        yield World(tmp_path, scim_tenant, slapd, ldap_tree, pg_database, hris, prefect_api.env())


def test_two_hr_systems_into_scim_ldap_and_sql_over_joiner_mover_and_leaver_days(world: World) -> None:
    # -- day 1: joiners. E2 is in both systems (the CSV wins, the HRIS fills the site);
    # C1 is a contractor only the HRIS knows; H9 is E3 under another id (same email):
    # both are held until someone fixes the HR data.
    world.feeds(
        [csv_row("E1", "Ada", "Lovelace", "Engineering"),
         csv_row("E2", "Grace", "Hopper", "Engineering", "E1"),
         csv_row("E3", "Alan", "Turing", "Sales", "E1")],
        [hris_item("E2", "Grace", "Hopper", "Marketing", "E1", site="Paris"),
         hris_item("C1", "Carol", "Shaw", "Sales", "E1", kind="contractor"),
         hris_item("H9", "Alan", "Turing", "Sales")],
    )  # fmt: skip
    document = world.run("2026-03-02", expect=3)
    assert document["status"] == "attention" and document["operations"]["failed"] == 0
    duplicates = {e["employee_id"]: e["detail"] for e in world.exceptions() if e["kind"] == "duplicate"}
    assert set(duplicates) == {"E3", "H9"}
    assert "E3 (hr), H9 (hris)" in duplicates["E3"]
    joined = {"E1", "E2", "C1"}
    scim, ldap, crm = world.scim(), world.ldap(), world.crm()
    assert set(scim) == set(ldap) == set(crm) == joined  # the held pair touched nothing
    assert scim["E2"]["groups"] == {"all-staff", "engineering"} and scim["C1"]["groups"] == {"all-staff"}
    assert ldap["E2"]["groups"] == {"staff", "eng"} and ldap["C1"]["groups"] == {"staff", "sales"}
    assert crm["E2"]["groups"] == {"crm-user"} and crm["C1"]["groups"] == {"crm-user", "crm-sales"}
    for system in (scim, ldap, crm):
        assert system["E2"]["manager"] == system["C1"]["manager"] == "E1"
        assert system["E2"]["department"] == "Engineering"  # precedence 1 wins
        assert all(person["active"] for person in system.values())

    # -- day 2: the duplicate is fixed in the HRIS (H9 gone) and E3 joins; E2 moves to
    # Sales under E3.
    world.feeds(
        [csv_row("E1", "Ada", "Lovelace", "Engineering"),
         csv_row("E2", "Grace", "Hopper", "Sales", "E3"),
         csv_row("E3", "Alan", "Turing", "Sales", "E1")],
        [hris_item("E2", "Grace", "Hopper", "Marketing", "E1", site="Paris"),
         hris_item("C1", "Carol", "Shaw", "Sales", "E1", kind="contractor")],
    )  # fmt: skip
    document = world.run("2026-03-03", expect=0)
    assert document["persons"] == {"joiners": 1, "movers": 1, "leavers": 0}
    assert not world.exceptions()
    scim, ldap, crm = world.scim(), world.ldap(), world.crm()
    assert set(scim) == set(ldap) == set(crm) == joined | {"E3"}
    assert scim["E2"]["groups"] == {"all-staff"}
    assert ldap["E2"]["groups"] == {"staff", "sales"}
    assert crm["E2"]["groups"] == {"crm-user", "crm-sales"}
    for system in (scim, ldap, crm):
        assert system["E2"]["manager"] == "E3" and system["E3"]["manager"] == "E1"
        assert system["E2"]["department"] == "Sales"

    # -- day 3: E1 leaves (terminated in the CSV); C1 goes on leave (the HRIS).
    world.feeds(
        [csv_row("E1", "Ada", "Lovelace", "Engineering", status="terminated", termination_date="2026-03-03"),
         csv_row("E2", "Grace", "Hopper", "Sales", "E3"),
         csv_row("E3", "Alan", "Turing", "Sales", "E1")],
        [hris_item("E2", "Grace", "Hopper", "Marketing", "E1", site="Paris"),
         hris_item("C1", "Carol", "Shaw", "Sales", "E1", kind="contractor", state="leave")],
    )  # fmt: skip
    document = world.run("2026-03-05", expect=0)
    assert document["persons"]["leavers"] == 1
    scim, ldap, crm = world.scim(), world.ldap(), world.crm()
    for system in (scim, ldap, crm):
        assert system["E1"]["active"] is False and system["E1"]["groups"] == set()
        assert system["C1"]["active"] is False  # suspended: inactive, entitlements kept
        assert system["E3"]["active"] is True and system["E3"]["manager"] == "E1"  # a link to the leaver stays
    assert scim["C1"]["groups"] == {"all-staff"}
    assert ldap["C1"]["groups"] == {"staff", "sales"}  # memberships followed the move to disabled
    assert crm["C1"]["groups"] == {"crm-user", "crm-sales"}
    assert world.run("2026-03-05", expect=0)["operations"]["planned"] == 0  # converged
