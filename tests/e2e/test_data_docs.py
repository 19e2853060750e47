"""Data Docs of each run (SPEC "Owners, and where exceptions go", Data Docs): a real
`jml run` on a feed with a bad row builds GX's site in `data-docs/` beside the state
file (or where `data_docs:` says), its summary artifact links to it, and the page names
the broken rule and the row, never a name or an email. `jml plan` builds none, a dry
run does, a run the feed gate halts does; a folder that cannot be written is a warning
and the run goes on."""

from __future__ import annotations

import httpx

from tests.e2e.helpers import ATTENTION, CONVERGED, HALTED, Scenario, worker
from tests.expectations.test_data_docs import page_text, path_of

BAD_EMAIL = "grace.hopper-at-example.com"


def bad_feed(scenario: Scenario) -> None:
    """Lines 2-6: E100, E101 (a bad email: line 3), E102-E104."""
    scenario.write_feed(
        [
            worker("E100"),
            worker("E101", first_name="Grace", last_name="Hopper", email=BAD_EMAIL),
            worker("E102"),
            worker("E103"),
            worker("E104"),
        ]
    )


def pages(scenario: Scenario) -> list:
    return sorted((scenario.root / "data-docs" / "validations").rglob("*.html"))


def summaries(scenario: Scenario) -> list[str]:
    """The markdown of every hr-sync summary artifact on the session's Prefect server."""
    body = {"artifacts": {"key": {"any_": ["hr-sync-summary"]}}, "sort": "CREATED_DESC", "limit": 200}
    answer = httpx.post(f"{scenario.prefect_env['PREFECT_API_URL']}/artifacts/filter", json=body, timeout=30)
    answer.raise_for_status()
    return [artifact["data"] for artifact in answer.json()]


def test_a_run_builds_data_docs_showing_the_broken_rule_and_row_and_links_them(scenario: Scenario) -> None:
    bad_feed(scenario)
    scenario.run("plan", "--as-of", "2026-03-02").expect(CONVERGED)  # plan exits 0 on a plan
    assert not (scenario.root / "data-docs").exists(), "jml plan writes nothing"

    result = scenario.run("run", "--as-of", "2026-03-02").expect(ATTENTION)
    docs = result.json["data_docs"]
    assert path_of(docs["index"]) == scenario.root / "data-docs" / "index.html"  # beside jml.db
    assert path_of(docs["index"]).is_file() and set(docs["pages"]) == {"hr"}
    text = page_text(docs["pages"]["hr"])
    assert f"run-{result.json['run_id']}" in text
    assert "email_valid: value not shown 1 3" in text  # the rule, one row, line 3
    assert [e["detail"] for e in scenario.exceptions_of("quarantine")] == [
        "hr line 3 (employee_id E101): broke email_valid"
    ]
    assert "data docs not written" not in result.stderr
    for path in (scenario.root / "data-docs").rglob("*"):
        if path.suffix in {".html", ".json"}:
            content = path.read_text(encoding="utf-8")
            assert not any(value in content for value in ("Grace", "Hopper", BAD_EMAIL, "e100@example.com")), path
    summary = next(markdown for markdown in summaries(scenario) if docs["index"] in markdown)
    assert f"source hr: `{docs['pages']['hr']}`" in summary

    dry = scenario.run("run", "--as-of", "2026-03-02", "--dry-run").json
    assert dry["data_docs"]["pages"]["hr"] != docs["pages"]["hr"]
    assert len(pages(scenario)) == 2, "a dry run is a run: it builds its docs too"


def test_docs_that_cannot_be_written_are_a_warning_and_the_run_goes_on(scenario: Scenario) -> None:
    (scenario.root / "blocker").write_text("a file, not a folder")
    scenario.configure(data_docs="blocker/docs")
    scenario.write_feed([worker("E100"), worker("E101")])
    result = scenario.run("run", "--as-of", "2026-03-02").expect(CONVERGED)
    assert result.json["data_docs"] is None
    assert set(scenario.scim_users()) == {"E100", "E101"}
    warned = [line for line in result.stderr.splitlines() if "data docs not written" in line]
    assert len(warned) == 1, result.stderr
    assert f"{scenario.root / 'blocker' / 'docs'}: Not a directory; the run goes on without them" in warned[0]
    assert "Traceback" not in result.stderr


def test_a_run_the_feed_gate_halts_still_builds_its_docs(scenario: Scenario) -> None:
    scenario.write_feed([worker("E100"), worker("E101", hire_date="2026-02-30")])  # half the rows bad
    result = scenario.run("run", "--as-of", "2026-03-02").expect(HALTED)
    assert "feed gate" in result.json["halt"]
    assert "hire_date_real: value not shown 1 3" in page_text(result.json["data_docs"]["pages"]["hr"])
    assert scenario.all_users() == []
