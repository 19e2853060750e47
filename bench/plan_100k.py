"""Benchmark: `jml plan` on a seeded synthetic feed of N workers against an empty SCIM
target; wall time and peak memory from `/usr/bin/time -v`.

    .venv/bin/python bench/plan_100k.py [--workers 100000] [--seed 7] [--repeat 3]
        [--against OTHER/.venv/bin/jml ...]

Prints one line per repeat and the median. With `--against`, another installation's
`jml` (an older checkout, say) plans the same feed against the same server, the two
alternating run by run, so both are measured under the same load; each installation has
a state database of its own (their schemas may differ). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

from faker import Faker

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.launchers import scim_server  # noqa: E402

DEPARTMENTS = ["Engineering", "Sales", "Finance", "Marketing", "Support", "Legal", "People"]
HEADER = [
    "employee_id", "first_name", "last_name", "email", "department", "job_code", "location",
    "manager_id", "employment_type", "status", "hire_date", "termination_date", "contract_end_date",
]  # fmt: skip


def write_feed(path: Path, workers: int, seed: int) -> None:
    """A seeded feed: managers first, a mix of types, statuses, pre-hires and leavers."""
    fake = Faker()
    Faker.seed(seed)
    rng = random.Random(seed)
    today = date.today()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(workers):
            eid = f"E{i:06d}"
            first, last = fake.first_name(), fake.last_name()
            manager = f"E{rng.randrange(0, max(1, i // 10)):06d}" if i >= 10 else ""
            kind = rng.choices(["employee", "contractor", "intern"], [85, 12, 3])[0]
            status = rng.choices(["active", "leave", "terminated"], [94, 3, 3])[0]
            hire = today - timedelta(days=rng.randrange(-20, 3000))
            end = hire + timedelta(days=rng.randrange(30, 900)) if kind == "contractor" else None
            writer.writerow([
                eid, first, last, f"{first}.{last}.{i}@example.com".lower(), rng.choice(DEPARTMENTS),
                f"JC-{rng.randrange(1, 40):02d}", fake.city(), manager, kind, status, hire.isoformat(),
                "", end.isoformat() if end else "",
            ])  # fmt: skip


def write_config(folder: Path, url: str, feed: Path) -> Path:
    """The config (and policy) in `folder`, planning `feed` into the SCIM server at `url`."""
    folder.mkdir(parents=True, exist_ok=True)
    policy = folder / "policy.yaml"
    bundles = "\n".join(f"  {d.lower()}: {{grants: {{app: [{d.lower()}]}}}}" for d in DEPARTMENTS)
    rules = "\n".join(f"  - {{when: {{department: [{d}]}}, grant: [{d.lower()}]}}" for d in DEPARTMENTS)
    policy.write_text(
        f"bundles:\n  staff: {{grants: {{app: [all-staff]}}}}\n{bundles}\n"
        f"rules:\n  - {{when: {{employment_type: [employee, contractor, intern]}}, grant: [staff]}}\n{rules}\n"
    )
    config = folder / "jml.yaml"
    config.write_text(
        "state: sqlite:///jml.db\n"
        f"sources: [{{name: hr, type: csv, path: '{feed}'}}]\n"
        f"targets: [{{name: app, type: scim, url: '{url}', token_env: APP_TOKEN, page_size: 1000}}]\n"
        "policy: policy.yaml\n"
    )
    return config


def measure(jml: Path, config: Path, env: dict) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, operations planned) of one `jml plan --json`."""
    result = subprocess.run(
        ["/usr/bin/time", "-v", str(jml), "plan", "--config", str(config), "--json"],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if result.returncode not in (0, 4):
        raise SystemExit(f"jml plan failed ({result.returncode}): {result.stderr[-2000:]}")
    wall = re.search(r"Elapsed \(wall clock\) time.*: (?:(\d+):)?(\d+):([\d.]+)", result.stderr)
    hours, minutes, seconds = (float(g) if g else 0.0 for g in wall.groups())
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))
    planned = result.stdout.count('"action":')
    return hours * 3600 + minutes * 60 + seconds, rss / 1024, planned


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--against", type=Path, action="append", default=[], help="another jml executable")
    args = parser.parse_args()
    commands = [Path(sys.executable).parent / "jml", *args.against]
    with tempfile.TemporaryDirectory(prefix="jml-bench-") as tmp:
        folder = Path(tmp)
        write_feed(folder / "workers.csv", args.workers, args.seed)
        token = "bench-token"
        env = {**os.environ, "APP_TOKEN": token}
        with scim_server(token=token, tenants=False) as server:
            configs = {jml: write_config(folder / f"install-{n}", server.url, folder / "workers.csv")
                       for n, jml in enumerate(commands)}  # fmt: skip
            runs: dict[Path, list[tuple[float, float]]] = {jml: [] for jml in commands}
            for i in range(args.repeat):
                for jml in commands:
                    wall, rss, planned = measure(jml, configs[jml], env)
                    runs[jml].append((wall, rss))
                    print(f"{jml}: run {i + 1}: {wall:.1f} s wall, {rss:.0f} MiB peak, {planned} operations planned")
        for jml, measured in runs.items():
            print(
                f"{jml}: median over {args.repeat}: {statistics.median(w for w, _ in measured):.1f} s wall,"
                f" {statistics.median(r for _, r in measured):.0f} MiB peak ({args.workers} workers)"
            )


if __name__ == "__main__":
    main()
