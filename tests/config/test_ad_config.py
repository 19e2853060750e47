"""The `ad` target's config (SPEC "Active Directory target"): LDAPS only, `ou` a value
spec yielding DNs under base_dn, the optional OUs under base_dn, sAMAccountName's
template and length; each refusal one line naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jml.config import AdTarget, ConfigError, load_config
from jml.dn import dn_key

BASE = "DC=corp,DC=example,DC=com"
AD = {
    "name": "ad", "type": "ad", "url": "ldaps://dc1.corp.example.com", "bind_dn": f"CN=svc,OU=Service,{BASE}",
    "password_env": "AD_PASSWORD", "base_dn": BASE,
    "ou": {"from": "department", "map": {"Engineering": f"OU=Engineering,OU=People,{BASE}"},
           "default": f"OU=People,{BASE}"},
    "groups_ou": f"OU=Groups,{BASE}", "disabled_ou": f"OU=Disabled,{BASE}",
}  # fmt: skip


def write(tmp_path: Path, **changes: object) -> Path:
    target = {**AD, **changes}
    document = {"sources": [{"name": "hr", "type": "csv", "path": "w.csv"}], "targets": [target], "policy": "p.yaml"}
    path = tmp_path / "jml.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


def test_the_spec_example_loads_with_its_defaults(tmp_path: Path) -> None:
    target = load_config(write(tmp_path)).targets[0]
    assert isinstance(target, AdTarget)
    assert target.sam_account_name.template == "{first_name:.1}{last_name}"
    assert target.sam_account_name.max_length == 20
    assert target.verify is True and target.upn_suffix is None
    assert target.ou_spec().value({"department": "Engineering"}.get) == f"OU=Engineering,OU=People,{BASE}"
    assert target.ou_spec().value({"department": "Sales"}.get) == f"OU=People,{BASE}"
    assert "accountExpires" in target.mapped_attributes()


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"url": "ldap://dc1.corp.example.com"}, "use ldaps://"),
        ({"ou": "OU=People,DC=other,DC=com"}, "not a DN under base_dn"),
        ({"ou": BASE}, "not a DN under base_dn"),
        ({"ou": {"from": "department", "map": {"X": "not a dn"}}}, "not a DN under base_dn"),
        ({"ou": {"from": "location", "default": f"OU=People,{BASE}"}}, "ou reads location"),
        ({"groups_ou": "OU=Groups,DC=elsewhere"}, "groups_ou"),
        ({"disabled_ou": "nonsense"}, "disabled_ou is not a DN"),
        ({"sam_account_name": {"template": "{nickname}"}}, "sam_account_name reads nickname"),
        ({"sam_account_name": {"max_length": 21}}, "max_length"),
        ({"attributes": {"sAMAccountName": "{last_name}"}}, "sAMAccountName"),
        ({"attributes": {"userAccountControl": "512"}}, "userAccountControl"),
    ],
)
def test_a_bad_ad_target_is_one_line_naming_the_field(tmp_path: Path, changes: dict, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, **changes))
    message = str(caught.value)
    assert "\n" not in message and words in message and "targets.0" in message, message


def test_ou_values_compare_normalised(tmp_path: Path) -> None:
    target = load_config(write(tmp_path, ou="ou=people,dc=CORP,dc=example,dc=com")).targets[0]
    assert isinstance(target, AdTarget)
    assert dn_key(target.ou_spec().value({}.get) or "") == dn_key(f"OU=People,{BASE}")
