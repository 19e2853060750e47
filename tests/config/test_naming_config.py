"""The config's `naming` section (SPEC "Generated identifiers"): naming.email is a
template over feed columns ending in a fixed domain; anything else is one ConfigError
line naming the file and `naming.email`."""

from __future__ import annotations

import pytest
import yaml

from jml.config import ConfigError, NamingConfig, load_config
from tests.config.test_config import VALID


def write(tmp_path, naming) -> object:
    path = tmp_path / "jml.yaml"
    path.write_text(yaml.safe_dump({**VALID, "naming": naming}), encoding="utf-8")
    return path


def test_naming_email_is_a_template_over_feed_columns(tmp_path):
    config = load_config(write(tmp_path, {"email": "{first_name:.1}{last_name}@Corp.Example.com"}))
    template = config.naming.email_template
    assert template is not None and template.names == ("first_name", "last_name")
    assert template.render({"first_name": "Jane", "last_name": "Doe"}.get) == "JDoe@Corp.Example.com"
    assert load_config(write(tmp_path, {})).naming.email_template is None


@pytest.mark.parametrize(
    ("email", "says"),
    [
        ("{first_name}.{last_name}", "must end in @ and a domain"),
        ("{first_name}@{department}.example.com", "must end in @ and a domain"),
        ("{first_name}@localhost", "must end in @ and a domain"),
        ("jane@corp.example.com", "needs a placeholder before the @"),
        ("{first_name!r}@corp.example.com", "conversion !r is refused"),
        ("{first_name[0]}@corp.example.com", "indexing [ ] is refused"),
        ("{first_name.upper}@corp.example.com", "attribute access is refused"),
        ("{first_name:>9}@corp.example.com", "format spec '>9' is refused"),
    ],
)
def test_a_bad_naming_email_is_one_line_naming_it(tmp_path, email, says):
    path = write(tmp_path, {"email": email})
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{path}: naming.email:") and says in message, message


def test_an_unknown_naming_key_is_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"naming\.sam_account_name: unknown key"):
        load_config(write(tmp_path, {"sam_account_name": "{first_name}"}))


def test_the_placeholders_that_are_no_feed_column():
    naming = NamingConfig(email="{first_name}.{nickname}@corp.example.com")
    assert naming.unknown_columns(["first_name", "last_name"]) == ["nickname"]
    assert naming.unknown_columns(["first_name", "nickname"]) == []
    assert NamingConfig().unknown_columns([]) == []
