"""Benchmark: what a run costs at N workers, day after day, into scim2-server (SPEC
"Incremental runs"), this tree beside another revision in the same bench run.

    .venv/bin/python bench/scale.py --workers 1000 10000 [--compare 3785de8]

For each N and tree, a fresh scim2-server behind a counting proxy (tests.faultproxy,
no faults) and a fresh ledger, then these runs one after the other (through
`pipeline.sync`, no Prefect: the stages alone):
- first sync: every worker created in an empty target;
- no change, after it: nothing to do (a delta read gets the first sync's creates once);
- no change: nothing to do, again;
- 1 % change: every 100th worker moves department.
Per run: wall seconds, the read-targets / apply / verify seconds, the requests sent and
the users read (listed in full, by filter, by id). The runs follow each other within
seconds, so a tree with delta reads is given no clock margin (`OVERLAP` = 0,
one clock here) and a second's pause between runs: otherwise each run would read the
last one's writes again, as runs less than a minute apart do. Peak RSS is the tree's process for
all four runs. The raw Bulk rate is not measured here (`bench/target_throughput.py`).
Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DAYS = ("first sync", "no change, after it", "no change", "1 % change")


def one(root: Path, workers: int, folder: Path) -> dict:
    """In this process, with `root`'s modules: each day's figures, and the peak RSS."""
    sys.path[:0] = [str(root), str(root / "bench"), str(ROOT)]
    from plan_100k import write_config, write_feed
    from verify_readback import move_one_percent

    from app.launchers import scim_server
    from connectors.kernel import driver as kernel_driver
    from pipeline import sync
    from pipeline.outcome import Scope
    from pipeline.run import open_run
    from tests.faultproxy import Faults, fault_proxy

    try:
        from connectors.targets.scim import changes
    except ImportError:  # a tree without delta reads
        changes = None
    for holder in (kernel_driver, changes):  # where this tree keeps the margin, if it has one
        if hasattr(holder, "OVERLAP"):
            holder.OVERLAP = timedelta(0)
    os.environ["APP_TOKEN"] = token = "bench-token"
    feed = folder / "workers.csv"
    write_feed(feed, workers, seed=7)
    days: dict[str, dict] = {}
    with scim_server(token=token, tenants=False) as server, fault_proxy(server.url, Faults()) as proxy:
        config = write_config(folder, proxy.url, feed)
        for day in DAYS:
            if day == "1 % change":
                move_one_percent(feed)
            time.sleep(1.1)  # the next delta starts at the server's clock, to the second
            proxy.counts.clear()
            started = time.perf_counter()
            with open_run(config, as_of=date.today(), record=True) as run:
                planned = sync.plan(run)
                execution = sync.apply(run, planned)
                sync.report(run, planned, execution, Scope(flow="hr-sync"))
            timings = {**planned.timings, **execution.timings}
            days[day] = {
                "wall": time.perf_counter() - started,
                **{stage: timings.get(stage, 0.0) for stage in ("read-targets", "apply", "verify")},
                "operations": len(planned.checked.plan.operations) if planned.checked else 0,
                "requests": proxy.counts["requests"],
                "listed": proxy.counts["users listed"],
                "filtered": proxy.counts["users filtered"],
                "fetched": proxy.counts["users fetched"],
            }
    return {"days": days, "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--compare", help="a git revision to run beside this tree")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # worker mode: the tree's root
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory(prefix="jml-bench-") as tmp:
            print(json.dumps(one(Path(args.one), args.workers[0], Path(tmp))))
        return
    sys.path.insert(0, str(ROOT / "bench"))
    from checkouts import checkouts

    print("| workers | tree | run | wall s | read-targets s | apply s | verify s | operations | requests"
          " | users listed / filtered / fetched | peak RSS MiB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="jml-bench-trees-") as folder, checkouts(
        ROOT, args.compare, Path(folder)
    ) as trees:
        for workers in args.workers:
            for label, root in trees:
                out = subprocess.run(
                    [sys.executable, __file__, "--one", str(root), "--workers", str(workers)],
                    check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)},
                )  # fmt: skip
                result = json.loads(out.stdout.strip().splitlines()[-1])
                for day, d in result["days"].items():
                    print(f"| {workers:,} | {label} | {day} | {d['wall']:.1f} | {d['read-targets']:.1f}"
                          f" | {d['apply']:.1f} | {d['verify']:.1f} | {d['operations']:,} | {d['requests']:,}"
                          f" | {d['listed']:,} / {d['filtered']:,} / {d['fetched']:,} | {result['rss_mib']:.0f} |",
                          flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
