"""`Kernel`: a driver made a target (`connectors.base.Target`), with retries and settling.

`apply(operations)` runs rounds (`connectors.kernel.round.Round`) until every operation
is settled:
- an operation is sent at most `retry.attempts` times; only a try of its own counts: an
  operation that was not sent because one it relies on failed (its create, its
  manager's create) or waits does not spend a try;
- only `Retryable` failures are tried again; any other error settles the operation;
- a create that may have been applied (its reply was lost, it timed out) is looked up
  by employee_id before it is sent again: found, it counts as applied (settled), never
  as a second account. If the lookup fails, that create and what relies on it wait,
  unsent, for the next round; a create the target certainly refused (429, 503) is sent
  again without a lookup;
- between rounds the kernel waits `backoff_seconds` x 2^(round-1) with jitter (at most
  `max_backoff_seconds`, never less than a Retry-After the target asked for), and stops
  when the next wait would pass `max_seconds`: what is left keeps its last error;
- the circuit breaker counts rounds in a row where nothing succeeded and every failure
  was retryable; at `breaker_threshold` the target is down for the rest of the run (the
  kernel instance): what is left fails at once with "circuit breaker open".
`read()` is one full read, tried again on Retryable within the same policy,
`read_changes(known)` a delta read where the driver offers one (else None), and
`read_accounts()` the read of some persons' accounts only (verify's read-back); `find()`
maps employee_ids to account ids by chunked lookups. The kernel remembers every
account's handle (from reads, lookups and its writes) for the life of the instance.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Collection, Sequence
from typing import TypeVar

from connectors.base import Applied, ClosesOnExit, Outcome, Retryable, TargetError
from connectors.kernel.driver import Driver, Handle, chunked
from connectors.kernel.handles import Handles
from connectors.kernel.round import Round
from connectors.retry import CircuitBreaker, backoff, call_with_retries
from jml.config import RetryPolicy
from jml.model import Snapshot
from jml.operations import Create, Operation

__all__ = ["Kernel"]

log = logging.getLogger("connectors.kernel")
R = TypeVar("R")


class Kernel(ClosesOnExit):
    """A target made of a driver and a retry policy; see the module docstring."""

    def __init__(
        self,
        driver: Driver,
        retry: RetryPolicy,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.name = driver.name
        self.schema = driver.schema
        self.driver = driver
        self._retry = retry
        self._breaker = CircuitBreaker(retry.breaker_threshold)
        self._handles = Handles()
        self._sleep, self._clock, self._jitter = sleep, clock, jitter

    def __repr__(self) -> str:
        return f"Kernel({self.driver!r})"

    def close(self) -> None:
        self.driver.close()

    # -- reads -----------------------------------------------------------------------

    def read(self) -> Snapshot:
        """One full read of the target (tried again on Retryable per the policy); the
        handles it finds replace every one remembered."""
        reading, seconds = self._read(self.driver.read)
        self._handles.replace(reading.handles)
        snapshot = reading.snapshot
        log.info("target %s: read %d accounts and %d groups in %.2f s", self.name, len(snapshot.accounts),
                 len(snapshot.groups), seconds)  # fmt: skip
        return snapshot

    def read_changes(self, known: Snapshot) -> Snapshot | None:
        """`known` brought up to date by the driver's delta read (`Driver.read_changes`),
        tried again on Retryable per the policy; None when the driver cannot tell what
        changed. The handles it finds replace every one remembered, as a full read's do."""
        reading, seconds = self._read(lambda: self.driver.read_changes(known))
        if reading is None:
            return None
        self._handles.replace(reading.handles)
        log.info("target %s: %d accounts and %d groups from a delta read in %.2f s", self.name,
                 len(reading.snapshot.accounts), len(reading.snapshot.groups), seconds)  # fmt: skip
        return reading.snapshot

    def read_accounts(self, employee_ids: Sequence[str], groups: Collection[str] | None = None) -> Snapshot:
        """The accounts of these employee_ids only, and of `groups` at least, if given
        (`Driver.read_accounts`), tried again on Retryable per the policy; their handles
        are remembered beside the others."""
        wanted = list(dict.fromkeys(employee_ids))
        known = {eid: handle for eid in wanted if (handle := self._handles.get(eid)) is not None}
        reading, seconds = self._read(lambda: self.driver.read_accounts(wanted, known, groups))
        self._handles.update(reading.handles)
        log.info("target %s: read back %d accounts of %d persons in %.2f s", self.name,
                 len(reading.snapshot.accounts), len(wanted), seconds)  # fmt: skip
        return reading.snapshot

    def _read(self, call: Callable[[], R]) -> tuple[R, float]:
        """What `call` read (tried again on Retryable per the policy, unless the driver
        retries each of its read requests itself), and its seconds."""
        started = time.monotonic()
        if self.driver.retries_reads:
            reading = call()
        else:
            reading = call_with_retries(call, self._retry, sleep=self._sleep, clock=self._clock, jitter=self._jitter)
        return reading, time.monotonic() - started

    def find(self, employee_ids: Sequence[str]) -> dict[str, str]:
        """employee_id -> account id, for those of `employee_ids` with an account."""
        return {eid: self.driver.account_id(handle) for eid, handle in self._lookup(employee_ids).items()}

    def _lookup(self, employee_ids: Sequence[str]) -> dict[str, Handle]:
        found: dict[str, Handle] = {}
        for chunk in chunked(list(dict.fromkeys(employee_ids)), self.driver.lookup_chunk):
            found.update(self.driver.lookup(chunk))
        self._handles.update(found)
        return found

    # -- apply -----------------------------------------------------------------------

    def apply(self, operations: Sequence[Operation]) -> Applied:
        """Apply the operations with retries; one Outcome per operation, in order."""
        ops = list(operations)
        result = Applied(outcomes=[Outcome(op) for op in ops])
        state = _State(len(ops))
        started = self._clock()
        number = 0
        while pending := state.pending():
            if self._breaker.open:
                down = Retryable(f"{self.name}: circuit breaker open after repeated failures", maybe_applied=False)
                for i in pending:
                    result.outcomes[i] = Outcome(ops[i], error=down)
                break
            number += 1
            errors = self._round(ops, pending, state, result)
            if not state.pending():
                break
            delay = backoff(self._retry, number, errors, self._jitter())
            if self._clock() - started + delay > self._retry.max_seconds:
                break
            self._sleep(delay)
            result.waited += delay
        result.down = self._breaker.open
        return result

    def _round(self, ops: list[Operation], pending: list[int], state: _State, result: Applied) -> list[TargetError]:
        """One round: settle unsure creates, send the rest; returns the round's errors."""
        held, lookup_error = self._settle(ops, pending, state, result)
        sending = [i for i in pending if not state.final[i] and i not in held]
        errors: list[TargetError] = [lookup_error] if lookup_error else []
        succeeded = result.settled > state.settled_before
        state.settled_before = result.settled
        if sending:
            trial = Round(self.driver, [ops[i] for i in sending], self._handles, state.failed_creates)
            trial.run()
            own = [(i, trial.outcomes[p]) for p, i in enumerate(sending) if not trial.propagated[p]]
            relying = [(i, trial.outcomes[p]) for p, i in enumerate(sending) if trial.propagated[p]]
            for i, outcome in own:
                result.retried += i in state.sent
                state.sent.add(i)
                result.outcomes[i] = outcome
                succeeded = succeeded or outcome.ok
                if outcome.error is not None:
                    errors.append(outcome.error)
                    state.tried(i, ops[i], outcome.error, self._retry.attempts)
                else:
                    state.final[i] = True
            for i, outcome in relying:  # after `own`: a create may have failed for good meanwhile
                result.outcomes[i] = outcome
                state.relied(i, ops[i], outcome.error)
        for i in held:
            result.outcomes[i] = Outcome(ops[i], error=_unsettled(ops[i], lookup_error))
        all_retryable = bool(errors) and all(isinstance(e, Retryable) for e in errors)
        self._breaker.record(succeeded=succeeded, failed=all_retryable)
        return errors

    def _settle(
        self, ops: list[Operation], pending: list[int], state: _State, result: Applied
    ) -> tuple[set[int], TargetError | None]:
        """Look up the creates that may have been applied: found ones are settled (done,
        no second account), the others are sent again. When the lookup fails, returns
        those creates and what relies on them (held back), and the lookup's error."""
        asking = [i for i in pending if i in state.unsure]
        if not asking:
            return set(), None
        try:
            found = self._lookup([ops[i].employee_id for i in asking])
        except TargetError as exc:
            return _relying_on(ops, pending, asking), exc
        for i in asking:
            state.unsure.discard(i)
            handle = found.get(ops[i].employee_id)
            if handle is not None:
                result.outcomes[i] = Outcome(ops[i], account_id=self.driver.account_id(handle))
                state.final[i] = True
                result.settled += 1
        return set(), None


class _State:
    """Per operation of one `apply`: settled for good, tries spent, sent at least once,
    a create that may have been applied; and the creates that failed for good."""

    def __init__(self, size: int) -> None:
        self.final = [False] * size
        self.tries = [0] * size
        self.sent: set[int] = set()
        self.unsure: set[int] = set()
        self.failed_creates: dict[str, TargetError] = {}
        self.settled_before = 0

    def pending(self) -> list[int]:
        return [i for i, done in enumerate(self.final) if not done]

    def tried(self, index: int, op: Operation, error: TargetError, attempts: int) -> None:
        """The operation's own try failed."""
        self.tries[index] += 1
        retry = isinstance(error, Retryable) and self.tries[index] < attempts
        if isinstance(op, Create) and isinstance(error, Retryable) and error.maybe_applied:
            self.unsure.add(index)
        if not retry:
            self._give_up(index, op, error)

    def relied(self, index: int, op: Operation, error: TargetError | None) -> None:
        """The operation failed because one it relies on did: it fails for good when
        that failure is final (or not retryable), else it waits for the next round."""
        gone = op.manager() in self.failed_creates or (
            not isinstance(op, Create) and op.employee_id in self.failed_creates
        )
        if error is not None and (gone or not isinstance(error, Retryable)):
            self._give_up(index, op, error)

    def _give_up(self, index: int, op: Operation, error: TargetError) -> None:
        self.final[index] = True
        self.unsure.discard(index)
        if isinstance(op, Create):
            self.failed_creates[op.employee_id] = error


def _relying_on(ops: list[Operation], pending: list[int], creates: list[int]) -> set[int]:
    """`creates` and every pending operation relying on one of them (its own create or
    its manager's create, transitively: plan order puts managers first)."""
    held = set(creates)
    waiting = {ops[i].employee_id for i in creates}
    for i in pending:
        op = ops[i]
        if i in held:
            continue
        if op.manager() in waiting or (not isinstance(op, Create) and op.employee_id in waiting):
            held.add(i)
            if isinstance(op, Create):
                waiting.add(op.employee_id)
    return held


def _unsettled(op: Operation, error: TargetError | None) -> TargetError:
    """The error of an operation held back because a lost create could not be looked up."""
    return Retryable(f"{op.target}: {op.action.value} of {op.employee_id} waits: the reply to a create was lost"
                     f" and the account could not be looked up: {error}")  # fmt: skip
