"""An HR database as a source: one SQL query returning the feed's columns.

`SqlSourceConnector(config, environ=os.environ).read()` runs `config.query` (text from
the config file, run as written: no value is ever formatted into it) on a fresh
connection to `config.url` (its password, if any, from `environ[config.password_env]`)
and returns the rows as the frame every source returns (connectors.sources.frames): the
query's column names (alias them to the SPEC's: `SELECT emp_no AS employee_id, ...`),
cells as text, `_row` the row's position in the result.

Every failure is a SourceError whose one-line message names the source and the URL
(never the password): the variable is not set, the database cannot be reached, the
query fails (the database's first line), a column is named twice.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping

import pandas as pd
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from connectors.base import SourceError
from connectors.sources.frames import text_frame
from connectors.sqlutil import database_url, engine_for, first_line, shown
from jml.config import SqlSource

__all__ = ["SqlSourceConnector"]

log = logging.getLogger(__name__)

#: Seconds to wait for a connection (PostgreSQL) or a lock (SQLite).
CONNECT_TIMEOUT = 30.0


class SqlSourceConnector:
    """Reads the HR feed from a SQL query; see the module docstring for the contract."""

    def __init__(self, config: SqlSource, *, environ: Mapping[str, str] = os.environ) -> None:
        self.name = config.name
        self._config = config
        self._url = database_url(config.url, config.password_env, environ, f"source {config.name}", SourceError)

    def __repr__(self) -> str:
        return f"SqlSourceConnector(name={self.name!r}, url={shown(self._config.url)!r})"

    def read(self) -> pd.DataFrame:
        """The query's rows as a frame of text plus `_row`; raises SourceError."""
        started = time.monotonic()
        engine = engine_for(self._url, CONNECT_TIMEOUT)
        try:
            with engine.connect() as conn:
                result = conn.execute(text(self._config.query))
                if not result.returns_rows:
                    raise SourceError(f"source {self.name}: the query returns no rows (not a SELECT?)")
                columns = [str(name) for name in result.keys()]
                rows = result.all()
        except SQLAlchemyError as exc:
            raise SourceError(
                f"source {self.name}: {shown(self._config.url)}: the query failed: {first_line(exc)}"
            ) from None
        finally:
            engine.dispose()
        frame = text_frame(self.name, columns, rows)
        log.info("source %s: read %d rows in %.2f s", self.name, len(frame), time.monotonic() - started)
        return frame
