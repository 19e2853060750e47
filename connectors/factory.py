"""The one wiring point from config entries to connector instances."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from connectors.base import Source, Target
from connectors.sources.csvfile import CsvSourceConnector
from connectors.targets.scim import ScimTargetConnector
from jml.config import CsvSource, ScimTarget


def build_source(config: CsvSource, base_dir: Path) -> Source:
    """The connector reading one configured HR source."""
    return CsvSourceConnector(config, base_dir)


def build_target(config: ScimTarget, environ: Mapping[str, str] = os.environ) -> Target:
    """The connector writing one configured target."""
    return ScimTargetConnector(config, environ=environ)
