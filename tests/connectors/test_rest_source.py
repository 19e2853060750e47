"""The HRIS REST source against a local HTTP server the tests start: paging by the
`next` link, dotted paths, the bearer token from the environment, retries on 429/5xx
honouring Retry-After, clean timeouts, and one-line errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.base import SourceError
from connectors.sources.rest import RestSourceConnector, dig
from expectations.runner import validate_feed
from jml.config import RestSource
from tests import servers
from tests.servers import Scripted

TOKEN_ENV = "JML_TEST_HRIS_TOKEN"
FIELDS = {
    "employee_id": "id",
    "first_name": "name.given",
    "last_name": "name.family",
    "email": "contact.emails.0",
    "department": "org.department",
    "job_code": "job.code",
    "manager_id": "manager.id",
    "employment_type": "type",
    "status": "status",
    "hire_date": "dates.hired",
    "termination_date": "dates.terminated",
}


def hris_worker(eid: str, **extra) -> dict:
    worker = {
        "id": eid,
        "name": {"given": f"Given{eid}", "family": "Family"},
        "contact": {"emails": [f"{eid.lower()}@example.com"]},
        "org": {"department": "Engineering"},
        "job": {"code": "ENG", "grade": 7},
        "type": "employee",
        "status": "active",
        "dates": {"hired": "2021-02-03", "terminated": None},
    }
    worker.update(extra)
    return worker


@pytest.fixture
def hris() -> Iterator[servers.HrisServer]:
    with servers.hris_server() as server:
        yield server


def source(server: servers.HrisServer, **options) -> RestSourceConnector:
    retry = options.pop("retry", {"attempts": 3, "backoff_seconds": 0.05, "max_backoff_seconds": 0.2})
    config = RestSource.model_validate({
        "name": "hris", "type": "rest", "url": server.url, "token_env": TOKEN_ENV, "items": "data.workers",
        "next": "links.next", "fields": FIELDS, "retry": retry, **options,
    })  # fmt: skip
    return RestSourceConnector(config, environ={TOKEN_ENV: server.token})


def test_dotted_paths() -> None:
    document = {"a": {"b": [{"c": 1}, {"c": None}]}, "x": "y"}
    assert dig(document, "a.b.0.c") == 1
    assert dig(document, "a.b.1.c") is None
    assert dig(document, "a.b.5.c") is None
    assert dig(document, "x.y") is None
    assert dig(document, "nope") is None


@pytest.mark.parametrize("relative", [True, False])
def test_reads_every_page_following_next(hris: servers.HrisServer, relative: bool) -> None:
    hris.paged([hris_worker(f"E{n}") for n in range(1, 8)] + [hris_worker("E8", manager={"id": "E1"})], size=3, relative=relative)
    frame = source(hris).read()
    assert frame["employee_id"].tolist() == [f"E{n}" for n in range(1, 9)]
    assert frame["_row"].tolist() == list(range(1, 9))
    assert list(frame.columns) == [*FIELDS, "_row"]
    first = frame.iloc[0]
    assert (first["first_name"], first["email"], first["job_code"], first["hire_date"]) == ("GivenE1", "e1@example.com", "ENG", "2021-02-03")
    assert first["manager_id"] is None and first["termination_date"] is None
    assert frame.iloc[7]["manager_id"] == "E1"
    assert [path for _, path, _, _ in hris.requests] == ["/workers?page=1", "/workers?page=2", "/workers?page=3"]
    assert all(authorised for _, _, authorised, _ in hris.requests)


def test_the_frame_passes_the_feed_suite_and_quarantine_names_the_source(hris: servers.HrisServer) -> None:
    hris.paged([hris_worker("E1"), hris_worker("E2", status="retired")], size=10)
    checked = validate_feed(source(hris).read(), source="hris", max_invalid_fraction=1.0)
    assert [r.employee_id for r in checked.records] == ["E1"]
    assert checked.records[0].source == "hris"
    (issue,) = checked.issues
    assert issue.kind.value == "quarantine" and issue.employee_id == "E2"
    assert issue.detail.startswith("hris ") and issue.data["source"] == "hris"


def test_numbers_and_booleans_become_text(hris: servers.HrisServer) -> None:
    hris.paged([hris_worker("E1", grade=7, remote=True)], size=10)
    fields = {**FIELDS, "grade": "grade", "remote": "remote"}
    frame = source(hris, fields=fields).read()
    assert (frame.iloc[0]["grade"], frame.iloc[0]["remote"]) == ("7", "true")


def test_429_and_503_are_tried_again_after_retry_after(hris: servers.HrisServer) -> None:
    hris.paged([hris_worker("E1"), hris_worker("E2")], size=1)
    hris.faults["/workers?page=2"] = [
        Scripted(429, {"error": "slow down"}, {"Retry-After": "1"}),
        Scripted(503, {"error": "maintenance"}),
    ]
    frame = source(hris).read()
    assert frame["employee_id"].tolist() == ["E1", "E2"]
    page2 = [when for _, path, _, when in hris.requests if path == "/workers?page=2"]
    assert len(page2) == 3  # only the failing page is fetched again
    assert page2[1] - page2[0] >= 0.95  # Retry-After: 1 honoured over the 0.05 s backoff


def test_retries_run_out_in_one_clear_line(hris: servers.HrisServer) -> None:
    hris.paged([hris_worker("E1")], size=1)
    hris.faults["/workers?page=1"] = [Scripted(500, {"error": "boom"})] * 5
    with pytest.raises(SourceError) as raised:
        source(hris).read()
    message = str(raised.value)
    assert message == f"source hris: GET {hris.url.split('?')[0]}: HTTP 500 (after 3 tries)"
    assert len(hris.requests) == 3


def test_a_slow_server_times_out_cleanly(hris: servers.HrisServer) -> None:
    hris.paged([hris_worker("E1")], size=1)
    hris.faults["/workers?page=1"] = [Scripted(200, {}, delay=1.0)] * 3
    retry = {"attempts": 2, "backoff_seconds": 0.01, "max_backoff_seconds": 0.01}
    with pytest.raises(SourceError, match=r"^source hris: GET .*: timed out after 0.2 s \(after 2 tries\)$"):
        source(hris, timeout=0.2, retry=retry).read()


def test_permanent_failures_are_not_retried(hris: servers.HrisServer) -> None:
    hris.paged([hris_worker("E1")], size=1)
    wrong = RestSourceConnector(source(hris)._config, environ={TOKEN_ENV: "not-the-token"})
    with pytest.raises(SourceError, match=r"HTTP 401$"):
        wrong.read()
    assert len(hris.requests) == 1
    assert "not-the-token" not in repr(wrong)


@pytest.mark.parametrize(
    ("page", "message"),
    [
        (b"<html>", "the answer is not JSON"),
        ({"data": {"workers": {"id": 1}}}, "`data.workers` is not a list of workers"),
        ({"data": {"workers": ["E1"]}}, "item 0 of `data.workers` is not an object"),
        ({"data": {"workers": [{"id": {"nested": 1}}]}}, "row 1, column id: a dict is not a single value"),
        ({"data": {"workers": []}, "links": {"next": "/workers?page=1"}}, "the next page's URL repeats a page already read"),
    ],
)
def test_bad_answers_are_one_line_errors(hris: servers.HrisServer, page: object, message: str) -> None:
    hris.pages["/workers?page=1"] = page
    if isinstance(page, bytes):
        hris.faults["/workers?page=1"] = [Scripted(200, page)]
    with pytest.raises(SourceError) as raised:
        source(hris).read()
    assert str(raised.value).startswith("source hris: ")
    assert str(raised.value).endswith(message)
    assert "\n" not in str(raised.value)


def test_a_missing_token_variable(hris: servers.HrisServer) -> None:
    with pytest.raises(SourceError, match=f"^source hris: environment variable {TOKEN_ENV} is not set$"):
        RestSourceConnector(source(hris)._config, environ={})


def test_an_unreachable_api(hris: servers.HrisServer, dead_port: int) -> None:
    config = source(hris)._config.model_copy(update={"url": f"http://127.0.0.1:{dead_port}/workers"})
    with pytest.raises(SourceError, match=r"ConnectError.*\(after 3 tries\)$"):
        RestSourceConnector(config, environ={TOKEN_ENV: "x"}).read()


def test_a_next_page_on_another_origin_is_refused(hris: servers.HrisServer) -> None:
    hris.pages["/workers?page=1"] = {"data": {"workers": []}, "links": {"next": "http://127.0.0.2:1/steal"}}
    with pytest.raises(SourceError, match=r"the next page's URL leaves http://127\.0\.0\.1:\d+$"):
        source(hris).read()
    assert len(hris.requests) == 1
