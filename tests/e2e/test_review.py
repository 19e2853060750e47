"""`jml review --manager ID` end to end: after a real run, a manager's reports' access
with its reasons in JSON, CSV (a hostile HR value stays text) and a table; the whole
chain with --all-levels; a terminated report left out; an unknown manager and an
unknown format (exit 2, one line); and a review that contacts no target and writes
nothing to the ledger."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from jml.lifecycle import today
from tests.e2e.helpers import CONVERGED, HALTED, USAGE, Scenario, worker
from tests.e2e.test_faults import through
from tests.faultproxy import Faults, fault_proxy

#: An employee_id a spreadsheet would compute (-2-3 is -5): valid HR data, hostile in a cell.
HOSTILE = "-2-3"


def test_review_of_a_manager_in_json_csv_and_a_table(scenario: Scenario, scim_server) -> None:
    day = today()
    scenario.write_feed(
        [
            worker("M1"),
            worker("A1", manager_id="M1", department="Sales", job_code="SLS"),
            worker(HOSTILE, manager_id="M1", email="minus@example.com"),
            # active on the run's day, terminated today: still holds its grants in the ledger
            worker("L1", manager_id="M1", termination_date=(day - timedelta(days=1)).isoformat()),
            worker("S1", manager_id="A1"),
            worker("X1"),
            worker("O1", manager_id="X1"),
        ]
    )
    started = datetime.now(UTC).replace(microsecond=0)
    with fault_proxy(scim_server.url, Faults()) as proxy:
        through(scenario, proxy.url)
        scenario.sync((day - timedelta(days=10)).isoformat(), expect=CONVERGED)
        assert scenario.ledger_rows("SELECT count(*) FROM grants WHERE employee_id = 'L1'") == [(2,)]
        requests = proxy.counts["requests"]
        assert requests > 0
        written = [scenario.ledger_rows(f"SELECT count(*) FROM {table}") for table in ("audit", "runs")]

        direct = scenario.run("review", "--manager", "M1").expect(CONVERGED).json
        chain = scenario.run("review", "--manager", "M1", "--all-levels", "--format", "json", as_json=False)
        as_csv = scenario.run("review", "--manager", "M1", "--format", "csv", as_json=False).expect(CONVERGED)
        shown = scenario.run("review", "--manager", "M1", as_json=False, env={"COLUMNS": "200"}).expect(CONVERGED)
        empty = scenario.run("review", "--manager", "S1", "--all-levels").expect(CONVERGED).json
        unknown = scenario.run("review", "--manager", "NOPE", as_json=False).expect(USAGE)
        wrong = scenario.run("review", "--manager", "M1", "--format", "xml", as_json=False).expect(USAGE)
        both = scenario.run("review", "--manager", "M1", "--format", "csv").expect(USAGE)  # and --json

        assert proxy.counts["requests"] == requests, "a review contacts no target"
    assert [scenario.ledger_rows(f"SELECT count(*) FROM {table}") for table in ("audit", "runs")] == written

    assert direct["manager"] == "M1"
    rows = [(i["employee_id"], i["target"], i["entitlement"], i["reason"]) for i in direct["review"]]
    assert rows == [
        (HOSTILE, "app", "all-staff", "rule everyone -> bundle staff"),
        (HOSTILE, "app", "engineering", "rule engineers -> bundle engineering"),
        ("A1", "app", "all-staff", "rule everyone -> bundle staff"),
        ("A1", "app", "sales", "rule sellers -> bundle sales"),
    ], "direct reports only; L1, terminated today, is left out"
    for item in direct["review"]:
        assert started <= datetime.fromisoformat(item["since"]) <= datetime.now(UTC)

    chain.expect(CONVERGED)
    reviewed = json.loads(chain.stdout)
    assert [(i["employee_id"], i["entitlement"]) for i in reviewed["review"]] == [
        (HOSTILE, "all-staff"), (HOSTILE, "engineering"), ("A1", "all-staff"), ("A1", "sales"),
        ("S1", "all-staff"), ("S1", "engineering"),
    ]  # fmt: skip

    table = list(csv.reader(io.StringIO(as_csv.stdout, newline="")))
    assert table[0] == ["employee_id", "target", "entitlement", "reason", "since"]
    assert [row[:4] for row in table[1:]] == [
        ["'" + HOSTILE, "app", "all-staff", "rule everyone -> bundle staff"],
        ["'" + HOSTILE, "app", "engineering", "rule engineers -> bundle engineering"],
        ["A1", "app", "all-staff", "rule everyone -> bundle staff"],
        ["A1", "app", "sales", "rule sellers -> bundle sales"],
    ], "the hostile id is text to a spreadsheet (a leading quote), not a formula"
    assert [row[4] for row in table[1:]] == [i["since"] for i in direct["review"]]

    assert HOSTILE in shown.stdout and "rule sellers -> bundle sales" in shown.stdout
    assert empty == {"manager": "S1", "review": []}
    assert unknown.stdout == ""
    assert unknown.stderr.strip().splitlines() == ["error: --manager: 'NOPE' is not an employee_id of the feed"]
    assert wrong.stdout == "" and wrong.stderr.strip().splitlines() == ["--format: 'xml' is not one of csv, json"]
    assert both.stdout == "" and both.stderr.strip().splitlines() == [
        "--json and --format csv ask for two formats: give one"
    ]


def test_review_of_a_feed_that_cannot_be_read_or_is_stopped_is_one_line(scenario: Scenario) -> None:
    """A source that cannot be read is exit 2, a feed the gate stops exit 4 (as for
    `jml plan`): one line each, no review on stdout."""
    scenario.feed.unlink(missing_ok=True)
    missing = scenario.run("review", "--manager", "M1", as_json=False).expect(USAGE)
    scenario.write_feed([])  # a header and no rows: the feed gate's empty feed
    empty = scenario.run("review", "--manager", "M1", as_json=False).expect(HALTED)
    for result in (missing, empty):
        assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1, result
        assert "Traceback" not in result.stderr
    assert "workers.csv" in missing.stderr
    assert empty.stderr.startswith("halted: feed gate:"), empty
