"""Benchmark: `jml plan` on a seeded synthetic feed of N workers against an empty SCIM
target; wall time and peak memory from `/usr/bin/time -v`.

    .venv/bin/python bench/plan_100k.py [--workers 100000] [--seed 7] [--repeat 3]
        [--against OTHER/.venv/bin/jml ...] [--mapped]

Prints one line per repeat and the median. With `--mapped`, the same workers also come
as an HR export with its own column names, US dates and status words, mapped by the
source's `fields` (SPEC "Mapping a source's records"), the two feeds alternating run by
run: what mapping adds to a plan. With `--against`, another installation's
`jml` (an older checkout, say) plans the same feed against the same server, the two
alternating run by run, so both are measured under the same load; each installation has
a state database of its own (their schemas may differ). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import csv
import json
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


#: The export's own names for the columns of HEADER, and the `fields` mapping them back.
EXPORT_HEADER = [
    "Worker ID", "Legal First Name", "Legal Last Name", "Work Email", "Supervisory Organization", "Job Profile",
    "Location", "Manager ID", "Worker Type", "Worker Status", "Hire Date", "Termination Date", "Contract End Date",
]  # fmt: skip
EXPORT_WORDS = {"employee": "Regular", "contractor": "Contingent", "intern": "Intern",
                "active": "Active", "leave": "On Leave", "terminated": "Terminated"}  # fmt: skip
US_DATE = "%m/%d/%Y"
FIELDS = {
    "employee_id": "Worker ID",
    "first_name": "Legal First Name",
    "last_name": "Legal Last Name",
    "email": {"from": "Work Email", "case": "lower"},
    "department": "Supervisory Organization",
    "job_code": {"from": "Job Profile", "case": "upper"},
    "location": "Location",
    "manager_id": "Manager ID",
    "employment_type": {"from": "Worker Type", "map": {"Regular": "employee", "Contingent": "contractor", "Intern": "intern"}},
    "status": {"from": "Worker Status", "map": {"Active": "active", "On Leave": "leave", "Terminated": "terminated"}},
    **{name: {"from": column, "date_format": US_DATE} for name, column in
       (("hire_date", "Hire Date"), ("termination_date", "Termination Date"), ("contract_end_date", "Contract End Date"))},
}  # fmt: skip


def export_row(row: list[str]) -> list[str]:
    """A feed row as the export writes it: its words for types and statuses, US dates."""
    words = [EXPORT_WORDS.get(cell, cell) for cell in row]
    for i in (10, 11, 12):
        words[i] = date.fromisoformat(row[i]).strftime(US_DATE) if row[i] else ""
    return words


def write_feed(path: Path, workers: int, seed: int, *, export: bool = False) -> None:
    """A seeded feed: managers first, a mix of types, statuses, pre-hires and leavers
    (`export`: the same rows as the HR export of EXPORT_HEADER)."""
    fake = Faker()
    Faker.seed(seed)
    rng = random.Random(seed)
    today = date.today()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(EXPORT_HEADER if export else HEADER)
        for i in range(workers):
            eid = f"E{i:06d}"
            first, last = fake.first_name(), fake.last_name()
            manager = f"E{rng.randrange(0, max(1, i // 10)):06d}" if i >= 10 else ""
            kind = rng.choices(["employee", "contractor", "intern"], [85, 12, 3])[0]
            status = rng.choices(["active", "leave", "terminated"], [94, 3, 3])[0]
            hire = today - timedelta(days=rng.randrange(-20, 3000))
            end = hire + timedelta(days=rng.randrange(30, 900)) if kind == "contractor" else None
            row = [
                eid, first, last, f"{first}.{last}.{i}@example.com".lower(), rng.choice(DEPARTMENTS),
                f"JC-{rng.randrange(1, 40):02d}", fake.city(), manager, kind, status, hire.isoformat(),
                "", end.isoformat() if end else "",
            ]  # fmt: skip
            writer.writerow(export_row(row) if export else row)


def write_config(folder: Path, url: str, feed: Path, fields: dict | None = None) -> Path:
    """The config (and policy) in `folder`, planning `feed` (mapped by `fields`, if
    given) into the SCIM server at `url`."""
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
        f"sources: [{json.dumps({'name': 'hr', 'type': 'csv', 'path': str(feed), **({'fields': fields} if fields else {})})}]\n"
        f"targets: [{{name: app, type: scim, url: '{url}', token_env: APP_TOKEN, page_size: 1000, timeout: 300}}]\n"
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
    parser.add_argument("--mapped", action="store_true", help="also plan the same workers as a mapped HR export")
    args = parser.parse_args()
    commands = [Path(sys.executable).parent / "jml", *args.against]
    with tempfile.TemporaryDirectory(prefix="jml-bench-") as tmp:
        folder = Path(tmp)
        write_feed(folder / "workers.csv", args.workers, args.seed)
        if args.mapped:
            write_feed(folder / "export.csv", args.workers, args.seed, export=True)
        token = "bench-token"
        env = {**os.environ, "APP_TOKEN": token}
        with scim_server(token=token, tenants=False) as server:
            configs = {f"{jml}": write_config(folder / f"install-{n}", server.url, folder / "workers.csv")
                       for n, jml in enumerate(commands)}  # fmt: skip
            if args.mapped:
                configs.update({f"{jml} (mapped)": write_config(folder / f"install-{n}-mapped", server.url,
                                                               folder / "export.csv", FIELDS)
                                for n, jml in enumerate(commands)})  # fmt: skip
            runs: dict[str, list[tuple[float, float]]] = {label: [] for label in configs}
            for i in range(args.repeat):
                for label, config in configs.items():
                    wall, rss, planned = measure(Path(label.removesuffix(" (mapped)")), config, env)
                    runs[label].append((wall, rss))
                    print(f"{label}: run {i + 1}: {wall:.1f} s wall, {rss:.0f} MiB peak, {planned} operations planned")
        for label, measured in runs.items():
            print(
                f"{label}: median over {args.repeat}: {statistics.median(w for w, _ in measured):.1f} s wall,"
                f" {statistics.median(r for _, r in measured):.0f} MiB peak ({args.workers} workers)"
            )


if __name__ == "__main__":
    main()
