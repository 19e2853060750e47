"""A target's `attributes` when the config is loaded: the keys jml alone writes are
refused naming the key, so are keys that are no attribute of the target's type and bad
specs; good ones load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jml.config import ConfigError, load_config
from jml.config.attributes import FORBIDDEN, check_attributes, unknown_column

COST = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter"
SCIM = {"name": "app", "type": "scim", "url": "http://127.0.0.1:1", "token_env": "T"}
LDAP = {
    "name": "dir", "type": "ldap", "url": "ldap://127.0.0.1:1", "bind_dn": "cn=admin,dc=x", "password_env": "P",
    "people_dn": "ou=people,dc=x", "groups_dn": "ou=groups,dc=x", "disabled_dn": "ou=disabled,dc=x",
}  # fmt: skip
SQL = {
    "name": "db", "type": "sql", "url": "sqlite:///app.db",
    "users": {"table": "users", "key": "id", "external_id": "ext", "username": "login", "email": "mail",
              "active": "enabled", "display_name": "shown", "department": "dept"},
    "roles": {"table": "roles", "user": "user_id", "role": "role"},
}  # fmt: skip


def load(tmp_path: Path, target: dict, attributes: dict):
    path = tmp_path / "jml.yaml"
    config = {"sources": [{"name": "hr", "type": "csv", "path": "w.csv"}], "policy": "p.yaml"}
    path.write_text(yaml.safe_dump({**config, "targets": [{**target, "attributes": attributes}]}))
    return load_config(path)


def refused(tmp_path: Path, target: dict, attributes: dict) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, target, attributes)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(tmp_path / "jml.yaml"))
    return message


def test_good_attributes_load(tmp_path):
    scim = {COST: "{cost_center}", "name.middleName": {"from": ["middle", "second"], "case": "upper"}, "title": "T"}
    assert load(tmp_path, SCIM, scim).targets[0].attributes.keys() == scim.keys()
    assert load(tmp_path, LDAP, {"employeeType": "{employment_type}", "cn": "{first_name}"}).targets[0].attributes
    assert load(tmp_path, SQL, {"shown": "{first_name}", "cost_center": {"from": "cc", "default": "none"}}).targets[0]


@pytest.mark.parametrize(
    ("target", "key"),
    [
        (SCIM, "userName"), (SCIM, "USERNAME"), (SCIM, "externalId"), (SCIM, "active"), (SCIM, "emails"),
        (SCIM, "emails.value"), (SCIM, "urn:ietf:params:scim:schemas:core:2.0:User:userName"),
        (SCIM, "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"),
        (LDAP, "uid"), (LDAP, "UID"), (LDAP, "objectClass"), (LDAP, "mail"), (LDAP, "manager"),
        (SQL, "id"), (SQL, "ext"), (SQL, "login"), (SQL, "mail"), (SQL, "enabled"),
    ],
)  # fmt: skip
def test_keys_jml_alone_writes_are_refused_naming_the_key(tmp_path, target, key):
    message = refused(tmp_path, target, {key: "{first_name}"})
    assert f"attribute {key!r} cannot be set" in message


def test_the_active_directory_list_is_kept_in_the_same_place():
    for key in ("employeeID", "sAMAccountName", "userAccountControl", "accountExpires", "unicodePwd", "objectClass"):
        assert key.lower() in FORBIDDEN["ad"]
        with pytest.raises(ValueError, match=key):
            check_attributes("ad", {key: "{first_name}"})


@pytest.mark.parametrize(
    ("target", "key", "why"),
    [
        (SCIM, "a b", "not a SCIM attribute name"),
        (SCIM, "name.givenName.x", "not a SCIM attribute name"),
        (SCIM, "urn:x:costCenter", "not a SCIM attribute path"),
        (LDAP, "cost_center", "not an LDAP attribute type"),
        (SQL, "bad-column", "not a column name"),
        (SQL, "department", "jml's name of the column 'dept'"),
    ],
)
def test_keys_that_are_no_attribute_are_refused(tmp_path, target, key, why):
    message = refused(tmp_path, target, {key: "{first_name}"})
    assert key in message and why in message


def test_a_bad_spec_is_refused_naming_the_attribute(tmp_path):
    assert "title" in refused(tmp_path, SCIM, {"title": "{first_name!r}"})
    assert "title" in refused(tmp_path, SCIM, {"title": {"from": "a", "template": "{b}"}})
    assert "unknown key" in refused(tmp_path, SCIM, {"title": {"form": "a"}})


def test_one_attribute_named_twice_is_refused(tmp_path):
    assert "name the same attribute" in refused(tmp_path, SCIM, {"title": "{a}", "Title": "{b}"})


def test_an_attribute_reading_no_feed_column_is_named(tmp_path):
    config = load(tmp_path, SCIM, {"title": "{job_code}", COST: {"from": ["cost_centre", "cc"]}})
    assert unknown_column(config.targets, {"job_code", "cc", "cost_centre"}) is None
    message = unknown_column(config.targets, {"job_code", "cc"})
    assert message is not None
    assert f"targets app: attributes {COST!r}: 'cost_centre' is no column of the feed" in message
