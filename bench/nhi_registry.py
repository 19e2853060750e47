"""Benchmark: what a registry of N non-human identities adds to a run.

    .venv/bin/python bench/nhi_registry.py [--nhis 10000] [--people 10000] [--repeat 5]

Times, in this process, each piece of work the registry adds to one run, on a SQLite
ledger, for a registry of N rows (owners drawn from P people, every NHI's account in
the target among the P people's accounts):
- read: the registry file read and checked (`pipeline.registry.read_registry`);
- split: the NHIs' accounts set apart from a target's snapshot (`jml.nhi.split_accounts`);
- watch: the rules (`jml.nhi.watch`), on the first run (every row new), on a run where
  nothing changed, and on one where 1 % of the owners left;
- save: what the ledger keeps (`Ledger.save_nhis`: rows and audit entries) for each;
  and the read of the ledger's ownerships a run starts from.
Prints the median of each over the repeats (a fresh ledger per repeat). Not part of
`make test`.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.access_as_of import write_config  # noqa: E402
from jml.config import load_config  # noqa: E402
from jml.ledger import Ledger  # noqa: E402
from jml.model import Account, Snapshot  # noqa: E402
from jml.nhi import Standing, split_accounts, watch  # noqa: E402
from pipeline.registry import read_registry  # noqa: E402

KINDS = ("service_account", "api_client", "bot", "shared_admin")
DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 3)


def write_world(folder: Path, nhis: int, people: int, rng: random.Random) -> Path:
    """A config naming one SCIM target (never contacted) and the registry file."""
    with (folder / "nhis.csv").open("w", newline="", encoding="utf-8") as file:
        out = csv.writer(file)
        out.writerow(("target", "account", "owner", "kind", "description"))
        for n in range(nhis):
            out.writerow(("app", f"svc-{n:06d}", f"E{rng.randrange(people):06d}", KINDS[n % 4], f"service {n}"))
    return write_config(folder, "nhi: {registry: nhis.csv}\n")


def timed(function: Callable, *args, **kwargs) -> tuple[float, object]:
    started = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - started, result


def one_repeat(nhis: int, people: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = load_config(write_world(folder, nhis, people, rng))
        figures["read registry"], registry = timed(read_registry, config)
        accounts = [Account(f"p{n}", f"E{n:06d}", True, {"user_name": f"e{n:06d}@example.com"}) for n in range(people)]
        accounts += [Account(f"s{n}", None, True, {"user_name": f"svc-{n:06d}"}) for n in range(nhis)]
        registered = {entry.key[1] for entry in registry}
        figures["split snapshot"], (_, found) = timed(split_accounts, Snapshot("app", accounts), registered)
        held = {"app": set(found)}
        staff = {f"E{n:06d}": Standing("active", f"E{(n + 1) % people:06d}") for n in range(people)}
        with Ledger.open(config.state_url) as ledger:
            for day, label, standing in (
                (DAY1, "first run", staff),
                (DAY2, "no change", staff),
                (DAY2, "1 % of owners left", _leavers(staff, rng)),
            ):
                run = ledger.start_run(as_of=day, dry_run=False, override_safety=False, actor="bench")
                figures[f"ledger read ({label})"], kept = timed(ledger.nhi_ownerships)
                figures[f"watch ({label})"], seen = timed(watch, registry, kept, standing, held, as_of=day)
                figures[f"save ({label})"], _ = timed(ledger.save_nhis, run, "bench", seen)
    return figures


def _leavers(staff: dict[str, Standing], rng: random.Random) -> dict[str, Standing]:
    leaving = set(rng.sample(sorted(staff), len(staff) // 100))
    return {eid: Standing("terminated", s.manager_id) if eid in leaving else s for eid, s in staff.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nhis", type=int, default=10_000)
    parser.add_argument("--people", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    runs = [one_repeat(args.nhis, args.people, seed) for seed in range(args.repeat)]
    print(f"{args.nhis} NHIs, {args.people} people, median of {args.repeat} (seconds):")
    for name in runs[0]:
        print(f"  {name:32s} {statistics.median(r[name] for r in runs):8.3f}")


if __name__ == "__main__":
    main()
