"""The temporary Prefect server's start-up wait: never below jml's floor (Prefect's 20 s
default failed a CI run on a loaded 2-core machine), a longer setting honoured."""

from __future__ import annotations

import pytest
from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, temporary_settings

from app.prefect_api import MIN_STARTUP_SECONDS, startup_timeout


@pytest.mark.parametrize(
    ("setting", "expected"),
    [(20, MIN_STARTUP_SECONDS), (1, MIN_STARTUP_SECONDS), (MIN_STARTUP_SECONDS + 180, MIN_STARTUP_SECONDS + 180)],
)
def test_the_temporary_server_is_waited_for_at_least_the_floor(setting, expected):
    with temporary_settings({PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS: setting}):
        assert startup_timeout() == expected
    assert MIN_STARTUP_SECONDS > 20  # above Prefect's own default, the one that failed
