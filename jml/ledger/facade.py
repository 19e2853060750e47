"""`Ledger`: the facade over the ledger's modules, the only API the rest of jml uses.

Each method is one short transaction in one module: `runs`, `lock`, `persons`,
`accounts`, `history` (access over time), `journal`, `issues` (the exception queue),
`approvals`, `nhis` (non-human identities' owners), `known` (what the targets held when
last read) and `audit`; the
engine, its pragmas and the schema upgrade are `engine`. Methods take and return the
value types of `jml.ledger.records`, plain dicts, sets and tuples, never database rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date

from sqlalchemy.engine import Engine

from jml.approvals import Rosters
from jml.ledger import accounts, approvals, audit, history, identifiers, journal, known, lock, nhis, persons, runs
from jml.ledger import issues as queue
from jml.ledger.engine import make_engine, upgrade
from jml.ledger.records import (
    AccessChange,
    AccessRecord,
    ApprovalRecord,
    AuditEntry,
    AuditRecord,
    ChainReport,
    ExceptionRecord,
    GrantRecord,
    JournalRecord,
    KnownRead,
    KnownState,
    LockHolder,
    LockInfo,
    PersonState,
)
from jml.model import Issue, IssueKind, Snapshot
from jml.nhi import Ownership, Watch
from jml.operations import Operation
from jml.owners import EVERYONE_DEFAULT, Owners


class Ledger:
    """The state store. Make one with `Ledger.open(url)`; `close()` when done."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # -- life cycle ----------------------------------------------------------------

    @classmethod
    def open(cls, url: str) -> Ledger:
        """Connect to the ledger at the SQLAlchemy `url`, upgrading its schema to head.

        For a SQLite file the parent folder is created if missing; foreign keys, WAL
        and a busy timeout are switched on for every connection.
        """
        engine = make_engine(url)
        try:
            upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine)

    def close(self) -> None:
        """Release every connection."""
        self._engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- the run lock ----------------------------------------------------------------

    def acquire_lock(self, holder: LockHolder, ttl: float, name: str = "run") -> LockInfo | None:
        """Take the run lock (a lease of `ttl` seconds) for `holder`; None when taken.

        The lock is free when nobody holds it, when its lease has expired, or when its
        holder was a process on this host, in this process's pid scope (same boot, same
        PID namespace), that no longer exists (a killed run); a holder in another pid
        scope (a container with the same hostname) is freed by its lease's expiry only.
        Taking it over from such a holder marks the unfinished runs `failed`. Each
        acquisition gets a new fencing token, larger than every earlier one (`lock_lease`).
        Otherwise the current holder's lease is returned and nothing changes.
        """
        return lock.acquire(self._engine, holder, ttl, name)

    def renew_lock(self, holder: LockHolder, ttl: float, name: str = "run") -> None:
        """Extend the holder's lease; LockLost (a LedgerError) if it no longer holds the
        lock, naming who does."""
        lock.renew(self._engine, holder, ttl, name)

    def check_lock(self, holder: LockHolder, token: int, name: str = "run") -> None:
        """The fencing check: LockLost (a LedgerError, naming who holds the lock now)
        unless `holder` still holds the lock with this `token` and an unexpired lease."""
        lock.check(self._engine, holder, token, name)

    def lock_lease(self, name: str = "run") -> LockInfo | None:
        """Who holds the lock now, with its fencing token; None when nobody does."""
        return lock.lease(self._engine, name)

    def release_lock(self, holder: LockHolder, name: str = "run") -> None:
        """Give the lock back (nothing happens if the holder no longer has it)."""
        lock.release(self._engine, holder, name)

    # -- runs ----------------------------------------------------------------------

    def start_run(self, *, as_of: date, dry_run: bool, override_safety: bool, actor: str) -> int:
        """Record a run as `running`; returns its id."""
        return runs.start(self._engine, as_of=as_of, dry_run=dry_run, override_safety=override_safety, actor=actor)

    def finish_run(self, run_id: int, status: str, summary: dict) -> None:
        """Record how a run ended (`status` one of tables.RUN_STATUSES, else ValueError)
        and its summary; LedgerError for an unknown run."""
        runs.finish(self._engine, run_id, status, summary)

    # -- persons -------------------------------------------------------------------

    def person_states(self) -> dict[str, PersonState]:
        """Every person the ledger knows, by employee_id."""
        return persons.states(self._engine)

    def save_person_states(self, run_id: int, states: Iterable[PersonState]) -> None:
        """Insert or update the given persons' states (others are left as they are).

        A new person gets `first_seen_run = last_seen_run = run_id`. A known one gets
        the new state, and `last_seen_run = run_id` unless the state says it is absent
        (`absent_since` set): last_seen_run is the last run whose feed had the person.
        """
        persons.save(self._engine, run_id, states)

    # -- generated identifiers -----------------------------------------------------

    def reserved_identifiers(self, kind: str) -> dict[str, str]:
        """employee_id -> the generated identifier of `kind` (`email`) kept for that
        person, lowercased (jml.naming)."""
        return identifiers.reserved(self._engine, kind)

    def reserve_identifiers(self, run_id: int, kind: str, values: Mapping[str, str]) -> None:
        """Keep these generated identifiers (employee_id -> value) for good; a person who
        has one of `kind` already keeps it. A value kept for another person is refused."""
        identifiers.reserve(self._engine, run_id, kind, values)

    # -- known state of the targets -----------------------------------------------

    def known_state(self, target: str) -> KnownState | None:
        """What the last run kept of `target` (SPEC "Incremental runs"); None when none did."""
        return known.load(self._engine, target)

    def keep_known_state(self, snapshot: Snapshot, read: KnownRead) -> None:
        """Keep `snapshot` as what is known of its target, read as `read` says, writing
        only the accounts that differ from `read.since` (what the ledger held of it when
        the run read it; None: nothing, every account is written)."""
        known.save(self._engine, snapshot, read)

    def forget_known_state(self, target: str) -> None:
        """Drop what is known of `target`: its next run reads it in full."""
        known.forget(self._engine, target)

    # -- non-human identities ------------------------------------------------------

    def nhi_ownerships(self) -> dict[tuple[str, str], Ownership]:
        """Every registered NHI's ownership, by (target, account key) (jml.nhi)."""
        return nhis.ownerships(self._engine)

    def save_nhis(self, run_id: int, actor: str, found: Watch) -> None:
        """Keep what a run found of the NHIs: changed ownerships, removed NHIs, and an
        `nhi_owner` audit entry per ownership change, in one transaction."""
        nhis.save(self._engine, run_id, actor, found)

    # -- accounts and grants -------------------------------------------------------

    def account_links(self, target: str) -> dict[str, str]:
        """employee_id -> the target's account id, for the accounts jml has linked."""
        return accounts.links(self._engine, target)

    def link_accounts(self, run_id: int, target: str, links: Mapping[str, str]) -> None:
        """Remember (or change) which account on `target` belongs to each employee_id."""
        accounts.link(self._engine, run_id, target, links)

    def unlink_accounts(self, target: str, employee_ids: Iterable[str]) -> None:
        """Forget the account links of these persons on `target` (e.g. after delete)."""
        accounts.unlink(self._engine, target, employee_ids)

    def grants(self, target: str) -> dict[tuple[str, str], str]:
        """(employee_id, entitlement) -> reason, for what jml granted on `target`."""
        return accounts.grants(self._engine, target)

    def grants_held(self, employee_ids: Iterable[str]) -> list[GrantRecord]:
        """Every grant these persons hold, on every target, with its reason and since
        when, ordered by employee_id, target and entitlement (one query per IN list)."""
        return accounts.held_by(self._engine, employee_ids)

    def record_grants(self, run_id: int, target: str, grants: Iterable[tuple[str, str, str]]) -> None:
        """Remember grants made on `target`: (employee_id, entitlement, reason) each.

        A grant already known keeps its granted_at; a new reason replaces the old one.
        """
        accounts.record_grants(self._engine, run_id, target, grants)

    def remove_grants(self, target: str, pairs: Iterable[tuple[str, str]]) -> None:
        """Forget grants on `target`: (employee_id, entitlement) each."""
        accounts.remove_grants(self._engine, target, pairs)

    # -- access history ------------------------------------------------------------

    def record_access(self, run_id: int, target: str, changes: Sequence[AccessChange]) -> None:
        """Keep in the history what a run changed on `target`: `changes` in the order
        applied (an account now active or not, or gone with its grants; a grant held or
        not), folded to their net effect."""
        history.record(self._engine, run_id, target, changes)

    def adopt_access(self, run_id: int, target: str, accounts: Mapping[str, bool]) -> None:
        """Keep in the history the accounts a run matched on `target` (employee_id ->
        active, as read) that it holds no open account for and that this run did not
        change: what the run's own changes recorded wins."""
        history.adopt(self._engine, run_id, target, accounts)

    def access_as_of(
        self, day: date, employee_id: str | None = None, target: str | None = None
    ) -> list[AccessRecord]:
        """What each person held on each target at the end of `day`: the state the last
        run (in run order) with an as-of date on or before `day` left, dry runs aside;
        empty before the first run. By employee_id then target; filtered when given."""
        return history.as_of(self._engine, day, employee_id, target)

    def knows_person(self, employee_id: str) -> bool:
        """Whether the ledger has ever seen this person (in a feed or an account)."""
        return history.knows(self._engine, employee_id)

    def access_targets(self) -> set[str]:
        """The targets the access history holds anything of, at any time."""
        return history.targets(self._engine)

    # -- the write-ahead journal ---------------------------------------------------

    def journal_pending(self, run_id: int, operations: Sequence[Operation]) -> list[int]:
        """Record operations as `pending` before they are applied; returns their ids,
        in the order given. `seq` continues after the run's earlier operations."""
        return journal.pending(self._engine, run_id, operations)

    def journal_finish(self, results: Iterable[tuple[int, str, str | None]]) -> None:
        """Settle journalled operations: (id, 'done' | 'failed', error or None) each."""
        journal.finish(self._engine, results)

    def pending_operations(self) -> list[JournalRecord]:
        """Operations still `pending`, from any run (a run that stopped mid-apply)."""
        return journal.unsettled(self._engine)

    # -- exceptions ----------------------------------------------------------------

    def sync_issues(
        self,
        run_id: int,
        issues: list[Issue],
        *,
        kinds: set[IssueKind],
        skip_targets: Collection[str] = frozenset(),
        owners: Owners = EVERYONE_DEFAULT,
    ) -> tuple[int, int]:
        """Make the exception queue agree with what a run found; returns (opened, closed).

        `issues` are all the issues the run found of the kinds in `kinds`. An issue
        whose key has a live exception (open; for approval also approved or rejected)
        refreshes it; any other opens a new exception. A live exception of one of
        `kinds` whose key was not found is closed (its cause is gone; a decided
        approval no longer needed is void) unless its target is in `skip_targets`
        (a target the run could not read says nothing about its causes). A new
        exception's owner is `owners.of(issue)` (by default every one is `iam`'s).
        """
        return queue.sync(self._engine, run_id, issues, kinds=kinds, skip_targets=skip_targets, owners=owners)

    def list_exceptions(self, status: str = "open", owner: str | None = None) -> list[ExceptionRecord]:
        """Exceptions with this status ("open", "closed", "approved", "rejected") or
        "all", oldest first; with `owner`, only those `owner` is one of the owners of."""
        return queue.listed(self._engine, status, owner)

    def opened_in(self, run_id: int) -> list[ExceptionRecord]:
        """The exceptions run `run_id` opened, oldest first."""
        return queue.opened_in(self._engine, run_id)

    def count_open(self) -> int:
        """How many exceptions are open."""
        return queue.count_open(self._engine)

    # -- approvals -----------------------------------------------------------------

    def approve(self, exception_id: int, *, by: str, role: str, rosters: Rosters | None) -> ExceptionRecord:
        """Record `by`'s approval, as `role`, of an open approval exception (or, for
        an `nhi_review`, the NHI's owner's confirmation, `role` "owner": it closes).

        When every role the bundle lists has approved (each by a different person),
        the exception becomes `approved`. Returns the exception. LedgerError for an
        unknown id, an exception that is not an open approval, a role the bundle does
        not list, a role that has approved already, or a person approving twice
        (the rules are `jml.approvals`). `rosters` is the policy's (`Policy.rosters()`;
        None: free names), required so that no caller forgets the check; with rosters,
        `by` is an active person on the role's roster (HR as the last run saw it).
        """
        return approvals.approve(self._engine, exception_id, by=by, role=role, rosters=rosters)

    def reject(
        self, exception_id: int, *, by: str, reason: str | None = None, role: str | None = None,
        rosters: Rosters | None,
    ) -> ExceptionRecord:  # fmt: skip
        """Record `by`'s rejection of an open approval exception: it becomes `rejected`
        and the bundle is not granted. Returns the exception. With `rosters` (as for
        `approve`) `by` must name the `role` they act as and be on its roster."""
        return approvals.reject(self._engine, exception_id, by=by, reason=reason, role=role, rosters=rosters)

    def approval_decisions(self) -> dict[str, str]:
        """Issue key -> "approved" | "rejected", for the approvals decided and still live."""
        return approvals.decided(self._engine)

    def approvals(self, exception_id: int) -> list[ApprovalRecord]:
        """The decisions recorded on an exception, oldest first (role None: a rejection)."""
        return approvals.recorded(self._engine, exception_id)

    # -- audit ---------------------------------------------------------------------

    def append_audit(self, entries: Iterable[AuditEntry]) -> None:
        """Append entries to the audit trail (there is no way to change or remove one)."""
        audit.append(self._engine, entries)

    def audit_head(self) -> str:
        """The hash of the trail's last event (`chain.GENESIS` for an empty trail)."""
        return audit.head(self._engine)

    def verify_audit(self, head: str | None = None) -> ChainReport:
        """The hash chain recomputed, checked against every run's `audit_head` and, when
        given, a `head` kept outside the ledger (`jml audit verify`)."""
        return audit.verify(self._engine, head)

    def deprovisioned(self, first: date, last: date) -> set[str]:
        """The employee_ids whose access runs with an as-of date from `first` to `last`
        took away (dry runs aside; a halted run applied nothing): what the cumulative
        guard counts."""
        return audit.deprovisioned(self._engine, first, last)

    def audit_trail(self, employee_id: str | None = None, limit: int | None = None) -> list[AuditRecord]:
        """Audit entries in the order they were written, for one person or everyone;
        with `limit`, the latest `limit` entries (still oldest first)."""
        return audit.trail(self._engine, employee_id, limit)
