"""The CSV file source: one HR feed file read into a frame of text.

`CsvSourceConnector(config, base_dir).read()` returns every cell as `str` (an empty
cell as None), the header's column names (stripped) and an integer column `_row`: the
line of the file where the row starts (the header is line 1; a quoted field may span
lines, so later rows start further down). Validation is not done here; it is the job of
`expectations`.

Every failure is a `SourceError` whose message is one line naming the file and where
it broke: the file is missing or unreadable, is not UTF-8 (UTF-8 with or without a BOM
is accepted, LF or CRLF line ends), has a duplicated or a nameless column in the header,
has a row with more fields than the header, or is not well-formed CSV.
An empty file (or one holding only blank lines) is an empty frame with no columns: the
feed gate halts on it later.
"""

from __future__ import annotations

import codecs
import csv
import io
from pathlib import Path

import numpy as np
import pandas as pd

from connectors.base import SourceError
from jml.config import CsvSource

#: The name of the column holding each row's line number in the file.
ROW_COLUMN = "_row"

_FIELD_LIMIT_CAP = 2**31 - 1  # the csv module stores it in a C long (32 bits on Windows)


class CsvSourceConnector:
    """Reads the HR feed from a CSV file; see the module docstring for the contract."""

    def __init__(self, config: CsvSource, base_dir: Path, *, label: str | None = None) -> None:
        """`label` starts each error's line (default: `source <name>`)."""
        self.config = config
        self.name = config.name
        self.label = label or f"source {config.name}"
        path = Path(config.path)
        self.path = path if path.is_absolute() else Path(base_dir) / path

    def __repr__(self) -> str:
        return f"CsvSourceConnector(name={self.name!r}, path={str(self.path)!r})"

    def read(self) -> pd.DataFrame:
        """The feed as a frame of text cells plus `_row`; raises SourceError."""
        data = self._read_bytes()
        text = self._decode(data)
        return self._parse(text)

    # -- the steps -------------------------------------------------------------------

    def _fail(self, where: str) -> SourceError:
        return SourceError(f"{self.label}: {self.path}: {where}")

    def _read_bytes(self) -> bytes:
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            raise self._fail("file not found") from None
        except IsADirectoryError:
            raise self._fail("is a directory, not a file") from None
        except OSError as exc:
            raise self._fail(f"cannot read the file: {exc.strerror or exc}") from None

    def _decode(self, data: bytes) -> str:
        for bom, encoding in (
            (codecs.BOM_UTF32_LE, "UTF-32"),  # before UTF-16 LE: it starts with the same bytes
            (codecs.BOM_UTF32_BE, "UTF-32"),
            (codecs.BOM_UTF16_LE, "UTF-16"),
            (codecs.BOM_UTF16_BE, "UTF-16"),
        ):
            if data.startswith(bom):
                raise self._fail(
                    f"the file is {encoding} (it starts with a {encoding} byte order mark); "
                    "the feed must be UTF-8"
                )
        nul = data.find(b"\x00")
        if nul >= 0:
            line = _count_lines(data[:nul].decode("utf-8-sig", errors="replace"))
            raise self._fail(
                f"line {line}: NUL byte at byte offset {nul} (UTF-16 without a byte order "
                "mark?); the feed must be UTF-8 text"
            )
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            offset = exc.start
            prefix = data[:offset].decode("utf-8-sig", errors="replace")
            line = _count_lines(prefix)
            raise self._fail(
                f"line {line}: byte {data[offset]:#04x} at byte offset {offset} is not "
                "valid UTF-8; the feed must be UTF-8"
            ) from None

    def _parse(self, text: str) -> pd.DataFrame:
        limit = min(max(csv.field_size_limit(), len(text) + 1), _FIELD_LIMIT_CAP)
        if limit > csv.field_size_limit():
            csv.field_size_limit(limit)  # a field is never longer than the file
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        try:
            records = list(reader)  # blank lines are empty records
        except csv.Error:
            self._locate_csv_error(text)
            raise  # pragma: no cover - _locate_csv_error raises
        starts = _start_lines(records, reader.line_num, text)
        first = next((i for i, record in enumerate(records) if record), None)
        if first is None:
            return pd.DataFrame()
        header_line = starts[first]
        columns = self._columns(records[first], header_line)
        width = len(columns)
        kept = [i for i in range(first + 1, len(records)) if records[i]]
        rows = [records[i] for i in kept]
        if rows and max(map(len, rows)) > width:
            i = next(i for i in kept if len(records[i]) > width)
            raise self._fail(
                f"line {starts[i]}: the row has {len(records[i])} fields, the header {width}"
            )
        if rows and min(map(len, rows)) < width:
            rows = [row + [""] * (width - len(row)) for row in rows]
        return self._frame(columns, rows, [starts[i] for i in kept], header_line)

    def _locate_csv_error(self, text: str) -> None:
        """Parse again record by record to name the line the broken record starts on."""
        reader = csv.reader(io.StringIO(text, newline=""), strict=True)
        start = 1
        try:
            while next(reader, None) is not None:
                start = reader.line_num + 1
        except csv.Error as exc:
            hint = " (a quoted field is never closed)" if "end of data" in str(exc) else ""
            raise self._fail(f"line {start}: malformed CSV: {exc}{hint}") from None
        raise self._fail("malformed CSV")  # pragma: no cover - the first parse failed

    def _columns(self, header: list[str], line: int) -> list[str]:
        columns = [name.strip() for name in header]
        seen: set[str] = set()
        for name in columns:
            if name in seen and name:
                raise self._fail(f"line {line}: the header names column {name!r} twice")
            seen.add(name)
        if ROW_COLUMN in seen:
            raise self._fail(f"line {line}: the column name {ROW_COLUMN!r} is reserved")
        return columns

    def _frame(
        self, columns: list[str], rows: list[list[str]], starts: list[int], header_line: int
    ) -> pd.DataFrame:
        cells = np.empty((len(rows), len(columns)), dtype=object)
        if rows:
            cells[:] = rows
            cells[cells == ""] = None
        named = []
        for position, name in enumerate(columns):
            if name:
                named.append(position)
            elif any(value is not None and value.strip() for value in cells[:, position]):
                raise self._fail(
                    f"line {header_line}: column {position + 1} has no name in the header "
                    "but holds values"
                )
            # else: a nameless empty column (often from trailing commas) is dropped
        result = pd.DataFrame(cells[:, named], columns=[columns[i] for i in named], dtype=object)
        result[ROW_COLUMN] = np.asarray(starts, dtype=np.int64)
        return result


def _start_lines(records: list[list[str]], lines_read: int, text: str) -> list[int]:
    """The line each record starts on.

    A record spans one line plus one per line break inside its (quoted) fields: LF,
    CRLF or CR, as the reader splits lines. Should that count ever disagree with the
    lines the reader read, the text is parsed again record by record (slower, exact).
    """
    if lines_read == len(records):  # no record spans lines: the common case, no scan
        return list(range(1, len(records) + 1))
    starts: list[int] = []
    line = 1
    for record in records:
        starts.append(line)
        joined = "\0".join(record)  # NUL never occurs in the text: see _decode
        line += 1 + joined.count("\n") + joined.count("\r") - joined.count("\r\n")
    if line - 1 == lines_read:
        return starts
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    starts = []
    line = 1
    for _ in reader:
        starts.append(line)
        line = reader.line_num + 1
    return starts


def _count_lines(prefix: str) -> int:
    """The 1-based line the end of `prefix` is on (lines end with LF, CRLF or CR)."""
    return len(io.StringIO(prefix, newline="").readlines()) + (
        0 if prefix and prefix[-1] not in "\r\n" else 1
    )
