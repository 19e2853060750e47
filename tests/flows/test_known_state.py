"""Runs that follow a full read plan from what the ledger knows of the target and read
only what changed (SPEC "Incremental runs"); a counting proxy in front of scim2-server
counts the users each run reads: "users listed" (pages of every user), "users
filtered" (the delta's and lookups' filter queries), "users fetched" (by id); and the
same of groups."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import httpx
import pytest

from flows.hr_sync import hr_sync
from flows.reconcile import reconcile
from tests.faultproxy import Faults, fault_proxy
from tests.flows.running import run_bound
from tests.flows.test_hr_sync import AS_OF, people, write_world

pytestmark = pytest.mark.usefixtures("exact_since")


def settle(proxy) -> None:
    time.sleep(1.1)
    proxy.counts.clear()


def run(config) -> dict:
    return run_bound(config, hr_sync, as_of=AS_OF, return_state=True).result()


def reads(proxy) -> tuple[int, int, int]:
    return proxy.counts["users listed"], proxy.counts["users filtered"], proxy.counts["users fetched"]


def test_a_no_change_run_reads_no_account_and_a_change_run_reads_only_the_changed(tmp_path, tenant_env, scim_server):
    rows = people(40)
    with fault_proxy(scim_server.url, Faults()) as proxy:
        url = proxy.url + urlsplit(tenant_env.url).path
        config = write_world(tmp_path, url, rows)
        assert run(config)["operations"]["applied"] == 120  # the first run: a full read (of nobody yet)
        settle(proxy)
        second = run(config)
        assert second["status"] == "converged" and second["operations"]["planned"] == 0
        assert reads(proxy) == (0, 40, 0)  # the first run's creates, read back once by the delta
        settle(proxy)
        third = run(config)
        assert third["status"] == "converged" and third["operations"]["planned"] == 0
        assert reads(proxy) == (0, 0, 0), proxy.counts  # nothing changed: no account read
        rows[7] = rows[7].replace(",Engineering,", ",Sales,")
        rows[9] = rows[9].replace("First9,", "Renamed9,")
        write_world(tmp_path, url, rows)
        settle(proxy)
        changed = run(config)
        assert changed["status"] == "converged", changed
        assert changed["operations"]["applied"] == 3  # E00007: update and revoke; E00009: update
        assert reads(proxy) == (0, 0, 3), proxy.counts  # verify: E00007, E00009 and their manager
        groups = proxy.counts["groups listed"], proxy.counts["groups filtered"], proxy.counts["groups fetched"]
        assert groups == (0, 0, 1), proxy.counts  # verify: the one group it changed (engineering), by id
        settle(proxy)
        assert run(config)["operations"]["planned"] == 0
        assert reads(proxy) == (0, 2, 0), proxy.counts  # the two it changed, read back by the delta


def test_changes_made_outside_jml_are_healed_by_the_next_run(tmp_path, tenant_env, scim_server):
    """A leaver's account enabled again and a member added to a managed group are in the
    next run's delta; a deleted account makes the counts disagree, so that run reads in
    full; reconcile always reads in full."""
    rows = people(11)
    rows[8] = rows[8].replace(",Engineering,", ",Sales,")
    scim = httpx.Client(base_url=tenant_env.url + "/", headers={"Authorization": f"Bearer {tenant_env.token}"})
    with fault_proxy(scim_server.url, Faults()) as proxy, scim:
        url = proxy.url + urlsplit(tenant_env.url).path
        config = write_world(tmp_path, url, rows)
        assert run(config)["status"] == "converged"
        rows[10] = rows[10].replace(",active,", ",terminated,")
        write_world(tmp_path, url, rows)
        assert run(config)["operations"]["applied"] == 3  # E00010 leaves: disable, two revokes

        def user(eid: str) -> dict:
            return scim.get("Users", params={"filter": f'externalId eq "{eid}"'}).json()["Resources"][0]

        def group(name: str) -> dict:
            return scim.get("Groups", params={"filter": f'displayName eq "{name}"'}).json()["Resources"][0]

        patch = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"]}
        leaver, sales, engineering = user("E00010"), user("E00008"), group("engineering")
        assert leaver["active"] is False
        assert sales["id"] not in {m["value"] for m in engineering.get("members") or ()}
        scim.patch(f"Users/{leaver['id']}", json={**patch, "Operations": [{"op": "replace", "path": "active", "value": True}]}).raise_for_status()
        scim.patch(f"Groups/{engineering['id']}", json={**patch, "Operations": [{"op": "add", "path": "members", "value": [{"value": sales["id"]}]}]}).raise_for_status()
        settle(proxy)
        healed = run(config)
        assert healed["status"] == "converged" and healed["operations"]["applied"] == 2, healed  # disable, revoke
        assert reads(proxy)[0] == 0, proxy.counts  # from the delta, not a full read
        assert user("E00010")["active"] is False
        assert sales["id"] not in {m["value"] for m in group("engineering").get("members") or ()}

        scim.delete(f"Users/{user('E00003')['id']}").raise_for_status()
        settle(proxy)
        recreated = run(config)
        assert recreated["status"] == "converged", recreated
        assert recreated["operations"]["applied"] == 3  # create, and its two grants
        assert reads(proxy)[0] == 10, proxy.counts  # the counts disagreed: read in full (10 were left)
        assert user("E00003")["active"] is True

        settle(proxy)
        found = run_bound(config, reconcile, as_of=AS_OF, return_state=True).result()
        assert found["status"] == "converged", found
        assert reads(proxy)[0] == 11, proxy.counts  # reconcile reads every target in full


def test_verify_reads_a_large_load_back_in_one_full_read(tmp_path, tenant_env, scim_server, monkeypatch):
    """Past FULL_READ_FLOOR persons and a quarter of what the run read, one full read
    cut to them costs less than a lookup each (here the floor is 5; a first load); that
    read is then what the ledger knows of the target: the next run reads none of the
    load's writes again. (The read-back is made to start a second after the load's last
    write, as it does at any scale where it pays: a write in the read's second would be
    read again, the server's clock counting whole seconds.)"""
    import pipeline.verify

    monkeypatch.setattr(pipeline.verify, "FULL_READ_FLOOR", 5)
    read_back = pipeline.verify._read_back

    def a_second_later(*args):
        time.sleep(1.1)
        return read_back(*args)

    monkeypatch.setattr(pipeline.verify, "_read_back", a_second_later)
    with fault_proxy(scim_server.url, Faults()) as proxy:
        config = write_world(tmp_path, proxy.url + urlsplit(tenant_env.url).path, people(12))
        assert run(config)["status"] == "converged"
        assert reads(proxy) == (12, 0, 0), proxy.counts  # the read-back: every user once, none by id
        rows = people(12)
        rows[3] = rows[3].replace("First3,", "Renamed3,")
        write_world(tmp_path, proxy.url + urlsplit(tenant_env.url).path, rows)
        settle(proxy)
        assert run(config)["operations"]["applied"] == 1
        assert reads(proxy) == (0, 0, 2), proxy.counts  # verify: E00003 and its manager by id
