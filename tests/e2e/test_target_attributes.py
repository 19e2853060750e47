"""Target attributes end to end: `jml run` against scim2-server with a SCIM extension
attribute made from a passthrough feed column (created, changed in the feed and
updated, emptied and removed), and an attribute the server's /Schemas does not know
(refused before anything carrying it is written, named in a failed_operation)."""

from __future__ import annotations

import yaml

from tests.e2e.helpers import ATTENTION, COLUMNS, CONVERGED, ENTERPRISE, USAGE, Scenario, enterprise, worker

COST = f"{ENTERPRISE}:costCenter"


def configure(scenario: Scenario, attributes: dict) -> None:
    """The scenario's config, its SCIM target given these `attributes`."""
    document = scenario.configure()
    document["targets"][0]["attributes"] = attributes
    scenario.config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def write_feed(scenario: Scenario, cost_centers: dict[str, str]) -> None:
    """The feed of these workers, with a passthrough `cost_center` column."""
    lines = [",".join((*COLUMNS, "cost_center"))]
    for eid, cost_center in cost_centers.items():
        row = worker(eid)
        lines.append(",".join((*(row[c] for c in COLUMNS), cost_center)))
    scenario.write_feed("\n".join(lines) + "\n")


def planned(scenario: Scenario, as_of: str) -> list[dict]:
    """The operations `jml plan` lists for that day."""
    return scenario.run("plan", "--as-of", as_of).expect(CONVERGED).json["operations"]


def test_an_extension_attribute_is_created_updated_and_removed(scenario: Scenario) -> None:
    configure(scenario, {COST: {"from": "cost_center", "case": "upper"}, "nickName": "{first_name:.5}"})
    write_feed(scenario, {"E100": "cc-1", "E101": "cc-9"})
    scenario.sync("2026-03-02", expect=CONVERGED)
    users = scenario.scim_users()
    assert enterprise(users["E100"])["costCenter"] == "CC-1"
    assert users["E100"]["nickName"] == "First"
    assert enterprise(users["E100"])["employeeNumber"] == "E100"  # the canonical ones stay

    write_feed(scenario, {"E100": "cc-2", "E101": "cc-9"})
    updates = planned(scenario, "2026-03-03")
    assert [(op["employee_id"], op["action"], op["detail"]) for op in updates] == [
        ("E100", "update", {"changes": {COST: ["CC-1", "CC-2"]}})
    ]
    scenario.sync("2026-03-03", expect=CONVERGED)
    assert enterprise(scenario.scim_users()["E100"])["costCenter"] == "CC-2"

    write_feed(scenario, {"E100": "", "E101": "cc-9"})
    assert [op["detail"] for op in planned(scenario, "2026-03-04")] == [{"changes": {COST: ["CC-2", None]}}]
    scenario.sync("2026-03-04", expect=CONVERGED)
    users = scenario.scim_users()
    assert "costCenter" not in enterprise(users["E100"])
    assert enterprise(users["E101"])["costCenter"] == "CC-9"
    assert planned(scenario, "2026-03-04") == []


def test_an_attribute_the_server_does_not_know_is_refused_naming_it(scenario: Scenario) -> None:
    configure(scenario, {f"{ENTERPRISE}:costCentre": "{cost_center}"})
    write_feed(scenario, {"E100": "cc-1"})
    scenario.sync("2026-03-02", expect=ATTENTION)
    assert scenario.all_users() == []
    failed = scenario.exceptions_of("failed_operation")
    assert failed and all(f"'{ENTERPRISE}:costCentre': no such attribute" in f["detail"] for f in failed)


def test_an_attribute_reading_no_feed_column_is_a_config_error(scenario: Scenario) -> None:
    configure(scenario, {COST: "{cost_centre}"})  # the feed's column is cost_center
    write_feed(scenario, {"E100": "cc-1"})
    result = scenario.run("run", "--as-of", "2026-03-02").expect(USAGE)
    assert "attributes" in result.stderr and "'cost_centre' is no column of the feed" in result.stderr
    assert "Traceback" not in result.stderr
    assert scenario.all_users() == []
