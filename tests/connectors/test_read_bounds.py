"""Reads are bounded (issue 14, finding 5; SPEC "Fail closed"): a SCIM server or an HRIS
API that pages forever, repeats a page, answers more than `max_response_mb` or nests
JSON deeper than 64 levels ends the read with one line, after a bounded number of
requests, without holding the answer. Each test runs the review's experiment against a
scripted server on loopback; each server gives up after a while (an empty last page),
so that without the bounds the read ends too and the test fails instead of hanging."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import httpx
import pytest

from app import launchers
from connectors.base import Permanent, SourceError
from connectors.bounds import MAX_DEPTH, load_json
from connectors.kernel import Kernel
from connectors.sources.rest import RestSourceConnector
from connectors.targets.scim import ScimDriver
from jml.config import RestSource, ScimTarget
from tests import servers
from tests.connectors.test_rest_source import FIELDS, TOKEN_ENV, hris_worker
from tests.servers import Scripted

#: Past this many list requests a scripted server ends the listing (an empty page).
GIVES_UP = 200


def scim(url: str, **options) -> Kernel:
    config = ScimTarget(name="app", type="scim", url=url, retry={"attempts": 1}, **options)
    return Kernel(ScimDriver(config, environ={}), config.retry)


def rest(url: str, **options) -> RestSourceConnector:
    config = RestSource.model_validate({
        "name": "hris", "type": "rest", "url": url, "token_env": TOKEN_ENV, "items": "data.workers",
        "next": "links.next", "fields": FIELDS, "retry": {"attempts": 1}, **options,
    })  # fmt: skip
    return RestSourceConnector(config, environ={TOKEN_ENV: "hris-token"})


def listing(resources: list[dict], start: int) -> Scripted:
    """A SCIM ListResponse that claims a trillion results."""
    return Scripted(200, {"totalResults": 10**12, "startIndex": start, "itemsPerPage": len(resources),
                          "Resources": resources})  # fmt: skip


def list_requests(server: servers.ScriptedServer, endpoint: str) -> int:
    """The pages of `endpoint` asked for (not its count, `count=0`, which a read asks first)."""
    urls = [httpx.URL(path) for _, path in server.requests]
    return sum(1 for url in urls if url.path.endswith(f"/{endpoint}") and url.params.get("count") != "0")


def scim_server(page: Callable[[str, int, int], Scripted]) -> AbstractContextManager[servers.ScriptedServer]:
    """A SCIM server without Bulk whose /Users and /Groups answer `page(endpoint, start,
    count)` (a Scripted) until GIVES_UP requests."""
    calls = {"count": 0}

    def respond(method: str, path: str) -> Scripted:
        url = httpx.URL(path)
        if url.path.endswith("/ServiceProviderConfig"):
            return Scripted(404, {})
        calls["count"] += 1
        start = int(url.params.get("startIndex", "1"))
        if calls["count"] > GIVES_UP:
            return Scripted(200, {"totalResults": 0, "Resources": []})
        return page(url.path.rsplit("/", 1)[-1], start, int(url.params.get("count", "100")))

    return servers.scripted_server(respond)


def deep(levels: int) -> bytes:
    """A JSON object nested `levels` deep."""
    return b'{"a":' * levels + b"1" + b"}" * levels


# -- the bound itself ------------------------------------------------------------------


def test_the_depth_limit_is_64_levels() -> None:
    assert load_json(deep(MAX_DEPTH), "x") == json.loads(deep(MAX_DEPTH))
    assert load_json(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH, "x")
    for too_deep in (deep(MAX_DEPTH + 1), b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), deep(100_000)):
        with pytest.raises(Permanent, match=r"^x: the answer nests JSON deeper than 64 levels$"):
            load_json(too_deep, "x")


# -- a SCIM target -----------------------------------------------------------------------


def test_a_scim_server_paging_forever_with_fresh_ids_ends_the_read_at_max_pages() -> None:
    def fresh(endpoint: str, start: int, count: int) -> Scripted:
        return listing([{"id": f"{endpoint}-{start + n}", "externalId": f"E{start + n}", "displayName": f"g{start + n}"}
                        for n in range(count)], start)  # fmt: skip

    with scim_server(fresh) as server, scim(server.url, max_pages=5, page_size=50) as target:
        with pytest.raises(Permanent) as raised:
            target.read()
    assert str(raised.value) == "app: GET Users: more than max_pages (5) pages"
    assert list_requests(server, "Users") == 5
    assert list_requests(server, "Groups") <= 5


def test_a_scim_server_repeating_one_page_ends_the_read_at_the_repeat() -> None:
    def same(endpoint: str, start: int, count: int) -> Scripted:
        return listing([{"id": f"{endpoint}-1", "externalId": "E1"}, {"id": f"{endpoint}-2", "externalId": "E2"}], start)

    with scim_server(same) as server, scim(server.url) as target:
        with pytest.raises(Permanent, match=r"^app: GET (Users|Groups): page 2 repeats page 1$"):
            target.read()
    assert list_requests(server, "Users") <= 2 and list_requests(server, "Groups") <= 2


def test_a_scim_answer_over_max_response_mb_is_refused() -> None:
    big = [{"id": f"u{n}", "externalId": f"E{n}", "title": "x" * 1000} for n in range(5000)]  # 5 MB

    def huge(endpoint: str, start: int, count: int) -> Scripted:
        return listing(big if endpoint == "Users" else [], start)

    with scim_server(huge) as server, scim(server.url, max_response_mb=1) as target:
        with pytest.raises(Permanent, match=r"^app: GET Users: the answer is larger than max_response_mb \(1 MB\)$"):
            target.read()


def test_a_streamed_scim_answer_is_refused_before_it_is_all_read() -> None:
    """No Content-Length: 20 MB in chunks; the read stops at 1 MB and hangs up."""
    user = b'{"id":"u","externalId":"E","title":"' + b"x" * 1000 + b'"},'
    chunks = [b'{"totalResults":1,"Resources":['] + [user * 64] * 320 + [b'{"id":"v"}]}']

    def streamed(endpoint: str, start: int, count: int) -> Scripted:
        return Scripted(200, chunks=iter(chunks)) if endpoint == "Users" else listing([], start)

    with scim_server(streamed) as server, scim(server.url, max_response_mb=1) as target:
        with pytest.raises(Permanent, match=r"larger than max_response_mb \(1 MB\)$"):
            target.read()
    assert server.streamed < 20 * 2**20 // 2  # it hung up early: the rest was never sent


@pytest.mark.parametrize("levels", [200, 100_000])
def test_scim_json_nested_too_deep_is_refused_without_a_recursion_error(levels: int) -> None:
    resource = b'{"id":"u1","externalId":"E1","x-nested":' + deep(levels) + b"}"
    body = b'{"totalResults":1,"Resources":[' + resource + b"]}"

    def nested(endpoint: str, start: int, count: int) -> Scripted:
        return Scripted(200, chunks=[body]) if endpoint == "Users" else listing([], start)

    with scim_server(nested) as server, scim(server.url) as target:
        with pytest.raises(Permanent) as raised:
            target.read()
    assert str(raised.value) == "app: GET Users: the answer nests JSON deeper than 64 levels"


# -- an HRIS REST source -----------------------------------------------------------------


@pytest.fixture
def hris() -> Iterator[servers.HrisServer]:
    with servers.hris_server() as server:
        yield server


def pages_of(hris: servers.HrisServer, page: dict, count: int = GIVES_UP) -> None:
    """`count` pages /workers?page=N, each `page` (a JSON body) with a fresh `next`."""
    for number in range(1, count + 1):
        following = f"/workers?page={number + 1}" if number < count else None
        hris.pages[f"/workers?page={number}"] = {**page, "links": {"next": following}}


def test_an_hris_repeating_a_page_under_new_urls_ends_the_read_at_the_repeat(hris: servers.HrisServer) -> None:
    pages_of(hris, {"data": {"workers": [hris_worker("E1"), hris_worker("E2")]}})
    with pytest.raises(SourceError) as raised:
        rest(hris.url).read()
    assert str(raised.value) == f"source hris: GET {hris.url.split('?')[0]}: page 2 repeats page 1"
    assert len(hris.requests) == 2


def test_an_hris_answer_over_max_response_mb_is_refused(hris: servers.HrisServer) -> None:
    workers = [hris_worker(f"E{n}", notes="x" * 1000) for n in range(5000)]  # 5 MB
    hris.pages["/workers?page=1"] = {"data": {"workers": workers}, "links": {"next": None}}
    with pytest.raises(SourceError, match=r"^source hris: GET \S+: the answer is larger than max_response_mb \(1 MB\)$"):
        rest(hris.url, max_response_mb=1).read()


@pytest.mark.parametrize("levels", [200, 100_000])
def test_hris_json_nested_too_deep_is_refused_without_a_recursion_error(hris: servers.HrisServer, levels: int) -> None:
    page = b'{"data":{"workers":[' + json.dumps(hris_worker("E1")).encode() + b']},"meta":' + deep(levels) + b"}"
    hris.faults["/workers?page=1"] = [Scripted(200, page)]
    with pytest.raises(SourceError) as raised:
        rest(hris.url).read()
    assert str(raised.value) == (
        f"source hris: GET {hris.url.split('?')[0]}: HTTP 200: the answer nests JSON deeper than 64 levels"
    )


def test_a_read_within_the_bounds_is_whole(hris: servers.HrisServer) -> None:
    """The bounds refuse only what breaks them: distinct pages up to max_pages, empty
    pages (which repeat nothing), an answer just under the size."""
    for number, workers in enumerate([[hris_worker("E1")], [], [], [hris_worker("E2")]], start=1):
        following = f"/workers?page={number + 1}" if number < 4 else None
        hris.pages[f"/workers?page={number}"] = {"data": {"workers": workers}, "links": {"next": following}}
    assert rest(hris.url, max_pages=4).read()["employee_id"].tolist() == ["E1", "E2"]
    with pytest.raises(SourceError, match=r"more than max_pages \(3\) pages$"):
        rest(hris.url, max_pages=3).read()


def test_a_scim_read_within_the_bounds_is_whole(scim_tenant: launchers.ScimTenant) -> None:
    headers = {"Authorization": f"Bearer {scim_tenant.token}"}
    for n in range(5):
        user = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": f"e{n}@x", "externalId": f"E{n}"}
        assert httpx.post(f"{scim_tenant.url}/Users", json=user, headers=headers).status_code == 201
    config = ScimTarget(name="app", type="scim", url=scim_tenant.url, token_env="T", page_size=1, max_pages=5)
    with Kernel(ScimDriver(config, environ={"T": scim_tenant.token}), config.retry) as target:
        assert len(target.read().accounts) == 5
