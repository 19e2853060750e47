"""`jml preview --employee-id ID` over the Workday-style example (examples/mapping/)
against scim2-server: the export's record as read, the row after mapping, the bundles
and their rules, the account jml would hold in SCIM's names and the planned operations;
a quarantined person's broken rules and no account; an id in no source is exit 2; a
person HR gives no email shown with the address a run would generate, and a mapped
target attribute under its URN path; and nothing is written anywhere (no address kept)."""

from __future__ import annotations

import shutil

import yaml

from tests.e2e.helpers import CONVERGED, EXAMPLES, USAGE, Scenario

AS_OF = "2026-03-02"


def use_workday_example(scenario: Scenario, *, rows_extra: str = "", **config: object) -> None:
    """The Workday-style example in the scenario's folder against its tenant, `rows_extra`
    appended to the export and `config` (top-level keys) merged into its config."""
    for name in ("workday-workers.csv", "policy.yaml"):
        shutil.copy(EXAMPLES / "mapping" / name, scenario.root / name)
    if rows_extra:
        with (scenario.root / "workday-workers.csv").open("a", encoding="utf-8") as feed:
            feed.write(rows_extra)
    document = yaml.safe_load((EXAMPLES / "mapping" / "workday.yaml").read_text(encoding="utf-8"))
    document["state"] = scenario.state
    document["targets"][0]["url"] = scenario.tenant.url
    document.update(config)
    scenario.config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


def test_preview_shows_one_person_as_a_run_would_and_writes_nothing(scenario: Scenario) -> None:
    retired = (
        "W-1009,Grace,Hopper,,G.Hopper@example.com,Engineering,eng,Arlington,,Regular,Retired,01/01/2020,,CC-1200,x\n"
    )
    use_workday_example(scenario, rows_extra=retired)

    shown = scenario.run("preview", "--employee-id", "W-1003", "--as-of", AS_OF).expect(CONVERGED).json
    [source] = shown["sources"]
    assert (source["name"], source["line"]) == ("workday", 4)
    assert source["record"]["Worker ID"] == "W-1003" and source["record"]["Preferred First Name"] == "Dot"
    assert source["record"]["Home Address"] == "9 Pine Lane, Hampton"  # as read, before mapping
    row = shown["row"]
    assert (row["first_name"], row["email"], row["employment_type"], row["hire_date"]) == (
        "Dot", "d.vaughan@example.com", "contractor", "2026-01-12",
    )  # fmt: skip
    assert row["cost_center"] == "CC-4100" and "Home Address" not in row
    assert shown["broken_rules"] == [] and shown["lifecycle"] == "active"
    assert shown["bundles"] == [
        {"bundle": "staff", "rule": "everyone"},
        {"bundle": "finance", "rule": "cost-centre-4100"},
    ]
    account = shown["accounts"]["app"]
    assert (account["userName"], account["name.givenName"], account["displayName"]) == (
        "d.vaughan@example.com", "Dot", "Dot Vaughan",
    )  # fmt: skip
    assert account["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"] == "W-1001"
    assert sorted((op["action"], op["detail"].get("entitlement")) for op in shown["operations"]) == [
        ("create", None), ("grant", "all-staff"), ("grant", "finance"),
    ]  # fmt: skip

    held = scenario.run("preview", "--employee-id", "W-1009", "--as-of", AS_OF).expect(CONVERGED).json
    assert held["broken_rules"] == ["status_valid"], held["broken_rules"]
    assert held["row"]["status"] == "Retired" and held["accounts"] == {} and held["operations"] == []

    missing = scenario.run("preview", "--employee-id", "W-404", "--as-of", AS_OF).expect(USAGE)
    assert missing.stdout == "" and missing.stderr.strip() == "error: no source holds employee_id 'W-404'"
    table = scenario.run("preview", "--employee-id", "W-1003", "--as-of", AS_OF, as_json=False).expect(CONVERGED)
    assert "the feed row after mapping" in table.stdout and "cost-centre-4100" in table.stdout

    assert scenario.all_users() == []  # nothing written to the target
    assert scenario.ledger_rows("SELECT count(*) FROM runs") == [(0,)]  # nor any run recorded


COST_CENTER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"


def test_preview_shows_the_generated_address_and_mapped_attributes_and_keeps_nothing(scenario: Scenario) -> None:
    no_email = "W-1010,Zoë,López,,,Engineering,eng,Boston,W-1001,Regular,Active,01/05/2026,,CC-1200,x\n"
    taken = "W-1011,Zoe,Lopez,,Zoe.Lopez@Corp.Example.com,Engineering,eng,Boston,W-1001,Regular,Active,01/05/2026,,CC-1200,x\n"
    targets = [{"name": "app", "type": "scim", "url": scenario.tenant.url, "token_env": "APP_TOKEN",
                "attributes": {COST_CENTER: {"from": "cost_center", "case": "lower"}}}]  # fmt: skip
    naming = {"email": "{first_name}.{last_name}@corp.example.com"}
    use_workday_example(scenario, rows_extra=no_email + taken, naming=naming, targets=targets)

    shown = scenario.run("preview", "--employee-id", "W-1010", "--as-of", AS_OF).expect(CONVERGED).json
    [source] = shown["sources"]
    assert source["record"]["Work Email"] is None and source["record"]["Legal First Name"] == "Zoë"
    address = "zoe.lopez2@corp.example.com"  # folded; numbered past W-1011's HR email
    assert shown["row"]["email"] == address, shown["row"]
    account = shown["accounts"]["app"]
    assert (account["userName"], account[COST_CENTER]) == (address, "cc-1200")
    create = next(op for op in shown["operations"] if op["action"] == "create")
    assert create["employee_id"] == "W-1010"

    hr = scenario.run("preview", "--employee-id", "W-1003", "--as-of", AS_OF).expect(CONVERGED).json
    assert hr["accounts"]["app"][COST_CENTER] == "cc-4100" and hr["row"]["email"] == "d.vaughan@example.com"

    assert scenario.all_users() == []
    assert scenario.ledger_rows("SELECT count(*) FROM identifiers") == [(0,)]  # the address is not kept
    assert scenario.ledger_rows("SELECT count(*) FROM runs") == [(0,)]
