"""`jml serve`: every deployment of the table served from one process, with its schedule.

The deployments are named like their flows (`hr-sync/hr-sync`, ...). The process is
bound to the config file `jml serve` was given (`JML_CONFIG`, which every served run
inherits; no run parameter names a file); each run reads that file and the feeds
afresh. `override_safety` is frozen to false on hr-sync's run form (read-only; the
server refuses a run asking otherwise) unless the config says
`safety.allow_ui_override: true`, and the flow refuses it too. Schedules come from the config's `schedules:`
(hr-sync hourly and reconcile nightly by default); provision-person and decide-approval
run on demand. Stopping the process leaves the schedules on (`pause_on_shutdown=False`),
so a restart or another server picks them up.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval, Schedule
from prefect.types.entrypoint import EntrypointType
from prefect.utilities.annotations import freeze

from deployments.alerts import ensure_alerts
from deployments.interrupts import stop_on_ctrl_c_or_sigterm
from deployments.table import DEPLOYMENTS
from flows.binding import CONFIG
from jml.config import Config, ScheduleConfig

#: The run parameter frozen to false unless the config allows overriding from the UI.
OVERRIDE = "override_safety"


def schedules(entry: ScheduleConfig | None) -> list[Schedule]:
    """The Prefect schedule of one config entry (none: on demand only)."""
    if entry is None:
        return []
    if entry.cron is not None:
        return [Cron(entry.cron, timezone=entry.timezone)]
    return [Interval(timedelta(seconds=entry.interval), timezone=entry.timezone)]


def runner_deployments(config: Config) -> list[RunnerDeployment]:
    """The table's deployments, their run forms without what the config does not allow."""
    locked = {} if config.safety.allow_ui_override else {OVERRIDE: freeze(False)}
    return [
        deployment.flow.to_deployment(
            deployment.name,
            schedules=schedules(deployment.schedule_in(config.schedules)),
            parameters={k: v for k, v in locked.items() if k in deployment.flow.parameters.properties},
            tags=list(deployment.tags),
            description=deployment.description,
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        for deployment in DEPLOYMENTS
    ]


def serve_all(config_path: Path, config: Config, *, limit: int | None = None) -> None:
    """Create or update the alerts, then serve every deployment until Ctrl-C or SIGTERM
    (a service manager's stop), either of which shuts the runner down cleanly."""
    ensure_alerts(config)
    os.environ[CONFIG] = str(config_path.resolve())  # the served runs' config (flows.binding)
    stop_on_ctrl_c_or_sigterm()
    serve(*runner_deployments(config), pause_on_shutdown=False, limit=limit)
