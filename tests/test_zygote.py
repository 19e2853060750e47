"""tests/zygote.py keeps its promise: a command it forks answers exactly as the `jml`
script started with subprocess does, in the caller's folder and environment."""

from __future__ import annotations

import os
import subprocess

from tests import zygote


def both(argv: list[str], cwd, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    forked = zygote.run(argv, cwd=cwd, env=env, timeout=120)
    started = subprocess.run(
        [zygote.JML, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return forked, started


def outcome(done: subprocess.CompletedProcess) -> tuple[int, str, str]:
    return done.returncode, done.stdout, done.stderr


def test_a_bad_config_in_the_callers_folder_fails_alike(tmp_path) -> None:
    (tmp_path / "jml.yaml").write_text("state: sqlite:///jml.db\nbogus: 1\n", encoding="utf-8")
    forked, started = both(["exceptions", "--config", "jml.yaml", "--json"], tmp_path, dict(os.environ))
    assert outcome(forked) == outcome(started)
    # read from the caller's folder: the file's own errors, not "no such file"
    assert forked.returncode == 2 and forked.stderr.startswith("error: jml.yaml: sources:"), outcome(forked)


def test_the_callers_environment_is_the_commands(tmp_path) -> None:
    narrow = {**os.environ, "COLUMNS": "60"}
    wide = {**os.environ, "COLUMNS": "160"}
    forked_narrow, started_narrow = both(["--help"], tmp_path, narrow)
    forked_wide, started_wide = both(["--help"], tmp_path, wide)
    assert outcome(forked_narrow) == outcome(started_narrow)
    assert outcome(forked_wide) == outcome(started_wide)
    assert forked_narrow.returncode == 0 and forked_narrow.stdout != forked_wide.stdout  # Rich wraps at COLUMNS
