"""The `nhi` section of the config (SPEC "Non-human identities"): where the registry
of NHIs is. Its rows are checked by `jml.nhi_registry`.

    nhi: {registry: nhis.csv}     # columns: target, account, owner, kind, description
"""

from __future__ import annotations

from pathlib import Path

from jml.config.common import Strict


class NhiConfig(Strict):
    #: The registry file (CSV), relative to the config file.
    registry: Path
