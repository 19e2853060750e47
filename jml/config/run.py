"""How runs behave: lifecycle, safety gates, the run lock, schedules and alerts."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from jml.config.common import EnvName, Name, Strict
from jml.owners import DEFAULT_OWNER


class LifecycleConfig(Strict):
    prehire_days: int = Field(default=7, ge=0)
    delete_after_days: int | None = Field(default=30, ge=0)
    absent: Literal["exception", "deprovision"] = "exception"


class SafetyConfig(Strict):
    """The safety gates (SPEC "Safety gates"). `window_days`: earlier runs whose as-of
    date is this many days before a run's (or on it) count with it against the
    deprovision limit; `allow_ui_override`: whether a deployment run (the Prefect UI) may
    set `override_safety`."""

    max_invalid_fraction: float = Field(default=0.05, ge=0, le=1)
    max_deprovision_fraction: float = Field(default=0.10, ge=0, le=1)
    deprovision_floor: int = Field(default=5, ge=0)
    window_days: int = Field(default=1, ge=0, le=366)
    allow_ui_override: bool = False


class LockConfig(Strict):
    """The run lock: one run at a time per ledger. A run waits up to `wait_seconds`
    for it, then refuses; a holder that stops renewing loses it after `ttl_seconds`."""

    ttl_seconds: float = Field(default=300.0, gt=0)
    wait_seconds: float = Field(default=0.0, ge=0)


class ScheduleConfig(Strict):
    """When a deployment runs by itself: a 5-field `cron` expression or an `interval`
    in seconds (exactly one), in `timezone` (an IANA name)."""

    cron: str | None = Field(default=None, pattern=r"^\S+( +\S+){4}$")
    interval: int | None = Field(default=None, ge=60)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r}") from None
        return zone

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleConfig:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("give exactly one of cron and interval")
        return self


class SchedulesConfig(Strict):
    """The schedules of the scheduled deployments; `null` means on demand only."""

    hr_sync: ScheduleConfig | None = ScheduleConfig(cron="0 * * * *")
    reconcile: ScheduleConfig | None = ScheduleConfig(cron="0 2 * * *")


class OwnersConfig(Strict):
    """`owners:` (SPEC "Owners"): `default` works what has no other owner (safety
    halts, SoD, and every source or target without an `owner` key)."""

    default: Name = DEFAULT_OWNER


class WebhookAlert(Strict):
    """Alerts POSTed as JSON to `url` (a Prefect Custom Webhook notification block).
    With `owner`, the channel gets only that owner's message after each run (the
    exceptions newly opened for it), not the failed-run automations."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")
    owner: Name | None = None


class SlackAlert(Strict):
    """Alerts to a Slack incoming webhook whose URL (a secret) is in `webhook_url_env`;
    `owner` as for a `WebhookAlert`."""

    type: Literal["slack"]
    webhook_url_env: EnvName
    owner: Name | None = None


AlertChannel = Annotated[WebhookAlert | SlackAlert, Field(discriminator="type")]
