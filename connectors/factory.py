"""The one wiring point from config entries to connector instances: it dispatches on
the entry's `type` (the discriminator of jml.config.SourceConfig / TargetConfig)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from connectors.base import Source, Target
from connectors.kernel import Driver, Kernel
from connectors.sources.csvfile import CsvSourceConnector
from connectors.sources.mapped import MappedSource
from connectors.sources.rest import RestSourceConnector
from connectors.sources.sql import SqlSourceConnector
from connectors.targets.ad import AdDriver
from connectors.targets.ldap import LdapDriver
from connectors.targets.scim import ScimDriver
from connectors.targets.sql import SqlDriver
from jml.config import (
    AdTarget,
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
    folder, for relative paths), its records mapped to the feed's columns by its
    `fields` (connectors.sources.mapped)."""
    if isinstance(config, CsvSource):
        csv = CsvSourceConnector(config, base_dir)
        return MappedSource(csv, config, where=f"{csv.path}: the header")
    if isinstance(config, RestSource):
        return RestSourceConnector(config, environ=environ)
    if isinstance(config, SqlSource):
        return MappedSource(SqlSourceConnector(config, environ=environ), config)
    raise TypeError(f"no source connector for {type(config).__name__}")


def build_driver(config: TargetConfig, environ: Mapping[str, str] = os.environ) -> Driver:
    """The driver of one configured target (ConfigurationError when its secret is not
    set or its config cannot work)."""
    if isinstance(config, ScimTarget):
        return ScimDriver(config, environ=environ)
    if isinstance(config, LdapTarget):
        return LdapDriver(config, environ=environ)
    if isinstance(config, SqlTarget):
        return SqlDriver(config, environ=environ)
    if isinstance(config, AdTarget):
        return AdDriver(config, environ=environ)
    raise TypeError(f"no target driver for {type(config).__name__}")


def build_target(config: TargetConfig, environ: Mapping[str, str] = os.environ) -> Target:
    """The target of one configured entry: its driver on the kernel, with its retry
    policy."""
    return Kernel(build_driver(config, environ), config.retry)
