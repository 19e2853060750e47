"""The launchers on a port another server took between `free_port()` and the bind
(issue 15, finding 6): each starts again on a new port and yields its own server, never
the one that answered first. The race is made certain: the first port offered is one an
impostor already listens on, an HTTP server answering 200 with `{}` to every GET (which
a probe asking only for a 200 would take for its own server)."""

from __future__ import annotations

import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app import launchers
from app.launchers import ports, processes, slapd
from tests.httpserving import Quiet, serving


class Impostor(Quiet):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")


@pytest.fixture
def offered(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """The ports the launchers are offered, in order: first the impostor's, then free ones."""
    with serving(Impostor) as url:
        taken = int(url.rsplit(":", 1)[1])
        given: list[int] = []

        def free_port() -> int:
            given.append(taken if not given else ports.free_port())
            return given[-1]

        monkeypatch.setattr(processes, "free_port", free_port)
        yield given


def moved(given: list[int], port: int) -> None:
    assert len(given) == 2 and port == given[1] != given[0], (given, port)


def test_scim_server_starts_again_when_its_port_is_taken(offered: list[int]) -> None:
    with launchers.scim_server() as server:
        moved(offered, int(server.url.rsplit(":", 1)[1]))
        users = f"{server.tenant().url}/Users"
        assert httpx.get(users, headers={"Authorization": f"Bearer {server.token}"}, timeout=5).status_code == 200
        assert httpx.get(users, timeout=5).status_code == 401


def test_prefect_server_starts_again_when_its_port_is_taken(offered: list[int], tmp_path: Path) -> None:
    with launchers.prefect_server(tmp_path / "home", auth_string="jml:launcher-test") as server:
        moved(offered, int(server.api_url.split(":")[-1].removesuffix("/api")))
        settings = httpx.get(f"{server.api_url}/admin/settings", headers=server.headers(), timeout=10)
        assert Path(settings.json()["home"]).resolve() == (tmp_path / "home").resolve()


def test_slapd_starts_again_when_its_port_is_taken(offered: list[int], tmp_path: Path) -> None:
    with launchers.slapd_server(tmp_path) as server:
        moved(offered, server.port)
        server.connection().unbind()  # binds as this launch's admin


def test_the_slapd_probe_gives_up_on_a_server_that_never_answers_ldap() -> None:
    """Found by the test above: when the probe reached the impostor before slapd exited,
    it waited for an answer to its bind forever."""
    with serving(Impostor) as url:
        impostor = launchers.SlapdServer("127.0.0.1", int(url.rsplit(":", 1)[1]), "cn=admin", "pw", "dc=x")
        answer: list[object] = []
        probing = threading.Thread(target=lambda: answer.append(slapd.bound(impostor)()), daemon=True)
        probing.start()
        probing.join(timeout=4 * slapd.PROBE_TIMEOUT)
        assert answer == [None], "the probe still waits for the impostor"


def test_postgres_starts_again_when_its_port_is_taken(offered: list[int]) -> None:
    with tempfile.TemporaryDirectory(prefix="jml-postgres-") as folder:  # the postgres user can reach it
        with launchers.postgres_server(Path(folder)) as server:
            moved(offered, server.port)
            assert server.database().startswith(f"postgresql+psycopg://postgres@127.0.0.1:{server.port}/")
