"""The ledger tests' fixtures: a `ledger` opened on the test's database (`ledger_url`),
and `db`, the test's own engine on it for reading (and tampering) with SQL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from jml.ledger import Ledger


@pytest.fixture
def ledger(ledger_url):
    store = Ledger.open(ledger_url)
    yield store
    store.close()


@pytest.fixture
def db(ledger_url) -> Engine:
    """The test's own engine on the ledger's database, for reading it with SQL."""
    engine = create_engine(ledger_url)
    yield engine
    engine.dispose()
