"""End to end: `jml run` over the mapping examples (examples/mapping) into a real SCIM
server: a Workday-style CSV export and a BambooHR-style REST answer, each mapped by its
source's `fields`; the mapped values reach the accounts, a pass-through field drives a
policy rule, and a value the mapping cannot make valid is quarantined naming the
source's column (or path)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator

import pytest
import yaml

from tests.e2e.helpers import ATTENTION, EXAMPLES, Scenario, enterprise
from tests.httpserving import Quiet, serving

MAPPING = EXAMPLES / "mapping"
TOKEN = "bamboohr-test-token"


def use_example(scenario: Scenario, name: str, **source: object) -> dict:
    """Write the example config `name` into the scenario: its own ledger and tenant,
    the source's keys overridden by `source`; the example policy beside it."""
    document = yaml.safe_load((MAPPING / f"{name}.yaml").read_text(encoding="utf-8"))
    document["state"] = scenario.state
    document["targets"][0]["url"] = scenario.tenant.url
    document["sources"][0].update(source)
    scenario.config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    shutil.copy(MAPPING / "policy.yaml", scenario.root / "policy.yaml")
    return document


def test_a_workday_export_reaches_scim_mapped_and_a_bad_status_names_its_column(scenario: Scenario) -> None:
    export = (MAPPING / "workday-workers.csv").read_text(encoding="utf-8")
    bad = "W-1006,Ada,Byron,,A.Byron@example.com,Engineering,eng,London,W-1001,Regular,Retired,03/02/2026,,CC-1200,\n"
    (scenario.root / "workday-workers.csv").write_text(export + bad, encoding="utf-8")
    use_example(scenario, "workday")

    scenario.sync("2026-03-02", expect=ATTENTION)

    users = scenario.scim_users()
    assert {"W-1001", "W-1003", "W-1005"} <= set(users) and not {"W-1004", "W-1006"} & set(users)
    maggie = users["W-1001"]
    assert maggie["userName"] == "margaret.hamilton@example.com"  # case: lower
    assert maggie["name"]["givenName"] == "Maggie"  # the preferred name first
    assert users["W-1003"]["name"]["givenName"] == "Dot" and users["W-1005"]["name"]["givenName"] == "Annie"
    assert enterprise(users["W-1005"])["department"] == "Finance"
    assert scenario.groups()["finance"] == {"W-1003", "W-1005"}  # cost_center passed through to the policy
    [quarantine] = scenario.exceptions_of("quarantine")
    assert quarantine["employee_id"] == "W-1006"
    assert quarantine["detail"].endswith('broke status_valid (status from "Worker Status")')
    assert "Byron" not in quarantine["detail"]


@pytest.fixture
def bamboohr() -> Iterator[tuple[str, list[dict]]]:
    """The example answer served at /v1/employees/directory (401 without the token);
    the list of employees can be changed before the run."""
    answer = json.loads((MAPPING / "bamboohr-answer.json").read_text(encoding="utf-8"))

    class Handler(Quiet):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            allowed = self.path == "/v1/employees/directory" and self.headers.get("Authorization") == f"Bearer {TOKEN}"
            body = json.dumps(answer if allowed else {"error": "no"}).encode()
            self.send_response(200 if allowed else 401)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    with serving(Handler) as base:
        yield f"{base}/v1/employees/directory", answer["employees"]


def test_a_bamboohr_answer_reaches_scim_mapped_and_a_bad_date_names_its_path(
    scenario: Scenario, bamboohr: tuple[str, list[dict]]
) -> None:
    url, employees = bamboohr
    late = json.loads(json.dumps(employees[2]))
    late.update(employeeNumber="B-2004", name={"first": "Ida", "last": "Rhodes"})
    late["work"]["email"] = "ida.rhodes@example.com"
    late["employment"]["hireDate"] = "02/14/2022"  # not the configured format: stays, and is quarantined
    employees.append(late)
    use_example(scenario, "bamboohr", url=url)

    scenario.run("run", "--as-of", "2026-03-02", env={"BAMBOOHR_TOKEN": TOKEN}).expect(ATTENTION)

    users = scenario.scim_users()
    assert {"B-2001", "B-2002"} <= set(users) and "B-2004" not in users
    assert users["B-2001"]["userName"] == "grace.hopper@example.com"
    assert users["B-2002"]["name"]["givenName"] == "Jo"  # name.preferred before name.first
    assert users["B-2002"]["active"] is True
    assert enterprise(users["B-2002"])["manager"]["value"] == users["B-2001"]["id"]
    assert scenario.groups()["finance"] == {"B-2002"}  # customFields.costCenter CC-4100
    [quarantine] = scenario.exceptions_of("quarantine")
    assert quarantine["employee_id"] == "B-2004"
    assert quarantine["detail"].endswith('broke hire_date_format (hire_date from "employment.hireDate")')
