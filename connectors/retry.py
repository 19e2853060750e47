"""The retry policy's arithmetic, shared by every connector: the backoff between tries,
the circuit breaker, and retrying a read.

Only `Retryable` failures are tried again. How writes are retried (per operation, with
lost replies settled) is the kernel's job (`connectors.kernel`); a read is simply
called again, being safe to repeat.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

from connectors.base import Retryable, TargetError
from jml.config import RetryPolicy

T = TypeVar("T")


class CircuitBreaker:
    """Counts tries in a row where nothing succeeded; open (the target is down) at the
    threshold. One per target and run."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self.failures = 0

    @property
    def open(self) -> bool:
        return self.failures >= self.threshold

    def record(self, *, succeeded: bool, failed: bool) -> None:
        """Note one try: any success closes the count; a try where everything failed
        retryably adds to it (other tries leave it as it is)."""
        if succeeded:
            self.failures = 0
        elif failed:
            self.failures += 1


def backoff(policy: RetryPolicy, attempt: int, errors: list[TargetError], jitter: float) -> float:
    """Seconds to wait before try `attempt + 1`: exponential with jitter (x0.5 to x1.5),
    capped, but never shorter than a Retry-After the target asked for."""
    delay = min(policy.max_backoff_seconds, policy.backoff_seconds * 2 ** (attempt - 1)) * (0.5 + jitter)
    asked = [e.retry_after for e in errors if isinstance(e, Retryable) and e.retry_after is not None]
    return max([delay, *asked])


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
