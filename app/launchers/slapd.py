"""A throwaway OpenLDAP slapd: the tests' and the benches' real LDAP directory.

`slapd_server(folder)` writes a slapd.conf (mdb backend, data in `folder`, the core,
cosine and inetOrgPerson schemas of Debian's slapd package, the suffix
dc=example,dc=org), starts slapd on a free loopback port (on another one if that port
was taken meanwhile: the server answering must accept this launch's admin password),
adds the suffix entry and stops slapd on exit. `tree()` makes a fresh subtree per test.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.launchers.processes import on_a_free_port, stop, wait_until

#: Where Debian's slapd package keeps its schemas and its backend modules.
SLAPD_SCHEMAS = Path("/etc/ldap/schema")
SLAPD_MODULES = Path("/usr/lib/ldap")
LDAP_SUFFIX = "dc=example,dc=org"
#: Seconds the start-up probe waits for a connection or an answer (a server on the port
#: that is not LDAP may accept and never answer).
PROBE_TIMEOUT = 2  # whole seconds: ldap3 packs its receive timeout as an integer


@dataclass(frozen=True, slots=True)
class LdapTree:
    """A fresh subtree of a running slapd for one test: people, groups, disabled."""

    people_dn: str
    groups_dn: str
    disabled_dn: str


@dataclass(frozen=True, slots=True)
class SlapdServer:
    """A running slapd: host, port, the admin bind DN and password, the suffix."""

    host: str
    port: int
    bind_dn: str
    password: str
    suffix: str

    @property
    def url(self) -> str:
        return f"ldap://{self.host}:{self.port}"

    def connection(self, timeout: int | None = None):
        """A bound ldap3 connection as the admin (the caller unbinds it); with `timeout`,
        an LDAPException when connecting or any answer takes longer (seconds)."""
        import ldap3  # imported when used: the demo needs no LDAP

        server = ldap3.Server(self.host, port=self.port, get_info=ldap3.NONE, connect_timeout=timeout)
        bounded = {} if timeout is None else {"receive_timeout": timeout}  # ldap3 takes no None
        return ldap3.Connection(server, user=self.bind_dn, password=self.password, auto_bind=True, **bounded)

    def tree(self) -> LdapTree:
        """A new subtree `ou=<random>,<suffix>` with ou=people, ou=groups, ou=disabled."""
        base = f"ou=t{uuid.uuid4().hex[:12]},{self.suffix}"
        connection = self.connection()
        try:
            for dn in (base, f"ou=people,{base}", f"ou=groups,{base}", f"ou=disabled,{base}"):
                ou = dn.split(",", 1)[0].split("=", 1)[1]
                assert connection.add(dn, ["organizationalUnit"], {"ou": ou}), connection.result
        finally:
            connection.unbind()
        return LdapTree(f"ou=people,{base}", f"ou=groups,{base}", f"ou=disabled,{base}")


def slapd_binary() -> str:
    """The slapd executable (Debian installs it in /usr/sbin); a clear error if absent."""
    found = shutil.which("slapd") or shutil.which("slapd", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise RuntimeError("slapd is not installed: `make test` installs the Debian packages slapd and ldap-utils")
    return found


def _write_config(folder: Path, password: str, durable: bool) -> Path:
    """slapd.conf for a database in `folder/data`; without `durable`, no fsync."""
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    config = folder / "slapd.conf"
    schemas = "\n".join(f"include {SLAPD_SCHEMAS / name}.schema" for name in ("core", "cosine", "inetorgperson"))
    config.write_text(
        f"""{schemas}
pidfile {folder / "slapd.pid"}
argsfile {folder / "slapd.args"}
modulepath {SLAPD_MODULES}
moduleload back_mdb
sizelimit unlimited
database mdb
maxsize 1073741824
suffix "{LDAP_SUFFIX}"
rootdn "cn=admin,{LDAP_SUFFIX}"
rootpw {password}
directory {data}
{"" if durable else "dbnosync"}
index objectClass eq
index uid eq
index member eq
index manager eq
index entryUUID eq
""",
        encoding="utf-8",
    )
    return config


def bound(server: SlapdServer):
    """A probe for `wait_until`: a bound admin connection once slapd answers; only this
    launch's slapd knows the admin password (another directory refuses the bind), and a
    server that never answers the bind is given up on after PROBE_TIMEOUT seconds."""
    import ldap3

    def probe():
        try:
            return server.connection(timeout=PROBE_TIMEOUT)
        except ldap3.core.exceptions.LDAPException:
            return None

    return probe


@contextmanager
def slapd_server(folder: Path, *, durable: bool = False, startup_timeout: float = 20.0) -> Iterator[SlapdServer]:
    """Run a throwaway slapd (mdb backend, data in `folder`) on a free loopback port with
    the core, cosine and inetOrgPerson schemas and the suffix dc=example,dc=org; stop
    it on exit. Without `durable` the database skips fsync (fine for tests)."""
    binary = slapd_binary()
    password = secrets.token_urlsafe(16)
    config = _write_config(folder, password, durable)
    log_path = folder / "slapd.log"
    with log_path.open("wb") as log:

        def start(port: int) -> tuple[subprocess.Popen, SlapdServer, object]:
            command = [binary, "-f", str(config), "-h", f"ldap://127.0.0.1:{port}/", "-d", "0"]
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            server = SlapdServer("127.0.0.1", port, f"cn=admin,{LDAP_SUFFIX}", password, LDAP_SUFFIX)
            connection = wait_until(process, bound(server), name="slapd", timeout=startup_timeout, log=log_path)
            return process, server, connection

        process, server, connection = on_a_free_port(start)
        try:
            try:
                assert connection.add(LDAP_SUFFIX, ["dcObject", "organization"], {"dc": "example", "o": "jml tests"}), (
                    connection.result
                )
            finally:
                connection.unbind()
            yield server
        finally:
            stop(process, timeout=10)
