"""Alerts: Prefect Automations that send one message when a jml flow run goes wrong.

`ensure_alerts(config)` makes the Prefect server hold exactly these, named so that a
second call updates instead of duplicating:

- a notification block per channel of the config's `alerts:` (`jml-alert-<n>`): a
  Custom Webhook block for `{type: webhook, url}`, a Slack Webhook block for
  `{type: slack, webhook_url_env}` (the URL is read from that variable, never logged);
- the automation `jml: run failed`: a run of a jml flow ends Failed, Crashed, TimedOut
  or Failed named `Halted`;
- the automation `jml: operations failed`: a run ends Completed named `Attention` and
  its message starts with `operations failed` (flows.hr_sync.state_message: failed or
  parked operations, or an unreachable target).

Each message names the flow, the run, the state, the counts (the state message) and
the run's UI link. A channel with an `owner` is that owner's alone: it gets the run's
per-owner message (pipeline.notify), not these. With no channel left, the automations
are removed.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from uuid import UUID

from prefect.blocks.notifications import CustomWebhookNotificationBlock, SlackWebhook
from prefect.client.orchestration import get_client
from prefect.events.actions import SendNotification
from prefect.events.schemas.automations import AutomationCore, EventTrigger, Posture
from prefect.settings import PREFECT_UI_URL

from deployments.table import DEPLOYMENTS
from flows.hr_sync import FAILED_PREFIX
from jml.config import AlertChannel, Config, SlackAlert
from jml.secrets import read_secret

#: The flows whose runs are watched: those of the deployments.
FLOW_NAMES = [deployment.flow.name for deployment in DEPLOYMENTS]
SUBJECT = "jml: {{ flow.name }} run {{ flow_run.name }} ended {{ event.resource['prefect.state-name'] }}"
BODY = (
    "flow: {{ flow.name }}\n"
    "run: {{ flow_run.name }}\n"
    "state: {{ event.resource['prefect.state-name'] }}\n"
    "counts: {{ event.resource['prefect.state-message'] }}\n"
    "link: %s/runs/flow-run/{{ flow_run.id }}"
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One automation: its name, the state events it reacts to, extra label matches."""

    name: str
    events: tuple[str, ...]
    match: dict[str, str]
    description: str


RULES = (
    Rule(
        "jml: run failed",
        ("Failed", "Crashed", "TimedOut", "Halted"),
        {},
        "A jml flow run ended Failed, Crashed, TimedOut or Halted (a safety gate tripped).",
    ),
    Rule(
        "jml: operations failed",
        ("Attention",),
        {"prefect.state-message": f"{FAILED_PREFIX}*"},
        "A jml flow run needs attention: operations failed or a target was unreachable.",
    ),
)


def channel_block(channel: AlertChannel) -> CustomWebhookNotificationBlock | SlackWebhook:
    """The notification block of one configured channel; a SecretError (a ConfigError)
    when the secret variable a Slack channel names is not set or not usable."""
    if isinstance(channel, SlackAlert):
        return SlackWebhook(url=read_secret(os.environ, channel.webhook_url_env, "alerts (a Slack webhook URL)"))
    return CustomWebhookNotificationBlock(
        name="jml",
        url=channel.url,
        json_data={"subject": "{{subject}}", "text": "{{body}}"},
    )


def ui_base() -> str:
    """The Prefect UI's address, as the client sees it (from PREFECT_API_URL)."""
    return (PREFECT_UI_URL.value() or "").rstrip("/")


def automation(rule: Rule, blocks: list[UUID], ui: str) -> AutomationCore:
    """The automation of one rule, sending to every block."""
    return AutomationCore(
        name=rule.name,
        description=rule.description,
        trigger=EventTrigger(
            expect={f"prefect.flow-run.{state}" for state in rule.events},
            match={"prefect.resource.id": "prefect.flow-run.*", **rule.match},
            match_related={"prefect.resource.role": "flow", "prefect.resource.name": FLOW_NAMES},
            for_each={"prefect.resource.id"},
            posture=Posture.Reactive,
            threshold=1,
            within=0,
        ),
        actions=[SendNotification(block_document_id=b, subject=SUBJECT, body=BODY % ui) for b in blocks],
    )


def ensure_alerts(config: Config) -> list[str]:
    """Create or update the blocks and automations of the channels of `config.alerts`
    without an `owner`; return the names of the automations now in force (none when
    there is no such channel)."""
    watching = [channel for channel in config.alerts if channel.owner is None]
    blocks = [channel_block(channel) for channel in watching]  # secrets checked first
    ids = [block.save(f"jml-alert-{n}", overwrite=True) for n, block in enumerate(blocks, 1)]
    ui = ui_base()
    in_force = []
    with get_client(sync_client=True) as client:
        for rule in RULES:
            existing = client.read_automations_by_name(rule.name)
            for extra in existing[1:]:
                client.delete_automation(extra.id)
            if not ids:
                if existing:
                    client.delete_automation(existing[0].id)
                continue
            wanted = automation(rule, ids, ui)
            if existing:
                client.update_automation(existing[0].id, wanted)
            else:
                client.create_automation(wanted)
            in_force.append(rule.name)
    return in_force
