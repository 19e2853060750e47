"""The retry engine's rules, against a scripted in-memory target (the faults it needs —
a lost reply after the write, Retry-After — are injected for real against scim2-server
in tests/connectors/test_faults.py)."""

from __future__ import annotations

from connectors.base import Conflict, Outcome, Permanent, Retryable
from connectors.retry import CircuitBreaker, apply_with_retries, backoff
from jml.config import RetryPolicy
from jml.model import Action, Operation


def op(eid: str, action: Action = Action.CREATE) -> Operation:
    return Operation("app", eid, action, {"attributes": {}, "active": True}, "test")


class Scripted:
    """Answers each apply from a script of error-or-None per operation and try; records
    what was sent; `created` are the accounts that exist (a lost reply still creates)."""

    name = "app"

    def __init__(self, script: dict[str, list]) -> None:
        self.script = script
        self.sent: list[list[str]] = []
        self.created: dict[str, str] = {}

    def apply(self, operations):
        self.sent.append([o.employee_id for o in operations])
        outcomes = []
        for o in operations:
            step = self.script[o.employee_id].pop(0)
            if step == "lost":  # the target acted, the reply never came
                self.created[o.employee_id] = f"id-{o.employee_id}"
                outcomes.append(Outcome(o, error=Retryable("connection dropped")))
            elif step is None:
                self.created[o.employee_id] = f"id-{o.employee_id}"
                outcomes.append(Outcome(o, account_id=f"id-{o.employee_id}"))
            else:
                outcomes.append(Outcome(o, error=step))
        return outcomes

    def find(self, employee_ids):
        return {e: self.created[e] for e in employee_ids if e in self.created}


FAST = RetryPolicy(attempts=4, backoff_seconds=0.01, max_backoff_seconds=0.01, max_seconds=10)


def run(target, ops, policy=FAST, breaker=None):
    """Apply with a fake clock that the fake sleep advances; return the waits too."""
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)

    outcomes, stats = apply_with_retries(
        target, ops, policy, breaker or CircuitBreaker(policy.breaker_threshold),
        sleep=sleep, clock=lambda: sum(waits), jitter=lambda: 0.5,
    )
    return outcomes, stats, waits


def test_transient_failures_are_retried_until_applied():
    target = Scripted({"A": [Retryable("503"), Retryable("503"), None], "B": [None]})
    outcomes, stats, waits = run(target, [op("A"), op("B")])
    assert all(o.ok for o in outcomes)
    assert target.sent == [["A", "B"], ["A"], ["A"]] and stats.retried == 2 and len(waits) == 2


def test_a_lost_reply_to_a_create_is_settled_not_sent_again():
    target = Scripted({"A": ["lost"]})
    outcomes, stats, _ = run(target, [op("A")])
    assert outcomes[0].ok and outcomes[0].account_id == "id-A"
    assert target.sent == [["A"]] and stats.settled == 1


def test_permanent_and_conflict_are_not_retried():
    target = Scripted({"A": [Permanent("400 bad")], "B": [Conflict("409")]})
    outcomes, stats, waits = run(target, [op("A"), op("B")])
    assert [type(o.error) for o in outcomes] == [Permanent, Conflict]
    assert target.sent == [["A", "B"]] and waits == []


def test_attempts_are_capped():
    target = Scripted({"A": [Retryable("503")] * 10})
    outcomes, _, _ = run(target, [op("A")], breaker=CircuitBreaker(99))
    assert isinstance(outcomes[0].error, Retryable) and len(target.sent) == FAST.attempts


def test_retry_after_is_honoured_and_total_time_capped():
    policy = RetryPolicy(attempts=10, backoff_seconds=0.01, max_seconds=5)
    assert backoff(policy, 1, [Retryable("429", retry_after=3)], 0.5) == 3
    target = Scripted({"A": [Retryable("429", retry_after=3)] * 10})
    _, _, waits = run(target, [op("A")], policy, CircuitBreaker(99))
    assert waits == [3]  # a second wait of 3 s would pass max_seconds


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy = RetryPolicy(backoff_seconds=1, max_backoff_seconds=5)
    assert [backoff(policy, n, [], 0.5) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    assert backoff(policy, 1, [], 0.0) == 0.5 and backoff(policy, 1, [], 1.0) == 1.5


def test_breaker_opens_after_repeated_total_failure_and_stops_calling():
    breaker = CircuitBreaker(2)
    target = Scripted({"A": [Retryable("down")] * 10, "B": [None]})
    outcomes, _, _ = run(target, [op("A")], breaker=breaker)
    assert breaker.open and len(target.sent) == 2
    later, _, _ = run(target, [op("B")], breaker=breaker)
    assert "circuit breaker open" in str(later[0].error) and len(target.sent) == 2


def test_a_create_is_not_sent_again_while_its_outcome_cannot_be_settled():
    class Unanswering(Scripted):
        def __init__(self, script):
            super().__init__(script)
            self.finds = 0

        def find(self, employee_ids):
            self.finds += 1
            if self.finds == 1:
                raise Retryable("503 on the settle query")
            return super().find(employee_ids)

    target = Unanswering({"A": ["lost"]})
    outcomes, stats, _ = run(target, [op("A")])
    assert outcomes[0].ok and stats.settled == 1
    assert target.sent == [["A"]], "never sent twice"


def test_reads_are_retried_then_the_last_error_is_raised():
    from connectors.retry import call_with_retries

    answers = [Retryable("503"), Retryable("503"), "snapshot"]

    def read():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert call_with_retries(read, FAST, sleep=lambda s: None) == "snapshot"
    answers[:] = [Retryable("503")] * 10
    try:
        call_with_retries(read, FAST, sleep=lambda s: None)
    except Retryable:
        assert len(answers) == 10 - FAST.attempts
    else:
        raise AssertionError("the last error must be raised")
