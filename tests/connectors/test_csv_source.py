"""The CSV source: encodings, line ends, quoting, line numbers, errors; and, as a
property, that any bytes at all end either in SourceError or in records obeying the
feed rules."""

from __future__ import annotations

import csv
import io
import re
import tempfile
from datetime import date
from pathlib import Path
from typing import TypeVar

import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from connectors.base import Records, SourceError
from connectors.sources.csvfile import CsvSourceConnector
from expectations.hr_feed import EMAIL_REGEX, EMPLOYEE_ID_REGEX
from expectations.runner import validate_feed
from jml.config import CsvSource
from jml.model import EMPLOYMENT_TYPES, REQUIRED_COLUMNS, STATUSES

HEADER = ",".join(REQUIRED_COLUMNS)
T = TypeVar("T", str, bytes)


def line(i: int, **changes: str) -> str:
    values = {
        "employee_id": f"E{i:03d}",
        "first_name": f"First{i}",
        "last_name": f"Last{i}",
        "email": f"user{i}@example.com",
        "department": "Engineering",
        "job_code": "ENG-1",
        "employment_type": "employee",
        "status": "active",
        "hire_date": "2024-01-15",
    }
    values.update(changes)
    return ",".join(values[name] for name in REQUIRED_COLUMNS)


def connector(path: Path, name: str = "hr") -> CsvSourceConnector:
    return CsvSourceConnector(CsvSource(name=name, type="csv", path=path.name), path.parent)


def read(tmp_path: Path, data: bytes | str) -> pd.DataFrame:
    path = tmp_path / "workers.csv"
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return connector(path).read()


def read_error(tmp_path: Path, data: bytes | str) -> str:
    with pytest.raises(SourceError) as caught:
        read(tmp_path, data)
    message = str(caught.value)
    assert "\n" not in message and str(tmp_path / "workers.csv") in message
    return message


@pytest.fixture(autouse=True)
def _restore_field_size_limit():
    limit = csv.field_size_limit()
    yield
    csv.field_size_limit(limit)


# -- reading ---------------------------------------------------------------------------


def test_it_is_a_source_that_reads_text_cells(tmp_path):
    path = tmp_path / "workers.csv"
    path.write_text("a, b ,c\n1,,x y\n", encoding="utf-8")
    source = connector(path)
    assert isinstance(source, Records) and source.name == "hr"
    frame = source.read()
    assert list(frame.columns) == ["a", "b", "c", "_row"]
    assert frame.drop(columns="_row").to_dict("records") == [{"a": "1", "b": None, "c": "x y"}]
    assert all(frame[name].dtype == object for name in ("a", "b", "c"))
    assert frame["_row"].dtype == "int64" and frame["_row"].tolist() == [2]


def test_a_relative_path_is_relative_to_the_base_dir_and_an_absolute_one_is_not(tmp_path):
    (tmp_path / "feeds").mkdir()
    (tmp_path / "feeds" / "w.csv").write_text("a\n1\n")
    relative = CsvSourceConnector(CsvSource(name="hr", type="csv", path="feeds/w.csv"), tmp_path)
    absolute = CsvSourceConnector(
        CsvSource(name="hr", type="csv", path=tmp_path / "feeds" / "w.csv"), Path("/elsewhere")
    )
    assert relative.read()["a"].tolist() == absolute.read()["a"].tolist() == ["1"]


@pytest.mark.parametrize(
    "data",
    [
        b"a,b\n1,2\n3,4\n",
        b"a,b\r\n1,2\r\n3,4\r\n",
        b"\xef\xbb\xbfa,b\n1,2\n3,4\n",
        b"\xef\xbb\xbfa,b\r\n1,2\r\n3,4",
        b"a,b\r1,2\r3,4\r",
    ],
    ids=["lf", "crlf", "bom-lf", "bom-crlf-no-final-newline", "cr"],
)
def test_utf8_with_or_without_bom_and_any_line_end(tmp_path, data):
    frame = read(tmp_path, data)
    assert list(frame.columns) == ["a", "b", "_row"]
    assert frame.to_dict("records") == [
        {"a": "1", "b": "2", "_row": 2},
        {"a": "3", "b": "4", "_row": 3},
    ]


@pytest.mark.parametrize("end", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_line_numbers_count_newlines_inside_quoted_fields_and_blank_lines(tmp_path, end):
    text = end.join(
        [
            "id,note",
            'A,"two',
            'lines"',
            "B,plain",
            "",
            'C,"three',
            "",
            'lines, ""quoted"""',
            "D,last",
        ]
    )
    frame = read(tmp_path, text + end)
    assert frame["id"].tolist() == ["A", "B", "C", "D"]
    assert frame["_row"].tolist() == [2, 4, 6, 9]
    assert frame["note"].tolist()[2] == f'three{end}{end}lines, "quoted"'


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(["a", "é", ",", '"', "\n", "\r", "\r\n", " "]), max_size=40))
def test_row_numbers_agree_with_reading_record_by_record(pieces):
    text = "id,x\n" + "".join(pieces)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    expected, line = [], 1
    try:
        for record in reader:
            if record and line > 1:
                expected.append(line)
            line = reader.line_num + 1
    except csv.Error:
        return  # malformed: other tests cover the error
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "feed.csv"
        path.write_text(text, encoding="utf-8")
        try:
            frame = connector(path).read()
        except SourceError as error:
            assert "fields, the header" in str(error)  # a row wider than the header
            return
    assert frame["_row"].tolist() == expected


def test_non_ascii_text_is_kept(tmp_path):
    frame = read(tmp_path, "id,name\n1,Zoë Ørsted 山田\n")
    assert frame["name"].tolist() == ["Zoë Ørsted 山田"]


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n", b"\r\n"])
def test_an_empty_file_is_an_empty_frame(tmp_path, data):
    frame = read(tmp_path, data)
    assert frame.empty and list(frame.columns) == []
    assert validate_feed(frame, source="hr", max_invalid_fraction=0.05).halt == "feed hr is empty"


def test_a_header_only_file_has_columns_and_no_rows(tmp_path):
    frame = read(tmp_path, HEADER + "\r\n")
    assert list(frame.columns) == [*REQUIRED_COLUMNS, "_row"] and len(frame) == 0
    assert validate_feed(frame, source="hr", max_invalid_fraction=0.05).halt == "feed hr is empty"


def test_short_rows_are_padded_with_none(tmp_path):
    frame = read(tmp_path, "a,b,c\n1\n")
    assert frame.drop(columns="_row").to_dict("records") == [{"a": "1", "b": None, "c": None}]


def test_an_empty_nameless_column_from_trailing_commas_is_dropped(tmp_path):
    frame = read(tmp_path, "a,b,\n1,2,\n3,4,  \n")
    assert list(frame.columns) == ["a", "b", "_row"] and len(frame) == 2


def test_a_one_megabyte_field_is_read(tmp_path):
    csv.field_size_limit(131072)  # the default, whatever ran before
    big = "x" * (1024 * 1024)
    small = "".join(f"{i},small\n" for i in range(4, 2004))
    frame = read(tmp_path, f'id,note\n1,"{big}"\n2,{big}\n3,"two\nlines"\n{small}')
    assert [len(note) for note in frame["note"][:4]] == [len(big), len(big), 9, 5]
    assert frame["_row"].tolist()[:4] == [2, 3, 4, 6] and len(frame) == 2003


# -- errors ----------------------------------------------------------------------------


def test_a_missing_file(tmp_path):
    with pytest.raises(SourceError, match=r"source hr: .*nothere\.csv: file not found"):
        connector(tmp_path / "nothere.csv").read()


def test_a_directory(tmp_path):
    (tmp_path / "dir.csv").mkdir()
    with pytest.raises(SourceError, match="dir.csv"):
        connector(tmp_path / "dir.csv").read()


def test_latin1_is_refused_naming_line_and_byte(tmp_path):
    message = read_error(tmp_path, "id,name\n1,ok\n2,Zoë\n".encode("latin-1"))
    assert "line 3" in message and "byte offset 17" in message and "0xeb" in message
    assert "the feed must be UTF-8" in message


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32"])
def test_utf16_and_utf32_are_refused(tmp_path, encoding):
    message = read_error(tmp_path, (HEADER + "\n" + line(1) + "\n").encode(encoding))
    assert "must be UTF-8" in message
    if encoding in ("utf-16", "utf-32"):
        assert encoding.upper() in message and "byte order mark" in message


@pytest.mark.parametrize("header", ["id,name,id", "id, name ,name"])
def test_a_duplicated_header_column_is_refused(tmp_path, header):
    message = read_error(tmp_path, header + "\n1,2,3\n")
    assert "line 1" in message and "twice" in message


def test_a_nameless_column_holding_values_is_refused(tmp_path):
    assert "column 2 has no name" in read_error(tmp_path, "a,,b\n1,2,3\n")


def test_the_row_column_name_is_reserved(tmp_path):
    assert "'_row' is reserved" in read_error(tmp_path, "_row,a\n1,2\n")


@pytest.mark.parametrize(
    ("data", "where"),
    [
        ('a,b\n1,2\n3,"never closed\n4,5\n', "line 3"),
        ('a,b\n1,2\n3,"closed"then more\n', "line 3"),
        ("a,b\n1,2\n\n3,4,5\n", "line 4"),
    ],
    ids=["unclosed-quote", "text-after-quote", "too-many-fields"],
)
def test_malformed_csv_is_refused_naming_the_line(tmp_path, data, where):
    message = read_error(tmp_path, data)
    assert f"{where}:" in message


# -- the property: anything in, SourceError or valid records out ---------------------------

def mostly(valid: st.SearchStrategy[str], other: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Valid values three times in four."""
    return st.one_of(valid, valid, valid, other)


ISO_DATES = st.dates(min_value=date(1990, 1, 1), max_value=date(2030, 12, 31)).map(date.isoformat)
NAMES = st.sampled_from(["ok", "Zoë", "a, b", 'say "hi"', "two\nlines", " Ann "])
#: Column -> (values its rule accepts, other values).
VALUES = {
    "employee_id": (
        st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True),
        st.one_of(st.sampled_from(["E1", " E1", "", "E 1", "x" * 65]), st.text(max_size=8)),
    ),
    "email": (
        st.sampled_from(["a@example.com", "B@Example.COM", " c@d.io ", "o'n+x@a-b.example"]),
        st.one_of(st.sampled_from(["a@b", "x", "", "a..b@c.de"]), st.text(max_size=12)),
    ),
    "employment_type": (
        st.sampled_from(EMPLOYMENT_TYPES),
        st.one_of(st.sampled_from(["Employee", "", " intern"]), st.text(max_size=5)),
    ),
    "status": (
        st.sampled_from(STATUSES),
        st.one_of(st.sampled_from(["gone", "", "Active "]), st.text(max_size=5)),
    ),
    "hire_date": (
        ISO_DATES,
        st.one_of(
            st.sampled_from(["2024-02-29", "2023-02-29", "2024-1-1", "", "0000-01-01"]),
            st.text(max_size=10),
        ),
    ),
    "termination_date": (
        st.one_of(st.just(""), ISO_DATES),
        st.one_of(st.sampled_from(["2024-13-01", " 2024-01-01"]), st.text(max_size=10)),
    ),
    "contract_end_date": (st.one_of(st.just(""), ISO_DATES), st.text(max_size=10)),
}
OTHER_CELLS = (NAMES, st.one_of(st.just(""), st.text(max_size=6)))
COLUMN_NAMES = [*REQUIRED_COLUMNS, "termination_date", "contract_end_date", "location", "x"]


def splice(draw, data: T, noise: st.SearchStrategy[T], times: st.SearchStrategy[int], start: int = 0) -> T:
    """`data` (text or bytes) with a few `noise` strings inserted at drawn places, from
    `start` on."""
    for _ in range(draw(times)):
        at = draw(st.integers(start, len(data)))
        data = data[:at] + draw(noise) + data[at:]
    return data


@st.composite
def feed_with_random_bytes(draw) -> bytes:
    """A feed of good rows with one to three random strings spliced in after its header
    (a header cut apart is `csv_like`'s case): in three examples of four, text of any
    characters but NUL (the file stays UTF-8); in the fourth, any bytes at all (seldom
    UTF-8, so mostly a SourceError)."""
    header = HEADER + "\n"
    feed = header + "".join(line(i) + "\n" for i in range(draw(st.integers(4, 8))))  # more rows than splices
    times = st.integers(1, 3)
    if draw(st.sampled_from([True, True, True, False])):
        text = st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=4)
        return splice(draw, feed, text, times, start=len(header)).encode()
    return splice(draw, feed.encode(), st.binary(min_size=1, max_size=4), times, start=len(header))


@st.composite
def csv_like(draw) -> bytes:
    """Mostly-CSV bytes: a header of feed columns (nine times in ten all the required
    ones, with some optional ones), one to eight rows of plausible and random cells,
    random quoting and line ends, sometimes a BOM, and now and then a few raw bytes
    spliced in."""
    columns = draw(st.lists(st.sampled_from(COLUMN_NAMES), max_size=6, unique=True))
    if draw(st.sampled_from([True] * 9 + [False])):
        columns = list(dict.fromkeys([*REQUIRED_COLUMNS, *columns]))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [",".join(columns)]
    for _ in range(draw(st.integers(1, 8))):
        # A row is valid, or each of its cells is valid three times in four.
        pick = (lambda good, bad: good) if draw(st.booleans()) else mostly
        cells = [draw(pick(*VALUES.get(name, OTHER_CELLS))) for name in columns]
        lines.append(",".join('"' + value.replace('"', '""') + '"' for value in cells))
    data = (end.join(lines) + draw(st.sampled_from(["", end]))).encode("utf-8")
    if draw(st.booleans()):
        data = b"\xef\xbb\xbf" + data
    return splice(draw, data, st.binary(min_size=1, max_size=3), st.sampled_from([0, 0, 0, 0, 0, 0, 1, 2]))


def check_anything(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "feed.csv"
        path.write_bytes(data)
        try:
            frame = connector(path).read()
        except SourceError as error:
            assert "\n" not in str(error) and str(path) in str(error)
            event("SourceError")
            return
    result = validate_feed(frame, source="hr", max_invalid_fraction=0.5)
    assert result.rows == len(frame)
    if result.halt is not None and " invalid, " not in result.halt:  # empty, or no column
        assert result.records == [] and result.issues == []
        event("halted before validation")
        return
    event("some records" if result.records else "no records")
    event("some quarantined" if result.issues else "none quarantined")
    assert result.invalid == len(result.issues) == result.rows - len(result.records)
    ids = [record.employee_id for record in result.records]
    assert len(ids) == len(set(ids)) and not set(ids) & result.held
    for record in result.records:
        assert re.search(EMPLOYEE_ID_REGEX, record.employee_id)
        for name in ("first_name", "last_name", "department", "job_code"):
            value = getattr(record, name)
            assert value and value == value.strip()
        assert re.search(EMAIL_REGEX, record.email) and record.email == record.email.lower()
        assert record.employment_type in EMPLOYMENT_TYPES and record.status in STATUSES
        assert isinstance(record.hire_date, date)
        if record.termination_date is not None:
            assert record.termination_date >= record.hire_date
        assert record.source == "hr" and record.row >= 2
    for issue in result.issues:
        assert issue.data["rules"] and issue.key.startswith("quarantine:hr:")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(feed_with_random_bytes())
def test_random_bytes_in_a_feed_end_in_source_error_or_valid_records(data):
    check_anything(data)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(csv_like())
def test_csv_like_bytes_end_in_source_error_or_valid_records(data):
    check_anything(data)
