"""Turning the rows a source fetched into the frame every source returns: text cells
(None for a missing value) with the feed's column names, and `_row`, the 1-based
position of the row in the source. Shared by the REST and SQL sources."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from decimal import Decimal

import numpy as np
import pandas as pd

from connectors.base import SourceError
from connectors.sources.csvfile import ROW_COLUMN

__all__ = ["ROW_COLUMN", "cell_text", "text_frame"]


def cell_text(value: object) -> str | None:
    """A fetched value as feed text: dates as YYYY-MM-DD (a datetime at midnight too),
    booleans as true/false, numbers as written; ValueError for a list or a mapping."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) and value.tzinfo is None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    raise ValueError(f"a {type(value).__name__} is not a single value")


def text_frame(source: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> pd.DataFrame:
    """The frame of `rows` (values in `columns` order) as text, plus `_row`.

    SourceError for a column named twice, the reserved name `_row`, or a cell that is
    not a single value (naming the row and the column, not the value)."""
    seen: set[str] = set()
    for name in columns:
        if name == ROW_COLUMN:
            raise SourceError(f"source {source}: the column name {ROW_COLUMN!r} is reserved")
        if name in seen:
            raise SourceError(f"source {source}: column {name!r} comes twice")
        seen.add(name)
    cells = np.empty((len(rows), len(columns)), dtype=object)
    for position, row in enumerate(rows):
        for column, value in enumerate(row):
            try:
                cells[position, column] = cell_text(value)
            except ValueError as exc:
                raise SourceError(
                    f"source {source}: row {position + 1}, column {columns[column]}: {exc}"
                ) from None
    frame = pd.DataFrame(cells, columns=list(columns), dtype=object)
    frame[ROW_COLUMN] = np.arange(1, len(rows) + 1, dtype=np.int64)
    return frame
