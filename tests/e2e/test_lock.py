"""The run lock under a real `jml run`, against scim2-server through the fault proxy that
slows a run down mid-apply (the review's short-lease race, issue 14 finding 6):

- a run with a 2 s lease, slowed down for many seconds mid-apply, keeps its lock (its
  heartbeat renews it during the batch), and a second run started meanwhile is refused
  instead of taking the lock over and replanning the first run's operations;
- a run whose lock is taken from it mid-apply (the test writes another holder into the
  lock's row) stops writing at its next batch: it ends `failed`, exit 1, with one line
  naming the new holder, and neither the target nor the ledger sees a write after the
  batch that was in flight.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import yaml

from tests.e2e.helpers import CONVERGED, OTHER, Scenario
from tests.e2e.test_faults import DAY1, population
from tests.faultproxy import Faults, fault_proxy
from tests.zygote import JML

INTRUDER = "intruder:4242:0badf00d"


def slow_world(scenario: Scenario, proxy_url: str, **lock) -> None:
    """The scenario through the proxy, one request per write, with `lock:` settings."""
    scenario.configure(url=proxy_url + urlsplit(scenario.tenant.url).path, **({"lock": lock} if lock else {}))
    document = yaml.safe_load(scenario.config.read_text())
    document["targets"][0].update(bulk=False, concurrency=1)
    scenario.config.write_text(yaml.safe_dump(document, sort_keys=False))


def start_run(scenario: Scenario) -> subprocess.Popen:
    """`jml run --json` in the background."""
    env = {**os.environ, **scenario.prefect_env, "APP_TOKEN": scenario.tenant.token}
    argv = [JML, "run", "--config", str(scenario.config), "--as-of", DAY1, "--json"]
    return subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def journalled(scenario: Scenario, status: str | None = None) -> int:
    """Operations journalled so far (with this status): 0 before the ledger exists."""
    query = "SELECT count(*) FROM operations" + (" WHERE status = ?" if status else "")
    try:
        with sqlite3.connect(scenario.root / "jml.db") as db:
            return db.execute(query, (status,) if status else ()).fetchone()[0]
    except sqlite3.OperationalError:  # the schema is still being made
        return 0


def wait_for_apply(run: subprocess.Popen, scenario: Scenario) -> None:
    """Until the run's first batch (100 creates, one request each) is journalled: it
    is being sent."""
    deadline = time.monotonic() + 180
    while not journalled(scenario):
        assert run.poll() is None, run.communicate()[1][-2000:]
        assert time.monotonic() < deadline, "the run never got going"
        time.sleep(0.1)


def run_ids(scenario: Scenario) -> list[int]:
    with sqlite3.connect(scenario.root / "jml.db") as db:
        return [row[0] for row in db.execute("SELECT id FROM runs ORDER BY id")]


def lock_row(scenario: Scenario) -> dict:
    with sqlite3.connect(scenario.root / "jml.db") as db:
        db.row_factory = sqlite3.Row
        return dict(db.execute("SELECT * FROM run_lock").fetchone())


def stored(moment: datetime) -> str:
    """A UTC time as the ledger stores it in SQLite."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def test_a_run_with_a_2s_lease_slowed_down_mid_apply_keeps_its_lock_and_a_second_run_is_refused(
    scenario, scim_server
):
    """Before the heartbeat the lease was renewed only between batches: a batch slower
    than the lease let the second run take the lock and replan the first one's
    operations. Now the second run is refused while the first goes on to converge."""
    scenario.write_feed(population(1))
    with fault_proxy(scim_server.url, Faults(delay=0.02)) as proxy:
        slow_world(scenario, proxy.url, ttl_seconds=2)
        first = start_run(scenario)
        wait_for_apply(first, scenario)
        # The first batch now takes some 100 s (fifty leases): still in it when the second
        # run has been refused, however slowly that run starts on a loaded machine (with
        # 0.2 s, some 20 s, a slow second run once saw the batch already done).
        proxy.faults.delay = 1.0
        slowed = time.monotonic()
        held = lock_row(scenario)
        time.sleep(2)  # a whole lease into the batch: unrenewed, the lock would be free now
        second = scenario.run("run", "--as-of", DAY1)
        assert second.code == OTHER and "another run holds the ledger" in second.stderr, second
        assert second.json is None and run_ids(scenario) == [1], "refused before it started a run"
        assert first.poll() is None and journalled(scenario, "done") < 100, "still in its first batch"
        renewed = lock_row(scenario)
        assert (renewed["holder"], renewed["token"]) == (held["holder"], held["token"])
        assert renewed["expires_at"] > stored(datetime.now(UTC)), "the lease is renewed mid-batch"
        while time.monotonic() - slowed < 10:
            time.sleep(0.5)
        proxy.faults.delay = 0.0
        out, err = first.communicate(timeout=300)
    assert first.returncode == CONVERGED, err[-3000:]
    document = json.loads(out)
    assert document["status"] == "converged" and document["lock_lost"] is None
    assert document["operations"]["applied"] == document["operations"]["planned"]
    with sqlite3.connect(scenario.root / "jml.db") as db:
        assert db.execute("SELECT id, status FROM runs").fetchall() == [(1, "converged")]
    assert lock_row(scenario)["holder"] == ""  # released at the end


def test_a_run_whose_lock_is_taken_mid_apply_stops_writing_at_its_next_batch_and_fails(scenario, scim_server):
    scenario.write_feed(population(1))
    with fault_proxy(scim_server.url, Faults(delay=0.02)) as proxy:
        slow_world(scenario, proxy.url)
        run = start_run(scenario)
        wait_for_apply(run, scenario)
        database = scenario.root / "jml.db"
        with sqlite3.connect(database) as db:  # another holder takes the lock
            db.execute(
                "UPDATE run_lock SET holder = ?, host = 'elsewhere', pid = 1, pid_scope = '',"
                " token = token + 1, acquired_at = ?, expires_at = ?",
                (INTRUDER, stored(datetime.now(UTC)), stored(datetime.now(UTC) + timedelta(minutes=10))),
            )
        lost_at = stored(datetime.now(UTC))
        proxy.faults.delay = 0.0  # the batch in flight finishes quickly
        deadline = time.monotonic() + 120
        while journalled(scenario, "pending"):  # until the batch in flight is settled
            assert time.monotonic() < deadline, "the batch in flight never finished"
            time.sleep(0.1)
        requests_then = proxy.counts["requests"]
        out, err = run.communicate(timeout=120)
        requests_after = proxy.counts["requests"]
    line = f"the run lock was lost to {INTRUDER}: this run stopped writing"
    assert run.returncode == OTHER, err[-3000:]
    assert err.count(f"error: {line}") == 1 and err.rstrip().endswith(line), err[-3000:]
    document = json.loads(out)
    assert document["status"] == "failed" and document["lock_lost"] == line
    ops = document["operations"]
    assert ops["applied"] == 100 < ops["planned"], ops  # the batch in flight, no other
    assert requests_after == requests_then, "the target was called after the batch in flight"
    users = scenario.scim_users()
    with sqlite3.connect(database) as db:
        rows = db.execute("SELECT created_at, status FROM operations WHERE run_id = 1").fetchall()
        creates = db.execute("SELECT count(*) FROM operations WHERE action = 'create' AND status = 'done'").fetchone()
        status, summary = db.execute("SELECT status, summary FROM runs WHERE id = 1").fetchone()
        persons = db.execute("SELECT count(*) FROM persons").fetchone()[0]
        exceptions = db.execute("SELECT count(*) FROM exceptions").fetchone()[0]
        finished = db.execute("SELECT count(*) FROM audit WHERE action = 'run_finished'").fetchone()[0]
    assert all(created < lost_at for created, _ in rows), "a batch was journalled after the loss"
    assert {s for _, s in rows} == {"done"} and len(rows) == ops["applied"]
    assert len(users) == creates[0], "the target holds exactly what the journal says was done"
    assert status == "failed" and json.loads(summary)["lock_lost"] == line
    assert (persons, exceptions, finished) == (0, 0, 0), "the run wrote its report after losing the lock"
    assert lock_row(scenario)["holder"] == INTRUDER  # and did not release someone else's lock
