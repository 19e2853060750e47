"""What the ledger takes and gives back: frozen value types, free of SQLAlchemy.

Every public `Ledger` method returns these (or plain dicts, sets and tuples of
strings), never database rows. Timestamps are aware UTC datetimes; `detail` and `data`
are the JSON documents as stored (dates read back as ISO text, sets and tuples as
lists). `dataclasses.asdict(record)` gives the mapping the CLI prints as JSON.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from jml.model import Snapshot


@dataclass(frozen=True, slots=True)
class KnownState:
    """What jml knows of a target between runs (SPEC "Incremental runs"): the snapshot
    its last read left (with the driver's `memo`), when that read was, when the target
    was last read in full, and the hash of the target's config it was read with."""

    snapshot: Snapshot
    full_read_at: datetime
    read_at: datetime
    config: str


@dataclass(frozen=True, slots=True)
class KnownRead:
    """How a run read a target: when, when it was last read in full (`at` for a full
    read), the hash of the target's config, and what the ledger knew of the target when
    it was read (None: nothing; a delta read is made from it)."""

    at: datetime
    full_read_at: datetime
    config: str
    since: Snapshot | None = None


@dataclass(frozen=True, slots=True)
class PersonState:
    """What the ledger remembers of a person between runs."""

    employee_id: str
    lifecycle: str
    terminated_on: date | None = None
    absent_since: date | None = None
    #: The person's manager as HR named them at the last run that had the person.
    manager_id: str | None = None


BOOT_ID = Path("/proc/sys/kernel/random/boot_id")
PID_NAMESPACE = "/proc/self/ns/pid"


def pid_scope() -> str:
    """Where this process's pid means something: `<boot id>:<PID namespace inode>`.

    Two processes on one host compare pids only when their scopes are equal: a container
    with the same hostname but its own PID namespace, or the host after a reboot, numbers
    its processes apart. Empty when /proc does not tell both (not Linux): then pids are
    never compared.
    """
    try:
        boot = BOOT_ID.read_text(encoding="ascii").strip()
        namespace = os.stat(PID_NAMESPACE).st_ino
    except (OSError, UnicodeError):
        return ""
    return f"{boot}:{namespace}" if boot else ""


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who asks for the run lock: a unique id, and the host, pid and pid scope (see
    `pid_scope`; by default this process's) of its process."""

    id: str
    host: str
    pid: int
    pid_scope: str = field(default_factory=pid_scope)

    @classmethod
    def this_process(cls) -> LockHolder:
        host, pid = socket.gethostname(), os.getpid()
        return cls(f"{host}:{pid}:{uuid.uuid4().hex[:8]}", host, pid, pid_scope())


@dataclass(frozen=True, slots=True)
class LockInfo:
    """Who holds the run lock, since when, until when its lease runs, and the fencing
    `token` of this acquisition (each acquisition's is larger than every earlier one's)."""

    holder: str
    host: str
    pid: int
    acquired_at: datetime
    expires_at: datetime
    pid_scope: str
    token: int


@dataclass(frozen=True, slots=True)
class GrantRecord:
    """One entitlement jml granted and holds: on which target, why (the policy's
    reason), and since when (`granted_at`, kept while the grant lasts)."""

    employee_id: str
    target: str
    entitlement: str
    reason: str
    granted_at: datetime


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One line to append to the audit trail: who (`actor`) did what (`action`) to
    whom, and why."""

    run_id: int | None
    actor: str
    action: str
    employee_id: str | None = None
    target: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One line of the audit trail as written, with its id, time and `hash` in the
    chain (`jml.ledger.chain`)."""

    id: int
    at: datetime
    run_id: int | None
    actor: str
    action: str
    employee_id: str | None
    target: str | None
    detail: dict[str, Any]
    reason: str | None
    hash: str


@dataclass(frozen=True, slots=True)
class JournalRecord:
    """One journalled operation: `status` is pending, done or failed (with `error`)."""

    id: int
    run_id: int
    seq: int
    target: str
    employee_id: str
    action: str
    account_id: str | None
    detail: dict[str, Any]
    reason: str
    status: str
    error: str | None


@dataclass(frozen=True, slots=True)
class ExceptionRecord:
    """One exception of the queue people work. `status` is open, closed, approved or
    rejected; `closed_run` is the run that found its cause gone."""

    id: int
    kind: str
    key: str
    employee_id: str | None
    target: str | None
    detail: str
    status: str
    data: dict[str, Any]
    opened_run: int
    closed_run: int | None
    #: Who works it (jml.owners): a name, or names joined by commas.
    owner: str


@dataclass(frozen=True, slots=True)
class ApprovalRecord:
    """One decision recorded on an approval exception (`role` None: a rejection)."""

    role: str | None
    approver: str
    decision: str
    reason: str | None
    at: datetime


@dataclass(frozen=True, slots=True)
class ChainReport:
    """What `verify` found: `events` checked, the `head` hash (GENESIS for none), and for
    a broken chain the id of the first event named (`event_id`; None when the events
    missing are the last ones) and what is wrong (`problem`)."""

    events: int
    head: str
    event_id: int | None = None
    problem: str | None = None

    @property
    def intact(self) -> bool:
        return self.problem is None


@dataclass(frozen=True, slots=True)
class AccessChange:
    """One change a run made to what a person holds on a target, in the order applied.

    With `entitlement` None it is the account's: it now exists and is `active` (True
    or False), or is gone (`held` False: deleted, and its grants with it). With an
    `entitlement`, that grant is now held (`held` True) or not (`active` is unused).
    """

    employee_id: str
    entitlement: str | None = None
    held: bool = True
    active: bool = True


@dataclass(frozen=True, slots=True)
class AccessRecord:
    """What one person held on one target at the end of some run: an account, `active`
    or not (False also for grants the ledger holds without an account), and the
    entitlements jml granted there, sorted."""

    employee_id: str
    target: str
    active: bool
    entitlements: tuple[str, ...]
