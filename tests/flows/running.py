"""Running a flow the way `jml run` does: in-process, bound to a config file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flows.binding import bound


def run_bound(config: str | Path, flow: Any, **parameters: Any) -> Any:
    """Call `flow(**parameters)` with this process bound to `config`."""
    with bound(config):
        return flow(**parameters)
