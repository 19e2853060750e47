"""`jml run` with no Prefect API to report to: Prefect's temporary server is started
(beside the flow's imports, `app.prefect_api`) in a PREFECT_HOME of the run's own, the run
converges, and stdout still holds one JSON document and nothing else. (Every other e2e
test reports to the session's Prefect server: PREFECT_API_URL set, nothing started.)"""

from __future__ import annotations

import pytest

from tests.e2e.helpers import CONVERGED, worker


@pytest.mark.timeout(600)  # two runs, one of them starting a server: 300 s was exceeded under load
def test_a_run_without_a_prefect_api_starts_the_temporary_server_and_converges(scenario, tmp_path):
    scenario.write_feed([worker("E001"), worker("E002", department="Sales")])
    # What is tested is that the temporary server is started, not how fast: a fresh one
    # (creating and migrating its database) took over 120 s to answer on the loaded CI
    # machine, so this run waits up to 240 s (a longer wait is honoured, app/prefect_api.py).
    alone = {"PREFECT_API_URL": "", "PREFECT_HOME": str(tmp_path / "prefect-home"),
             "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "240"}  # fmt: skip
    result = scenario.sync("2026-03-02", expect=CONVERGED)  # warm: the session's server
    assert "Starting temporary server" not in result.stderr, result
    scenario.write_feed([worker("E001"), worker("E002", department="Sales"), worker("E003")])
    result = scenario.run("run", "--as-of", "2026-03-03", env=alone, timeout=270).expect(CONVERGED)
    assert "Starting temporary server" in result.stderr, result
    assert result.json is not None and result.json["status"] == "converged"
    assert result.json["operations"]["applied"] == result.json["operations"]["planned"] > 0
    assert "E003" in scenario.scim_users(), result
