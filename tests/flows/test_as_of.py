"""`reconcile` and `provision-person` judge the day they are given (`as_of`, default
today, as hr-sync does): with a person who left ten days ago and was still active a
month ago, the outcome as of a month ago differs from today's."""

from __future__ import annotations

from datetime import timedelta

from flows.hr_sync import hr_sync
from flows.provision_person import provision_person
from flows.reconcile import reconcile
from jml.lifecycle import today
from tests.flows.running import run_bound
from tests.flows.test_hr_sync import HEADER, write_world
from tests.flows.test_reconcile import accounts, open_exceptions

MONTH_AGO = today() - timedelta(days=30)
LEFT_ON = today() - timedelta(days=10)


def world(folder, url: str):
    """E1, active, and E2, whose termination_date was ten days ago."""
    config = write_world(folder, url, [])
    (folder / "workers.csv").write_text(
        f"{HEADER},termination_date\n"
        "E1,Ann,One,e1@example.com,Engineering,ENG,,employee,active,2020-01-01,\n"
        f"E2,Bob,Two,e2@example.com,Engineering,ENG,,employee,active,2020-01-01,{LEFT_ON}\n"
    )
    return config


def test_reconcile_judges_drift_as_of_the_day_it_is_given(tmp_path, tenant_env):
    config = world(tmp_path, tenant_env.url)
    assert run_bound(config, hr_sync, as_of=MONTH_AGO, return_state=True).result()["status"] == "converged"
    then = run_bound(config, reconcile, as_of=MONTH_AGO, return_state=True)
    assert then.result()["status"] == "converged" and "drift:app:E2" not in open_exceptions(config)
    now = run_bound(config, reconcile, return_state=True)  # today: E2 is a leaver still active
    assert now.result()["status"] == "attention"
    assert "leaver (terminated) whose account is still active" in open_exceptions(config)["drift:app:E2"].detail


def test_provision_person_evaluates_the_person_as_of_the_day_it_is_given(tmp_path, tenant_env):
    config = world(tmp_path, tenant_env.url)
    run_bound(config, provision_person, employee_id="E2", return_state=True)  # today: a leaver gets nothing
    assert "E2" not in accounts(config)
    state = run_bound(config, provision_person, employee_id="E2", as_of=MONTH_AGO, return_state=True)
    assert state.is_completed(), state
    created = accounts(config)["E2"]
    assert created.active and created.entitlements == {"all-staff", "engineering"}
