"""What a flow run is bound to by the process that runs it, never by a run parameter
(SPEC, "Prefect deployments"): nobody with access to the Prefect UI can point a worker,
and its secrets, at a config of their own, nor name who ran it.

- The config file: the environment variable `JML_CONFIG` (an absolute path) of the
  process. `jml serve --config X` sets it for every run it serves (a served run's
  environment is the serving process's: run parameters and job variables do not reach
  it); `jml run`, `jml demo` and tests bind it around a call (`bound`); a work pool's
  worker has it in its own environment, and the pool's base job template
  (`deployments/process-pool.json`) lets no run set environment variables or the command.
- The actor the audit trail records: for a run of a deployment, the deployment and the
  flow run id (from Prefect's runtime context); for a run started in-process, the
  `JML_ACTOR` of the process (the CLI sets the user's name), else "prefect".
- `override_safety`: a run of a deployment may set it only when the config says
  `safety.allow_ui_override: true`; otherwise the run is refused before it starts.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect.runtime import deployment, flow_run

from jml.config import Config, ConfigError

__all__ = ["ACTOR", "CONFIG", "actor", "bound", "bound_config", "refuse_ui_override"]

CONFIG = "JML_CONFIG"
ACTOR = "JML_ACTOR"


def bound_config() -> str:
    """The config file this process's flow runs use; ConfigError when none is bound."""
    path = os.environ.get(CONFIG)
    if not path:
        raise ConfigError(f"no config is bound: set {CONFIG} to the config file's absolute path (jml serve does)")
    return path


def actor() -> str:
    """Who the current flow run is for, as the audit trail records it."""
    if deployment.id is not None:
        return f"deployment {deployment.name}, flow run {flow_run.id}"
    return os.environ.get(ACTOR) or "prefect"


def refuse_ui_override(config: Config, override_safety: bool) -> str | None:
    """Why a deployment run may not override the safety gates, or None when it may
    (it did not ask, it was started in-process, or the config allows it)."""
    if override_safety and deployment.id is not None and not config.safety.allow_ui_override:
        return "override_safety is not allowed from a deployment run: the config does not say safety.allow_ui_override"
    return None


@contextmanager
def bound(config: str | Path, *, as_actor: str | None = None) -> Iterator[None]:
    """Bind this process's flow runs to `config` (and an actor) for the block."""
    saved = {name: os.environ.get(name) for name in (CONFIG, ACTOR)}
    os.environ[CONFIG] = str(Path(config).resolve())
    if as_actor is not None:
        os.environ[ACTOR] = as_actor
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
