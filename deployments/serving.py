"""`jml serve`: every deployment of the table served from one process, with its schedule.

The deployments are named like their flows (`hr-sync/hr-sync`, ...). Their `config`
parameter defaults to the absolute path of the config file `jml serve` was given; each
run reads that file and the feeds afresh. Schedules come from the config's `schedules:`
(hr-sync hourly and reconcile nightly by default); provision-person and decide-approval
run on demand. Stopping the process leaves the schedules on (`pause_on_shutdown=False`),
so a restart or another server picks them up.
"""

from __future__ import annotations

import signal
from datetime import timedelta
from pathlib import Path

from prefect import serve
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron, Interval, Schedule
from prefect.types.entrypoint import EntrypointType

from deployments.alerts import ensure_alerts
from deployments.table import DEPLOYMENTS
from jml.config import Config, ScheduleConfig


def schedules(entry: ScheduleConfig | None) -> list[Schedule]:
    """The Prefect schedule of one config entry (none: on demand only)."""
    if entry is None:
        return []
    if entry.cron is not None:
        return [Cron(entry.cron, timezone=entry.timezone)]
    return [Interval(timedelta(seconds=entry.interval), timezone=entry.timezone)]


def runner_deployments(config_path: Path, config: Config) -> list[RunnerDeployment]:
    """The table's deployments, their `config` parameter defaulting to `config_path`."""
    return [
        deployment.flow.to_deployment(
            deployment.name,
            schedules=schedules(deployment.schedule_in(config.schedules)),
            parameters=deployment.parameters(str(config_path.resolve())),
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
    # Ctrl-C works even when started from a shell that ignores SIGINT in the background.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)
    serve(*runner_deployments(config_path, config), pause_on_shutdown=False, limit=limit)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
