"""Source `fields` (SPEC "Mapping a source's records"): a CSV export, a SQL result and a
REST answer mapped to the feed's columns before validation; what passes through; a
spec that reads no column of the header or result; bad mappings as one config line;
and a quarantine naming the source's column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from sqlalchemy import create_engine, text

from connectors.base import SourceError
from connectors.factory import build_source
from connectors.sources.rest import RestSourceConnector
from expectations.runner import validate_feed
from jml.config import ConfigError, CsvSource, RestSource, SqlSource, load_config
from jml.policy import load_policy
from tests import servers

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "mapping"
HEADER = "Worker ID,First,Last,Mail,Dept,Job,Type,Status,Start,email,location,Secret\n"


def csv_source(tmp_path: Path, body: str, fields: dict, header: str = HEADER) -> CsvSource:
    (tmp_path / "export.csv").write_text(header + body, encoding="utf-8")
    return CsvSource.model_validate({"name": "hr", "type": "csv", "path": "export.csv", "fields": fields})


FIELDS = {
    "employee_id": "Worker ID",
    "first_name": "First",
    "last_name": "Last",
    "department": "Dept",
    "job_code": {"template": "{Dept:.3}-{Job}", "case": "upper"},
    "employment_type": {"from": "Type", "map": {"FT": "employee"}, "default": "contractor"},
    "status": {"from": "Status", "map": {"On Leave": "leave", "Active": "active"}},
    "hire_date": {"from": "Start", "date_format": "%d.%m.%Y"},
    "grade": "Job",
}


def test_the_workday_example_maps_its_export_and_drops_what_it_does_not_list() -> None:
    config = load_config(EXAMPLES / "workday.yaml")
    load_policy(config.resolve(config.policy), {t.name for t in config.targets})
    frame = build_source(config.sources[0], config.base_dir).read()
    assert list(frame.columns) == [*config.sources[0].fields, "_row"]  # no Home Address
    first = frame.iloc[0]
    assert (first["first_name"], first["email"], first["job_code"], first["hire_date"]) == (
        "Maggie", "margaret.hamilton@example.com", "ENG-MGR", "2019-03-02",
    )  # fmt: skip
    assert frame["status"].tolist() == ["active", "leave", "active", "terminated", "active"]
    assert frame["first_name"].tolist()[1] == "Katherine"  # no preferred name: the legal one
    checked = validate_feed(frame, source="workday", max_invalid_fraction=0.0)
    assert not checked.issues and [r.extra for r in checked.records][2] == {"cost_center": "CC-4100"}


def test_canonical_columns_not_listed_come_from_the_same_name_others_only_when_listed(tmp_path: Path) -> None:
    config = csv_source(
        tmp_path, "E1,Ada,King,x,Engineering,eng,FT,Active,02.03.2026,Ada@Example.com,Paris,s3cr3t\n", FIELDS
    )
    frame = build_source(config, tmp_path).read()
    assert set(frame.columns) == {*FIELDS, "email", "location", "_row"}  # not Mail, Secret, Start...
    row = frame.iloc[0]
    assert (row["email"], row["location"], row["job_code"], row["grade"]) == (
        "Ada@Example.com",
        "Paris",
        "ENG-ENG",
        "eng",
    )
    assert (row["employment_type"], row["status"], row["hire_date"], row["_row"]) == (
        "employee",
        "active",
        "2026-03-02",
        2,
    )


@pytest.mark.parametrize(
    ("change", "column", "field"),
    [
        ({"first_name": "Frist"}, "Frist", "first_name"),
        ({"job_code": {"template": "{Dept} {Grade}"}}, "Grade", "job_code"),
        ({"last_name": {"from": ["Last", "Surname"]}}, "Surname", "last_name"),
    ],
)
def test_a_spec_reading_no_column_of_the_header_names_the_file_and_the_field(
    tmp_path: Path, change: dict, column: str, field: str
) -> None:
    config = csv_source(tmp_path, "E1,Ada,King,x,Eng,eng,FT,Active,02.03.2026,a@example.com,,\n", {**FIELDS, **change})
    with pytest.raises(SourceError) as raised:
        build_source(config, tmp_path).read()
    assert str(raised.value) == (
        f"source hr: {tmp_path / 'export.csv'}: the header has no column {column!r}, which fields.{field} reads"
    )


def test_an_empty_export_stays_empty_for_the_feed_gate(tmp_path: Path) -> None:
    config = csv_source(tmp_path, "", FIELDS, header="")
    assert build_source(config, tmp_path).read().empty


def test_a_quarantine_names_the_source_columns_the_bad_value_came_from(tmp_path: Path) -> None:
    body = (
        "E1,Ada,King,example.com,Eng,eng,FT,Retired,31.02.2026,,,\n"  # no such day: it does not parse, stays
        "E2,Bob,Hale,not a domain,Eng,eng,FT,Active,01.03.2026,,,\n"
    )
    fields = {**FIELDS, "email": {"template": "{First}@{Mail}"}}
    config = csv_source(tmp_path, body, fields)
    checked = validate_feed(
        build_source(config, tmp_path).read(), source="hr", max_invalid_fraction=1.0, provenance=config.provenance
    )
    first, second = checked.issues
    assert first.data["rules"] == ["status_valid", "hire_date_format"]
    assert first.data["from"] == {"status": ["Status"], "hire_date": ["Start"]}
    assert (
        first.detail
        == 'hr line 2 (employee_id E1): broke status_valid, hire_date_format (status from "Status"; hire_date from "Start")'
    )
    assert second.data["from"] == {"email": ["First", "Mail"]}  # a template: its columns
    assert second.detail.endswith('broke email_valid (email from "First", "Mail")')
    assert "Ada" not in first.detail + second.detail and "Bob" not in second.detail


@pytest.fixture
def hr_database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'hr.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(
            "CREATE TABLE people (emp_no TEXT, given TEXT, family TEXT, mail TEXT, dept TEXT, job TEXT,"
            " kind TEXT, state TEXT, hired DATE, salary INTEGER)"
        ))  # fmt: skip
        conn.execute(text(
            "INSERT INTO people VALUES ('H1', 'Ada', 'King', 'ADA@EXAMPLE.COM', 'Eng', 'eng', 'E', 'A', '2020-01-06', 90000)"
        ))  # fmt: skip
    engine.dispose()
    return url


def test_a_sql_result_is_mapped_and_a_missing_result_column_is_named(hr_database: str) -> None:
    fields = {
        "employee_id": "emp_no", "first_name": "given", "last_name": "family",
        "email": {"from": "mail", "case": "lower"}, "department": "dept", "job_code": "job",
        "employment_type": {"from": "kind", "map": {"E": "employee"}}, "status": {"from": "state", "map": {"A": "active"}},
        "hire_date": "hired",
    }  # fmt: skip
    config = SqlSource.model_validate(
        {"name": "hrdb", "type": "sql", "url": hr_database, "query": "SELECT * FROM people", "fields": fields}
    )
    frame = build_source(config, Path(".")).read()
    assert "salary" not in frame.columns
    checked = validate_feed(frame, source="hrdb", max_invalid_fraction=0.0)
    (record,) = checked.records
    assert (record.email, record.employment_type, record.status, str(record.hire_date)) == (
        "ada@example.com",
        "employee",
        "active",
        "2020-01-06",
    )
    broken = SqlSource.model_validate(
        {
            "name": "hrdb",
            "type": "sql",
            "url": hr_database,
            "query": "SELECT emp_no, given FROM people",
            "fields": fields,
        }
    )
    with pytest.raises(
        SourceError, match=r"^source hrdb: the query's result has no column 'family', which fields\.last_name reads$"
    ):
        build_source(broken, Path(".")).read()


def test_a_rest_answer_is_mapped_by_paths_and_a_null_or_missing_path_is_empty() -> None:
    config = load_config(EXAMPLES / "bamboohr.yaml")
    answer = json.loads((EXAMPLES / "bamboohr-answer.json").read_text(encoding="utf-8"))
    with servers.hris_server() as hris:
        hris.pages["/workers?page=1"] = answer
        source = RestSource.model_validate(
            {**config.sources[0].model_dump(by_alias=True, exclude_none=True), "url": hris.url}
        )
        connector = RestSourceConnector(source, environ={"BAMBOOHR_TOKEN": hris.token})
        frame = connector.read()
        records = connector.read_records()
    assert "name.preferred" in records.columns and "employeeNumber" in records.columns  # as read: one column per path
    assert frame["first_name"].tolist() == ["Grace", "Jo", "Hedy"]  # a null preferred name is empty
    assert frame["hire_date"].tolist() == ["2019-07-01", "2026-03-01", "2022-02-14"]  # as written, not UTC
    assert frame["job_code"].tolist() == ["ENG-STAFF ENGINEER", "FIN-ANALYST", "ENG-ENGINEER"]
    assert frame["cost_center"].tolist() == ["CC-1200", "CC-4100", "CC-0000"]  # a missing path: the default
    assert frame["manager_id"].tolist() == [None, "B-2001", "B-2001"]
    assert "contract_end_date" not in frame.columns  # no item holds that path
    checked = validate_feed(frame, source="bamboohr", max_invalid_fraction=0.0)
    assert not checked.issues and [r.status for r in checked.records] == ["active", "active", "leave"]


@pytest.mark.parametrize(
    ("fields", "where", "message"),
    [
        ({"First Name": "x"}, "sources.0.csv.fields.First Name.[key]", "String should match pattern"),
        ({"first_name": {"form": "x"}}, "sources.0.csv.fields.first_name.mapping.form", "unknown key"),
        ({"first_name": {"from": "a", "template": "{b}"}}, "sources.0.csv.fields.first_name.mapping", "not both"),
        ({"first_name": {"template": "{a.upper}"}}, "sources.0.csv.fields", "field first_name: template '{a.upper}'"),
        (
            {"hire_date": {"date_format": "%Q"}},
            "sources.0.csv.fields.hire_date.mapping.date_format",
            "unknown strftime code",
        ),
        ({"status": {"map": {True: "active"}}}, "sources.0.csv.fields.status.mapping.map", "YAML boolean"),
    ],
)
def test_a_bad_mapping_is_one_config_line_naming_the_file_and_the_field(
    tmp_path: Path, fields: dict, where: str, message: str
) -> None:
    path = tmp_path / "jml.yaml"
    document = {
        "sources": [{"name": "hr", "type": "csv", "path": "x.csv", "fields": fields}],
        "targets": [{"name": "app", "type": "scim", "url": "http://127.0.0.1:1", "token_env": "T"}],
        "policy": "policy.yaml",
    }
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    line = str(raised.value)
    assert "\n" not in line and line.startswith(f"{path}: {where}: ") and message in line, line


def test_rest_fields_are_paths_and_refuse_what_is_no_dotted_path() -> None:
    base = {"name": "h", "type": "rest", "url": "https://hris.example.com", "items": "data"}
    assert RestSource.model_validate({**base, "fields": {"first_name": {"template": "{name.first}"}}}).provenance == {
        "first_name": ("name.first",)
    }
    with pytest.raises(ValueError, match=r"field last_name: 'name\.\.last' is not a dotted path"):
        RestSource.model_validate({**base, "fields": {"last_name": {"from": ["name.family", "name..last"]}}})
