"""The flows run under one Prefect test harness per session (a private temporary
server and database), given as long to start as `jml run` gives its own temporary
server (`app.prefect_api.startup_timeout`: a loaded CI machine took over 60 s). The
known-state tests share `exact_since` and `count_full_reads`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from prefect.testing.utilities import prefect_test_harness

from app.prefect_api import startup_timeout
from connectors.kernel import driver as kernel_driver


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


@pytest.fixture
def exact_since(monkeypatch):
    """A delta starts at the server's clock to the second (no margin for a clock behind:
    one clock here), so what each run reads is exact; the tests wait past that second
    before the next run."""
    monkeypatch.setattr(kernel_driver, "OVERLAP", timedelta(0))


@pytest.fixture
def count_full_reads(monkeypatch):
    """`count_full_reads(driver)`: the list of the target of each full read
    (`driver.read`) from then on, through a wrapper that calls the real one."""

    def count(driver: type) -> list[str]:
        reads: list[str] = []
        read = driver.read

        def counted(self):
            reads.append(self.name)
            return read(self)

        monkeypatch.setattr(driver, "read", counted)
        return reads

    return count
