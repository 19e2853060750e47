"""What every `jml` command shares: the consoles, the common options, the one-line
exit (`Exit`), the `--as-of` day, the JSON document on stdout, and the ledger a command
reads."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from jml.lifecycle import today
from jml.secrets import redact

if TYPE_CHECKING:
    from jml.config import Config

out = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="The config file.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
AsOfOpt = Annotated[str | None, typer.Option("--as-of", help="Run as of this day (YYYY-MM-DD); default today (UTC).")]
DEFAULT_CONFIG = Path("jml.yaml")


class Exit(Exception):
    """Stop the command with one line on stderr and an exit code."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def parse_day(value: str | None) -> date:
    """The `--as-of` day: today (UTC) when not given; exit 2 for a value that is not a date."""
    if value is None:
        return today()
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Exit(2, f"--as-of: {value!r} is not a date (YYYY-MM-DD)") from None


def emit(document: dict) -> None:
    """Write the JSON document (redacted); compact, so the C encoder serves large plans
    quickly."""
    sys.stdout.write(redact(json.dumps(document, default=str)) + "\n")


@contextmanager
def open_ledger(config: Path, settings: Config | None = None) -> Iterator:
    """The ledger the config at `config` names, open for the block (`settings`: that
    config already loaded, so that a command reads it once)."""
    from jml.config import load_config
    from jml.ledger import Ledger

    ledger = Ledger.open((settings or load_config(config)).state_url)
    try:
        yield ledger
    finally:
        ledger.close()
