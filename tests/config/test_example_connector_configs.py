"""Every example config of examples/connectors loads, with its policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from jml.config import NhiConfig, load_config
from jml.policy import load_policy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "connectors"


@pytest.mark.parametrize("name", ["ldap", "ad", "sql-target", "rest-source", "sql-source", "multi-system"])
def test_example_config_loads(name: str) -> None:
    config = load_config(EXAMPLES / f"{name}.yaml")
    load_policy(config.resolve(config.policy), {t.name for t in config.targets})
    kinds = {s.type for s in config.sources} | {t.type for t in config.targets}
    expected = {"ldap": {"csv", "ldap"}, "ad": {"csv", "ad"}, "sql-target": {"csv", "sql"}, "rest-source": {"rest", "scim"},
                "sql-source": {"sql", "scim"}, "multi-system": {"csv", "rest", "scim", "ldap", "sql"}}[name]  # fmt: skip
    assert kinds == expected


def test_the_example_registry_of_nhis_is_valid() -> None:
    """examples/nhis.csv, named by the example config's commented `nhi:` line, reads
    clean and names its owners among the example feed's people."""
    from pipeline.registry import read_registry

    examples = EXAMPLES.parent
    text = (examples / "jml.yaml").read_text(encoding="utf-8")
    assert "# nhi: {registry: nhis.csv}" in text
    config = load_config(examples / "jml.yaml").model_copy(update={"nhi": NhiConfig(registry=examples / "nhis.csv")})
    entries = read_registry(config)
    assert [(e.account, e.kind.value) for e in entries] == [
        ("svc-backup", "service_account"), ("payroll-api", "api_client"),
        ("deploy-bot", "bot"), ("breakglass-admin", "shared_admin"),
    ]  # fmt: skip
    feed = (examples / "feeds" / "workers.csv").read_text(encoding="utf-8")
    assert all(f"\n{e.owner}," in feed for e in entries)
