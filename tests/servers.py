"""Real servers the tests start, as child processes or threads.

`scim_server()` (from `jml.scim_process`) runs a real scim2-server process with dynamic
tenants: each test uses its own tenant as the base URL of a SCIM service.

`prefect_server()` (from `jml.prefect_process`) runs a real `prefect server` with a
private PREFECT_HOME.

`scripted_server(respond)` is a plain HTTP server in a thread that answers every request
with what `respond(method, path)` says: for faults a real SCIM server cannot be made to
produce on demand (429 with Retry-After, 503, slow answers).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


from jml.prefect_process import PrefectServer, prefect_server
from jml.scim_process import ScimServer, ScimTenant, free_port, scim_server

__all__ = [
    "PrefectServer", "ScimServer", "ScimTenant", "free_port", "scim_server", "scripted_server",
    "prefect_server",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Scripted:
    """What a scripted server answers: a status, headers, a JSON body, after a delay."""

    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(slots=True)
class ScriptedServer:
    """A running scripted server: its `url` and the (method, path) of each request."""

    url: str
    requests: list[tuple[str, str]] = field(default_factory=list)


@contextmanager
def scripted_server(respond: Callable[[str, str], Scripted]) -> Iterator[ScriptedServer]:
    """Serve HTTP on a free loopback port, answering each request with `respond(method,
    path)` (path with its query string); stop on exit."""
    server_state = ScriptedServer(url="")

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            server_state.requests.append((self.command, self.path))
            answer = respond(self.command, self.path)
            if answer.delay:
                time.sleep(answer.delay)
            payload = b"" if answer.body is None else json.dumps(answer.body).encode()
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/scim+json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _answer

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    server_state.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="scripted-server", daemon=True
    )
    thread.start()
    try:
        yield server_state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# -- OpenLDAP slapd ----------------------------------------------------------------

#: Where Debian's slapd package keeps the server, its schemas and its backend modules.
SLAPD_SCHEMAS = Path("/etc/ldap/schema")
SLAPD_MODULES = Path("/usr/lib/ldap")
LDAP_SUFFIX = "dc=example,dc=org"


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

    def connection(self):
        """A bound ldap3 connection as the admin (the caller unbinds it)."""
        import ldap3

        server = ldap3.Server(self.host, port=self.port, get_info=ldap3.NONE)
        return ldap3.Connection(server, user=self.bind_dn, password=self.password, auto_bind=True)

    def tree(self) -> LdapTree:
        """A new subtree `ou=<random>,<suffix>` with ou=people, ou=groups, ou=disabled."""
        import uuid

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
    import shutil

    found = shutil.which("slapd") or shutil.which("slapd", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise RuntimeError(
            "slapd is not installed: `make test` installs the Debian packages slapd and ldap-utils"
        )
    return found


@contextmanager
def slapd_server(folder: Path, *, durable: bool = False, startup_timeout: float = 20.0) -> Iterator[SlapdServer]:
    """Run a throwaway slapd (mdb backend, data in `folder`) on a free loopback port with
    the core, cosine and inetOrgPerson schemas and the suffix dc=example,dc=org; stop
    it on exit. Without `durable` the database skips fsync (fine for tests)."""
    import secrets

    binary = slapd_binary()
    port = free_port()
    password = secrets.token_urlsafe(16)
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
    log = (folder / "slapd.log").open("wb")
    process: subprocess.Popen | None = None
    try:
        for attempt in range(3):  # a free port may be taken meanwhile (parallel workers)
            port = port if attempt == 0 else free_port()
            command = [binary, "-f", str(config), "-h", f"ldap://127.0.0.1:{port}/", "-d", "0"]
            process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
            server = SlapdServer("127.0.0.1", port, f"cn=admin,{LDAP_SUFFIX}", password, LDAP_SUFFIX)
            connection = _wait_for_slapd(process, server, startup_timeout)
            if connection is not None:
                break
        else:
            raise RuntimeError(f"slapd exited at start; see {folder / 'slapd.log'}")
        try:
            assert connection.add(LDAP_SUFFIX, ["dcObject", "organization"], {"dc": "example", "o": "jml tests"}), connection.result
        finally:
            connection.unbind()
        yield server
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        log.close()


def _wait_for_slapd(process: subprocess.Popen, server: SlapdServer, timeout: float):
    """A bound admin connection once slapd answers; None if it exited (port taken)."""
    import ldap3

    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            return None
        try:
            return server.connection()
        except ldap3.core.exceptions.LDAPException:
            if time.monotonic() > deadline:
                raise RuntimeError(f"slapd did not answer within {timeout} s") from None
            time.sleep(0.05)


# -- PostgreSQL ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PostgresServer:
    """A running throwaway PostgreSQL cluster: host, port, superuser (trust auth)."""

    host: str
    port: int
    user: str

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of one database (psycopg 3 driver)."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    def database(self) -> str:
        """A new, empty database; its SQLAlchemy URL."""
        import uuid

        import psycopg

        name = f"t{uuid.uuid4().hex[:16]}"
        with psycopg.connect(host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # a generated identifier, not input
        return self.url(name)


def postgres_bin() -> Path:
    """The folder of Debian's PostgreSQL server binaries (the newest installed)."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        raise RuntimeError(
            "PostgreSQL is not installed: `make test` installs the Debian package postgresql"
        )
    return candidates[-1].parent


@contextmanager
def postgres_server(folder: Path, *, durable: bool = False, startup_timeout: float = 60.0) -> Iterator[PostgresServer]:
    """initdb a cluster in `folder`, start it with pg_ctl on a free loopback port (run
    as the `postgres` user when this process is root), stop it on exit. Without
    `durable`, fsync and synchronous commit are off (fine for tests)."""
    import pwd
    import shutil

    binaries = postgres_bin()
    port = free_port()
    data = folder / "pgdata"
    sockets = folder / "sockets"
    sockets.mkdir(parents=True, exist_ok=True)
    prefix: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        for path in (folder, sockets):
            shutil.chown(path, account.pw_uid, account.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]

    def run(*command: str) -> None:
        done = subprocess.run([*prefix, *command], capture_output=True, text=True, timeout=startup_timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    run(str(binaries / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync")
    for attempt in range(3):  # a free port may be taken meanwhile (parallel workers)
        port = port if attempt == 0 else free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets}"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        try:
            run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(folder / "postgres.log"),
                "-o", options, "-w", "-t", str(int(startup_timeout)), "start")  # fmt: skip
            break
        except RuntimeError:
            if attempt == 2:
                raise
    try:
        yield PostgresServer("127.0.0.1", port, "postgres")
    finally:
        subprocess.run([*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, timeout=60)  # fmt: skip


# -- an HRIS REST API ------------------------------------------------------------------


@dataclass(slots=True)
class HrisServer:
    """A running HRIS API: `url` of its first page, the bearer `token` it wants, the
    `pages` it serves (path -> JSON body, editable between reads), `faults` to answer
    first (path -> list of Scripted, consumed in order) and the `requests` it got
    (method, path, whether the token was right, monotonic time)."""

    url: str
    token: str
    pages: dict[str, object]
    faults: dict[str, list[Scripted]]
    requests: list[tuple[str, str, bool, float]]

    def paged(self, workers: list[dict], *, size: int, relative: bool = True) -> None:
        """Serve `workers` as pages of `size` under /workers?page=N, each with a `next`
        link (relative or absolute), the last one with `next: null`."""
        self.pages.clear()
        chunks = [workers[i : i + size] for i in range(0, len(workers), size)] or [[]]
        for number, chunk in enumerate(chunks, start=1):
            following = f"/workers?page={number + 1}" if number < len(chunks) else None
            if following and not relative:
                following = self.url.split("/workers")[0] + following
            self.pages[f"/workers?page={number}"] = {"data": {"workers": chunk}, "links": {"next": following}}


@contextmanager
def hris_server(token: str = "hris-token") -> Iterator[HrisServer]:
    """Serve an HRIS REST API on a free loopback port: GET of a known path answers its
    JSON page (401 without `Authorization: Bearer <token>`), after any faults queued
    for that path; an unknown path is 404. Stops on exit."""
    state = HrisServer(url="", token=token, pages={}, faults={}, requests=[])

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            authorised = self.headers.get("Authorization") == f"Bearer {token}"
            state.requests.append(("GET", self.path, authorised, time.monotonic()))
            queued = state.faults.get(self.path)
            if queued:
                answer = queued.pop(0)
            elif not authorised:
                answer = Scripted(401, {"error": "unauthorised"})
            elif self.path in state.pages:
                answer = Scripted(200, state.pages[self.path])
            else:
                answer = Scripted(404, {"error": "no such page"})
            if answer.delay:
                time.sleep(answer.delay)
            payload = answer.body if isinstance(answer.body, bytes) else json.dumps(answer.body).encode()
            try:
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.url = f"http://127.0.0.1:{httpd.server_address[1]}/workers?page=1"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
