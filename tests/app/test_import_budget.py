"""The fixed cost of a command that runs no flow: `jml --help`, the ledger's commands and a
config error never import Prefect, great_expectations, pandas or Alembic (seconds of
imports between them; only `jml run`, `plan`, `reconcile`, `preview`, `serve` and
`demo` need them); `jml --help` not even SQLAlchemy (the ledger's commands need it).
Asserted on the modules a real `jml` process loaded, not on time."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from jml.ledger import Ledger

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("prefect", "great_expectations", "pandas", "alembic", "sqlalchemy")

#: `jml ARGS` in this process, then (at exit, whatever the exit code) one line on stderr
#: naming the HEAVY modules that were imported.
PROBE = f"""
import atexit, json, os, sys
atexit.register(lambda: os.write(2, ("\\nIMPORTED " + json.dumps(
    sorted(m for m in {HEAVY!r} if m in sys.modules)) + "\\n").encode()))
if sys.argv[1:] == ["--import-only"]:
    import app.cli
else:
    from app.cli import main
    sys.argv = ["jml", *sys.argv[1:]]
    main()
"""


def imported(cwd: Path, *args: str) -> tuple[int, list[str], str]:
    """(exit code, the HEAVY modules imported, stderr) of `jml ARGS` run in `cwd`."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("APP_TOKEN", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("IMPORTED ")]
    assert lines, f"the probe did not report (exit {done.returncode}):\n{done.stderr[-3000:]}"
    return done.returncode, json.loads(lines[-1].removeprefix("IMPORTED ")), done.stderr


@pytest.fixture
def folder(tmp_path) -> Path:
    """A config folder: the example policy, the example feed, a SCIM target (never
    contacted by these commands) and a SQLite ledger at the schema's head (migrating a
    new one is the one time Alembic is imported)."""
    shutil.copy(ROOT / "examples" / "policy.yaml", tmp_path / "policy.yaml")
    (tmp_path / "workers.csv").write_text(
        (ROOT / "examples" / "feeds" / "day1.csv").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "jml.yaml").write_text(
        "state: sqlite:///jml.db\n"
        "sources: [{name: hr, type: csv, path: workers.csv}]\n"
        "targets: [{name: app, type: scim, url: 'http://127.0.0.1:9', token_env: APP_TOKEN}]\n"
        "policy: policy.yaml\n",
        encoding="utf-8",
    )
    Ledger.open(f"sqlite:///{tmp_path / 'jml.db'}").close()
    return tmp_path


@pytest.mark.parametrize("args", [("--import-only",), ("--help",), ("run", "--help")], ids=" ".join)
def test_importing_the_cli_and_its_help_import_none_of_the_heavy_libraries(tmp_path, args):
    code, heavy, stderr = imported(tmp_path, *args)
    assert code == 0, stderr
    assert heavy == []


@pytest.mark.parametrize(
    "args",
    [
        ("exceptions", "--json"),
        ("exceptions", "--status", "all", "--json"),
        ("audit", "--json"),
        ("audit", "verify", "--json"),
        ("nhi", "--json"),
        ("access", "--employee-id", "E001", "--json"),
    ],
    ids=" ".join,
)
def test_a_command_that_runs_no_flow_imports_none_of_them(folder, args):
    code, heavy, stderr = imported(folder, *args)
    assert code in (0, 2, 3), stderr  # answered (exit 2 only for a usage error below)
    assert "Traceback" not in stderr, stderr
    assert [name for name in heavy if name != "sqlalchemy"] == [], f"jml {' '.join(args)} imported {heavy}"


def test_a_config_error_of_a_flow_command_is_found_before_the_heavy_imports(folder):
    config = folder / "jml.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "surprise: true\n", encoding="utf-8")
    code, heavy, stderr = imported(folder, "run", "--json")
    assert code == 2 and "surprise" in stderr, stderr
    assert [name for name in heavy if name != "sqlalchemy"] == []
