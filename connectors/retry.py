"""Apply operations to a target with retries, settling lost replies, behind a circuit
breaker.

Only `Retryable` outcomes are tried again. Before a create is sent again it is settled:
`target.find` tells whether the account exists after all (the reply was lost after the
target acted), and then it counts as applied, never as a second account. Every other
write is idempotent by the Target contract and is simply sent again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from connectors.base import Outcome, Retryable, Target, TargetError
from jml.config import RetryPolicy
from jml.model import Action, Operation

T = TypeVar("T")


@dataclass(slots=True)
class RetryStats:
    """What the retries of one call cost: operations sent again, creates found applied
    after a lost reply, and seconds waited."""

    retried: int = 0
    settled: int = 0
    waited: float = 0.0


class CircuitBreaker:
    """Counts tries in a row where nothing succeeded; open (the target is down) at the
    threshold. One per target and run."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.failures = 0

    @property
    def open(self) -> bool:
        return self.failures >= self.threshold

    def record(self, outcomes: list[Outcome]) -> None:
        """Note one try: any success closes the count, all-retryable adds to it."""
        if any(o.ok for o in outcomes):
            self.failures = 0
        elif outcomes and all(isinstance(o.error, Retryable) for o in outcomes):
            self.failures += 1


def backoff(policy: RetryPolicy, attempt: int, errors: list[TargetError], jitter: float) -> float:
    """Seconds to wait before try `attempt + 1`: exponential with jitter (x0.5 to x1.5),
    capped, but never shorter than a Retry-After the target asked for."""
    delay = min(policy.max_backoff_seconds, policy.backoff_seconds * 2 ** (attempt - 1)) * (0.5 + jitter)
    asked = [e.retry_after for e in errors if isinstance(e, Retryable) and e.retry_after is not None]
    return max([delay, *asked])


def apply_with_retries(
    target: Target,
    operations: list[Operation],
    policy: RetryPolicy,
    breaker: CircuitBreaker,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    jitter: Callable[[], float] = random.random,
) -> tuple[list[Outcome], RetryStats]:
    """One Outcome per operation, in order, after at most `policy.attempts` tries within
    `policy.max_seconds`. A create of unknown outcome is never sent again before `find`
    says it did not happen. With the breaker open nothing is sent, and what is left
    comes back Retryable ("circuit breaker open")."""
    outcomes: list[Outcome | None] = [None] * len(operations)
    pending = list(range(len(operations)))
    stats = RetryStats()
    started = clock()
    for attempt in range(1, policy.attempts + 1):
        if breaker.open:
            down = Retryable(f"{target.name}: circuit breaker open after repeated failures")
            for i in pending:
                outcomes[i] = Outcome(operations[i], error=down)
            break
        sending, unsettled = pending, []
        if attempt > 1:
            sending, unsettled = _settle_creates(target, operations, pending, outcomes, stats)
            stats.retried += len(sending)
        results = _apply(target, [operations[i] for i in sending]) if sending else []
        breaker.record(results)
        for i, result in zip(sending, results, strict=True):
            outcomes[i] = result
        pending = unsettled + [i for i in sending if isinstance(outcomes[i].error, Retryable)]
        if not pending or attempt == policy.attempts:
            break
        delay = backoff(policy, attempt, [outcomes[i].error for i in pending], jitter())
        if clock() - started + delay > policy.max_seconds:
            break
        sleep(delay)
        stats.waited += delay
    return list(outcomes), stats


def _apply(target: Target, operations: list[Operation]) -> list[Outcome]:
    """The target's outcomes; a target that can't be talked to at all fails them all."""
    try:
        return target.apply(operations)
    except TargetError as exc:
        error = exc if isinstance(exc, Retryable) else Retryable(str(exc))
        return [Outcome(op, error=error) for op in operations]


def _settle_creates(
    target: Target,
    operations: list[Operation],
    pending: list[int],
    outcomes: list[Outcome | None],
    stats: RetryStats,
) -> tuple[list[int], list[int]]:
    """Settle the pending creates with `target.find`: those whose account exists are
    applied. Returns (what to send now, creates still of unknown outcome because the
    target could not be asked: they wait for the next try, unsent)."""
    creates = [i for i in pending if operations[i].action is Action.CREATE]
    if not creates:
        return pending, []
    try:
        found = target.find([operations[i].employee_id for i in creates])
    except TargetError:
        return [i for i in pending if i not in set(creates)], creates
    settled = {i for i in creates if operations[i].employee_id in found}
    for i in settled:
        outcomes[i] = Outcome(operations[i], account_id=found[operations[i].employee_id])
    stats.settled += len(settled)
    return [i for i in pending if i not in settled], []


def call_with_retries(
    call: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    jitter: Callable[[], float] = random.random,
) -> T:
    """`call()` (a read: safe to repeat), tried again on Retryable within the policy;
    the last error is raised when the tries or the time run out."""
    started = clock()
    for attempt in range(1, policy.attempts + 1):
        try:
            return call()
        except Retryable as exc:
            delay = backoff(policy, attempt, [exc], jitter())
            if attempt == policy.attempts or clock() - started + delay > policy.max_seconds:
                raise
            sleep(delay)
    raise AssertionError("unreachable: the loop returns or raises")
