"""The kernel's retry and settling rules, against an in-memory driver whose writes and
lookups follow a script (the faults they need on demand: a lost reply after the write,
a 503 on the settling lookup, Retry-After). The same faults are injected for real
against scim2-server through a fault-injecting proxy: a lost reply to every create in
tests/connectors/test_lost_replies.py, random faults over two days in
tests/e2e/test_faults.py.

The first tests pin the fault finding of issue 8 down deterministically: tries spent
by operations that were never sent (waiting for a manager's create, or for a lookup
that failed) made creates run out of attempts in seconds under a 25 % fault rate.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pytest

from connectors.base import Conflict, GroupMissing, Permanent, Retryable, TargetSchema
from connectors.kernel import Driver, Kernel, Reading
from connectors.retry import CircuitBreaker, backoff, call_with_retries
from jml.config import RetryPolicy
from jml.model import ACCOUNT_ATTRIBUTES, Account, Snapshot
from jml.operations import Create, Grant, Operation

FAST = RetryPolicy(attempts=3, backoff_seconds=0.01, max_backoff_seconds=0.01, max_seconds=10)
LOST = "lost"  # the target acted, the reply never came


def refused(status: int = 503) -> Retryable:
    """What a 503 or 429 says: try later; nothing was done."""
    return Retryable(f"HTTP {status}", status=status, maybe_applied=False)


class Memory(Driver):
    """An in-memory target. `script[(employee_id, action)]` lists what each try of that
    write does: None applies it, LOST applies it and loses the reply, an exception is
    raised without applying. `lookups` lists the same for each `lookup` call."""

    name = "app"
    schema = TargetSchema(frozenset(ACCOUNT_ATTRIBUTES))

    def __init__(self, script: dict | None = None, lookups: list | None = None) -> None:
        self.script = script or {}
        self.lookups = list(lookups or [])
        self.accounts: dict[str, dict[str, Any]] = {}  # handle -> account
        self.groups: dict[str, set[str]] = {}
        self.sent: list[tuple[str, str]] = []  # (action, employee_id) of every write tried
        self.looked_up: list[list[str]] = []

    def _try(self, action: str, employee_id: str) -> object:
        self.sent.append((action, employee_id))
        steps = self.script.get((employee_id, action)) or []
        step = steps.pop(0) if steps else None
        if isinstance(step, Exception):
            raise step
        return step

    def read(self) -> Reading:
        accounts = [
            Account(h, a["eid"], a["active"], dict.fromkeys(ACCOUNT_ATTRIBUTES) | dict(a["values"]),
                    {g for g, members in self.groups.items() if h in members})
            for h, a in self.accounts.items()
        ]  # fmt: skip
        return Reading(Snapshot(self.name, accounts, set(self.groups)), {a["eid"]: h for h, a in self.accounts.items()})

    def read_accounts(
        self, employee_ids: Sequence[str], handles: Mapping[str, str], groups: Collection[str] | None = None
    ) -> Reading:
        reading = self.read()
        accounts = [a for a in reading.snapshot.accounts if a.external_id in employee_ids]
        handles = {eid: h for eid, h in reading.handles.items() if eid in employee_ids}
        return Reading(Snapshot(self.name, accounts, reading.snapshot.groups), handles)

    def lookup(self, employee_ids: Sequence[str]) -> dict[str, str]:
        self.looked_up.append(list(employee_ids))
        step = self.lookups.pop(0) if self.lookups else None
        if isinstance(step, Exception):
            raise step
        return {a["eid"]: h for h, a in self.accounts.items() if a["eid"] in employee_ids}

    def resolve(self, employee_id: str, account_id: str) -> str | None:
        return account_id if account_id in self.accounts else None

    def account_id(self, handle: str) -> str:
        return handle

    def create(self, employee_id: str, values: Mapping[str, Any], active: bool) -> str:
        step = self._try("create", employee_id)
        handle = f"id-{employee_id}"
        self.accounts[handle] = {"eid": employee_id, "values": dict(values), "active": active}
        if step == LOST:
            raise Retryable("connection dropped")
        return handle

    def update(self, handle: str, employee_id: str, values: Mapping[str, Any], link: bool) -> str:
        self._try("update", employee_id)
        self.accounts[handle]["values"].update(values)
        return handle

    def set_active(self, handle: str, employee_id: str, active: bool) -> str:
        self._try("enable" if active else "disable", employee_id)
        self.accounts[handle]["active"] = active
        return handle

    def delete(self, handle: str, employee_id: str) -> None:
        self._try("delete", employee_id)
        self.accounts.pop(handle, None)

    def change_members(self, group: str, changes: Sequence[tuple[bool, str]]) -> None:
        for add, handle in changes:
            self._try("grant" if add else "revoke", self.accounts[handle]["eid"])
        if group not in self.groups:
            raise GroupMissing(f"no group {group}")
        for add, handle in changes:
            (self.groups[group].add if add else self.groups[group].discard)(handle)

    def create_group(self, group: str, members: Sequence[str]) -> bool:
        self.groups[group] = set(members)
        return True

    def close(self) -> None:
        pass


def create(eid: str, manager: str | None = None) -> Operation:
    attributes = {"user_name": f"{eid.lower()}@example.com", "manager": manager}
    return Create(target="app", employee_id=eid, reason="joiner", attributes=attributes)


def grant(eid: str, name: str) -> Operation:
    return Grant(target="app", employee_id=eid, reason="rule", entitlement=name)


def kernel(driver: Memory, policy: RetryPolicy = FAST) -> tuple[Kernel, list[float]]:
    """The kernel over `driver` with a fake clock that the fake sleep advances."""
    waits: list[float] = []
    target = Kernel(driver, policy, sleep=waits.append, clock=lambda: sum(waits), jitter=lambda: 0.5)
    return target, waits


# -- the fault finding: tries are spent only by operations that were sent ----------------


def test_a_failing_manager_create_does_not_spend_its_reports_tries():
    # E1 is refused on its first two tries (of three); E2 waits for it, then is refused once.
    driver = Memory({("E1", "create"): [refused(), refused()], ("E2", "create"): [refused()]})
    target, _ = kernel(driver)
    applied = target.apply([create("E1"), create("E2", manager="E1")])
    assert all(o.ok for o in applied.outcomes), [str(o.error) for o in applied.outcomes]
    assert driver.sent.count(("create", "E2")) == 2  # sent only once its manager existed
    assert driver.accounts["id-E2"]["values"]["manager"] == "id-E1"


def test_a_failing_settle_lookup_does_not_spend_the_creates_tries():
    # E1's reply is lost; the lookup that settles it fails twice before it answers.
    driver = Memory({("E1", "create"): [LOST]}, lookups=[refused(), refused()])
    target, _ = kernel(driver, RetryPolicy(attempts=2, backoff_seconds=0.01, breaker_threshold=5))
    applied = target.apply([create("E1"), grant("E1", "staff"), create("E2", manager="E1")])
    assert all(o.ok for o in applied.outcomes), [str(o.error) for o in applied.outcomes]
    assert applied.settled == 1 and driver.sent.count(("create", "E1")) == 1, "never sent twice"
    assert len(driver.looked_up) == 3
    assert driver.accounts["id-E2"]["values"]["manager"] == "id-E1"


def test_a_create_the_target_refused_is_sent_again_without_a_lookup():
    driver = Memory({("E1", "create"): [refused(429)]})
    target, _ = kernel(driver)
    assert target.apply([create("E1")]).outcomes[0].ok
    assert driver.looked_up == [] and driver.sent == [("create", "E1"), ("create", "E1")]


def test_what_relies_on_a_create_that_failed_for_good_fails_like_it_unsent():
    driver = Memory({("E1", "create"): [refused()] * 5})
    target, _ = kernel(driver)
    outcomes = target.apply([create("E1"), create("E2", manager="E1"), grant("E1", "staff")]).outcomes
    assert [type(o.error) for o in outcomes] == [Retryable, Retryable, Retryable]
    assert "manager's account was not created" in str(outcomes[1].error)
    assert driver.sent == [("create", "E1")] * FAST.attempts


# -- the rules ----------------------------------------------------------------------------


def test_transient_failures_are_retried_until_applied():
    driver = Memory({("A", "create"): [refused(), refused()]})
    target, waits = kernel(driver)
    applied = target.apply([create("A"), create("B")])
    assert all(o.ok for o in applied.outcomes)
    assert driver.sent == [("create", "A"), ("create", "B"), ("create", "A"), ("create", "A")]
    assert applied.retried == 2 and len(waits) == 2


def test_a_lost_reply_to_a_create_is_settled_not_sent_again():
    driver = Memory({("A", "create"): [LOST]})
    target, _ = kernel(driver)
    applied = target.apply([create("A")])
    assert applied.outcomes[0].ok and applied.outcomes[0].account_id == "id-A"
    assert driver.sent == [("create", "A")] and applied.settled == 1


def test_permanent_and_conflict_are_not_retried():
    driver = Memory({("A", "create"): [Permanent("400 bad")], ("B", "create"): [Conflict("409")]})
    target, waits = kernel(driver)
    outcomes = target.apply([create("A"), create("B")]).outcomes
    assert [type(o.error) for o in outcomes] == [Permanent, Conflict]
    assert driver.sent == [("create", "A"), ("create", "B")] and waits == []


def test_attempts_are_capped():
    driver = Memory({("A", "create"): [refused()] * 10})
    target, _ = kernel(driver, RetryPolicy(attempts=4, backoff_seconds=0.01, breaker_threshold=99))
    outcomes = target.apply([create("A")]).outcomes
    assert isinstance(outcomes[0].error, Retryable) and len(driver.sent) == 4


def test_retry_after_is_honoured_and_total_time_capped():
    policy = RetryPolicy(attempts=10, backoff_seconds=0.01, max_seconds=5, breaker_threshold=99)
    assert backoff(policy, 1, [Retryable("429", retry_after=3)], 0.5) == 3
    driver = Memory({("A", "create"): [Retryable("429", retry_after=3, maybe_applied=False)] * 10})
    target, waits = kernel(driver, policy)
    target.apply([create("A")])
    assert waits == [3]  # a second wait of 3 s would pass max_seconds


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    policy = RetryPolicy(backoff_seconds=1, max_backoff_seconds=5)
    assert [backoff(policy, n, [], 0.5) for n in (1, 2, 3, 4)] == [1, 2, 4, 5]
    assert backoff(policy, 1, [], 0.0) == 0.5 and backoff(policy, 1, [], 1.0) == 1.5


def test_breaker_opens_after_repeated_total_failure_and_stops_calling():
    driver = Memory({("A", "create"): [refused()] * 10})
    target, _ = kernel(driver, RetryPolicy(attempts=10, backoff_seconds=0.01, breaker_threshold=2))
    first = target.apply([create("A")])
    assert first.down and len(driver.sent) == 2
    later = target.apply([create("B")])
    assert "circuit breaker open" in str(later.outcomes[0].error) and len(driver.sent) == 2


def test_a_breaker_closes_again_on_any_success():
    breaker = CircuitBreaker(2)
    breaker.record(succeeded=False, failed=True)
    breaker.record(succeeded=True, failed=True)
    breaker.record(succeeded=False, failed=True)
    assert not breaker.open


def test_a_missing_group_is_created_with_the_members_left_in_it():
    driver = Memory()
    target, _ = kernel(driver)
    outcomes = target.apply([create("A"), create("B"), grant("A", "vpn"), grant("B", "vpn")]).outcomes
    assert all(o.ok for o in outcomes)
    assert driver.groups == {"vpn": {"id-A", "id-B"}}


def test_reads_are_retried_then_the_last_error_is_raised():
    answers: list[Any] = [refused(), refused(), "snapshot"]

    def read():
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert call_with_retries(read, FAST, sleep=lambda s: None) == "snapshot"
    answers[:] = [refused()] * 10
    with pytest.raises(Retryable):
        call_with_retries(read, FAST, sleep=lambda s: None)
    assert len(answers) == 10 - FAST.attempts


@pytest.mark.parametrize("own", [False, True], ids=["kernel-retries", "driver-retries"])
def test_the_kernel_tries_a_read_again_unless_the_driver_retries_its_own_requests(own: bool):
    driver = Memory()
    driver.retries_reads = own
    calls: list[int] = []
    full_read = driver.read

    def flaky() -> Reading:
        calls.append(1)
        if len(calls) == 1:
            raise refused()
        return full_read()

    driver.read = flaky  # type: ignore[method-assign]
    target, _ = kernel(driver)
    if own:
        with pytest.raises(Retryable):
            target.read()
    else:
        target.read()
    assert len(calls) == (1 if own else 2)


def test_read_accounts_gives_those_persons_and_remembers_their_handles_beside_the_others():
    driver = Memory()
    target, _ = kernel(driver)
    assert all(o.ok for o in target.apply([create("A"), create("B"), grant("A", "vpn")]).outcomes)
    target.read()  # every handle known
    part = target.read_accounts(["A", "NOPE", "A"])
    assert [(a.external_id, a.entitlements) for a in part.accounts] == [("A", {"vpn"})]
    assert target.apply([grant("B", "vpn"), grant("A", "wifi")]).outcomes[1].ok
    assert driver.looked_up == [], "B's handle, from the full read, was kept; A's came from the read-back"
