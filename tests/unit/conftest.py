"""The core's unit tests do no I/O: they reach no network and start no process (a
test that needs a server, a database or a file belongs beside the package it tests)."""

from __future__ import annotations

import socket
import subprocess

import pytest


@pytest.fixture(autouse=True)
def no_io(monkeypatch: pytest.MonkeyPatch) -> None:
    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("a unit test does no I/O: no network, no process")

    monkeypatch.setattr(socket.socket, "connect", refused)
    monkeypatch.setattr(subprocess.Popen, "__init__", refused)
