"""Benchmark: how many Prefect task runs one hr_sync flow run makes, and how long it
takes, for N workers (a first load into an empty SCIM target, then an unchanged rerun).

    .venv/bin/python bench/task_runs.py [--workers 1000 10000]

Runs in Prefect's ephemeral mode with a private PREFECT_HOME. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from plan_100k import write_config, write_feed  # noqa: E402

from app.launchers import scim_server  # noqa: E402


def count_task_runs(flow_run_id) -> int:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    async def read() -> int:
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            return len(runs)

    return asyncio.run(read())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jml-bench-") as tmp:
        os.environ["PREFECT_HOME"] = str(Path(tmp) / "prefect")
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")  # no telemetry (nor its lock errors)
        os.environ["APP_TOKEN"] = token = "bench-token"
        from flows.binding import bound
        from flows.hr_sync import hr_sync

        for n in args.workers:
            with scim_server(token=token, tenants=False) as server:
                url = server.url
                folder = Path(tmp) / str(n)
                folder.mkdir()
                feed = folder / "workers.csv"
                write_feed(feed, n, seed=7)
                config = write_config(folder, url, feed)
                for label in ("first load", "rerun"):
                    started = time.perf_counter()
                    with bound(config):
                        state = hr_sync(as_of=date.today(), return_state=True)
                    seconds = time.perf_counter() - started
                    document = state.result(raise_on_failure=False)
                    tasks = count_task_runs(state.state_details.flow_run_id)
                    print(
                        f"{n} workers, {label}: {tasks} task runs, {seconds:.1f} s,"
                        f" {document['operations']['applied']} operations applied,"
                        f" status {document['status']}, stages {document['timings']}",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
