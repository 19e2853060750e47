"""Fixtures of the end-to-end tests: a Scenario per test (see helpers.py)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import Scenario


@pytest.fixture
def scenario(tmp_path, scim_tenant, prefect_api, ledger_url) -> Scenario:
    """A fresh world: config folder in tmp_path, an empty SCIM tenant, the session's
    Prefect server, an empty ledger (SQLite jml.db in tmp_path; for a `both_ledgers`
    test also a fresh PostgreSQL database)."""
    return Scenario(tmp_path, scim_tenant, prefect_api.env(), state=ledger_url)
