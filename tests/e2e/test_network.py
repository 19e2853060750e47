"""Issue 14, findings 5 and 10, as a user meets them: `jml run` against a SCIM server
that pages forever ends that target's read (the run ends `attention`, the target
unreachable, after at most `max_pages` requests); an HRIS repeating its page fails the
run (exit 2, one line); cleartext to a host that is not loopback is a config error
(exit 2, one line naming the field) unless `insecure: true`, which every run warns
about."""

from __future__ import annotations

import httpx
import pytest
import yaml

from tests import servers
from tests.connectors.test_rest_source import FIELDS, hris_worker
from tests.e2e.helpers import ATTENTION, CONVERGED, USAGE, Scenario, worker
from tests.servers import Scripted

AS_OF = "2026-03-02"


def edit(scenario: Scenario, change) -> dict:
    """Rewrite jml.yaml through `change(document)`."""
    document = yaml.safe_load(scenario.config.read_text())
    change(document)
    scenario.config.write_text(yaml.safe_dump(document, sort_keys=False))
    return document


def hris_source(url: str, **options) -> dict:
    return {"name": "hris", "type": "rest", "url": url, "token_env": "HRIS_TOKEN", "items": "data.workers",
            "next": "links.next", "fields": FIELDS, "precedence": 2, **options}  # fmt: skip


def test_a_scim_server_paging_forever_ends_in_an_unreachable_target(scenario: Scenario) -> None:
    def forever(method: str, path: str) -> Scripted:
        """Fresh ids on every page of a trillion; after 500 requests (unbounded reads
        only) an empty page, so that a read without the bound ends too."""
        url = httpx.URL(path)
        if not url.path.endswith(("/Users", "/Groups")):
            return Scripted(404, {})
        if len(server.requests) > 500:
            return Scripted(200, {"totalResults": 0, "Resources": []})
        start, count = int(url.params.get("startIndex", "1")), int(url.params.get("count", "10"))
        fresh = [{"id": f"u{start + n}", "externalId": f"X{start + n}", "userName": f"x{start + n}@example.com"}
                 for n in range(count)]  # fmt: skip
        return Scripted(200, {"totalResults": 10**12, "startIndex": start, "Resources": fresh})

    scenario.write_feed([worker("E001"), worker("E002")])
    with servers.scripted_server(forever) as server:
        scenario.configure(url=server.url)
        edit(scenario, lambda d: d["targets"][0].update(max_pages=5, page_size=10))
        result = scenario.sync(AS_OF, expect=ATTENTION)
    pages = [u for _, path in server.requests if (u := httpx.URL(path)).path.endswith("/Users") and u.params.get("count") != "0"]
    assert 1 <= len(pages) <= 5, len(pages)  # pages asked for (beside the count a read asks for first)
    assert result.json["status"] == "attention"
    (unreachable,) = scenario.exceptions_of("failed_operation")
    assert unreachable["detail"] == (
        "target app is unreachable (app: GET Users: more than max_pages (5) pages); its changes wait for the next run"
    )
    assert not any(method != "GET" for method, _ in server.requests), "nothing was written"


def test_an_hris_repeating_its_page_fails_the_run_in_one_line(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    with servers.hris_server() as hris:
        for number in range(1, 50):
            hris.pages[f"/workers?page={number}"] = {"data": {"workers": [hris_worker("H1")]},
                                                     "links": {"next": f"/workers?page={number + 1}"}}  # fmt: skip
        monkeypatch.setenv("HRIS_TOKEN", hris.token)
        scenario.write_feed([worker("E001")])
        edit(scenario, lambda d: d["sources"].append(hris_source(hris.url)))
        result = scenario.run("run", "--as-of", AS_OF).expect(USAGE)
    assert len(hris.requests) == 2
    assert result.json["status"] == "failed"
    assert result.json["error"] == f"source hris: GET {hris.url.split('?')[0]}: page 2 repeats page 1"
    assert "Traceback" not in result.stderr
    assert scenario.all_users() == []


def test_cleartext_to_a_host_that_is_not_loopback_needs_insecure_and_is_warned_about(
    scenario: Scenario, monkeypatch: pytest.MonkeyPatch
) -> None:
    legacy = {"name": "legacy", "type": "scim", "url": "http://203.0.113.7:8080/scim", "token_env": "APP_TOKEN",
              "timeout": 1, "retry": {"attempts": 1}}  # fmt: skip
    scenario.write_feed([worker("E001")])
    edit(scenario, lambda d: d["targets"].append(legacy))
    refused = scenario.run("run", "--as-of", AS_OF).expect(USAGE)
    assert refused.stdout == ""
    (line,) = refused.stderr.strip().splitlines()
    assert line.startswith(f"error: {scenario.config}: targets.1.scim: url: http:// is cleartext"), line
    assert "203.0.113.7" not in line and "insecure: true" in line

    with servers.hris_server() as hris:
        hris.paged([hris_worker("H1")], size=10)
        monkeypatch.setenv("HRIS_TOKEN", hris.token)
        edit(scenario, lambda d: (d["targets"][1].update(insecure=True),
                                  d["sources"].append(hris_source(hris.url, insecure=True))))  # fmt: skip
        result = scenario.sync(AS_OF, expect=ATTENTION)
    for name in ("target legacy", "source hris"):
        assert f"{name}: cleartext to a host that is not loopback is allowed (insecure: true)" in result.stderr
    assert {e["target"] for e in scenario.exceptions_of("failed_operation")} == {"legacy"}
    assert set(scenario.scim_users()) == {"E001", "H1"}


def test_loopback_cleartext_needs_no_insecure(scenario: Scenario) -> None:
    scenario.write_feed([worker("E001")])
    result = scenario.sync(AS_OF, expect=CONVERGED)
    assert "insecure" not in result.stderr and "verify: false" not in result.stderr
