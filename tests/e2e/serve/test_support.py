"""`support.api_call`, the serve tests' one way to call the Prefect API: a transient
failure (a 503, a connection closed without an answer) is tried again, a lasting one is
returned after the bounded backoff, and a 4xx at once. Against a scripted HTTP server:
a real Prefect server cannot be made to answer 503 on demand."""

from __future__ import annotations

from pathlib import Path

from app.launchers import PrefectServer
from tests.e2e.serve import support
from tests.httpserving import Quiet, serving


def scripted(answers: list[int | None]) -> type[Quiet]:
    """A handler answering each GET with the next status of `answers` (None: it closes
    the connection without a word), then 200; `calls` counts the GETs."""

    class Handler(Quiet):
        calls = 0

        def do_GET(self) -> None:  # noqa: N802
            Handler.calls += 1
            status = answers[Handler.calls - 1] if Handler.calls <= len(answers) else 200
            if status is None:
                self.close_connection = True
                self.connection.close()
                return
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

    return Handler


def call(handler: type[Quiet], tmp_path: Path) -> int:
    with serving(handler) as base:
        prefect = PrefectServer(api_url=f"{base}/api", home=tmp_path)
        return support.api_call(prefect, "GET", "/health").status_code


def test_transient_failures_are_tried_again(tmp_path: Path) -> None:
    handler = scripted([503, None, 502])
    assert call(handler, tmp_path) == 200
    assert handler.calls == 4


def test_a_client_error_is_returned_at_once(tmp_path: Path) -> None:
    handler = scripted([404])
    assert call(handler, tmp_path) == 404
    assert handler.calls == 1


def test_a_lasting_failure_is_returned_after_the_bounded_backoff(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(support, "BACKOFF", (0.01, 0.01))
    handler = scripted([503] * 10)
    assert call(handler, tmp_path) == 503
    assert handler.calls == 3
