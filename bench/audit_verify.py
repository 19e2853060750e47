"""Benchmark: `jml audit verify` over a trail of N audit events (default 1,000,000), and
what appending them costs (set-based appends of 10,000 events, each chained).

    .venv/bin/python bench/audit_verify.py [--events 1000000] [--repeat 3]

Builds a SQLite ledger in a temporary folder; prints the append rate and the median
wall time of `jml audit verify` (the CLI, start-up included). Not part of `make test`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from plan_100k import write_config  # noqa: E402

from jml.ledger import AuditEntry, Ledger  # noqa: E402

JML = ROOT / ".venv" / "bin" / "jml"
APPEND = 10_000


def build(url: str, events: int) -> float:
    """Append `events` events (a run's grants: realistic detail and reason); seconds."""
    ledger = Ledger.open(url)
    try:
        run_id = ledger.start_run(as_of=date(2026, 3, 2), dry_run=False, override_safety=False, actor="bench")
        started = time.perf_counter()
        for first in range(0, events, APPEND):
            ledger.append_audit(
                AuditEntry(run_id, "bench", "grant", f"E{i:07d}", "app",
                           {"entitlement": "engineering", "account_id": f"id-{i}"}, "rule 2: department Engineering")
                for i in range(first, min(first + APPEND, events))
            )  # fmt: skip
        return time.perf_counter() - started
    finally:
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        config = write_config(folder, "http://127.0.0.1:9/scim", folder / "workers.csv")
        seconds = build(f"sqlite:///{folder / 'jml.db'}", args.events)
        print(f"appended {args.events} events in {seconds:.1f} s ({args.events / seconds:,.0f} events/s)")
        times = []
        for _ in range(args.repeat):
            started = time.perf_counter()
            done = subprocess.run([str(JML), "audit", "verify", "--config", str(config)],
                                  capture_output=True, text=True, check=False)  # fmt: skip
            times.append(time.perf_counter() - started)
            assert done.returncode == 0, done.stdout + done.stderr
        print(done.stdout.strip())
        print(
            f"jml audit verify: median {statistics.median(times):.1f} s of {args.repeat} ({', '.join(f'{t:.1f}' for t in times)})"
        )


if __name__ == "__main__":
    main()
