"""Network hygiene (issue 14, finding 10; SPEC "Fail closed"), against real servers on
loopback: redirects are followed only within the origin (a redirecting HRIS, a capture
server on the other origin); the environment's proxy (`HTTP_PROXY`...) and trust store
(`SSL_CERT_FILE`) are ignored, the config's `proxy` and `ca_file` are used (a capture
proxy, an HTTPS server with a CA of the test's own, LDAPS in front of slapd)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app import launchers
from connectors.base import ConfigurationError, Permanent, Retryable, SourceError
from connectors.factory import build_target
from connectors.sources.rest import RestSourceConnector
from jml.config import LdapTarget, RestSource, ScimTarget
from tests import servers, tls
from tests.connectors.apps import ldap_target
from tests.connectors.test_rest_source import FIELDS, TOKEN_ENV, hris_worker
from tests.servers import Scripted

SCIM_TOKEN = "JML_TEST_SCIM_TOKEN"


def scim_config(url: str, **options) -> ScimTarget:
    return ScimTarget(name="app", type="scim", url=url, token_env=SCIM_TOKEN, retry={"attempts": 1}, **options)


def scim_read(config: ScimTarget, token: str = "scim-token"):
    with build_target(config, {SCIM_TOKEN: token}) as target:
        return target.read()


def rest_config(url: str, **options) -> RestSource:
    return RestSource.model_validate({
        "name": "hris", "type": "rest", "url": url, "token_env": TOKEN_ENV, "items": "data.workers",
        "next": "links.next", "fields": FIELDS, "retry": {"attempts": 1}, **options,
    })  # fmt: skip


def rest_read(config: RestSource, token: str = "hris-token") -> list[str]:
    return RestSourceConnector(config, environ={TOKEN_ENV: token}).read()["employee_id"].tolist()


def empty_scim(method: str, path: str) -> Scripted:
    """A SCIM server without Bulk, users or groups."""
    if path.endswith("/ServiceProviderConfig"):
        return Scripted(404, {})
    return Scripted(200, {"totalResults": 0, "Resources": []})


def one_worker_page(method: str, path: str) -> Scripted:
    return Scripted(200, {"data": {"workers": [hris_worker("X1")]}, "links": {"next": None}})


@pytest.fixture
def hris() -> Iterator[servers.HrisServer]:
    with servers.hris_server() as server:
        server.paged([hris_worker("E1"), hris_worker("E2")], size=1)
        yield server


@pytest.fixture
def proxy_in_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[servers.CaptureProxy]:
    """A capture proxy named by every proxy variable httpx would read."""
    with servers.capture_proxy() as proxy:
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            monkeypatch.setenv(name, proxy.url)
        for name in ("NO_PROXY", "no_proxy"):
            monkeypatch.delenv(name, raising=False)
        yield proxy


@pytest.fixture
def authority(tmp_path: Path) -> tls.Authority:
    return tls.authority(tmp_path)


# -- redirects ---------------------------------------------------------------------------


def test_an_hris_redirecting_to_another_origin_is_refused_and_the_other_origin_gets_nothing(
    hris: servers.HrisServer,
) -> None:
    with servers.scripted_server(one_worker_page) as elsewhere:
        hris.redirects["/workers?page=2"] = f"{elsewhere.url}/workers?page=2"
        with pytest.raises(SourceError) as raised:
            rest_read(rest_config(hris.url))
    port = elsewhere.url.rsplit(":", 1)[1]
    assert str(raised.value) == (
        f"source hris: GET {hris.url.split('?')[0]}: HTTP 302 redirects to http://127.0.0.1:{port}, another origin"
    )
    assert elsewhere.requests == []  # nothing, so no Authorization header either


def test_an_hris_redirect_within_the_origin_is_followed_with_the_token(hris: servers.HrisServer) -> None:
    hris.redirects["/workers?page=2"] = "/v2/workers?page=2"
    hris.pages["/v2/workers?page=2"] = hris.pages["/workers?page=2"]
    assert rest_read(rest_config(hris.url)) == ["E1", "E2"]
    assert [(path, authorised) for _, path, authorised, _ in hris.requests] == [
        ("/workers?page=1", True), ("/workers?page=2", True), ("/v2/workers?page=2", True),
    ]  # fmt: skip


def test_a_scim_server_redirecting_to_another_origin_is_refused() -> None:
    with servers.scripted_server(empty_scim) as elsewhere:

        def redirecting(method: str, path: str) -> Scripted:
            if path.startswith("/v1/"):
                return Scripted(307, None, {"Location": f"{elsewhere.url}/v2/{path[4:]}"})
            return empty_scim(method, path)

        with servers.scripted_server(redirecting) as server, pytest.raises(Permanent) as raised:
            scim_read(scim_config(f"{server.url}/v1"))
    port = elsewhere.url.rsplit(":", 1)[1]
    assert str(raised.value) == f"app: GET ServiceProviderConfig: HTTP 307 redirects to http://127.0.0.1:{port}, another origin"
    assert elsewhere.requests == []


def test_a_scim_redirect_within_the_origin_is_followed() -> None:
    def moved(method: str, path: str) -> Scripted:
        if path.startswith("/v1/"):
            return Scripted(308, None, {"Location": f"/v2/{path[4:]}"})
        return empty_scim(method, path)

    with servers.scripted_server(moved) as server:
        assert scim_read(scim_config(f"{server.url}/v1")).accounts == []
    assert {path.split("?")[0] for _, path in server.requests} == {
        "/v1/ServiceProviderConfig", "/v2/ServiceProviderConfig", "/v1/Users", "/v2/Users", "/v1/Groups", "/v2/Groups",
    }  # fmt: skip


# -- proxies -------------------------------------------------------------------------------


def test_the_environments_proxy_is_never_used(
    proxy_in_environment: servers.CaptureProxy, scim_tenant: launchers.ScimTenant, hris: servers.HrisServer
) -> None:
    scim_read(scim_config(scim_tenant.url), scim_tenant.token)
    assert rest_read(rest_config(hris.url)) == ["E1", "E2"]
    assert proxy_in_environment.requests == []


def test_the_configs_proxy_is_used(scim_tenant: launchers.ScimTenant, hris: servers.HrisServer) -> None:
    with servers.capture_proxy() as proxy:
        scim_read(scim_config(scim_tenant.url, proxy=proxy.url), scim_tenant.token)
        assert rest_read(rest_config(hris.url, proxy=proxy.url)) == ["E1", "E2"]
    through = [httpx.URL(url) for _, url, _ in proxy.requests]
    assert {f"{url.host}:{url.port}" for url in through} == {
        f"{httpx.URL(scim_tenant.url).host}:{httpx.URL(scim_tenant.url).port}", f"127.0.0.1:{httpx.URL(hris.url).port}",
    }  # fmt: skip
    assert {url.path.rsplit("/", 1)[-1] for url in through} == {"ServiceProviderConfig", "Users", "Groups", "workers"}


# -- the trust store -------------------------------------------------------------------------


def test_ssl_cert_file_in_the_environment_does_not_change_the_trust_store(
    authority: tls.Authority, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A CA that only SSL_CERT_FILE names is not trusted; the same CA as `ca_file` is."""
    monkeypatch.setenv("SSL_CERT_FILE", str(authority.ca_file))
    monkeypatch.setenv("SSL_CERT_DIR", str(authority.ca_file.parent))
    context = authority.server_context()
    with servers.scripted_server(empty_scim, tls=context) as scim, servers.scripted_server(one_worker_page, tls=context) as api:
        with pytest.raises(Retryable, match="CERTIFICATE_VERIFY_FAILED"):
            scim_read(scim_config(scim.url))
        with pytest.raises(SourceError, match="CERTIFICATE_VERIFY_FAILED"):
            rest_read(rest_config(f"{api.url}/workers"))
        assert scim_read(scim_config(scim.url, ca_file=authority.ca_file)).accounts == []
        assert rest_read(rest_config(f"{api.url}/workers", ca_file=authority.ca_file)) == ["X1"]
        assert scim_read(scim_config(scim.url, verify=False)).accounts == []  # as before: warned by the run


def test_a_ca_file_that_cannot_be_read_is_a_one_line_configuration_error(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"
    with pytest.raises(ConfigurationError, match=rf"^target app: ca_file {missing}: No such file or directory$"):
        scim_read(scim_config("https://127.0.0.1:1", ca_file=missing))
    with pytest.raises(SourceError, match=rf"^source hris: ca_file {missing}: No such file or directory$"):
        rest_read(rest_config("https://127.0.0.1:1/workers", ca_file=missing))


def test_ldaps_uses_the_ca_file(
    authority: tls.Authority, slapd: launchers.SlapdServer, ldap_tree: launchers.LdapTree
) -> None:
    with tls.tls_front(slapd.host, slapd.port, authority.server_context()) as port:
        entry = ldap_target("dir", slapd, ldap_tree, "JML_TEST_LDAP_PASSWORD", retry={"attempts": 1})
        entry["url"] = f"ldaps://127.0.0.1:{port}"
        trusted = LdapTarget.model_validate({**entry, "ca_file": str(authority.ca_file)})
        with build_target(trusted, {"JML_TEST_LDAP_PASSWORD": slapd.password}) as target:
            assert target.read().accounts == []
        with build_target(LdapTarget.model_validate(entry), {"JML_TEST_LDAP_PASSWORD": slapd.password}) as target:
            with pytest.raises(Retryable, match="CERTIFICATE_VERIFY_FAILED"):
                target.read()
    with pytest.raises(ConfigurationError, match=r"^target dir: ca_file \S+: no such file$"):
        build_target(LdapTarget.model_validate({**entry, "ca_file": "/no/such/ca.pem"}), {"JML_TEST_LDAP_PASSWORD": "x"})
