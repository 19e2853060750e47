"""Alerts per owner (SPEC "Owners"): after each run, each alert channel with an
`owner: X` gets ONE message listing the exceptions the run newly opened for X (counts by
kind, and the command that lists them), and nothing when it opened none for X.

`alert_owners(run)` is the stage right after the report (every flow, the CLI's runs and
served ones alike). What a message holds is `owner_message`: the owner, the run, the
counts by kind and `jml exceptions --owner X`; never a name, an email, a detail or an
employee_id. A channel is spoken to as its type says: a `webhook` gets
`{"subject", "text", "owner", "run_id", "counts"}` POSTed as JSON to its `url`, a
`slack` one `{"text"}` to the URL in its `webhook_url_env` (a secret: read then, never
shown). TLS is verified (certifi's bundle; the environment's proxies and trust store are
not used), redirects are not followed, and a request is bounded by `TIMEOUT_SECONDS`.

A channel that cannot be reached, answers with an error or whose secret is not set is
one warning line naming the channel (`alerts.<n>`) and the owner, never its URL; the
run's outcome stays what it was.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx

from jml.config import AlertChannel, SlackAlert
from jml.ledger import ExceptionRecord
from jml.owners import owns
from jml.secrets import SecretError, read_secret
from pipeline.run import Run

__all__ = ["TIMEOUT_SECONDS", "OwnerMessage", "alert_owners", "owner_message"]

#: How long one channel's request may take, connecting included.
TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class OwnerMessage:
    """One owner's message of one run: a subject, a text and the counts by kind."""

    owner: str
    run_id: int
    counts: dict[str, int]

    @property
    def subject(self) -> str:
        return f"jml: {sum(self.counts.values())} new exceptions for {self.owner}"

    @property
    def text(self) -> str:
        lines = [f"jml run {self.run_id} opened {sum(self.counts.values())} exceptions for {self.owner}:"]
        lines += [f"- {kind}: {n}" for kind, n in sorted(self.counts.items())]
        lines.append(f"list them: jml exceptions --owner {self.owner}")
        return "\n".join(lines)

    def payload(self, channel: AlertChannel) -> dict[str, Any]:
        """The JSON document sent to `channel`."""
        if isinstance(channel, SlackAlert):
            return {"text": f"*{self.subject}*\n{self.text}"}
        return {"subject": self.subject, "text": self.text, "owner": self.owner, "run_id": self.run_id,
                "counts": dict(sorted(self.counts.items()))}  # fmt: skip


def owner_message(owner: str, run_id: int, opened: Iterable[ExceptionRecord]) -> OwnerMessage | None:
    """The message to `owner` about the exceptions `opened` by run `run_id`; None when
    none of them is `owner`'s."""
    counts = Counter(e.kind for e in opened if owns(e.owner, owner))
    return OwnerMessage(owner, run_id, dict(counts)) if counts else None


def alert_owners(run: Run) -> int:
    """Send each channel with an `owner` its message about the exceptions this run
    opened (see the module docstring); how many messages were delivered."""
    channels = [(n, c) for n, c in enumerate(run.config.alerts) if c.owner is not None]
    if not channels or not run.recorded:
        return 0
    opened = run.ledger.opened_in(run.id)
    sent = 0
    for n, channel in channels:
        assert channel.owner is not None
        message = owner_message(channel.owner, run.id, opened)
        if message is None:
            continue
        problem = _send(channel, f"alerts.{n}", message.payload(channel))
        if problem:
            run.log.warning("alert to owner %s (alerts.%d) not sent: %s", channel.owner, n, problem)
        else:
            sent += 1
    return sent


def _send(channel: AlertChannel, where: str, payload: dict[str, Any]) -> str | None:
    """POST `payload` to the channel; None when it was accepted, else why not (one
    line without the URL: an httpx error's text may quote it, so only its type)."""
    try:
        url = (
            read_secret(os.environ, channel.webhook_url_env, f"{where}.webhook_url_env")
            if isinstance(channel, SlackAlert)
            else channel.url
        )
    except SecretError as exc:
        return str(exc)
    try:
        with httpx.Client(timeout=TIMEOUT_SECONDS, trust_env=False, follow_redirects=False) as client:
            response = client.post(url, json=payload)
    except httpx.HTTPError as exc:
        return f"the request failed ({type(exc).__name__})"
    if not response.is_success:
        return f"the channel answered HTTP {response.status_code}"
    return None
