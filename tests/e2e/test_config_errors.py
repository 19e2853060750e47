"""Bad config, policy, arguments and feed files: exit 2, a clear line on stderr naming
the file and the field (or row), no traceback, nothing changed.

Each case is one `jml run` in its own folder; the runs are independent, so a module
fixture starts them all at once and the tests only read their results.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import pytest
import yaml

from tests.e2e.helpers import COLUMNS, USAGE, Result, Scenario, worker


@dataclass
class Case:
    """A way to break a scenario: returns the `jml run` arguments (None: the default
    `--as-of`) and the words its error line must name. `one_line`: a config error is
    caught before any run starts, so stderr holds that line and nothing else."""

    breaks: Callable[[Scenario], list[str] | None]
    named: tuple[str, ...]
    one_line: bool = True


def unknown_key(s: Scenario) -> None:
    s.configure(colour="blue")


def bad_value(s: Scenario) -> None:
    s.configure(lifecycle={"prehire_days": -1})


def missing_config(s: Scenario) -> None:
    s.config.unlink()


def missing_policy(s: Scenario) -> None:
    s.configure(policy="no-such-policy.yaml")


def unknown_bundle(s: Scenario) -> None:
    policy = s.root / "policy.yaml"
    document = yaml.safe_load(policy.read_text())
    document["rules"].append({"name": "ghosts", "when": {"department": ["Ghosts"]}, "grant": ["phantom"]})
    policy.write_text(yaml.safe_dump(document, sort_keys=False))


def bad_state_url(s: Scenario) -> None:
    s.configure(state="nosuchdriver://nowhere/jml")


def bad_as_of(s: Scenario) -> list[str]:
    return ["--as-of", "notadate"]


def missing_feed(s: Scenario) -> None:
    s.feed.unlink()


def malformed_feed(s: Scenario) -> None:
    good, bad = worker("E100"), worker("E101")
    s.write_feed(
        ",".join(COLUMNS) + "\n"
        + ",".join(good[c] for c in COLUMNS) + "\n"
        + ",".join(bad[c] for c in COLUMNS) + ",one,too,many\n"
    )  # fmt: skip


def refused_template(s: Scenario) -> None:
    s.configure(sources=[{"name": "hr", "type": "csv", "path": "feeds/workers.csv",
                          "fields": {"first_name": {"template": "{first_name.upper}"}}}])  # fmt: skip


def unmapped_column(s: Scenario) -> None:
    s.configure(sources=[{"name": "hr", "type": "csv", "path": "feeds/workers.csv",
                          "fields": {"first_name": "Legal First Name"}}])  # fmt: skip


CASES = {
    "unknown-key": Case(unknown_key, ("jml.yaml", "colour")),
    "bad-value": Case(bad_value, ("jml.yaml", "prehire_days")),
    "missing-config": Case(missing_config, ("jml.yaml",)),
    "missing-policy": Case(missing_policy, ("no-such-policy.yaml",)),
    "unknown-bundle": Case(unknown_bundle, ("policy.yaml", "phantom")),
    "bad-state-url": Case(bad_state_url, ("nosuchdriver",)),
    "bad-as-of": Case(bad_as_of, ("--as-of", "notadate")),
    # a feed file that cannot be read is found inside the run: Prefect may log the run
    # starting, but the run must still end in one clear line, without a traceback
    "missing-feed": Case(missing_feed, ("workers.csv", "not found"), one_line=False),
    "malformed-feed": Case(malformed_feed, ("workers.csv", "line 3"), one_line=False),
    "refused-template": Case(refused_template, ("jml.yaml", "fields", "first_name", "attribute access")),
    # a mapping reading no column of the header: found when the feed is read
    "unmapped-column": Case(unmapped_column, ("'Legal First Name'", "fields.first_name"), one_line=False),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory, scim_server, prefect_api) -> dict[str, tuple[Scenario, Result]]:
    scenarios = {}
    for name, case in CASES.items():
        scenario = Scenario(tmp_path_factory.mktemp(name), scim_server.tenant(), prefect_api.env())
        scenario.write_feed([worker("E100")])
        scenarios[name] = (scenario, case.breaks(scenario) or ["--as-of", "2026-03-02"])

    def run(name: str) -> tuple[str, tuple[Scenario, Result]]:
        scenario, args = scenarios[name]
        return name, (scenario, scenario.run("run", *args))

    with ThreadPoolExecutor(max_workers=len(CASES)) as pool:
        return dict(pool.map(run, CASES))


@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_is_one_clear_line_and_exit_2(outcomes, name: str) -> None:
    scenario, result = outcomes[name]
    case = CASES[name]
    result.expect(USAGE)
    if case.one_line:
        assert result.stdout == "", "no JSON document for a run that could not start"
    else:  # the run started: its document says it failed, and why
        assert result.json["status"] == "failed" and "workers.csv" in result.json["error"]
        assert result.json["operations"]["applied"] == 0
    traceback = "Traceback" in result.stderr
    assert not traceback, f"a traceback on stderr; it ends:\n{result.stderr[-1500:]}"
    lines = result.stderr.strip().splitlines()
    if case.one_line:
        assert len(lines) == 1, f"exactly one line on stderr:\n{result.stderr}"
    for word in case.named:
        assert word in lines[-1], f"{word!r} not named in: {lines[-1]}"
    assert scenario.all_users() == [], "nothing changed"


def test_hr_text_is_never_markup_nor_a_control_sequence_in_the_cli_tables(scenario) -> None:
    """Issue 14, finding 9: a manager_id of `[/]` crashed `jml exceptions` (MarkupError),
    `[link=...]` emitted a hidden terminal hyperlink, a newline forged a table line."""
    import csv
    import io

    from tests.e2e.helpers import ATTENTION, COLUMNS, worker

    rows = [
        worker("E100", manager_id="[/]"),
        worker("E101", manager_id="[link=https://evil.example]boss[/link]"),
        worker("E102", department="Eng\n| E999 | forged | row |", manager_id="\x1b]8;;https://evil.example\x1b\\x"),
    ]  # fmt: skip
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    scenario.write_feed(text.getvalue())
    scenario.run("run", "--as-of", "2026-03-02").expect(ATTENTION)
    wide = {"COLUMNS": "400"}  # a table cell on one line
    for command in ("exceptions", "plan", "audit"):
        shown = scenario.run(command, as_json=False, env=wide)
        assert shown.code in (0, 3), shown
        assert "Traceback" not in shown.stderr and "MarkupError" not in shown.stderr, shown
        assert "\x1b" not in shown.stdout, repr(shown.stdout[:500])
    exceptions = scenario.run("exceptions", as_json=False, env=wide).stdout
    assert "[/]" in exceptions and "[link=https://evil.example]boss[/link]" in exceptions
    assert "\\x1b]8;;https://evil.example" in exceptions
