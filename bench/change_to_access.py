"""Benchmark: how long one HR change takes to reach the target through `jml serve`
(issue 11, "change to access"): from the new hire's row written to the feed to their
account existing in scim2-server.

A real `prefect server` and `jml serve` (its runner polling every second,
`PREFECT_RUNNER_POLL_FREQUENCY=1`; Prefect's default is 10 s, which adds up to 10 s to
every figure) serve a world of N workers, loaded once by an hr-sync run. Then, per
repeat, one new hire is appended to the feed and a flow run is created at once, as an
HR event would start it: a `provision-person` run for that person, or an `hr-sync` run
(the whole feed). The clock stops when a GET of the SCIM tenant finds the account.
Printed: medians (and ranges) of the latency, and of the flow run's own time as the
Prefect server recorded it.

    .venv/bin/python bench/change_to_access.py --workers 100 1000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import yaml

sys.path[:0] = [str(Path(__file__).resolve().parents[1])]

from app.launchers import prefect_server, scim_server  # noqa: E402
from tests.e2e.serve.support import (  # noqa: E402
    FAST_POLL,
    Receiver,
    Served,
    feed_rows,
    interrupt,
    start_serve,
    wait_for_deployments,
    write_world,
)

FLOWS = ("provision-person", "hr-sync")


def account_exists(tenant, employee_id: str) -> bool:
    response = httpx.get(
        f"{tenant.url}/Users",
        params={"filter": f'externalId eq "{employee_id}"', "count": 1},
        headers={"Authorization": f"Bearer {tenant.token}"},
        timeout=10,
    )
    return response.status_code == 200 and bool(response.json().get("Resources"))


def seconds_of(run: dict) -> float:
    start, end = (datetime.fromisoformat(run[key]) for key in ("start_time", "end_time"))
    return (end - start).total_seconds()


def one_change(served: Served, tenant, feed: Path, flow: str, employee_id: str) -> tuple[float, float]:
    """(feed change to account, the flow run's own seconds) of one new hire."""
    started = time.monotonic()
    with feed.open("a") as out:
        out.write(f"{employee_id},New,Hire,{employee_id.lower()}@example.com,Engineering,ENG,,employee,active,2020-01-06\n")
    parameters = {"employee_id": employee_id} if flow == "provision-person" else {}
    run = served.run(flow, **parameters)
    while not account_exists(tenant, employee_id):
        if time.monotonic() - started > 300:
            raise SystemExit(f"{employee_id} has no account after 300 s:\n{served.log.read_text()[-3000:]}")
        time.sleep(0.1)
    latency = time.monotonic() - started
    done = served.wait(run["id"], timeout=300)
    if done["state"]["type"] != "COMPLETED":
        raise SystemExit(f"{flow} ended {done['state']}")
    return latency, seconds_of(done)


def world(folder: Path, url: str, workers: int) -> Path:
    """The serving tests' world of `workers`, its target with the default timeout and
    retries (the tests' short ones fail a large load)."""
    config = write_world(folder, url, feed_rows(workers))
    document = yaml.safe_load(config.read_text())
    for target in document["targets"]:
        target.pop("timeout", None)
        target.pop("retry", None)
    config.write_text(yaml.safe_dump(document, sort_keys=False))
    return config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder, scim_server() as scim:
        root = Path(folder)
        with prefect_server(root / "prefect-home") as prefect:
            for workers in args.workers:
                tenant = scim.tenant()
                config = world(root / f"world-{workers}", tenant.url, workers)
                env = {**os.environ, **prefect.env(), "APP_TOKEN": tenant.token, **FAST_POLL}
                log = root / f"serve-{workers}.log"
                process = start_serve(prefect, config, env, log)
                try:
                    wait_for_deployments(prefect, process, log)
                    served = Served(prefect, config, tenant, Receiver(""), process, log)
                    load = served.wait(served.run("hr-sync")["id"], timeout=600)
                    print(f"{workers} workers: first load {seconds_of(load):.1f} s ({load['state']['type']})", flush=True)
                    for flow in FLOWS:
                        measured = [
                            one_change(served, tenant, config.parent / "workers.csv", flow, f"N{flow[0].upper()}{i:03d}")
                            for i in range(args.repeats)
                        ]
                        rows.append((workers, flow, [m[0] for m in measured], [m[1] for m in measured]))
                        print(f"{workers} workers, {flow}: {measured}", flush=True)
                finally:
                    interrupt(process)
    print("\n| workers | run started by the change | feed change to account | the flow run itself |")
    print("|---|---|---|---|")
    for workers, flow, latencies, runs in rows:
        print(f"| {workers:,} | {flow} | {statistics.median(latencies):.1f} s ({min(latencies):.1f}-{max(latencies):.1f}) "
              f"| {statistics.median(runs):.1f} s |")


if __name__ == "__main__":
    main()
