"""The mapped attributes of a SCIM target checked against the server's /Schemas, once.

`SchemaCheck.refusal()` is why they cannot be written (None: they can), from /Schemas
asked on the first call (thread-safe; later calls answer from memory). A server without
/Schemas is trusted. A target that maps no attribute asks nothing. `writable()` raises
Permanent with that refusal: the driver calls it before every create and update, so
nothing carrying a wrong attribute is written, while disables, deletes and revokes still
run (fail closed). The refusal names the attribute, never a value.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Collection

from connectors.base import NotFound, Permanent
from connectors.targets.scim import paths
from connectors.targets.scim import resources as scim
from connectors.targets.scim.client import ScimClient

log = logging.getLogger(__name__)


class SchemaCheck:
    """`attributes` (the names of the target's mapped ones) checked against `client`'s /Schemas."""

    def __init__(self, target: str, client: ScimClient, attributes: Collection[str]) -> None:
        self._target = target
        self._client = client
        self._attributes = attributes
        self._lock = threading.Lock()
        self._refusal: str | None = None
        self._checked = not attributes

    def refusal(self) -> str | None:
        """Why the mapped attributes cannot be written (None: they can)."""
        with self._lock:
            if self._checked:
                return self._refusal
        try:
            body = self._client.read(scim.schemas())
        except NotFound:
            problems: list[str] = []
        else:
            problems = paths.unknown_to(body.get("Resources") or (), self._attributes)
        refusal = f"{self._target}: attribute {'; '.join(problems)}; nothing carrying it is written" if problems else None
        if refusal:
            log.error("target %s: %s", self._target, refusal)
        with self._lock:
            self._refusal, self._checked = refusal, True
        return refusal

    def writable(self) -> None:
        """Raise Permanent when the mapped attributes cannot be written."""
        refusal = self.refusal()
        if refusal is not None:
            raise Permanent(refusal)
