"""A throwaway PostgreSQL cluster: the tests' and the benches' real PostgreSQL.

`postgres_server(folder)` runs Debian's `initdb` in `folder` and starts the cluster
with `pg_ctl` on a free loopback port (trust authentication, the superuser
`postgres`; on another port if that one was taken meanwhile), as the `postgres` user
when this process is root, and stops it on exit. The cluster answering is this one:
`pg_ctl -w` waits until the postmaster.pid of this launch's data directory says
"ready", which a postmaster writes only once it listens on its port (it exits when it
cannot bind it). `database()` makes a fresh, empty
database per test.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from app.launchers.processes import ExitedAtStart, on_a_free_port


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
        import psycopg  # imported when used: the demo needs no PostgreSQL

        name = f"t{uuid.uuid4().hex[:16]}"
        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # a generated identifier, not input
        return self.url(name)


def postgres_bin() -> Path:
    """The folder of Debian's PostgreSQL server binaries (the newest installed)."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not candidates:
        raise RuntimeError("PostgreSQL is not installed: `make test` installs the Debian package postgresql")
    return candidates[-1].parent


@contextmanager
def postgres_server(folder: Path, *, durable: bool = False, startup_timeout: float = 60.0) -> Iterator[PostgresServer]:
    """initdb a cluster in `folder`, start it with pg_ctl on a free loopback port (run
    as the `postgres` user when this process is root), stop it on exit. Without
    `durable`, fsync and synchronous commit are off (fine for tests)."""
    binaries = postgres_bin()
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
    pg_ctl = str(binaries / "pg_ctl")

    def stop_cluster() -> None:
        subprocess.run([*prefix, pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True, timeout=60)

    def start(port: int) -> PostgresServer:
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {sockets}"
        if not durable:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        try:
            run(pg_ctl, "-D", str(data), "-l", str(folder / "postgres.log"),
                "-o", options, "-w", "-t", str(int(startup_timeout)), "start")  # fmt: skip
        except RuntimeError as error:  # e.g. "could not bind IPv4 address": the port was taken
            stop_cluster()
            raise ExitedAtStart(str(error)) from error
        return PostgresServer("127.0.0.1", port, "postgres")

    server = on_a_free_port(start)
    try:
        yield server
    finally:
        stop_cluster()
