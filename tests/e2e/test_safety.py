"""Safety gates end to end: the feed gate and the deprovision guard halt the run (exit
4, nothing written, a `safety_halt` exception); `--override-safety` runs it, audited."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.e2e.helpers import ATTENTION, COLUMNS, CONVERGED, HALTED, Result, Scenario, worker

HEADER = ",".join(COLUMNS)
NO_DEPARTMENT = [c for c in COLUMNS if c != "department"]


def _rows_without_department() -> str:
    lines = [",".join(NO_DEPARTMENT)]
    for eid in ("E100", "E101"):
        row = worker(eid)
        lines.append(",".join(row[c] for c in NO_DEPARTMENT))
    return "\n".join(lines) + "\n"


def assert_halted(scenario: Scenario, result, gate_words: tuple[str, ...]) -> dict:
    document = result.expect(HALTED).json
    assert document["status"] == "halted"
    assert document["operations"]["applied"] == 0
    assert document["halt"], document
    for word in gate_words:
        assert word in document["halt"], document["halt"]
    [halt] = scenario.exceptions_of("safety_halt")
    assert halt["status"] == "open"
    return document


UNUSABLE_FEEDS = {
    "empty-file": ("", ("empty",)),
    "header-only": (HEADER + "\n", ("empty",)),
    "missing-column": (_rows_without_department(), ("department",)),
}


@pytest.fixture(scope="module")
def unusable_feed_runs(tmp_path_factory, scim_server, prefect_api) -> dict[str, tuple[Scenario, Result]]:
    """One halted run per unusable feed, started at once (they are independent)."""
    scenarios = {}
    for name, (feed, _) in UNUSABLE_FEEDS.items():
        scenario = Scenario(tmp_path_factory.mktemp(name), scim_server.tenant(), prefect_api.env())
        scenario.write_feed(feed)
        scenarios[name] = scenario

    def run(name: str) -> tuple[str, tuple[Scenario, Result]]:
        return name, (scenarios[name], scenarios[name].run("run", "--as-of", "2026-03-02"))

    with ThreadPoolExecutor(max_workers=len(scenarios)) as pool:
        return dict(pool.map(run, scenarios))


@pytest.mark.parametrize("name", list(UNUSABLE_FEEDS))
def test_feed_gate_halts_on_an_unusable_feed(unusable_feed_runs, name: str) -> None:
    scenario, result = unusable_feed_runs[name]
    assert_halted(scenario, result, UNUSABLE_FEEDS[name][1])
    assert scenario.all_users() == []
    assert scenario.groups() == {}


def test_feed_gate_halts_on_too_many_invalid_rows_until_overridden(scenario: Scenario) -> None:
    scenario.configure(safety={"max_invalid_fraction": 0.25})
    scenario.write_feed(
        [
            worker("E100"),
            worker("E101"),
            worker("E102", email="not-an-email"),
            worker("E103", hire_date="2026-13-45"),
        ]
    )
    halted = scenario.run("run", "--as-of", "2026-03-02")
    assert_halted(scenario, halted, ("invalid",))
    assert scenario.all_users() == [], "nothing applied: not even the valid rows"

    run = scenario.run("run", "--as-of", "2026-03-02", "--override-safety", env={"USER": "ops-alice"})
    overridden = run.expect(ATTENTION).json
    assert overridden["status"] == "attention"
    assert overridden["override_safety"] is True
    assert set(scenario.scim_users()) == {"E100", "E101"}
    assert {e["employee_id"] for e in scenario.exceptions_of("quarantine")} == {"E102", "E103"}
    overrides = [e for e in scenario.audit() if e["action"] == "override_safety"]
    assert len(overrides) == 1
    assert overrides[0]["run_id"] == overridden["run_id"]
    assert overrides[0]["actor"] == "ops-alice"  # the CLI's user, who asked for the override


def test_deprovision_guard_counts_persons_and_halts_until_overridden(scenario: Scenario) -> None:
    scenario.configure(safety={"deprovision_floor": 5, "max_deprovision_fraction": 0.1})
    people = [worker(f"E{100 + i}") for i in range(12)]
    scenario.write_feed(people)
    scenario.sync("2026-03-01", expect=CONVERGED)

    def terminate(ids: set[str]) -> None:
        for row in people:
            if row["employee_id"] in ids:
                row.update(status="terminated", termination_date="2026-03-01")
        scenario.write_feed(people)

    # 5 persons (15 operations) is not more than the floor: applied
    first = {f"E{100 + i}" for i in range(5)}
    terminate(first)
    document = scenario.sync("2026-03-02", expect=CONVERGED).json
    assert document["operations"]["applied"] == document["operations"]["planned"] == 15
    users_before = scenario.scim_users()
    groups_before = scenario.groups()
    assert {eid for eid, u in users_before.items() if not u["active"]} == first

    # 7 more of the 7 left with an active account: over max(5, 10 % of 7): halted
    leaving = {f"E{105 + i}" for i in range(7)}
    terminate(leaving)
    halted = scenario.run("run", "--as-of", "2026-03-03")
    assert_halted(scenario, halted, ("deprovision",))
    after = scenario.scim_users()
    assert {eid: u["meta"]["version"] for eid, u in after.items()} == {
        eid: u["meta"]["version"] for eid, u in users_before.items()
    }
    assert all(after[eid]["active"] for eid in leaving)
    assert scenario.groups() == groups_before

    document = scenario.sync("2026-03-03", "--override-safety").json
    assert document["status"] in ("converged", "attention")
    assert document["override_safety"] is True
    assert document["operations"]["applied"] == document["operations"]["planned"] == 21
    groups = scenario.groups()
    for eid, user in scenario.scim_users().items():
        assert user["active"] is False, eid
        assert not any(eid in members for members in groups.values()), eid
    overrides = [e for e in scenario.audit() if e["action"] == "override_safety"]
    assert len(overrides) == 1
    assert overrides[0]["run_id"] == document["run_id"]
    assert "deprovision" in str(overrides[0]["detail"])


def _leave(people: list[dict], ids: set[str], day: str) -> None:
    for row in people:
        if row["employee_id"] in ids:
            row.update(status="terminated", termination_date=day)


def test_small_steps_cannot_strip_what_one_big_step_could_not(scenario: Scenario) -> None:
    """Issue 14, finding 4: five runs each terminating five of 30 people all passed. Now
    the persons of the runs of the last `window_days` count together: the second step
    within the window halts (exit 4), and steps further apart pass."""
    scenario.configure(safety={"deprovision_floor": 5, "max_deprovision_fraction": 0.1, "window_days": 1})
    people = [worker(f"E{100 + i}") for i in range(30)]
    scenario.write_feed(people)
    scenario.sync("2026-03-01", expect=CONVERGED)
    _leave(people, {f"E{100 + i}" for i in range(5)}, "2026-03-01")
    scenario.write_feed(people)
    scenario.sync("2026-03-02", expect=CONVERGED)  # 5 persons: not over the limit of 5
    _leave(people, {f"E{105 + i}" for i in range(5)}, "2026-03-02")
    scenario.write_feed(people)
    halted = scenario.run("run", "--as-of", "2026-03-03")  # 5 yesterday + 5 today = 10 > 5
    document = assert_halted(scenario, halted, ("cumulative deprovision guard", "10 in all"))
    assert all(scenario.scim_users()[f"E{105 + i}"]["active"] for i in range(5)), "nothing applied"
    assert document["operations"]["planned"] > 0
    scenario.sync("2026-03-05", expect=CONVERGED)  # two days later, yesterday's run counted nothing
    assert not any(scenario.scim_users()[f"E{105 + i}"]["active"] for i in range(5))


def test_a_feed_truncated_step_by_step_is_stopped_too(scenario: Scenario) -> None:
    """Finding 4, second experiment: with `absent: deprovision`, rows dropped five at a
    time passed the guard run after run."""
    scenario.configure(lifecycle={"absent": "deprovision"}, safety={"deprovision_floor": 5, "max_deprovision_fraction": 0.1})
    people = [worker(f"E{100 + i}") for i in range(30)]
    scenario.write_feed(people)
    scenario.sync("2026-03-01", expect=CONVERGED)
    scenario.write_feed(people[5:])
    assert scenario.run("run", "--as-of", "2026-03-02").code == ATTENTION  # 5 absent: deprovisioned, open
    scenario.write_feed(people[10:])
    assert_halted(scenario, scenario.run("run", "--as-of", "2026-03-02"), ("cumulative deprovision guard",))


def test_a_mass_login_rewrite_halts(scenario: Scenario) -> None:
    """Issue 14, finding 7: a feed with every email's domain mistyped rewrote all 30
    userNames in one converged run. The identity guard halts it (exit 4)."""
    scenario.configure(safety={"deprovision_floor": 5, "max_deprovision_fraction": 0.1})
    people = [worker(f"E{100 + i}") for i in range(30)]
    scenario.write_feed(people)
    scenario.sync("2026-03-01", expect=CONVERGED)
    before = {eid: u["userName"] for eid, u in scenario.scim_users().items()}
    for row in people:
        row["email"] = row["email"].replace("@example.com", "@exmaple.com")
    scenario.write_feed(people)
    halted = scenario.run("run", "--as-of", "2026-03-02")
    assert_halted(scenario, halted, ("identity guard", "30 persons"))
    assert {eid: u["userName"] for eid, u in scenario.scim_users().items()} == before
    for row in people[:3]:  # a few people really changing their address is fine
        row["email"] = row["email"].replace("@exmaple.com", "@example.com").replace("e1", "new.e1")
    scenario.write_feed(people[:3] + [worker(f"E{100 + i}") for i in range(3, 30)])
    scenario.sync("2026-03-02", expect=CONVERGED)


def test_a_held_leaver_still_loses_access(scenario: Scenario) -> None:
    """Issue 14, finding 8: a terminated person whose row is also a duplicate (same email
    under another id, or the same id twice) was held and stayed active. A held person
    whose rows, any of them, say terminated is disabled and stripped; nothing else about
    them changes."""
    scenario.configure(safety={"max_invalid_fraction": 0.5})
    scenario.write_feed([worker("E100"), worker("E101"), worker("E102"), worker("E103"), worker("E104")])
    scenario.sync("2026-03-01", expect=CONVERGED)
    shared = worker("E900", email="e101@example.com")  # E101's address under another id
    scenario.write_feed([
        worker("E100"),
        worker("E101", status="terminated", termination_date="2026-03-01", last_name="Renamed"),
        shared,
        worker("E102", status="terminated", termination_date="2026-03-01"),
        worker("E102"),  # the same id twice: both rows quarantined
        worker("E103", contract_end_date="2026-02-01", employment_type="contractor", email="broken"),
        worker("E104"),
    ])  # fmt: skip
    result = scenario.run("run", "--as-of", "2026-03-02")
    assert result.code == ATTENTION, result
    users, groups = scenario.scim_users(), scenario.groups()
    for leaver in ("E101", "E102", "E103"):
        assert users[leaver]["active"] is False, leaver
        assert not any(leaver in members for members in groups.values()), leaver
    assert users["E101"]["name"]["familyName"] != "Renamed"  # only the access changed
    assert users["E100"]["active"] and users["E104"]["active"] and "E900" not in users
    assert {e["employee_id"] for e in scenario.exceptions_of("duplicate")} >= {"E101", "E900"}
