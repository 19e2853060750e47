"""Reading the registry of non-human identities (SPEC "NHIs") named by the config's
`nhi.registry`: the CSV file is read as a feed is (`connectors.sources.csvfile`: its
encodings, line numbers and one-line errors), and its rows checked by
`jml.config.nhi.parse_registry`. Every problem is a ConfigError naming the file, line
and column (exit 2): a registry is configuration, so a bad row stops the run rather
than being quarantined."""

from __future__ import annotations

from connectors.base import SourceError
from jml.config import Config, ConfigError, CsvSource
from jml.nhi import RegistryEntry
from jml.nhi_registry import check_columns, parse_registry

__all__ = ["read_registry"]


def read_registry(config: Config) -> tuple[RegistryEntry, ...]:
    """The registry's entries; none when the config names no registry."""
    if config.nhi is None:
        return ()
    from connectors.sources.csvfile import ROW_COLUMN, CsvSourceConnector  # pandas: only for a registry

    path = config.resolve(config.nhi.registry)
    reader = CsvSourceConnector(CsvSource(name="nhi", type="csv", path=path), config.base_dir, label="nhi registry")
    try:
        frame = reader.read()
    except SourceError as exc:
        raise ConfigError(str(exc)) from None
    columns = [name for name in frame.columns if name != ROW_COLUMN]
    if not columns:
        return ()
    check_columns(path, columns)
    rows = frame.to_dict("records")
    return parse_registry(path, ((int(row.pop(ROW_COLUMN)), row) for row in rows), {t.name for t in config.targets})
