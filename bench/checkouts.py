"""The trees a bench compares: this one, and another git revision checked out beside it.

    with checkouts(root, "1e708fa", folder) as trees:  # [("this tree", root), ("1e708fa", path)]

The other revision goes in a detached worktree under `folder` and is removed on the way
out, whatever happened; without a revision only this tree is given.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def checkouts(root: Path, compare: str | None, folder: Path) -> Iterator[list[tuple[str, Path]]]:
    """(label, path) of this tree and, with `compare`, of that revision."""
    trees = [("this tree", root)]
    if not compare:
        yield trees
        return
    other = folder / "other"
    git = ["git", "-C", str(root), "worktree"]
    subprocess.run([*git, "add", "--detach", str(other), compare], check=True, capture_output=True)
    try:
        yield [*trees, (compare, other)]
    finally:
        subprocess.run([*git, "remove", "--force", str(other)], check=False, capture_output=True)
