"""The config loader on hostile input: it ends in a Config or in one ConfigError line
naming the file, never in another exception."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jml.config import Config, ConfigError, load_config
from jml.policy import load_policy

VALID = {
    "state": "sqlite:///jml.db",
    "sources": [{"name": "hr", "type": "csv", "path": "workers.csv"}],
    "targets": [{"name": "app", "type": "scim", "url": "http://127.0.0.1:1", "token_env": "T"}],
    "policy": "policy.yaml",
}

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20))
values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=10), inner, max_size=4)), max_leaves=12)


def load(tmp_path: Path, content: bytes) -> Config | None:
    path = tmp_path / "jml.yaml"
    path.write_bytes(content)
    try:
        return load_config(path)
    except ConfigError as exc:
        message = str(exc)
        assert "\n" not in message and message.startswith(str(path)), message
        return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=400))
def test_random_bytes(tmp_path, content):
    load(tmp_path, content)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(key=st.sampled_from([*VALID, "lifecycle", "safety", "lock", "extra"]), value=values)
def test_any_value_under_any_key(tmp_path, key, value):
    load(tmp_path, yaml.safe_dump({**VALID, key: value}).encode())


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(field=st.sampled_from(["name", "type", "url", "token_env", "verify", "concurrency", "retry", "bulk"]),
       value=values)
def test_any_value_in_a_target(tmp_path, field, value):
    target = {**VALID["targets"][0], field: value}
    load(tmp_path, yaml.safe_dump({**VALID, "targets": [target]}).encode())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\xff\xfe\x00garbage", "cannot read the config file"),
        ("\ufeffstate: [".encode(), "line"),
        (yaml.safe_dump({**VALID, "targets": [{**VALID["targets"][0], "verify": "maybe"}]}).encode(),
         "targets.0.scim.verify"),
        (yaml.safe_dump({**VALID, "lifecycle": {"prehire_days": -1}}).encode(), "lifecycle.prehire_days"),
        (yaml.safe_dump({**VALID, "colour": "red"}).encode(), "colour: unknown key"),
        (yaml.safe_dump({**VALID, "schedules": {"hr_sync": {"cron": "0 * * * *", "timezone": "Mars/Olympus"}}})
         .encode(), "unknown time zone 'Mars/Olympus'"),
        (yaml.safe_dump({**VALID, "schedules": {"reconcile": {"cron": "0 2 * * *", "interval": 3600}}}).encode(),
         "give exactly one of cron and interval"),
        (yaml.safe_dump({**VALID, "schedules": {"reconcile": {"timezone": "UTC"}}}).encode(),
         "give exactly one of cron and interval"),
    ],
)
def test_clear_messages(tmp_path, content, message):
    path = tmp_path / "jml.yaml"
    path.write_bytes(content)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert message in str(info.value)


def test_schedules_by_cron_or_interval_in_a_named_zone(tmp_path):
    schedules = {"hr_sync": {"interval": 900}, "reconcile": {"cron": "30 1 * * 1-5", "timezone": "Europe/Berlin"}}
    config = load(tmp_path, yaml.safe_dump({**VALID, "schedules": schedules}).encode())
    assert config is not None
    assert (config.schedules.hr_sync.interval, config.schedules.hr_sync.cron) == (900, None)
    assert (config.schedules.reconcile.cron, config.schedules.reconcile.timezone) == ("30 1 * * 1-5", "Europe/Berlin")


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=300))
def test_policy_random_bytes(tmp_path, content):
    path = tmp_path / "policy.yaml"
    path.write_bytes(content)
    try:
        load_policy(path, {"app"})
    except ConfigError as exc:
        assert "\n" not in str(exc)


@pytest.mark.parametrize(
    ("where", "url"),
    [
        ("state", "postgresql+psycopg://jml:hunter2secret@db/jml"),
        ("state", "postgresql+psycopg://jml@db/jml?password=hunter2secret"),
        ("target", "postgresql+psycopg://app:hunter2secret@db/app"),
        ("target", "postgresql+psycopg://app@db/app?sslmode=require&Password=hunter2secret"),
    ],
)
def test_a_password_in_a_database_url_is_refused_and_never_printed(tmp_path, where, url):
    """Issue 14, finding 10: a password in `state:` or in a URL's query string was
    accepted and printed."""
    document = {**VALID}
    if where == "state":
        document["state"] = url
    else:
        document["targets"] = [{"name": "db", "type": "sql", "url": url, "users": {
            "table": "u", "key": "id", "external_id": "e", "username": "n", "email": "m", "active": "a",
            "display_name": "d"}, "roles": {"table": "r", "user": "u", "role": "r"}}]  # fmt: skip
    path = tmp_path / "jml.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert "must not hold a password" in str(refused.value) and "hunter2secret" not in str(refused.value)


# -------------------------------------------------------------------------- owners


def test_owners_default_to_iam_and_sources_and_targets_fall_back_to_owners_default(tmp_path):
    rule = load(tmp_path, yaml.safe_dump(VALID).encode()).owner_rule
    assert (rule.default, dict(rule.sources), dict(rule.targets)) == ("iam", {"hr": "iam"}, {"app": "iam"})
    config = {
        **VALID,
        "owners": {"default": "iam-team"},
        "sources": [
            {**VALID["sources"][0], "owner": "hr-data"},
            {"name": "contractors", "type": "csv", "path": "c.csv", "precedence": 2},
        ],
        "targets": [*VALID["targets"], {"name": "dir", "type": "scim", "url": "http://127.0.0.1:2", "owner": "ops"}],
        "alerts": [{"type": "webhook", "url": "https://hooks.example/x", "owner": "hr-data"}],
    }
    rule = load(tmp_path, yaml.safe_dump(config).encode()).owner_rule
    assert rule.default == "iam-team"
    assert dict(rule.sources) == {"hr": "hr-data", "contractors": "iam-team"}
    assert dict(rule.targets) == {"app": "iam-team", "dir": "ops"}


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"owners": {"default": "iam", "fallback": "x"}}, "owners.fallback: unknown key"),
        ({"owners": {"default": "iam team"}}, "owners.default: String should match pattern"),
        ({"owners": {"default": "a,b"}}, "owners.default: String should match pattern"),
        ({"sources": [{**VALID["sources"][0], "owner": ""}]}, "sources.0.csv.owner: String should match"),
        ({"targets": [{**VALID["targets"][0], "owner": 7}]}, "targets.0.scim.owner: Input should be a valid string"),
        ({"alerts": [{"type": "slack", "webhook_url_env": "H", "owner": "x,y"}]}, "alerts.0.slack.owner: String"),
    ],
)
def test_bad_owners_are_one_line_errors(tmp_path, change, where):
    path = tmp_path / "jml.yaml"
    path.write_text(yaml.safe_dump({**VALID, **change}))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}: {where}" in str(caught.value)


# ---------------------------------------------------------------------- data docs


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, "data-docs"),  # beside the SQLite file jml.db, in the config's folder
        ({"state": "sqlite:///state/ledger.db"}, "state/data-docs"),
        ({"state": "sqlite:///:memory:"}, "data-docs"),  # not a file: beside the config
        ({"state": "postgresql+psycopg://jml@db.example/jml"}, "data-docs"),
        ({"state": "sqlite:///state/ledger.db", "data_docs": "site/docs"}, "site/docs"),
    ],
)
def test_data_docs_default_beside_the_state_file_or_where_data_docs_says(tmp_path, change, expected):
    config = load(tmp_path, yaml.safe_dump({**VALID, **change}).encode())
    assert config.data_docs_dir.resolve() == (tmp_path / expected).resolve()


def test_an_absolute_data_docs_path_is_kept_and_a_bad_one_is_one_line(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    assert load(tmp_path, yaml.safe_dump({**VALID, "data_docs": str(elsewhere)}).encode()).data_docs_dir == elsewhere
    path = tmp_path / "jml.yaml"
    path.write_text(yaml.safe_dump({**VALID, "data_docs": ["x"]}))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert f"{path}: data_docs: " in str(caught.value)
