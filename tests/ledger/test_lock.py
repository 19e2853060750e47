"""The run lock (jml.ledger.lock) on SQLite and on the session's real PostgreSQL: the
fencing token of each acquisition, the fencing check, renewals that find the lock lost,
releases that keep the tokens counting, the pid check confined to one pid scope (boot id
and PID namespace), and the migration that adds token and pid scope to a held lock.

The pid-scope test that matters most runs a real process in a PID namespace of its own
(`unshare`, same hostname, as a container would): it holds the lock, and a process here,
which sees no such pid, must not free it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import column, create_engine, insert, select, table, update

from jml.ledger import Ledger, LedgerError, LockHolder, LockLost, tables
from jml.ledger.engine import alembic_config, make_engine, write
from jml.ledger.records import pid_scope
from tests.ledger.test_ledger import upgrade_to

ROOT = Path(__file__).resolve().parents[2]
AS_OF = datetime(2026, 12, 2, tzinfo=UTC).date()


pytestmark = pytest.mark.both_ledgers  # every test taking `ledger_url`: SQLite and PostgreSQL


def lock_row(url: str) -> dict:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return dict(conn.execute(select(tables.run_lock)).one()._mapping)
    finally:
        engine.dispose()


def set_lock_row(url: str, **values) -> None:
    """Change the lock's row behind the ledger's back (as another process would)."""
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(update(tables.run_lock).values(**values))
    finally:
        engine.dispose()


def dead_pid() -> int:
    """The pid of a process of this host that has ended."""
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    return gone.pid


def holder(name: str, **identity) -> LockHolder:
    return LockHolder(name, identity.pop("host", "elsewhere"), identity.pop("pid", 1), **identity)


# ------------------------------------------------------------------------- the token


def test_every_acquisition_gets_a_larger_token_and_a_release_keeps_the_count(ledger, ledger_url):
    tokens = []
    a, b, c = holder("a"), holder("b"), holder("c")
    assert ledger.acquire_lock(a, ttl=60) is None
    tokens.append(ledger.lock_lease().token)
    ledger.release_lock(a)
    assert ledger.lock_lease() is None  # free
    assert lock_row(ledger_url)["holder"] == ""  # but the row, and so the count, stays
    assert ledger.acquire_lock(b, ttl=0.05) is None
    tokens.append(ledger.lock_lease().token)
    time.sleep(0.1)
    assert ledger.acquire_lock(c, ttl=60) is None  # b's lease expired: taken over
    held = ledger.lock_lease()
    tokens.append(held.token)
    assert ledger.acquire_lock(c, ttl=60) is None  # the holder itself, again: a new token
    tokens.append(ledger.lock_lease().token)
    assert tokens == [1, 2, 3, 4]
    assert (held.holder, held.host, held.pid, held.pid_scope) == ("c", "elsewhere", 1, pid_scope())
    refused = ledger.acquire_lock(a, ttl=60)
    assert refused is not None and refused.token == 4 and ledger.lock_lease().token == 4


def test_a_released_lock_is_free_without_failing_any_run(ledger, ledger_url):
    run_id = ledger.start_run(as_of=AS_OF, dry_run=False, override_safety=False, actor="test")
    ledger.acquire_lock(holder("a"), ttl=60)
    ledger.release_lock(holder("a"))
    assert ledger.acquire_lock(holder("b"), ttl=60) is None
    engine = create_engine(ledger_url)
    with engine.connect() as conn:
        status = conn.execute(select(tables.runs.c.status).where(tables.runs.c.id == run_id)).scalar()
    engine.dispose()
    assert status == "running"  # a free lock is no sign of a run that stopped


# ---------------------------------------------------------------- the fencing check


def test_check_passes_only_for_the_holder_with_its_token_and_an_unexpired_lease(ledger, ledger_url):
    a, b = holder("a"), holder("b")
    ledger.acquire_lock(a, ttl=60)
    token = ledger.lock_lease().token
    ledger.check_lock(a, token)  # holds it
    with pytest.raises(LockLost, match="lost to a"):
        ledger.check_lock(b, token)
    with pytest.raises(LockLost, match=r"lost to a \(token"):
        ledger.check_lock(a, token - 1)  # an earlier acquisition of the same holder
    set_lock_row(ledger_url, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with pytest.raises(LockLost, match="its lease expired at"):
        ledger.check_lock(a, token)  # still a's row, but anyone may take it now
    assert ledger.acquire_lock(b, ttl=60) is None
    with pytest.raises(LockLost, match="^the run lock was lost to b$"):
        ledger.check_lock(a, token)
    ledger.release_lock(b)
    with pytest.raises(LockLost, match="nobody holds it now"):
        ledger.check_lock(a, token)
    assert issubclass(LockLost, LedgerError)


def test_a_lock_taken_over_behind_the_holders_back_fails_the_check_and_the_renewal(ledger, ledger_url):
    """What the e2e test does to a running `jml run`: another holder written into the row."""
    a = holder("a")
    ledger.acquire_lock(a, ttl=60)
    token = ledger.lock_lease().token
    set_lock_row(ledger_url, holder="intruder:1:deadbeef", token=token + 1)
    with pytest.raises(LockLost, match="^the run lock was lost to intruder:1:deadbeef$"):
        ledger.check_lock(a, token)
    with pytest.raises(LockLost, match="^the run lock was lost to intruder:1:deadbeef$"):
        ledger.renew_lock(a, ttl=60)
    assert lock_row(ledger_url)["holder"] == "intruder:1:deadbeef"  # the renewal changed nothing
    ledger.release_lock(a)  # nor does a release by who lost it
    assert ledger.lock_lease().holder == "intruder:1:deadbeef"


def test_a_renewal_keeps_the_lease_and_the_token(ledger):
    a = holder("a")
    ledger.acquire_lock(a, ttl=0.5)
    first = ledger.lock_lease()
    for _ in range(4):  # 1.2 s in all: past the first lease
        time.sleep(0.3)
        ledger.renew_lock(a, ttl=0.5)
    renewed = ledger.lock_lease()
    assert renewed.token == first.token and renewed.expires_at > first.expires_at + timedelta(seconds=1)
    ledger.check_lock(a, first.token)
    assert ledger.acquire_lock(holder("b"), ttl=60) is not None


# ---------------------------------------------------------- the pid check, in scope


OTHER_NAMESPACE = f"{pid_scope().split(':')[0]}:4026599999"
OTHER_BOOT = f"00000000-0000-4000-8000-000000000000:{pid_scope().partition(':')[2]}"


@pytest.mark.parametrize(
    "scope",
    [
        pytest.param(OTHER_NAMESPACE, id="another-pid-namespace"),
        pytest.param(OTHER_BOOT, id="another-boot"),
        pytest.param("", id="unknown-or-from-before-0003"),
    ],
)
def test_a_dead_pid_frees_the_lock_only_within_this_pid_scope(ledger, scope):
    assert pid_scope(), "these tests need Linux's /proc"
    here = socket.gethostname()
    gone = dead_pid()
    assert ledger.acquire_lock(holder("there", host=here, pid=gone, pid_scope=scope), ttl=600) is None
    refused = ledger.acquire_lock(holder("next", host=here, pid=os.getpid()), ttl=600)
    assert refused is not None and refused.holder == "there", "a pid of another scope was checked here"
    ledger.release_lock(holder("there"))
    assert ledger.acquire_lock(holder("local", host=here, pid=gone, pid_scope=pid_scope()), ttl=600) is None
    assert ledger.acquire_lock(holder("next", host=here, pid=os.getpid()), ttl=600) is None  # same scope: freed


def test_this_process_names_its_pid_scope():
    me = LockHolder.this_process()
    boot, _, namespace = me.pid_scope.partition(":")
    assert boot == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert int(namespace) == os.stat("/proc/self/ns/pid").st_ino
    assert (me.host, me.pid) == (socket.gethostname(), os.getpid())


HOLD = """
import sys
from jml.ledger import Ledger, LockHolder
ledger = Ledger.open(sys.argv[1])
me = LockHolder.this_process()
assert ledger.acquire_lock(me, ttl=600) is None
print(me.host, me.pid, me.pid_scope, flush=True)
sys.stdin.read()  # hold it until the test closes stdin
"""


def free_pid_near_the_top() -> int:
    """A pid no process of this namespace has, high enough that none will soon."""
    top = int(Path("/proc/sys/kernel/pid_max").read_text())
    return next(pid for pid in range(top - 50, top) if not Path(f"/proc/{pid}").exists())


def in_another_pid_namespace(argv: list[str], pid: int) -> subprocess.Popen:
    """Run `argv` as `pid` in a new user and PID namespace (same hostname, same boot)."""
    script = f'echo {pid - 1} > /proc/sys/kernel/ns_last_pid && "$@"; exit $?'
    return subprocess.Popen(
        ["unshare", "--user", "--map-root-user", "--pid", "--fork", "--mount-proc", "sh", "-c", script, "sh", *argv],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
    )  # fmt: skip


def test_a_live_holder_in_another_pid_namespace_with_this_hostname_keeps_the_lock(tmp_path):
    """The review's experiment: a container with the same hostname and its own PID
    namespace holds the lock; here its pid names no process, and the lock must stay."""
    if shutil.which("unshare") is None:
        pytest.skip("no unshare(1)")
    url = f"sqlite:///{tmp_path / 'jml.db'}"
    Ledger.open(url).close()
    pid = free_pid_near_the_top()
    child = in_another_pid_namespace([sys.executable, "-c", HOLD, url], pid)
    try:
        line = child.stdout.readline().split()
        if not line:
            child.kill()
            pytest.skip(f"cannot make a PID namespace here: {child.stderr.read().strip()[-300:]}")
        host, their_pid, their_scope = line[0], int(line[1]), line[2]
        assert (host, their_pid) == (socket.gethostname(), pid), line
        assert their_scope != pid_scope() and their_scope.split(":")[0] == pid_scope().split(":")[0]
        assert not Path(f"/proc/{pid}").exists(), "that pid names no process here"
        with Ledger.open(url) as ledger:
            refused = ledger.acquire_lock(LockHolder.this_process(), ttl=60)
            assert refused is not None and refused.pid == pid, "a live lock was freed by a pid check"
        assert child.poll() is None
    finally:
        child.stdin.close()
        child.wait(timeout=30)


# ----------------------------------------------------------------------- migration


def test_migration_0003_gives_a_held_lock_token_0_and_no_pid_scope(ledger_url):
    """A lock held while the schema moves from 0002 to 0003 (jml upgraded under a run):
    token 0, so the next acquisition's is 1; no pid scope, so only its expiry frees it."""
    engine = upgrade_to(ledger_url, "0002")
    at = datetime.now(UTC)
    lock_0002 = table(
        "run_lock", column("name"), column("holder"), column("host"), column("pid"),
        column("acquired_at", tables.UtcDateTime()), column("expires_at", tables.UtcDateTime()),
    )  # fmt: skip
    with write(engine) as conn:
        conn.execute(insert(lock_0002).values(
            name="run", holder="old", host=socket.gethostname(), pid=dead_pid(),
            acquired_at=at, expires_at=at + timedelta(seconds=60),
        ))  # fmt: skip
    engine.dispose()
    ledger = Ledger.open(ledger_url)  # upgrades to head
    try:
        row = lock_row(ledger_url)
        assert (row["holder"], row["token"], row["pid_scope"]) == ("old", 0, "")
        assert ledger.acquire_lock(holder("new"), ttl=60) is not None  # its dead pid is not checked
        set_lock_row(ledger_url, expires_at=datetime.now(UTC) - timedelta(seconds=1))  # its lease ends
        assert ledger.acquire_lock(holder("new"), ttl=60) is None
        assert ledger.lock_lease().token == 1
    finally:
        ledger.close()


def test_migration_0003_downgrades_to_0002(ledger_url):
    Ledger.open(ledger_url).close()
    engine = make_engine(ledger_url)
    with write(engine) as conn:
        conn.execute(insert(tables.run_lock).values(
            name="run", holder="", host="", pid=0, pid_scope="", token=3,
            acquired_at=datetime.now(UTC), expires_at=datetime.now(UTC),
        ))  # fmt: skip
    config = alembic_config()
    with write(engine) as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0002")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM run_lock").scalar() == 0  # a free lock has no row
    engine.dispose()
