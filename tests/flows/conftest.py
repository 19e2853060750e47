"""The flows run under one Prefect test harness per session (a private temporary
server and database), given as long to start as `jml run` gives its own temporary
server (`app.prefect_api.startup_timeout`: a loaded CI machine took over 60 s)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from prefect.testing.utilities import prefect_test_harness

from app.prefect_api import startup_timeout


@pytest.fixture
def tenant_env(scim_tenant, monkeypatch):
    """A fresh SCIM tenant whose token is in APP_TOKEN (the worlds' target secret)."""
    monkeypatch.setenv("APP_TOKEN", scim_tenant.token)
    return scim_tenant


@pytest.fixture(scope="session", autouse=True)
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect-home")))
        with prefect_test_harness(server_startup_timeout=startup_timeout()):
            yield
