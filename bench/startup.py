"""Benchmark: the fixed cost of a `jml` command on this machine, and where a run's
start-up goes.

    .venv/bin/python bench/startup.py [--repeat 5] [--workers 20] [--compare 909c7c7]

Each command runs in a fresh subprocess (`python -c "from app.cli import main; main()"`
with PYTHONPATH at the tree measured), on a tiny seeded feed (bench/plan_100k.py's
writer) against a SCIM server of its own, in Prefect's ephemeral mode (no
PREFECT_API_URL; a private PREFECT_HOME, migrated by one warm-up run that is not
counted): `jml --help`, `jml exceptions --json` on the existing ledger, `jml plan
--json`, and `jml run --json` (a no-change run), also with PREFECT_API_URL pointing at a
running `prefect server` (one for the bench, app.launchers). Then the per-stage split of a run's
start-up, by a driver that takes `jml run`'s steps one at a time (`--stages`, below):
importing app.cli, loading and checking the config and ledger, importing Prefect (and
starting its temporary server, where the tree does that on a thread: app.prefect_api),
importing the flow, waiting for the server, and the flow run itself (its first stage,
the other stages, Prefect's own overhead). Medians of `--repeat` runs.

With `--compare REV`, REV is checked out in a temporary git worktree and measured in
the same bench run, the trees alternating run by run, so both see the same load; the
table has one column per tree. Not part of `make test`.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, redirect_stdout
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
JML = "import sys; from app.cli import main; sys.argv[0] = 'jml'; main()"
COMMANDS = ("jml --help", "jml exceptions --json", "jml plan --json", "jml run --json")
SERVED = "jml run --json, API URL set"  # a running `prefect server`: nothing to start
STAGES = (
    ("import app.cli", "cli"),
    ("config, secrets, ledger checks", "config"),
    ("import prefect (+ start server thread)", "prefect"),
    ("import the flow (prefect, GX, pipeline)", "flow_import"),
    ("wait for the Prefect server", "server"),
    ("flow: first stage (validate)", "first_stage"),
    ("flow: the other stages", "other_stages"),
    ("flow: Prefect's overhead", "flow_overhead"),
    ("python start-up and exit", "interpreter"),
    ("total (wall)", "wall"),
)


def stages(config: Path) -> None:
    """The driver (`--stages CONFIG`, run with PYTHONPATH at the tree measured): `jml
    run`'s steps (app.cli._flow_run) one at a time, the seconds of each as one JSON
    document on stdout."""
    clock = {"started": time.perf_counter()}
    seconds: dict[str, float] = {}

    def lap(name: str) -> None:
        now = time.perf_counter()
        seconds[name] = now - clock["started"]
        clock["started"] = now

    begun = clock["started"]
    import app.cli as cli

    lap("cli")
    from pipeline.run import load_settings

    settings = load_settings(config).config
    cli._check_secrets(settings)
    cli._check_state(config, settings)
    cli._quiet_prefect()
    lap("config")
    warm_up = None
    # A tree before the temporary server was started beside the imports has no such file
    # (and an ImportError would not say so: the editable install may find another tree's).
    if (Path(cli.__file__).parent / "prefect_api.py").exists():
        from app.prefect_api import warm_up
    with redirect_stdout(sys.stderr):
        server = warm_up() if warm_up is not None else None
        lap("prefect")
        from flows.binding import bound
        from flows.hr_sync import hr_sync

        lap("flow_import")
        if server is not None:
            server.wait()
            seconds["server_start_in_thread"] = server.seconds or 0.0
        else:  # what the flow's first get_client() does there
            from prefect.server.api.server import SubprocessASGIServer

            SubprocessASGIServer().start()
        lap("server")
        with bound(config, as_actor="bench"):
            document = hr_sync(as_of=date.today(), return_state=True).result(raise_on_failure=False)
        lap("flow")
    timings = document["timings"]
    seconds["first_stage"] = timings.get("validate", 0.0)
    seconds["other_stages"] = sum(timings.values()) - seconds["first_stage"]
    seconds["flow_overhead"] = seconds.pop("flow") - sum(timings.values())
    seconds["driver"] = time.perf_counter() - begun
    sys.stdout.write(json.dumps(seconds) + "\n")  # then atexit stops the server: the parent counts it as exit


class Tree:
    """One checkout measured: its folder (config, feed, ledger, PREFECT_HOME) and the
    environment its commands run in."""

    def __init__(self, name: str, path: Path, folder: Path, url: str, token: str) -> None:
        from plan_100k import write_config

        self.name, self.path, self.folder = name, path, folder
        self.config = write_config(folder, url, folder.parent / "workers.csv")
        self.env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_")}
        self.env.update(
            PYTHONPATH=str(path), APP_TOKEN=token, PREFECT_HOME=str(folder / "prefect"),
            PREFECT_SERVER_ANALYTICS_ENABLED="false",
        )  # fmt: skip

    def argv(self, command: str) -> list[str]:
        words = command.split(",")[0].split()[1:]
        if words[0] != "--help":
            words[1:1] = ["--config", str(self.config)]
        return [sys.executable, "-c", JML, *words]

    def time(self, argv: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
        """(wall seconds, stdout) of one subprocess (with `env` added to the tree's); exit
        codes other than 0 and 3 stop the bench."""
        started = time.perf_counter()
        done = subprocess.run(
            argv, cwd=self.folder, env={**self.env, **(env or {})}, capture_output=True, text=True, check=False
        )
        wall = time.perf_counter() - started
        if done.returncode not in (0, 3):
            raise SystemExit(f"{self.name}: {' '.join(argv[3:])} exit {done.returncode}:\n{done.stderr[-3000:]}")
        return wall, done.stdout

    def stages(self) -> dict[str, float]:
        wall, stdout = self.time([sys.executable, str(Path(__file__).resolve()), "--stages", str(self.config)])
        seconds = json.loads(stdout.strip().splitlines()[-1])
        seconds["wall"] = wall
        seconds["interpreter"] = wall - seconds.pop("driver")
        return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--workers", type=int, default=20)
    parser.add_argument("--compare", metavar="REV", help="also measure this git revision, alternating")
    parser.add_argument("--stages", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.stages:
        return stages(args.stages)
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "bench"))
    from checkouts import checkouts
    from plan_100k import write_feed

    from app.launchers import prefect_server, scim_server

    with tempfile.TemporaryDirectory(prefix="jml-startup-") as tmp, ExitStack() as stack:
        trees_of = stack.enter_context(checkouts(ROOT, args.compare, Path(tmp)))
        api = stack.enter_context(prefect_server(Path(tmp) / "prefect-server")).env()
        write_feed(Path(tmp) / "workers.csv", args.workers, seed=7)
        trees = []
        for i, (name, path) in enumerate(trees_of):
            server = stack.enter_context(scim_server(token="bench-token", tenants=False))
            trees.append(Tree(name, path, Path(tmp) / f"tree{i}", server.url, "bench-token"))
        for tree in trees:  # the warm-up: the ledger made, the accounts created, Prefect's database migrated
            tree.time(tree.argv("jml run --json"))
        walls: dict[tuple[str, str], list[float]] = {}
        splits: dict[str, list[dict[str, float]]] = {tree.name: [] for tree in trees}
        for repeat in range(args.repeat):
            for tree in trees if repeat % 2 == 0 else trees[::-1]:
                for command in COMMANDS:
                    walls.setdefault((tree.name, command), []).append(tree.time(tree.argv(command))[0])
                served = tree.time(tree.argv(SERVED), env=api)[0]
                walls.setdefault((tree.name, SERVED), []).append(served)
                splits[tree.name].append(tree.stages())
            print(f"repeat {repeat + 1} of {args.repeat} done", file=sys.stderr, flush=True)
        report(trees, walls, splits, args)


def report(trees: list[Tree], walls: dict, splits: dict, args: argparse.Namespace) -> None:
    names = [tree.name for tree in trees]
    width = max(len(label) for label, _ in STAGES) + 2
    header = "".join(f"{name + ' (range)':>24}" for name in names)
    print(f"\nmedian seconds of {args.repeat} runs each, {args.workers} workers, ephemeral Prefect, "
          f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{'command':<{width}}{header}")
    for command in (*COMMANDS, SERVED):
        print(f"{command:<{width}}" + "".join(cell(walls[name, command]) for name in names))
    print(f"\n{'jml run start-up, by stage':<{width}}{header}")
    for label, key in STAGES:
        print(f"{label:<{width}}" + "".join(cell([split.get(key, 0.0) for split in splits[name]]) for name in names))
    threaded = [split["server_start_in_thread"] for split in splits[names[0]] if "server_start_in_thread" in split]
    if threaded:
        print(f"(the server's own start, on its thread beside the imports: {statistics.median(threaded):.2f} s)")


def cell(values: list[float]) -> str:
    """The median, and the range, of `values`: 24 characters."""
    return f"{statistics.median(values):>10.2f} ({min(values):5.2f}-{max(values):5.2f})"


if __name__ == "__main__":
    main()
