"""The policy file's loader: a bad policy file is one clear line naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from jml.config import ConfigError
from jml.policy import load_policy


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bundles: {a: {grants: {app: [x]}}}\nrules: [{when: {x: [y]}, grant: [b]}]\n", "unknown bundle 'b'"),
        ("bundles: {a: {grants: {nope: [x]}}}\nrules: []\n", "unknown target 'nope'"),
        ("bundles: {a: {grants: {app: [x]}, risk: high}}\nrules: []\n", "approver"),
        ("bundles: {a: {grants: {app: [x]}, colour: red}}\nrules: []\n", "bundles.a.colour: unknown key"),
        ("- just a list\n", "must hold a mapping"),
        ("bundles: [\n", "policy.yaml: line"),
    ],
)
def test_bad_policy_is_one_clear_line(tmp_path: Path, text, message):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_policy(path, {"app"})
    assert message in str(info.value) and str(path) in str(info.value)
    assert "\n" not in str(info.value)
