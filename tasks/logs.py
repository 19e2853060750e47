"""The logger of the current Prefect run, or the plain `jml` logger outside one."""

from __future__ import annotations

import logging

from prefect import get_run_logger
from prefect.exceptions import MissingContextError


def run_logger() -> logging.Logger | logging.LoggerAdapter:
    """Log through Prefect inside a flow or task run; through `jml` elsewhere."""
    try:
        return get_run_logger()
    except MissingContextError:
        return logging.getLogger("jml")
