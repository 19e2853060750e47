"""What the stages of one run share: config, policy, ledger, connectors, the run's id.

Built once per flow run by `open_context`; tasks receive it as their first argument.
It is a plain object, so Prefect passes it by reference without looking inside.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path

from connectors.base import Target
from connectors.factory import build_target
from connectors.retry import CircuitBreaker, call_with_retries
from jml.config import Config, load_config
from jml.ledger import Ledger, LockHolder, RunLocked
from jml.model import Snapshot
from jml.policy import Policy, PolicyEngine, load_policy


@dataclass(eq=False)
class RunContext:
    """One run's collaborators. `run_id` is None for a plan that records nothing."""

    config: Config
    policy: Policy
    ledger: Ledger
    as_of: date
    dry_run: bool = False
    override_safety: bool = False
    actor: str = "jml"
    run_id: int | None = None
    lock_holder: LockHolder | None = None
    _targets: dict[str, Target] = field(default_factory=dict)
    _breakers: dict[str, CircuitBreaker] = field(default_factory=dict)

    @cached_property
    def engine(self) -> PolicyEngine:
        return PolicyEngine(self.policy)

    def target(self, name: str) -> Target:
        """The connector of a target, built on first use and kept for the run."""
        if name not in self._targets:
            self._targets[name] = build_target(self.config.target(name))
        return self._targets[name]

    def read(self, name: str) -> Snapshot:
        """One full read of a target, retried on transient failures per its policy."""
        return call_with_retries(self.target(name).read, self.config.target(name).retry)

    def breaker(self, name: str) -> CircuitBreaker:
        """The circuit breaker of a target, shared by all its batches in the run."""
        if name not in self._breakers:
            policy = self.config.target(name).retry
            self._breakers[name] = CircuitBreaker(policy.breaker_threshold)
        return self._breakers[name]

    def managed(self) -> dict[str, set[str]]:
        """Target -> the entitlements the policy manages there."""
        return {t.name: self.policy.managed(t.name) for t in self.config.targets}

    @contextmanager
    def run_lock(self) -> Iterator[None]:
        """Hold the ledger's run lock for the block: wait up to `lock.wait_seconds` for
        it, else raise RunLocked naming the holder."""
        settings = self.config.lock
        holder = LockHolder.this_process()
        deadline = time.monotonic() + settings.wait_seconds
        while (current := self.ledger.acquire_lock(holder, settings.ttl_seconds)) is not None:
            if time.monotonic() >= deadline:
                raise RunLocked(
                    f"another run holds the ledger ({current.holder}, since"
                    f" {current.acquired_at:%Y-%m-%d %H:%M:%S} UTC, lease until"
                    f" {current.expires_at:%H:%M:%S} UTC); try again when it is done"
                )
            time.sleep(1.0)
        self.lock_holder = holder
        try:
            yield
        finally:
            self.ledger.release_lock(holder)
            self.lock_holder = None

    def renew_lock(self) -> None:
        """Extend the run lock's lease (between stages and batches); no-op without it."""
        if self.lock_holder is not None:
            self.ledger.renew_lock(self.lock_holder, self.config.lock.ttl_seconds)

    def close(self) -> None:
        for target in self._targets.values():
            target.close()
        self._targets.clear()
        self.ledger.close()


def load_settings(config_path: str | Path) -> tuple[Config, Policy]:
    """The config and its policy, checked; raises ConfigError with one line."""
    config = load_config(config_path)
    policy = load_policy(config.resolve(config.policy), {t.name for t in config.targets})
    return config, policy


def open_context(
    config_path: str | Path,
    *,
    as_of: date,
    dry_run: bool = False,
    override_safety: bool = False,
    actor: str = "jml",
) -> RunContext:
    """Load config and policy, open the ledger; the caller closes the context."""
    config, policy = load_settings(config_path)
    ledger = Ledger.open(config.state_url)
    return RunContext(config, policy, ledger, as_of, dry_run, override_safety, actor)
