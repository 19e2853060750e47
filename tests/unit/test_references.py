"""Stale pointers: every file of the repo that the tests' text or the README names (a
docstring saying where a fault is tested for real, say) exists; tests/mutations is not
read (its mutations name missing files on purpose)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = "tests|jml|connectors|pipeline|flows|tasks|app|expectations|deployments|bench"
NAMED = re.compile(rf"\b(?:{PACKAGES})/[\w/]+\.py\b")


def test_every_file_the_tests_and_the_readme_name_exists():
    tests = [path for path in sorted((ROOT / "tests").rglob("*.py")) if "mutations" not in path.parts]
    texts = [ROOT / "README.md", *tests]
    missing = sorted({(text.relative_to(ROOT).as_posix(), name) for text in texts
                      for name in NAMED.findall(text.read_text()) if not (ROOT / name).is_file()})  # fmt: skip
    assert missing == []
