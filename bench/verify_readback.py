"""Benchmark: the verify stage of a 1 % change run, this tree against another revision,
in the same bench run (a fresh scim2-server of N seeded workers each time).

    .venv/bin/python bench/verify_readback.py --workers 10000 --compare 1e708fa [--repeat 3]

For each tree and repeat: a first sync into an empty SCIM target, then 1 % of the
workers move department, and the change run's stage seconds are printed (the verify
stage read the whole target back before this tree; now only the changed persons'
accounts). The runs use `pipeline.sync` directly (no Prefect: the stages alone).
`--compare REV` checks REV out in a temporary worktree. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one(root: Path, workers: int, folder: Path) -> dict[str, float]:
    """In this process, with `root`'s modules: the change run's stage seconds."""
    sys.path[:0] = [str(root), str(root / "bench")]
    from plan_100k import write_config, write_feed

    from app.launchers import scim_server
    from pipeline import sync
    from pipeline.outcome import Scope
    from pipeline.run import open_run

    os.environ["APP_TOKEN"] = token = "bench-token"
    feed = folder / "workers.csv"
    write_feed(feed, workers, seed=7)
    with scim_server(token=token, tenants=False) as server:
        config = write_config(folder, server.url, feed)
        timings: dict[str, float] = {}
        for day in ("first sync", "1 % change"):
            if day == "1 % change":
                move_one_percent(feed)
            with open_run(config, as_of=date.today(), record=True) as run:
                planned = sync.plan(run)
                execution = sync.apply(run, planned)
                sync.report(run, planned, execution, Scope(flow="hr-sync"))
            timings = {**planned.timings, **execution.timings}
            timings["operations"] = len(planned.checked.plan.operations) if planned.checked else 0
    return timings


def move_one_percent(feed: Path) -> None:
    """Every 100th worker moves to another department."""
    with feed.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    column = rows[0].index("department")
    departments = sorted({row[column] for row in rows[1:]})
    for row in rows[1::100]:
        row[column] = departments[(departments.index(row[column]) + 1) % len(departments)]
    with feed.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=10000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--compare", help="a git revision to run beside this tree")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # worker mode: the tree's root
    args = parser.parse_args()
    if args.one:
        with tempfile.TemporaryDirectory(prefix="jml-bench-") as tmp:
            print(json.dumps(one(Path(args.one), args.workers, Path(tmp))))
        return
    sys.path.insert(0, str(ROOT / "bench"))
    from checkouts import checkouts

    with tempfile.TemporaryDirectory(prefix="jml-bench-trees-") as folder, checkouts(
        ROOT, args.compare, Path(folder)
    ) as trees:
        results: dict[str, list[dict]] = {label: [] for label, _ in trees}
        for _ in range(args.repeat):
            for label, root in trees:  # alternating, in the same bench run
                out = subprocess.run(
                    [sys.executable, __file__, "--one", str(root), "--workers", str(args.workers)],
                    check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(root)},
                )  # fmt: skip
                results[label].append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{args.workers} workers, 1 % change run, median of {args.repeat} (seconds)")
    print("| tree | operations | read-targets | apply | verify |")
    print("|---|---|---|---|---|")
    for label, runs in results.items():
        cells = [statistics.median(r.get(k, 0.0) for r in runs) for k in ("operations", "read-targets", "apply", "verify")]
        print(f"| {label} | {cells[0]:.0f} | {cells[1]:.2f} | {cells[2]:.2f} | {cells[3]:.2f} |")


if __name__ == "__main__":
    main()
