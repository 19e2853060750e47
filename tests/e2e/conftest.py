"""Fixtures of the end-to-end tests: a Scenario per test (see helpers.py)."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import Scenario


@pytest.fixture
def scenario(tmp_path, scim_tenant, prefect_api) -> Scenario:
    """A fresh world: config folder in tmp_path, an empty SCIM tenant, the session's
    Prefect server."""
    return Scenario(tmp_path, scim_tenant, prefect_api.env())
