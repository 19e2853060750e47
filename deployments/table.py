"""The one table of jml's deployments: `jml serve` serves these, and
deployments/prefect.yaml (rendered from this table by `python -m deployments`) declares
the same ones for a process work pool.

A row names its flow (the deployment is named like it: `hr-sync/hr-sync`, ...), where
its schedule comes from (a field of the config's `schedules:`; None: on demand only),
its description and its tags. No parameter names a config file: each way of running
binds the process to one (`flows.binding`; SPEC, "Prefect deployments").
"""

from __future__ import annotations

from dataclasses import dataclass

from prefect import Flow

from flows.decide_approval import decide_approval
from flows.hr_sync import hr_sync
from flows.provision_person import provision_person
from flows.reconcile import reconcile
from jml.config import ScheduleConfig, SchedulesConfig


@dataclass(frozen=True, slots=True)
class Deployment:
    """One deployment of one flow; `schedule` is a field name of `SchedulesConfig`."""

    flow: Flow
    schedule: str | None
    description: str
    tags: tuple[str, ...] = ("jml",)

    def __post_init__(self) -> None:
        if self.schedule is not None and self.schedule not in SchedulesConfig.model_fields:
            raise ValueError(f"{self.name}: no schedule {self.schedule!r} in the config's schedules")

    @property
    def name(self) -> str:
        """The deployment's name: its flow's."""
        return self.flow.name

    def schedule_in(self, schedules: SchedulesConfig) -> ScheduleConfig | None:
        """Its schedule in a config's `schedules:` (None: on demand only)."""
        return None if self.schedule is None else getattr(schedules, self.schedule)


DEPLOYMENTS = (
    Deployment(
        hr_sync, "hr_sync", "Sync HR into every target (validate, plan, apply, verify, report)."
    ),
    Deployment(
        reconcile, "reconcile", "Full read of every target; drift, orphans and active leavers as exceptions."
    ),
    Deployment(
        provision_person, None, "Re-evaluate one person from the HR feed and apply their changes now."
    ),
    Deployment(
        decide_approval, None, "Approve or reject a high-risk grant, then provision what it released."
    ),
)
