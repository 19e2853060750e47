"""Benchmark: `jml access --as-of D --json` on a SQLite ledger of N people's history.

    .venv/bin/python bench/access_as_of.py [--people 100000] [--days 30] [--seed 7] [--repeat 3]

Builds the ledger through the Ledger API (set-based, as runs write it): on day 1 every
person gets an account on `app` with two grants; on each later day about 1 % of them
is disabled with a grant revoked, and about 1 % of the disabled are enabled again. Then
times the CLI (a fresh process, --json to a file) as of the middle day, prints one line
per repeat and the median. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from jml.ledger import AccessChange, Ledger, PersonState  # noqa: E402

FIRST = date(2026, 1, 1)


def build(url: str, people: int, days: int, seed: int) -> None:
    """The ledger's runs, persons and access history (see the module docstring)."""
    rng = random.Random(seed)
    eids = [f"E{i:06d}" for i in range(people)]
    with Ledger.open(url) as ledger:
        run = ledger.start_run(as_of=FIRST, dry_run=False, override_safety=False, actor="bench")
        ledger.save_person_states(run, [PersonState(e, "active") for e in eids])
        ledger.record_access(
            run, "app", [c for e in eids for c in (AccessChange(e), AccessChange(e, "all-staff"), AccessChange(e, "eng"))]
        )
        disabled: set[str] = set()
        for day in range(1, days):
            run = ledger.start_run(as_of=FIRST + timedelta(days=day), dry_run=False, override_safety=False, actor="bench")
            leaving = set(rng.sample(eids, people // 100)) - disabled
            back = set(rng.sample(sorted(disabled), len(disabled) // 100)) if disabled else set()
            changes = [c for e in leaving for c in (AccessChange(e, active=False), AccessChange(e, "eng", held=False))]
            changes += [c for e in back for c in (AccessChange(e, active=True), AccessChange(e, "eng"))]
            ledger.record_access(run, "app", changes)
            disabled = (disabled | leaving) - back


def write_config(folder: Path, more: str = "") -> Path:
    """A config naming the ledger (its target is never contacted by `access`), with
    `more` YAML lines at its end."""
    (folder / "policy.yaml").write_text("bundles: {}\nrules: []\n")
    config = folder / "jml.yaml"
    config.write_text(
        "state: sqlite:///jml.db\n"
        "sources: [{name: hr, type: csv, path: workers.csv}]\n"
        "targets: [{name: app, type: scim, url: 'http://127.0.0.1:9', token_env: APP_TOKEN}]\n"
        "policy: policy.yaml\n" + more
    )
    return config


def measure(config: Path, day: date, out: Path) -> tuple[float, int]:
    """(wall seconds, entries answered) of one `jml access --as-of day --json > out`."""
    jml = Path(sys.executable).parent / "jml"
    started = time.perf_counter()
    with out.open("w") as handle:
        result = subprocess.run(
            [str(jml), "access", "--config", str(config), "--as-of", day.isoformat(), "--json"],
            stdout=handle, stderr=subprocess.PIPE, text=True, check=False, env={**os.environ, "APP_TOKEN": "x"},
        )  # fmt: skip
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"jml access failed ({result.returncode}): {result.stderr[-2000:]}")
    return wall, len(json.loads(out.read_text())["access"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="jml-bench-") as tmp:
        folder = Path(tmp)
        config = write_config(folder)
        started = time.perf_counter()
        build(f"sqlite:///{folder / 'jml.db'}", args.people, args.days, args.seed)
        print(f"built the ledger of {args.people} people over {args.days} days in {time.perf_counter() - started:.1f} s")
        day = FIRST + timedelta(days=args.days // 2)
        walls = []
        for i in range(args.repeat):
            wall, entries = measure(config, day, folder / "access.json")
            walls.append(wall)
            print(f"run {i + 1}: {wall:.2f} s wall, {entries} entries as of {day}")
        print(f"median over {args.repeat}: {statistics.median(walls):.2f} s wall ({args.people} people)")


if __name__ == "__main__":
    main()
