"""Nothing lost, nothing duplicated: `jml run` through a fault-injecting proxy in front of
the real scim2-server, and a run killed with SIGKILL mid-apply (on each ledger: SQLite and
PostgreSQL). Each ends in the same SCIM state as a fault-free run of the same feeds."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from urllib.parse import urlsplit

import pytest
import yaml
from sqlalchemy.exc import DBAPIError

from tests.e2e.helpers import CONVERGED, OTHER, Scenario, enterprise, worker
from tests.faultproxy import Faults, fault_proxy
from tests.zygote import JML

DAY1, DAY2 = "2026-03-02", "2026-03-03"
PATIENT = {"attempts": 10, "backoff_seconds": 0.2, "max_backoff_seconds": 2.0, "max_seconds": 120,
           "breaker_threshold": 10}  # fmt: skip


def population(day: int) -> list[dict[str, str]]:
    """120 people; on day 2, six movers and five leavers (under the deprovision guard)."""
    rows = []
    for i in range(1, 121):
        eid = f"E{i:03d}"
        manager = "" if i == 1 else f"E{(i - 2) // 10 + 1:03d}"
        department = ("Engineering", "Sales", "Finance")[i % 3]
        fields = {"manager_id": manager, "department": department}
        if day == 2 and i % 20 == 0:
            fields["department"] = "Sales" if department != "Sales" else "Engineering"
        if day == 2 and i in (30, 60, 90, 100, 110):
            fields.update(status="terminated", termination_date="2026-03-02")
        rows.append(worker(eid, **fields))
    return rows


def end_state(scenario: Scenario) -> tuple[dict, dict]:
    """The tenant's users (by externalId, without server-made ids and timestamps) and
    group memberships: what two runs must agree on."""
    users = scenario.scim_users()
    external_of = {u["id"]: ext for ext, u in users.items()}
    people = {}
    for ext, user in users.items():
        extension = dict(enterprise(user))
        manager = extension.pop("manager", None)
        people[ext] = {
            "userName": user["userName"], "active": user.get("active"), "name": user.get("name"),
            "displayName": user.get("displayName"), "emails": user.get("emails"), "title": user.get("title"),
            "enterprise": extension, "manager": external_of.get((manager or {}).get("value")),
        }  # fmt: skip
    assert len({p["userName"] for p in people.values()}) == len(people), "duplicate userNames"
    assert len(scenario.all_users()) == len(people), "accounts without externalId appeared"
    return people, scenario.groups()


def through(scenario: Scenario, proxy_url: str, **target_options) -> None:
    """Point the scenario's target at the proxy (same tenant path), with options."""
    tenant_path = urlsplit(scenario.tenant.url).path
    scenario.configure(url=proxy_url + tenant_path)
    document = yaml.safe_load(scenario.config.read_text())
    document["targets"][0].update(target_options)
    scenario.config.write_text(yaml.safe_dump(document, sort_keys=False))


@pytest.fixture
def reference(tmp_path, scim_server, prefect_api) -> tuple[dict, dict]:
    """The end state of the two days without any fault."""
    clean = Scenario(tmp_path / "reference", scim_server.tenant(), prefect_api.env())
    for day, as_of in ((1, DAY1), (2, DAY2)):
        clean.write_feed(population(day))
        clean.sync(as_of, expect=CONVERGED)
    return end_state(clean)


def test_faults_between_jml_and_the_target_change_nothing_in_the_end(
    scenario, scim_server, reference, capsys
):
    """Every day converges through the faults: transient failures are retried, lost
    replies to creates are settled (never a second account), and nothing is left for a
    fault-free run to heal. With settling off, a lost create is sent again and refused
    (its userName is taken): the day ends `attention` and this test fails."""
    faults = Faults(unavailable=0.15, throttled=0.10, retry_after=1, dropped=0.05, seed=7)
    retried = settled = 0
    started = time.monotonic()
    with fault_proxy(scim_server.url, faults) as proxy:
        through(scenario, proxy.url, retry=PATIENT, bulk=False)  # one request per write
        for day, as_of in ((1, DAY1), (2, DAY2)):
            scenario.write_feed(population(day))
            result = scenario.sync(as_of, expect=CONVERGED)
            assert result.json["operations"]["failed"] == 0, result
            retried += result.json["operations"]["retried"]
            settled += result.json["operations"]["settled"]
        counts = dict(proxy.counts)
    assert end_state(scenario) == reference
    # a fault-free follow-up run finds nothing to do
    scenario.configure()
    final = scenario.sync(DAY2, expect=CONVERGED)
    elapsed = time.monotonic() - started
    assert final.json["operations"]["planned"] == 0 and final.json["exceptions_open"] == 0
    assert counts.get("unavailable", 0) + counts.get("throttled", 0) > 0 and counts.get("dropped", 0) > 0
    if counts.get("dropped POST /Users", 0):
        assert settled > 0, "a create whose reply was lost must be settled, not sent again"
    with capsys.disabled():
        print(
            f"\n[faults] 120 people x 2 days through 15% 503 / 10% 429 / 5% dropped: proxy {counts};"
            f" {retried} operations sent again, {settled} lost creates settled; {elapsed:.1f} s"
            f" (incl. a fault-free follow-up run); end state equals the fault-free one"
        )


def done_operations(scenario: Scenario) -> int:
    """Operations the run has journalled `done` so far (0 before its ledger exists)."""
    try:
        return scenario.ledger_rows("SELECT count(*) FROM operations WHERE status = 'done'")[0][0]
    except DBAPIError:  # the schema is still being made
        return 0


@pytest.mark.both_ledgers
@pytest.mark.timeout(600)  # four runs, one crawling through a slow proxy: 300 s was exceeded under load
def test_a_run_killed_mid_apply_converges_on_the_next_run_without_duplicates(
    scenario, scim_server, reference
):
    scenario.write_feed(population(1))
    with fault_proxy(scim_server.url, Faults(delay=0.02)) as proxy:
        through(scenario, proxy.url, bulk=False, concurrency=1)
        env = {**os.environ, **scenario.prefect_env, "APP_TOKEN": scenario.tenant.token}
        argv = [JML, "run", "--config", str(scenario.config), "--as-of", DAY1, "--json"]
        slow = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 180
        while done_operations(scenario) < 100:  # the first batch is journalled done
            assert slow.poll() is None, slow.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the slow run never got going"
            time.sleep(0.2)
        proxy.faults.delay = 5.0  # from now on the run crawls: it is mid-apply for minutes
        second = scenario.run("run", "--as-of", DAY1)
        assert second.code == OTHER and "another run holds the ledger" in second.stderr, second
        assert slow.poll() is None, "the slow run must still be applying when it is killed"
        slow.send_signal(signal.SIGKILL)
        slow.wait()
        slow.stderr.close()
    scenario.configure()  # straight to the server now
    scenario.sync(DAY1, expect=CONVERGED)
    assert scenario.ledger_rows("SELECT count(*) FROM operations WHERE status = 'pending'") == [(0,)]
    statuses = dict(scenario.ledger_rows("SELECT id, status FROM runs"))
    assert statuses[1] == "failed", "the killed run is marked as such"
    scenario.write_feed(population(2))
    scenario.sync(DAY2, expect=CONVERGED)
    assert end_state(scenario) == reference
