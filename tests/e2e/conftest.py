"""Fixtures of the end-to-end tests: a Scenario per test (see helpers.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from tests.e2e.helpers import Scenario
from tests.httpserving import Quiet, serving


@pytest.fixture
def scenario(tmp_path, scim_tenant, prefect_api, ledger_url) -> Scenario:
    """A fresh world: config folder in tmp_path, an empty SCIM tenant, the session's
    Prefect server, an empty ledger (SQLite jml.db in tmp_path; for a `both_ledgers`
    test also a fresh PostgreSQL database)."""
    return Scenario(tmp_path, scim_tenant, prefect_api.env(), state=ledger_url)


@dataclass
class Inbox:
    """What the receiver was POSTed: (path, JSON body) in arrival order."""

    url: str = ""
    messages: list[tuple[str, dict]] = field(default_factory=list)

    def to(self, path: str) -> list[dict]:
        return [body for at, body in self.messages if at == path]


@pytest.fixture
def inbox() -> Iterator[Inbox]:
    box = Inbox()

    class Handler(Quiet):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            box.messages.append((self.path, json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

    with serving(Handler) as base:
        box.url = base
        yield box
