"""The one wiring point from config entries to connector instances."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from connectors.base import Source, Target
from jml.config import CsvSource, ScimTarget


def build_source(config: CsvSource, base_dir: Path) -> Source:
    """The connector reading one configured HR source."""
    from connectors.sources.csvfile import CsvSourceConnector

    return CsvSourceConnector(config, base_dir)


def build_target(config: ScimTarget, environ: Mapping[str, str] = os.environ) -> Target:
    """The connector writing one configured target."""
    from connectors.targets.scim import ScimTargetConnector

    return ScimTargetConnector(config, environ=environ)
