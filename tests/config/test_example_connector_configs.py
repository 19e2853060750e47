"""Every example config of examples/connectors loads, with its policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from jml.config import load_config
from jml.policy import load_policy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "connectors"


@pytest.mark.parametrize("name", ["ldap", "sql-target", "rest-source", "sql-source", "multi-system"])
def test_example_config_loads(name: str) -> None:
    config = load_config(EXAMPLES / f"{name}.yaml")
    load_policy(config.resolve(config.policy), {t.name for t in config.targets})
    kinds = {s.type for s in config.sources} | {t.type for t in config.targets}
    expected = {"ldap": {"csv", "ldap"}, "sql-target": {"csv", "sql"}, "rest-source": {"rest", "scim"},
                "sql-source": {"sql", "scim"}, "multi-system": {"csv", "rest", "scim", "ldap", "sql"}}[name]  # fmt: skip
    assert kinds == expected
