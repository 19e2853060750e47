"""What every stage of one run is given: the `Run`, and how one is opened and closed.

`open_run(config_path, as_of=..., record=...)` loads and checks the config, its
policy and its NHI registry (ConfigError, one line), opens the ledger, and yields a `Run`:
- `record=False` (`jml plan`, `jml preview`): a dry run recorded nowhere (`run_id` None);
- `record=True` (every flow): the ledger's run lock is taken (waiting up to
  `lock.wait_seconds`, else RunLocked naming the holder) and renewed by a heartbeat
  while the run holds it, and the run is recorded; `Run.lock_lost()` is the fencing
  check every write makes first (`pipeline.lease`). `dry_run` records nothing but the
  run (hr-sync --dry-run); `read_only` records what the run finds but says in the
  ledger that it wrote nothing to any target (a reconcile that does not fix);
  `read_in_full` reads every target in full, whatever the ledger knows of it (reconcile).
On the way out the targets' connections and the ledger are closed and the lock released,
whatever happened. A `Run` is a frozen value: its parameters never change; its
collaborators (the ledger, the targets) are the stateful parts.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from jml.config import AdTarget, Config, load_config
from jml.config.attributes import compiled
from jml.ledger import Ledger
from jml.mapping import Compiled
from jml.nhi import RegistryEntry
from jml.policy import Policy, PolicyEngine, load_policy
from pipeline.collection import rarer_full_collections
from pipeline.lease import Lease, hold
from pipeline.registry import read_registry

if TYPE_CHECKING:
    from connectors.base import Target

__all__ = ["Lease", "Run", "Settings", "Targets", "load_settings", "open_run"]

LOG = logging.getLogger("jml")


@dataclass(frozen=True)
class Settings:
    """The config, its policy and its registry of NHIs, checked, with the policy engine
    built once."""

    config: Config
    policy: Policy
    engine: PolicyEngine = field(compare=False)
    nhis: tuple[RegistryEntry, ...] = ()

    def managed(self) -> dict[str, set[str]]:
        """Target -> the entitlements the policy manages there."""
        return {t.name: self.policy.managed(t.name) for t in self.config.targets}

    def mapped(self) -> dict[str, dict[str, Compiled]]:
        """Target -> its mapped attributes (`attributes`; an AD target's last day of
        access too), compiled."""
        return {
            t.name: compiled(t.mapped_attributes() if isinstance(t, AdTarget) else t.attributes)
            for t in self.config.targets
        }

    def registered(self) -> dict[str, set[str]]:
        """Target -> the account keys (`jml.nhi.account_key`) of its registered NHIs."""
        found: dict[str, set[str]] = {}
        for entry in self.nhis:
            found.setdefault(entry.target, set()).add(entry.key[1])
        return found


def load_settings(config_path: str | Path) -> Settings:
    """The config, its policy and its NHI registry, checked; ConfigError with one line
    otherwise."""
    config = load_config(config_path)
    policy = load_policy(config.resolve(config.policy), {t.name for t in config.targets})
    return Settings(config, policy, PolicyEngine(policy), read_registry(config))


class Targets:
    """The run's target connectors, each built on first use and kept for the run (its
    kernel remembers accounts and counts failures across the run's batches)."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._built: dict[str, Target] = {}

    def __getitem__(self, name: str) -> Target:
        if name not in self._built:
            from connectors.factory import build_target  # the drivers (and pandas) only once a target is used

            self._built[name] = build_target(self._config.target(name))
        return self._built[name]

    def close(self) -> None:
        for target in self._built.values():
            target.close()
        self._built.clear()


@dataclass(frozen=True)
class Run:
    """One run's parameters and collaborators (see the module docstring)."""

    settings: Settings
    ledger: Ledger
    targets: Targets
    as_of: date
    dry_run: bool = False
    override_safety: bool = False
    actor: str = "jml"
    read_in_full: bool = False
    run_id: int | None = None
    lease: Lease | None = None
    log: logging.Logger | logging.LoggerAdapter = field(default=LOG, compare=False)

    @property
    def config(self) -> Config:
        return self.settings.config

    @property
    def id(self) -> int:
        """The run's id in the ledger: only a recorded run writes there."""
        if self.run_id is None:
            raise RuntimeError("this run is recorded nowhere (jml plan): it cannot write to the ledger")
        return self.run_id

    @property
    def recorded(self) -> bool:
        """Whether the run is recorded in the ledger (not `jml plan`'s)."""
        return self.run_id is not None

    def lock_lost(self) -> str | None:
        """The fencing check: None while the run holds its lock (or needs none, `jml
        plan`); else the one line saying it was lost, and the run writes nothing more."""
        return self.lease.check() if self.lease is not None else None

    def logging_to(self, log: logging.Logger | logging.LoggerAdapter) -> Run:
        """The same run, logging to `log` (a Prefect task's run logger)."""
        return replace(self, log=log)


@contextmanager
def open_run(
    config_path: str | Path,
    *,
    as_of: date,
    record: bool,
    dry_run: bool = False,
    read_only: bool = False,
    override_safety: bool = False,
    actor: str = "jml",
    read_in_full: bool = False,
) -> Iterator[Run]:
    """Open a run (see the module docstring); everything is closed on the way out. While
    it is open, full garbage collections are rarer (`pipeline.collection`)."""
    with rarer_full_collections():
        settings = load_settings(config_path)
        ledger = Ledger.open(settings.config.state_url)
        targets = Targets(settings.config)
        run = Run(settings, ledger, targets, as_of, dry_run or not record, override_safety, actor, read_in_full)
        try:
            if not record:
                yield run
                return
            with hold(ledger, settings.config.lock) as lease:
                writes_nothing = dry_run or read_only
                run_id = ledger.start_run(
                    as_of=as_of, dry_run=writes_nothing, override_safety=override_safety, actor=actor
                )
                yield replace(run, run_id=run_id, lease=lease)
        finally:
            targets.close()
            ledger.close()
