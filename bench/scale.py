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
Per run: wall seconds, the read-targets / apply / verify seconds, the requests sent, and
the users and the groups read (listed in full, by filter, by id); then each run's seconds
per stage, and the server's seconds per kind of request. Then the server's raw
Bulk rate for the same N (`raw_load`: a fresh scim2-server given the first sync's end
state by hand, no jml on the path), printed as the first sync's rate over it (the raw
seconds over the first sync's). The runs follow each other within
seconds, so a tree with delta reads is given no clock margin (`OVERLAP` = 0,
one clock here) and a second's pause between runs: otherwise each run would read the
last one's writes again, as runs less than a minute apart do. Peak RSS is the tree's process for
all four runs. Not part of `make test`.
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
    sys.path.insert(0, str(ROOT))  # the bench's own proxy (no jml module), whichever tree runs
    from tests.faultproxy import Faults, fault_proxy

    sys.path[:1] = [str(root), str(root / "bench"), str(ROOT)]
    from plan_100k import write_config, write_feed
    from verify_readback import move_one_percent

    from app.launchers import scim_server
    from connectors.kernel import driver as kernel_driver
    from jml.operations import Create
    from pipeline import sync
    from pipeline.outcome import Scope
    from pipeline.run import open_run

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
    first_sync: tuple = ()
    with scim_server(token=token, tenants=False) as server, fault_proxy(server.url, Faults(), timeout=600) as proxy:
        config = write_config(folder, proxy.url, feed)
        for day in DAYS:
            if day == "1 % change":
                move_one_percent(feed)
            time.sleep(1.1)  # the next delta starts at the server's clock, to the second
            proxy.counts.clear()
            proxy.upstream.clear()
            started = time.perf_counter()
            with open_run(config, as_of=date.today(), record=True) as run:
                planned = sync.plan(run)
                execution = sync.apply(run, planned)
                sync.report(run, planned, execution, Scope(flow="hr-sync"))
            timings = {**planned.timings, **execution.timings}
            if day == DAYS[0] and planned.checked:
                first_sync = planned.checked.plan.operations
            days[day] = {
                "wall": time.perf_counter() - started,
                **{stage: timings.get(stage, 0.0) for stage in ("read-targets", "apply", "verify")},
                "operations": len(planned.checked.plan.operations) if planned.checked else 0,
                "requests": proxy.counts["requests"],
                "listed": proxy.counts["users listed"],
                "filtered": proxy.counts["users filtered"],
                "fetched": proxy.counts["users fetched"],
                "stages": timings,
                "upstream": dict(proxy.upstream),
                "groups": " / ".join(str(proxy.counts[f"groups {how}"]) for how in ("listed", "filtered", "fetched")),
            }
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"days": days, "rss_mib": rss, "raw_s": raw_load(first_sync), "creates": sum(isinstance(op, Create) for op in first_sync)}


def raw_load(operations: tuple) -> float:
    """Seconds scim2-server takes to reach the end state of these first-sync operations
    sent by hand in the fewest requests it allows: the creates' users (the bodies jml
    would send, managers as ids or bulkId references) in Bulk requests of 1,000 (or of
    what fits in 1 MiB), then each group POSTed once with all its members."""
    import httpx

    from app.launchers import scim_server
    from connectors.targets.scim.resources import GROUP_SCHEMA, user_resource
    from jml.operations import Create, Grant

    bulk_schema = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
    creates = [op for op in operations if isinstance(op, Create)]
    members: dict[str, list[str]] = {}
    for op in operations:
        if isinstance(op, Grant):
            members.setdefault(op.entitlement, []).append(op.employee_id)
    with scim_server(token="raw", tenants=False) as server, httpx.Client(
        base_url=server.url, timeout=600, headers={"Authorization": "Bearer raw", "Content-Type": "application/scim+json"}
    ) as client:
        ids: dict[str, str] = {}
        created = {op.employee_id for op in creates}
        started = time.perf_counter()
        chunks = [creates[i : i + 1000] for i in range(0, len(creates), 1000)]
        while chunks:
            chunk = chunks.pop(0)
            items = []
            for op in chunk:
                boss = op.attributes.get("manager")
                values = {**op.attributes, "manager": ids.get(boss) or (f"bulkId:{boss}" if boss in created else None)}
                data = user_resource(values, external_id=op.employee_id, active=op.active)
                items.append({"method": "POST", "path": "/Users", "bulkId": op.employee_id, "data": data})
            body = json.dumps({"schemas": [bulk_schema], "Operations": items, "failOnErrors": 0})
            if len(body) > 1024 * 1024 and len(chunk) > 1:
                chunks[:0] = [chunk[: len(chunk) // 2], chunk[len(chunk) // 2 :]]
                continue
            answer = client.post("/Bulk", content=body)
            answer.raise_for_status()
            for item in answer.json()["Operations"]:
                assert str(item.get("status", "")).startswith("201"), item
                ids[item["bulkId"]] = item["location"].rstrip("/").rsplit("/", 1)[-1]
        for name, people in members.items():
            group = {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": ids[e]} for e in people]}
            client.post("/Groups", json=group).raise_for_status()
        return time.perf_counter() - started


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
          " | users listed / filtered / fetched | groups listed / filtered / fetched | peak RSS MiB |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    stages: list[str] = []
    server: list[str] = []
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
                          f" | {d['listed']:,} / {d['filtered']:,} / {d['fetched']:,} | {d['groups']}"
                          f" | {result['rss_mib']:.0f} |", flush=True)  # fmt: skip
                stages += [f"| {workers:,} | {label} | {day} | "
                           + ", ".join(f"{name} {seconds:.1f}" for name, seconds in d["stages"].items() if seconds >= 0.05)
                           + " |" for day, d in result["days"].items()]  # fmt: skip
                server += [f"| {workers:,} | {label} | {day} | "
                           + ", ".join(f"{kind} {n:,}× {seconds:.1f}" for kind, (n, seconds)
                                       in sorted(d.get("upstream", {}).items(), key=lambda kv: -kv[1][1])[:5])
                           + " |" for day, d in result["days"].items()]  # fmt: skip
                first = result["days"][DAYS[0]]["wall"]
                print(f"| {workers:,} | {label} | raw Bulk: {result['creates']:,} users and their groups by hand"
                      f" | {result['raw_s']:.1f} | | | | | | | | first sync's rate / raw rate:"
                      f" {result['raw_s'] / first:.2f} |", flush=True)  # fmt: skip
    print("\n| workers | tree | run | seconds per stage (0.05 s and more) |\n|---|---|---|---|")
    print("\n".join(stages))
    print("\n| workers | tree | run | the server's time by request (the five costliest: requests × seconds) |")
    print("|---|---|---|---|")
    print("\n".join(server))


if __name__ == "__main__":
    main()
