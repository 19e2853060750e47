"""Fixtures shared by the whole suite.

`ledger_url` is the ledger database of a test: a SQLite file in its tmp_path, or, for a
test marked `both_ledgers` (or in a module whose `pytestmark` says so), once on SQLite
and once on a fresh database of the session's PostgreSQL (`pg_database`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import settings

from app import launchers
from tests import deadport, zygote

# No per-example deadline: on a loaded 2-core machine a slow example is not a failure.
settings.register_profile("jml", deadline=None)
settings.load_profile("jml")

#: The ledger backends a `both_ledgers` test runs on.
LEDGERS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_ledgers: run once per ledger backend (SQLite and PostgreSQL)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "ledger_url" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_ledgers"):
        metafunc.parametrize("ledger_url", LEDGERS, indirect=True)


@pytest.fixture(scope="session", autouse=True)
def _zygote_stopped_at_the_end() -> Iterator[None]:
    """The `jml` zygote (tests/zygote.py, started on first use) stops with the session,
    before coverage gathers the session's data."""
    yield
    zygote.stop()


@pytest.fixture(scope="session")
def scim_server() -> Iterator[launchers.ScimServer]:
    """One scim2-server process for the test session (bearer token, dynamic tenants)."""
    with launchers.scim_server() as server:
        yield server


@pytest.fixture
def scim_tenant(scim_server: launchers.ScimServer) -> launchers.ScimTenant:
    """A fresh, empty tenant of the session's scim2-server: `url` and `token`."""
    return scim_server.tenant()


@pytest.fixture(scope="session")
def prefect_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[launchers.PrefectServer]:
    """One real `prefect server` for the session; CLI subprocesses report to it."""
    with launchers.prefect_server(tmp_path_factory.mktemp("prefect-home")) as server:
        yield server


@pytest.fixture(scope="session")
def slapd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[launchers.SlapdServer]:
    """One throwaway OpenLDAP slapd for the test session (suffix dc=example,dc=org)."""
    with launchers.slapd_server(tmp_path_factory.mktemp("slapd")) as server:
        yield server


@pytest.fixture
def ldap_tree(slapd: launchers.SlapdServer) -> launchers.LdapTree:
    """A fresh subtree of the session's slapd: people, groups and disabled containers."""
    return slapd.tree()


@pytest.fixture(scope="session")
def samba_dc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[launchers.SambaDc]:
    """One throwaway Samba AD DC for the test session, on its own loopback address, its
    LDAPS certificate issued by a test CA (tests/tls.py) for that address."""
    from tests.tls import authority

    folder = tmp_path_factory.mktemp("samba")

    def certify(host: str):
        found = authority(tmp_path_factory.mktemp("samba-tls"), host)
        return found.cert_file, found.key_file, found.ca_file

    with launchers.samba_dc(folder, certify=certify) as dc:
        yield dc


@pytest.fixture
def ad_ou(samba_dc: launchers.SambaDc) -> launchers.AdOu:
    """A fresh OU of the session's DC: People (with Engineering), Groups, Disabled."""
    return samba_dc.ou()


@pytest.fixture(scope="session")
def postgres() -> Iterator[launchers.PostgresServer]:
    """One throwaway PostgreSQL cluster for the test session (initdb + pg_ctl; the
    folder is outside pytest's tmp tree so the postgres user can reach it)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory(prefix="jml-postgres-") as folder:
        with launchers.postgres_server(Path(folder)) as server:
            yield server


@pytest.fixture
def pg_database(postgres: launchers.PostgresServer) -> str:
    """The SQLAlchemy URL of a fresh, empty database of the session's cluster."""
    return postgres.database()


@pytest.fixture
def ledger_url(request: pytest.FixtureRequest, tmp_path) -> str:
    """The SQLAlchemy URL of an empty ledger database: `sqlite:///<tmp_path>/jml.db`, or
    (parametrised `postgresql`, see `both_ledgers`) a fresh database of the session's
    PostgreSQL cluster."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return f"sqlite:///{tmp_path / 'jml.db'}"
    return request.getfixturevalue("pg_database")


@pytest.fixture
def dead_port() -> Iterator[int]:
    """A loopback port that refuses connections for the whole test (never a free port:
    another worker may start a server on that meanwhile); see tests/deadport.py."""
    with deadport.dead_port() as port:
        yield port
