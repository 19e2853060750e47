"""The one wiring point from config entries to connector instances: it dispatches on
the entry's `type` (the discriminator of jml.config.SourceConfig / TargetConfig)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from connectors.base import Source, Target
from connectors.sources.csvfile import CsvSourceConnector
from connectors.sources.rest import RestSourceConnector
from connectors.sources.sql import SqlSourceConnector
from connectors.targets.ldap import LdapTargetConnector
from connectors.targets.scim import ScimTargetConnector
from connectors.targets.sql import SqlTargetConnector
from jml.config import (
    CsvSource,
    LdapTarget,
    RestSource,
    ScimTarget,
    SourceConfig,
    SqlSource,
    SqlTarget,
    TargetConfig,
)


def build_source(
    config: SourceConfig, base_dir: Path, environ: Mapping[str, str] = os.environ
) -> Source:
    """The connector reading one configured HR source (`base_dir`: the config file's
    folder, for relative paths)."""
    if isinstance(config, CsvSource):
        return CsvSourceConnector(config, base_dir)
    if isinstance(config, RestSource):
        return RestSourceConnector(config, environ=environ)
    if isinstance(config, SqlSource):
        return SqlSourceConnector(config, environ=environ)
    raise TypeError(f"no source connector for {type(config).__name__}")


def build_target(config: TargetConfig, environ: Mapping[str, str] = os.environ) -> Target:
    """The connector writing one configured target."""
    if isinstance(config, ScimTarget):
        return ScimTargetConnector(config, environ=environ)
    if isinstance(config, LdapTarget):
        return LdapTargetConnector(config, environ=environ)
    if isinstance(config, SqlTarget):
        return SqlTargetConnector(config, environ=environ)
    raise TypeError(f"no target connector for {type(config).__name__}")
