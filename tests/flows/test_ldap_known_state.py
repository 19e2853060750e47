"""Runs against a real slapd plan from what the ledger knows of the directory and read
only what changed (`read_changes`: modifyTimestamp and a census), and still heal what
was changed outside jml on the next run: a leaver's entry moved back among the people,
a deleted entry, a member added to a managed group. The driver's full reads are
counted (a wrapper that calls the real one)."""

from __future__ import annotations

import time
from pathlib import Path

import ldap3
import pytest

from app import launchers
from connectors.targets.ldap import LdapDriver
from flows.hr_sync import hr_sync
from flows.reconcile import reconcile
from tests.flows.running import run_bound
from tests.flows.test_hr_sync import AS_OF, HEADER, people

ENV = "JML_TEST_LDAP_PASSWORD"


pytestmark = pytest.mark.usefixtures("exact_since")


@pytest.fixture
def full_reads(count_full_reads) -> list[str]:
    return count_full_reads(LdapDriver)


def write_world(folder: Path, slapd: launchers.SlapdServer, tree: launchers.LdapTree, rows: list[str]) -> Path:
    (folder / "workers.csv").write_text("\n".join([HEADER, *rows]) + "\n")
    (folder / "policy.yaml").write_text(
        "bundles:\n  staff: {grants: {dir: [all-staff]}}\n  eng: {grants: {dir: [engineering]}}\n"
        "rules:\n  - {when: {employment_type: [employee]}, grant: [staff]}\n"
        "  - {when: {department: [Engineering]}, grant: [eng]}\n"
    )
    config = folder / "jml.yaml"
    config.write_text(
        "state: sqlite:///jml.db\nsources: [{name: hr, type: csv, path: workers.csv}]\n"
        f"targets: [{{name: dir, type: ldap, url: '{slapd.url}', bind_dn: '{slapd.bind_dn}', password_env: {ENV},"
        f" people_dn: '{tree.people_dn}', groups_dn: '{tree.groups_dn}', disabled_dn: '{tree.disabled_dn}'}}]\n"
        "policy: policy.yaml\n"
    )
    return config


def run(config, flow=hr_sync) -> dict:
    return run_bound(config, flow, as_of=AS_OF, return_state=True).result()


def test_runs_read_what_changed_and_heal_what_changed_outside_jml(tmp_path, slapd, ldap_tree, full_reads, monkeypatch):
    monkeypatch.setenv(ENV, slapd.password)
    rows = people(8)
    rows[6] = rows[6].replace(",Engineering,", ",Sales,")
    config = write_world(tmp_path, slapd, ldap_tree, rows)
    assert run(config)["status"] == "converged"
    rows[7] = rows[7].replace(",active,", ",terminated,")
    write_world(tmp_path, slapd, ldap_tree, rows)
    time.sleep(1.1)
    assert run(config)["operations"]["applied"] == 3  # E00007 leaves: disable, two revokes
    assert full_reads == ["dir"]  # only the first run read in full

    raw = slapd.connection()
    try:
        people_dn, groups_dn, disabled_dn = ldap_tree.people_dn, ldap_tree.groups_dn, ldap_tree.disabled_dn
        time.sleep(1.1)
        assert raw.modify_dn(f"uid=E00007,{disabled_dn}", "uid=E00007", new_superior=people_dn), raw.result
        assert raw.modify(f"cn=engineering,{groups_dn}", {"member": [(ldap3.MODIFY_ADD, [f"uid=E00006,{people_dn}"])]})
        assert raw.delete(f"uid=E00003,{people_dn}"), raw.result
        healed = run(config)
        assert healed["status"] == "converged", healed
        # disable E00007; revoke E00006's engineering; create E00003 and its two grants
        assert healed["operations"]["applied"] == 5, healed
        assert full_reads == ["dir"]  # healed from the delta, not a full read
        raw.search(disabled_dn, "(uid=E00007)", search_scope=ldap3.LEVEL)
        assert len(raw.response) == 1
        raw.search(groups_dn, "(cn=engineering)", search_scope=ldap3.LEVEL, attributes=["member"])
        members = {m.lower() for m in raw.response[0]["attributes"]["member"]}
        assert f"uid=e00006,{people_dn}".lower() not in members and f"uid=e00003,{people_dn}".lower() in members
    finally:
        raw.unbind()
    time.sleep(1.1)
    assert run(config)["operations"]["planned"] == 0
    assert run(config, reconcile)["status"] == "converged"
    assert full_reads == ["dir", "dir"]  # reconcile reads in full
