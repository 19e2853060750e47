"""The read-targets stage: one read of every target, and the journal settled against it.

`read_targets(run)` reads each configured target, the targets in parallel
(`pipeline.parallel`): in full on its first run, in a run
that reads in full (`reconcile`), when its config changed and when its last full read is
older than its `full_read_hours`; else it takes what the ledger knows of it (the last
run's read) brought up to date by the driver's delta read (SPEC "Incremental runs"), or
reads in full when the driver cannot tell what changed. `keep_known(run, state,
deleted)` keeps each read in the ledger for the next run, without the accounts the run
deleted. A target that cannot be read (or
whose connector cannot be built: a secret not set) is unreachable for the run, with a
`failed_operation` issue naming it, and is skipped. The accounts of registered NHIs
(jml.nhi) are taken out of each snapshot at once, so that nothing after this stage
(plan, guards, reconcile, the journal's settling) ever sees them as people's; they are
kept apart, by account key, for the NHI stage. In a recorded run that writes,
operations an earlier run left `pending` (it was killed mid-apply) are then settled
against what the targets show: `done` if applied (and recorded in the ledger as the
apply stage records what it applies: links, grants, the audit trail), else `failed`
(this run's plan does what is still missing). A target whose transport is weakened (`verify: false`,
`insecure: true`) is warned about on every run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Set
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from connectors.base import ConnectorError, Outcome
from jml.config import TargetConfig, weakened
from jml.ledger import KnownRead
from jml.model import Account, Issue, IssueKind, Snapshot
from jml.nhi import split_accounts
from jml.operations import Create, from_journal
from jml.plan import AccountIndex, is_applied
from pipeline.parallel import per_target
from pipeline.record import record_applied
from pipeline.run import Run

__all__ = ["TargetRead", "TargetState", "by_id", "keep_known", "read_targets", "unreachable_issue"]


@dataclass(frozen=True, slots=True)
class TargetRead:
    """What a target held (its NHIs' accounts too), and how it was read."""

    snapshot: Snapshot
    how: KnownRead


@dataclass(frozen=True, slots=True)
class TargetState:
    """The snapshots of the reachable targets (without the NHIs' accounts), an issue
    per unreachable one, per reachable target the accounts of registered NHIs it
    holds (by account key), and how each was read."""

    snapshots: Mapping[str, Snapshot] = field(default_factory=dict)
    unreachable: Mapping[str, Issue] = field(default_factory=dict)
    nhis: Mapping[str, Mapping[str, Account]] = field(default_factory=dict)
    reads: Mapping[str, TargetRead] = field(default_factory=dict)

    def with_account(self) -> set[str]:
        """The employee_ids linked to an account on some target."""
        return {a.external_id for s in self.snapshots.values() for a in s.accounts if a.external_id}


def unreachable_issue(target: str, error: Exception) -> Issue:
    """The `failed_operation` issue naming a target that cannot be read or written."""
    return Issue(
        IssueKind.FAILED_OPERATION,
        f"failed_operation:{target}:unreachable",
        f"target {target} is unreachable ({error}); its changes wait for the next run",
        target=target,
        data={"error": str(error)},
    )


def read_targets(run: Run) -> TargetState:
    """Read every target (see the module docstring)."""
    snapshots: dict[str, Snapshot] = {}
    unreachable: dict[str, Issue] = {}
    nhis: dict[str, dict[str, Account]] = {}
    reads: dict[str, TargetRead] = {}
    registered = run.settings.registered()
    for target in run.config.targets:
        for warning in weakened(target):
            run.log.warning("target %s: %s", target.name, warning)
    read = per_target([target.name for target in run.config.targets], lambda name: _reachable(run, name))
    for name, one in read.items():
        if isinstance(one, Issue):
            unreachable[name] = one
            continue
        reads[name] = one
        snapshots[name], nhis[name] = split_accounts(one.snapshot, registered.get(name, ()))
    if run.recorded and not run.dry_run:
        _settle_journal(run, snapshots)
    return TargetState(snapshots, unreachable, nhis, reads)


def _reachable(run: Run, name: str) -> TargetRead | Issue:
    """The target read, or the issue saying it cannot be."""
    try:
        return _read(run, run.config.target(name))
    except ConnectorError as exc:
        run.log.warning("target %s cannot be read: %s", name, exc)
        return unreachable_issue(name, exc)


def _read(run: Run, target: TargetConfig) -> TargetRead:
    """The target read as the module docstring says: from what is known (read with the
    same config), or in full; its accounts in the order of their ids either way, so
    that where two accounts compete (one externalId or userName) the same one wins."""
    connector = run.targets[target.name]
    now = datetime.now(UTC)
    config = hashlib.sha256(target.model_dump_json().encode()).hexdigest()
    known = run.ledger.known_state(target.name)
    fresh = known is not None and now - known.full_read_at < timedelta(hours=target.full_read_hours)
    if known is not None and fresh and known.config == config and not run.read_in_full:
        snapshot = connector.read_changes(known.snapshot)
        if snapshot is not None:
            return TargetRead(by_id(snapshot), KnownRead(now, known.full_read_at, config, since=known.snapshot))
    kept = known.snapshot if known is not None else None  # what the ledger holds: only the difference is written
    return TargetRead(by_id(connector.read()), KnownRead(now, now, config, since=kept))


def by_id(snapshot: Snapshot) -> Snapshot:
    """The snapshot, its accounts in the order of their ids."""
    return replace(snapshot, accounts=sorted(snapshot.accounts, key=lambda a: a.id or ""))


def keep_known(run: Run, state: TargetState, deleted: Set[tuple[str, str]]) -> None:
    """Keep each target's read as what is known of it, without the accounts in
    `deleted` ((target, account id) the run deleted); only what differs from what the
    ledger held is written. A read without a memo (a driver that cannot read changes,
    a server that gave no clock) is not kept, and what was known of it is dropped: its
    next run reads in full anyway."""
    for name, read in state.reads.items():
        gone = {account_id for target, account_id in deleted if target == name}
        snapshot = read.snapshot
        if not snapshot.memo:
            if read.how.since is not None:
                run.ledger.forget_known_state(name)
            continue
        if gone:
            snapshot = replace(snapshot, accounts=[a for a in snapshot.accounts if a.id not in gone])
        run.ledger.keep_known_state(snapshot, read.how)


def _settle_journal(run: Run, snapshots: Mapping[str, Snapshot]) -> None:
    indexes = {name: AccountIndex(snapshot) for name, snapshot in snapshots.items()}
    results = []
    found: dict[str, list[Outcome]] = {}
    for row in run.ledger.pending_operations():
        index = indexes.get(row.target)
        if index is None or row.run_id == run.run_id:
            continue
        try:
            op = from_journal(
                target=row.target, employee_id=row.employee_id, action=row.action,
                detail=row.detail, reason=row.reason, account_id=row.account_id,
            )  # fmt: skip
        except ValueError as exc:
            results.append((row.id, "failed", f"settled by run {run.run_id}: unreadable ({exc}); replanned"))
            continue
        account = index.linked(op.employee_id, op.account_id)
        applied = is_applied(op, account)
        note = f"settled by run {run.run_id}: " + ("found applied" if applied else "not applied; replanned")
        results.append((row.id, "done" if applied else "failed", note))
        if applied:
            created = account.id if isinstance(op, Create) and account is not None else None
            found.setdefault(row.target, []).append(Outcome(op, account_id=created))
    if results:
        run.ledger.journal_finish(results)
        run.log.warning("settled %d operations left pending by an interrupted run", len(results))
    for target, outcomes in found.items():
        record_applied(run, target, outcomes)
