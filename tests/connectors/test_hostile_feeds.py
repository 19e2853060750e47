"""Hostile and broken HR feeds through `jml plan`, in process: every case ends in a plan
(bad rows quarantined), a halt (exit 4) or one clear error line (exit 2); never a
traceback. Property-based: the feed is built from parts that each break something."""

from __future__ import annotations

import json
import re
import sys

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from app import cli
from expectations.hr_feed import FORMULA_REGEX
from jml.model import KNOWN_COLUMNS

GOOD = {
    "employee_id": "E1", "first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com",
    "department": "Engineering", "job_code": "ENG", "location": "London", "manager_id": "",
    "employment_type": "employee", "status": "active", "hire_date": "2020-01-06",
    "termination_date": "", "contract_end_date": "",
}  # fmt: skip

nasty_cells = st.sampled_from([
    "=cmd|' /C calc'!A0", "+1", "@SUM(1)", '"quoted, with comma"', "line\nbreak", 'O"Brien',
    "a\" or \"1\" eq \"1", "*)(uid=*", "Zoë", "\u202etxt.exe", "", " ", "x" * 5000, "\x00", "2020-02-30",
    "terminated", "contractor", "not-an-email", "E1",
])  # fmt: skip


@st.composite
def feeds(draw) -> bytes:
    columns = list(KNOWN_COLUMNS)
    surgery = draw(st.sampled_from(["none", "drop", "duplicate", "extra"]))
    if surgery == "drop":
        columns.remove(draw(st.sampled_from(columns)))
    elif surgery == "duplicate":
        columns.append(draw(st.sampled_from(columns)))
    elif surgery == "extra":
        columns.append("favourite_colour")
    rows = []
    for i in range(draw(st.integers(0, 6))):
        row = person(i)
        for column in draw(st.lists(st.sampled_from(columns), max_size=3)):
            row[column] = draw(nasty_cells)
        rows.append(row)

    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in ',"\n\r') else value

    newline = draw(st.sampled_from(["\n", "\r\n"]))
    lines = [",".join(columns)] + [",".join(cell(row.get(c, "")) for c in columns) for row in rows]
    text = newline.join(lines) + draw(st.sampled_from(["", newline]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "latin-1", "utf-16"]))
    return text.encode(encoding, errors="replace") if draw(st.booleans()) or encoding != "latin-1" else b""


def strings(value: object) -> list[str]:
    """Every string in a JSON value, however deep."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def person(i: int, **cells: str) -> dict[str, str]:
    """A good row for employee E<i>, with `cells` changed."""
    return {**GOOD, "employee_id": f"E{i}", "email": f"p{i}@example.com", **cells}


#: Ten good rows, and a formula in each free-text column that reaches a target (two
#: kinds each): all eight rows are quarantined, under the invalid limit of one half.
FORMULAS = "".join(
    ",".join(row[c] for c in KNOWN_COLUMNS) + "\n"
    for row in [dict(zip(KNOWN_COLUMNS, KNOWN_COLUMNS, strict=True)), *(person(i) for i in range(10)),
                *(person(10 + n, **{column: formula}) for n, (column, formula) in enumerate(
                    (c, f) for c in ("first_name", "last_name", "department", "job_code") for f in ("=1+1", "@SUM(1)")))]
)  # fmt: skip


@pytest.fixture
def world(tmp_path, scim_tenant, monkeypatch):
    (tmp_path / "policy.yaml").write_text("bundles: {staff: {grants: {app: [all-staff]}}}\n"
                                          "rules: [{when: {status: [active]}, grant: [staff]}]\n")
    (tmp_path / "jml.yaml").write_text(
        "sources: [{name: hr, type: csv, path: workers.csv}]\n"
        f"targets: [{{name: app, type: scim, url: '{scim_tenant.url}', token_env: APP_TOKEN,"
        " retry: {attempts: 1}}]\npolicy: policy.yaml\nsafety: {max_invalid_fraction: 0.5}\n"
    )
    monkeypatch.setenv("APP_TOKEN", scim_tenant.token)
    return tmp_path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(content=feeds())
@example(content=FORMULAS.encode())
def test_a_hostile_feed_ends_in_a_plan_a_halt_or_one_clear_line(world, content, capsys, monkeypatch):
    (world / "workers.csv").write_bytes(content)
    monkeypatch.setattr(sys, "argv", ["jml", "plan", "--config", str(world / "jml.yaml"), "--json"])
    with pytest.raises(SystemExit) as exited:
        cli.main()
    out, err = capsys.readouterr()
    code = exited.value.code
    assert code in (0, 2, 4), (code, err)
    assert "Traceback" not in err
    if code == 2:
        assert err.count("\n") == 1 and "workers.csv" in err, err
    else:
        document = json.loads(out)  # the whole output is one JSON document
        planned = strings(document["operations"])
        assert not [value for value in planned if re.search(FORMULA_REGEX, value)], "a formula reaches a target"
