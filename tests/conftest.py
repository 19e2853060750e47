"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests import servers


@pytest.fixture(scope="session")
def scim_server() -> Iterator[servers.ScimServer]:
    """One scim2-server process for the test session (bearer token, dynamic tenants)."""
    with servers.scim_server() as server:
        yield server


@pytest.fixture
def scim_tenant(scim_server: servers.ScimServer) -> servers.ScimTenant:
    """A fresh, empty tenant of the session's scim2-server: `url` and `token`."""
    return scim_server.tenant()


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[servers.PrefectServer]:
    """One real `prefect server` for the session; CLI subprocesses report to it."""
    with servers.prefect_server(tmp_path_factory.mktemp("prefect-home")) as server:
        yield server
