"""A source's records made into the feed's columns by its `fields` (SPEC "Mapping a
source's records"), before validation.

`map_records(frame, config, where=...)` turns the records as read (the source's own
column names; for REST one column per dotted path) into the feed frame: one column per
`fields` entry (jml.mapping, column by column), each canonical feed column not listed
taken from the record's column of the same name when the source has it, and `_row`
unchanged; other source columns are dropped. Without `fields` (CSV, SQL) the records
pass as read. `MappedSource(reader, config)` is a CSV or SQL reader whose `read` does
this; the REST source calls `map_records` itself.

A `from` or placeholder naming no column of a CSV header or a SQL result is a
SourceError naming the file (or query), the field and the column: the config does not
fit the feed (exit 2). A missing REST path is empty instead.
"""

from __future__ import annotations

import pandas as pd

from connectors.base import Records, SourceError
from connectors.sources.csvfile import ROW_COLUMN
from jml.config import RestSource, SourceConfig
from jml.model import KNOWN_COLUMNS

__all__ = ["MappedSource", "map_records", "read_paths"]


def read_paths(config: RestSource) -> list[str]:
    """The dotted paths a REST source reads from each item: every path its `fields`
    name, then each canonical feed column not listed (read from the same path)."""
    paths = [path for entry in config.mapping for path in entry.columns]
    return list(dict.fromkeys([*paths, *(name for name in KNOWN_COLUMNS if name not in config.mapping_names)]))


class MappedSource:
    """A CSV or SQL source whose records are mapped to the feed's columns by its
    `fields` (see the module docstring)."""

    def __init__(self, reader: Records, config: SourceConfig, *, where: str = "the query's result") -> None:
        """`where`: what holds the source's column names, for errors (a CSV file's
        header: `<path>: the header`)."""
        self.name = reader.name
        self.reader = reader
        self.config = config
        self.where = where

    def __repr__(self) -> str:
        return f"MappedSource({self.reader!r})"

    def read(self) -> pd.DataFrame:
        """The feed frame (see the module docstring); raises SourceError."""
        return self.mapped(self.read_records())

    def read_records(self) -> pd.DataFrame:
        """The records as the source holds them (its own column names, and `_row`)."""
        return self.reader.read()

    def mapped(self, records: pd.DataFrame) -> pd.DataFrame:
        """`records` (as `read_records` gives them) as the feed frame."""
        return map_records(records, self.config, where=self.where)


def map_records(frame: pd.DataFrame, config: SourceConfig, *, where: str) -> pd.DataFrame:
    """`frame` (the records as read, plus `_row`) as the feed frame of `config`'s
    `fields`; SourceError when a CSV or SQL spec reads a column `frame` lacks (`where`
    names what holds the columns). A REST source's columns are its paths."""
    if not config.mapping or frame.columns.empty:
        return frame
    paths = isinstance(config, RestSource)
    held = [name for name in frame.columns if name != ROW_COLUMN]
    if not paths:
        _check_columns(config, set(held), where)
    count = len(frame)
    cells = {name: frame[name].tolist() for name in held}
    mapped: dict[str, list[str | None]] = {entry.name: entry.values(cells, count) for entry in config.mapping}
    for name in _implicit(config.mapping_names, cells, paths):
        mapped[name] = cells[name]
    result = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in mapped.items()})
    result[ROW_COLUMN] = frame[ROW_COLUMN].to_numpy()
    return result


def _check_columns(config: SourceConfig, present: set[str], where: str) -> None:
    for entry in config.mapping:
        missing = next((name for name in entry.columns if name not in present), None)
        if missing is not None:
            raise SourceError(
                f"source {config.name}: {where} has no column {missing!r}, which fields.{entry.name} reads"
            )


def _implicit(listed: frozenset[str], cells: dict[str, list], paths: bool) -> list[str]:
    """The canonical feed columns not listed that the source has (a REST path: when one
    item holds a value there)."""
    return [
        name
        for name in KNOWN_COLUMNS
        if name not in listed and name in cells and (not paths or any(value is not None for value in cells[name]))
    ]
