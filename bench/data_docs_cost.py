"""Benchmark: what building the Data Docs adds to the validate stage.

    .venv/bin/python bench/data_docs_cost.py [--workers 1000 100000] [--bad 0.01] [--repeat 5]

For the examples feed and a seeded synthetic feed of each size (`bench/plan_100k.py`'s
generator, with a fraction `--bad` of rows broken: a bad email or a bad date), times
the validate stage as `pipeline.feed` runs it: the CSV source read and GX's validation,
then with the Data Docs built into a folder that gains one run per repeat. Prints the
medians and the folder's size per run. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.plan_100k import write_feed  # noqa: E402
from connectors.factory import build_source  # noqa: E402
from expectations.data_docs import build_data_docs  # noqa: E402
from expectations.runner import validate_feed  # noqa: E402
from jml.config import CsvSource  # noqa: E402


def break_rows(path: Path, fraction: float, seed: int) -> int:
    """Break `fraction` of the rows (half a bad email, half an impossible hire date)."""
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    rng = random.Random(seed)
    chosen = rng.sample(range(1, len(rows)), int((len(rows) - 1) * fraction))
    for n, index in enumerate(chosen):
        if n % 2:
            rows[index][3] = "not-an-email"
        else:
            rows[index][10] = "2024-02-30"
    with path.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(rows)
    return len(chosen)


def validate(path: Path):
    source = CsvSource(name="hr", type="csv", path=path)
    return validate_feed(build_source(source, path.parent).read(), source="hr", max_invalid_fraction=1.0)


def measure(label: str, path: Path, repeat: int, docs: Path) -> None:
    validate(path)  # warm: GX's context and suite are built once per process
    plain, with_docs = [], []
    for n in range(repeat):
        started = time.perf_counter()
        validate(path)
        plain.append(time.perf_counter() - started)
        started = time.perf_counter()
        checked = validate(path)
        build_data_docs({"hr": checked.result}, docs, run_name=f"{label}-{n}")
        with_docs.append(time.perf_counter() - started)
    size = sum(f.stat().st_size for f in docs.rglob("*") if f.is_file() and "static" not in f.parts)
    a, b = statistics.median(plain), statistics.median(with_docs)
    print(
        f"{label}: validate {a:.3f} s, with Data Docs {b:.3f} s (+{b - a:.3f} s, +{(b - a) / a:.0%});"
        f" pages and results {size / repeat / 1e6:.2f} MB per run (+4.1 MB of GX static files once)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1000, 100_000])
    parser.add_argument("--bad", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        measure("examples feed (12 rows)", ROOT / "examples" / "feeds" / "workers.csv", args.repeat, root / "ex")
        for workers in args.workers:
            path = root / f"feed-{workers}.csv"
            write_feed(path, workers, args.seed)
            bad = break_rows(path, args.bad, args.seed)
            measure(f"{workers} rows, {bad} bad", path, args.repeat, root / f"docs-{workers}")


if __name__ == "__main__":
    main()
