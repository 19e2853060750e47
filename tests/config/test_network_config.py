"""The network fields of targets and sources (issue 14, finding 10): cleartext only to
loopback unless `insecure: true`, an explicit `proxy` without a password, `ca_file`
relative to the config file, and the read bounds' defaults; each refusal one line
naming the file and the field, never the URL."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jml.config import ConfigError, HttpEndpoint, load_config, weakened

LDAP = {"name": "dir", "type": "ldap", "bind_dn": "cn=jml", "password_env": "P", "people_dn": "ou=p",
        "groups_dn": "ou=g", "disabled_dn": "ou=d"}  # fmt: skip
REST = {"name": "hris", "type": "rest", "items": "data", "fields": {"employee_id": "id"}, "precedence": 2}
CSV = {"name": "hr", "type": "csv", "path": "workers.csv"}
SCIM = {"name": "app", "type": "scim"}


def write(tmp_path: Path, *, target: dict | None = None, source: dict | None = None) -> Path:
    document = {
        "sources": [CSV] + ([source] if source else []),
        "targets": [target or {**SCIM, "url": "https://scim.example.com"}],
        "policy": "policy.yaml",
    }
    path = tmp_path / "jml.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


CLEARTEXT = [
    ("targets.0.scim", {"target": {**SCIM, "url": "http://10.1.2.3/scim"}}),
    ("targets.0.scim", {"target": {**SCIM, "url": "http://jml@scim.example.com:80/"}}),
    ("targets.0.scim", {"target": {**SCIM, "url": "http://127.0.0.1.example.com/"}}),
    ("targets.0.ldap", {"target": {**LDAP, "url": "ldap://dc1.example.com:389"}}),
    ("sources.1.rest", {"source": {**REST, "url": "http://hris.example.com/api"}}),
]


@pytest.mark.parametrize(("where", "entry"), CLEARTEXT)
def test_cleartext_to_a_host_that_is_not_loopback_is_refused(tmp_path: Path, where: str, entry: dict) -> None:
    path = write(tmp_path, **entry)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    scheme = "ldap" if "ldap" in where else "http"
    assert message.startswith(f"{path}: {where}: url: {scheme}:// is cleartext and the host is not a loopback address")
    assert "insecure: true" in message and "example.com" not in message and "10.1.2.3" not in message
    assert "\n" not in message
    (only,) = [value for value in entry.values()]
    loaded = load_config(write(tmp_path, **{key: {**only, "insecure": True} for key in entry}))
    (insecure,) = [e for e in (*loaded.targets, *loaded.sources) if e.name == only["name"]]
    assert weakened(insecure) == [
        "cleartext to a host that is not loopback is allowed (insecure: true); anyone on the path can read the"
        " credentials and change what jml sends"
    ]


@pytest.mark.parametrize("host", ["127.0.0.1:8080", "127.9.8.7", "[::1]:9000", "localhost", "LOCALHOST:1"])
def test_cleartext_to_loopback_needs_no_insecure(tmp_path: Path, host: str) -> None:
    config = load_config(write(tmp_path, target={**SCIM, "url": f"http://{host}/scim"},
                               source={**REST, "url": f"http://{host}/api"}))  # fmt: skip
    assert all(weakened(entry) == [] for entry in (*config.targets, *config.sources))
    ldap = load_config(write(tmp_path, target={**LDAP, "url": f"ldap://{host}"}))
    assert ldap.targets[0].insecure is False


def test_network_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, source={**REST, "url": "https://hris.example.com"}))
    for entry in (config.targets[0], config.sources[1]):
        assert isinstance(entry, HttpEndpoint)
        assert (entry.max_pages, entry.max_response_mb, entry.proxy, entry.ca_file, entry.insecure, entry.verify) == (
            10_000, 64, None, None, False, True,
        )  # fmt: skip


def test_ca_file_is_relative_to_the_config_file(tmp_path: Path) -> None:
    target = {**SCIM, "url": "https://scim.example.com", "ca_file": "certs/ca.pem"}
    assert load_config(write(tmp_path, target=target)).targets[0].ca_file == tmp_path / "certs" / "ca.pem"
    ldap = load_config(write(tmp_path, target={**LDAP, "url": "ldaps://dc1", "ca_file": "/etc/ca.pem"}))
    assert ldap.targets[0].ca_file == Path("/etc/ca.pem")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"ca_file": "ca.pem", "verify": False}, "targets.0.scim: ca_file: verify: false ignores it"),
        ({"proxy": "http://jml:s3cret@proxy.example.com:3128"}, "targets.0.scim.proxy: Value error, the proxy URL must not hold a password"),
        ({"proxy": "socks5://proxy:1080"}, "targets.0.scim.proxy: String should match pattern"),
        ({"max_pages": 0}, "targets.0.scim.max_pages"),
        ({"max_response_mb": 0}, "targets.0.scim.max_response_mb"),
        ({"insecure": "perhaps"}, "targets.0.scim.insecure"),
    ],
)
def test_bad_network_fields_are_one_line(tmp_path: Path, change: dict, message: str) -> None:
    path = write(tmp_path, target={**SCIM, "url": "https://scim.example.com", **change})
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert str(raised.value).startswith(f"{path}: {message}")
    assert "s3cret" not in str(raised.value)


URL_SECRETS = [
    ("targets.0.scim", {"target": {**SCIM, "url": "https://jml:s3cret@scim.example.com/"}}),
    ("targets.0.scim", {"target": {**SCIM, "url": "https://scim.example.com/?access_token=s3cret"}}),
    ("targets.0.ldap", {"target": {**LDAP, "url": "ldaps://cn=jml:s3cret@dc1.example.com"}}),
    ("sources.1.rest", {"source": {**REST, "url": "https://hris.example.com/api?API-Key=s3cret&page=1"}}),
]


@pytest.mark.parametrize(("where", "entry"), URL_SECRETS)
def test_a_credential_in_a_service_url_is_refused_without_printing_it(tmp_path: Path, where: str, entry: dict) -> None:
    """SPEC "Fail closed": a password inside a URL is a config error; credentials come
    from the environment."""
    path = write(tmp_path, **entry)
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: {where}: url: the URL must not hold a password"), message
    assert "token_env" in message and "s3cret" not in message and "\n" not in message


def test_verify_false_is_warned_about(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, target={**SCIM, "url": "https://x", "verify": False}))
    (warning,) = weakened(config.targets[0])
    assert warning.startswith("TLS certificate verification is OFF (verify: false)")
