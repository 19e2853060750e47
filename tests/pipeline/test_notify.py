"""The owners' alert messages (pipeline.notify): what one owner's message counts, what
each channel type is sent, and how a channel that fails is reported: one line, never
its URL, within the request's time bound. Against real local HTTP servers."""

from __future__ import annotations

import time
from http.server import BaseHTTPRequestHandler

import pytest

from jml.config import SlackAlert, WebhookAlert
from jml.ledger import ExceptionRecord
from pipeline import notify
from tests.httpserving import Quiet, serving


def record(n: int, kind: str, owner: str) -> ExceptionRecord:
    return ExceptionRecord(n, kind, f"{kind}:{n}", f"E{n}", None, "Jane Doe <jane@example.com>", "open", {}, 7, None, owner)


OPENED = [
    record(1, "quarantine", "hr-data"),
    record(2, "quarantine", "hr-data"),
    record(3, "approval", "hr,business-owner"),
    record(4, "sod", "iam"),
]


def test_an_owners_message_counts_its_exceptions_by_kind_and_names_the_command():
    message = notify.owner_message("hr-data", 7, OPENED)
    assert message is not None and message.counts == {"quarantine": 2}
    assert message.subject == "jml: 2 new exceptions for hr-data"
    assert message.text == "jml run 7 opened 2 exceptions for hr-data:\n- quarantine: 2\nlist them: jml exceptions --owner hr-data"
    assert notify.owner_message("business-owner", 7, OPENED).counts == {"approval": 1}  # one of its owners
    assert notify.owner_message("hr", 7, OPENED).counts == {"approval": 1}  # not hr-data's
    assert notify.owner_message("app-admins", 7, OPENED) is None


def test_each_channel_type_gets_its_payload_without_personal_data():
    message = notify.owner_message("hr-data", 7, OPENED)
    webhook = message.payload(WebhookAlert(type="webhook", url="https://h.example/x", owner="hr-data"))
    assert webhook == {"subject": message.subject, "text": message.text, "owner": "hr-data", "run_id": 7,
                       "counts": {"quarantine": 2}}  # fmt: skip
    slack = message.payload(SlackAlert(type="slack", webhook_url_env="HOOK", owner="hr-data"))
    assert slack == {"text": f"*{message.subject}*\n{message.text}"}
    for text in (str(webhook), str(slack)):
        assert "Jane" not in text and "example.com" not in text and "E1" not in text


def answering(status: int, delay: float = 0.0) -> type[BaseHTTPRequestHandler]:
    class Handler(Quiet):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            time.sleep(delay)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def test_a_failing_channel_is_one_line_without_its_url():
    with serving(answering(500)) as base:
        problem = notify._send(WebhookAlert(type="webhook", url=f"{base}/hook"), "alerts.0", {"text": "x"})
    assert problem == "the channel answered HTTP 500"
    with serving(answering(302)) as base:  # a redirect is not followed
        assert notify._send(WebhookAlert(type="webhook", url=f"{base}/hook"), "alerts.0", {}) == (
            "the channel answered HTTP 302"
        )
    unset = SlackAlert(type="slack", webhook_url_env="JML_TEST_UNSET_HOOK", owner="x")
    assert notify._send(unset, "alerts.1", {}) == (
        "alerts.1.webhook_url_env: environment variable JML_TEST_UNSET_HOOK is not set"
    )


def test_a_channel_that_does_not_answer_is_given_up_within_the_time_bound(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(notify, "TIMEOUT_SECONDS", 0.3)
    with serving(answering(200, delay=3)) as base:
        started = time.monotonic()
        problem = notify._send(WebhookAlert(type="webhook", url=f"{base}/hook"), "alerts.0", {})
        assert time.monotonic() - started < 2.5
    assert problem == "the request failed (ReadTimeout)" and base not in problem
