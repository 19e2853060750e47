"""The SQL source on SQLite and PostgreSQL: a query aliased to the feed's columns, values
as feed text, and one-line errors that never show a password."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine, text

from connectors.base import SourceError
from connectors.sources.sql import SqlSourceConnector
from expectations.runner import validate_feed
from jml.config import SqlSource

QUERY = """
SELECT emp_no AS employee_id, given AS first_name, family AS last_name, mail AS email,
       dept AS department, job AS job_code, boss AS manager_id, kind AS employment_type,
       state AS status, hired AS hire_date, left_on AS termination_date, grade
FROM hr_people ORDER BY emp_no
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def hr_database(request: pytest.FixtureRequest, tmp_path) -> str:
    url = f"sqlite:///{tmp_path / 'hr.db'}" if request.param == "sqlite" else request.getfixturevalue("pg_database")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE TABLE hr_people (emp_no VARCHAR(10) PRIMARY KEY, given VARCHAR(50), family VARCHAR(50),"
            " mail VARCHAR(80), dept VARCHAR(50), job VARCHAR(20), boss VARCHAR(10), kind VARCHAR(20),"
            " state VARCHAR(20), hired DATE, left_on DATE, grade INTEGER)"
        ))  # fmt: skip
        conn.execute(
            text("INSERT INTO hr_people VALUES (:e, :g, :f, :m, :d, :j, :b, 'employee', :s, :h, :l, :gr)"),
            [
                {"e": "H1", "g": "Ada", "f": "O'Brien, Jr.", "m": "ada@example.com", "d": "Engineering", "j": "ENG",
                 "b": None, "s": "active", "h": "2020-01-06", "l": None, "gr": 7},
                {"e": "H2", "g": "Bob", "f": "Smith", "m": "bob@example.com", "d": "Sales", "j": "SAL",
                 "b": "H1", "s": "terminated", "h": "2021-05-01", "l": "2026-01-31", "gr": None},
            ],
        )  # fmt: skip
    engine.dispose()
    return url


def connector(url: str, query: str = QUERY, environ: dict[str, str] | None = None, **options) -> SqlSourceConnector:
    config = SqlSource.model_validate({"name": "hrdb", "type": "sql", "url": url, "query": query, **options})
    return SqlSourceConnector(config, environ=environ or {})


def test_rows_as_feed_text(hr_database: str) -> None:
    frame = connector(hr_database).read()
    assert list(frame.columns) == [
        "employee_id", "first_name", "last_name", "email", "department", "job_code", "manager_id",
        "employment_type", "status", "hire_date", "termination_date", "grade", "_row",
    ]  # fmt: skip
    assert frame.to_dict("records") == [
        {"employee_id": "H1", "first_name": "Ada", "last_name": "O'Brien, Jr.", "email": "ada@example.com",
         "department": "Engineering", "job_code": "ENG", "manager_id": None, "employment_type": "employee",
         "status": "active", "hire_date": "2020-01-06", "termination_date": None, "grade": "7", "_row": 1},
        {"employee_id": "H2", "first_name": "Bob", "last_name": "Smith", "email": "bob@example.com",
         "department": "Sales", "job_code": "SAL", "manager_id": "H1", "employment_type": "employee",
         "status": "terminated", "hire_date": "2021-05-01", "termination_date": "2026-01-31", "grade": None, "_row": 2},
    ]  # fmt: skip
    checked = validate_feed(frame, source="hrdb", max_invalid_fraction=0)
    assert [r.employee_id for r in checked.records] == ["H1", "H2"] and checked.halt is None
    assert checked.records[0].extra == {"grade": "7"}


def test_a_failing_query_is_one_line(hr_database: str) -> None:
    with pytest.raises(SourceError) as raised:
        connector(hr_database, "SELECT * FROM no_such_table").read()
    message = str(raised.value)
    assert message.startswith("source hrdb: ") and "the query failed: " in message and "no_such_table" in message
    assert "\n" not in message


def test_columns_named_twice_or_reserved(hr_database: str) -> None:
    with pytest.raises(SourceError, match="source hrdb: column 'employee_id' comes twice"):
        connector(hr_database, "SELECT emp_no AS employee_id, given AS employee_id FROM hr_people").read()
    with pytest.raises(SourceError, match="the column name '_row' is reserved"):
        connector(hr_database, "SELECT emp_no AS _row FROM hr_people").read()


def test_password_from_the_environment_only(postgres) -> None:
    with pytest.raises(ValueError, match="must not hold a password"):
        SqlSource.model_validate({"name": "hrdb", "type": "sql", "url": "postgresql://u:pw@h/db", "query": "SELECT 1"})
    config = SqlSource.model_validate({"name": "hrdb", "type": "sql", "url": postgres.url(), "query": "SELECT 1 AS x", "password_env": "HRDB_PASSWORD"})
    with pytest.raises(SourceError, match="^source hrdb: environment variable HRDB_PASSWORD is not set$"):
        SqlSourceConnector(config, environ={})
    frame = SqlSourceConnector(config, environ={"HRDB_PASSWORD": "pw-not-shown"}).read()  # trust auth accepts any
    assert frame["x"].tolist() == ["1"]


def test_the_password_never_shows(postgres, dead_port: int, caplog) -> None:
    """Not in the connector's repr, its errors or the logs (SQLAlchemy's and psycopg's
    too), whether the database answers or not."""
    caplog.set_level(logging.DEBUG)
    password = "pw-never-shown"
    shown = []
    for url in (postgres.url(), f"postgresql+psycopg://postgres@127.0.0.1:{dead_port}/hr"):
        source = connector(url, "SELECT 1 AS x", password_env="HRDB_PASSWORD", environ={"HRDB_PASSWORD": password})
        shown.append(repr(source))
        try:
            source.read()
        except SourceError as error:
            shown.append(str(error))
    assert len(shown) == 3, "the unreachable database raised no error"
    assert [text for text in [*shown, caplog.text] if password in text] == []


def test_an_unreachable_database(dead_port: int) -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{dead_port}/hr"
    with pytest.raises(SourceError, match=r"^source hrdb: postgresql\+psycopg://postgres@127.0.0.1:\d+/hr: the query failed: OperationalError"):
        connector(url).read()
