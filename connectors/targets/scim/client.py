"""The SCIM target's HTTP side: one pooled httpx.Client that sends `Request`s and turns
every failure into the typed errors of `connectors.base` (with the server's SCIM
`detail`, RFC 7644 §3.12), and the discovery of the server's Bulk capability.

The client sends `Authorization: Bearer <token>` (the token from the environment
variable the config names), keeps at most `concurrency` connections, and is built and
exchanges as every HTTP client of jml does (connectors.http: TLS verified unless
`verify: false`, the config's proxy and CA file, never the environment's, redirects
only within the origin). Every answer is bounded (connectors.bounds): at most
`max_response_mb`, JSON at most 64 levels deep; past them, Permanent. Messages name
the target and the endpoint, never the token, ids of people or attribute values.

A read request (`read`: a GET, safe to repeat) is tried again on Retryable per the
target's retry policy, on its own: a read of many requests (pages, users by id) that
meets a throttled or failed one sends that one again, not every request before it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.base import NotFound, Permanent, secret
from connectors.http import Answer, error_for_status, exchange, http_client
from connectors.retry import call_with_retries
from connectors.targets.scim.resources import OK_DISCOVERY, Request
from jml.config import ScimTarget

__all__ = ["Capabilities", "ScimClient", "dumps", "error_detail"]

MEDIA_TYPE = "application/scim+json"


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What /ServiceProviderConfig (RFC 7643 §5) says about Bulk."""

    bulk: bool
    max_operations: int
    max_payload: int | None


class ScimClient:
    """Sends SCIM requests to one service provider."""

    def __init__(self, config: ScimTarget, environ: Mapping[str, str]) -> None:
        headers = {"Accept": f"{MEDIA_TYPE}, application/json"}
        if config.token_env is not None:
            headers["Authorization"] = f"Bearer {secret(environ, config.token_env, f'target {config.name}')}"
        self.name = config.name
        self._timeout = config.timeout
        self._max_mb = config.max_response_mb
        self._retry = config.retry
        self._http = http_client(
            config,
            what=f"target {config.name}",
            headers=headers,
            base_url=config.url.rstrip("/") + "/",
            max_connections=config.concurrency,
        )
        self._capabilities: Capabilities | None = None

    def close(self) -> None:
        self._http.close()

    def send(self, request: Request) -> Answer:
        """One request and its answer, read within the bounds; a status outside
        `request.ok`, a transport failure or a broken bound is raised as its typed
        error."""
        what = f"{self.name}: {request.what}"
        headers = {"Content-Type": MEDIA_TYPE} if request.body is not None else None
        content = dumps(request.body) if request.body is not None else None
        built = self._http.build_request(
            request.method, request.path, params=request.params, content=content, headers=headers
        )
        answer = exchange(self._http, built, what=what, timeout=self._timeout, max_mb=self._max_mb)
        if answer.status in request.ok:
            return answer
        try:
            payload: Any = answer.json(what)
        except Permanent:
            payload = answer.body[:200].decode("utf-8", errors="replace")
        raise error_for_status(what, answer.status, error_detail(payload), answer.headers.get("Retry-After"))

    def json(self, request: Request) -> dict:
        """`send`, and the answer as a JSON object (Permanent when it is not one, or
        nests deeper than the bound)."""
        return self._dated(request)[0]

    def _dated(self, request: Request) -> tuple[dict, str | None]:
        """`json`, and the answer's Date header (None when the server sent none)."""
        what = f"{self.name}: {request.what}"
        answer = self.send(request)
        body = answer.json(what)
        if not isinstance(body, dict):
            raise Permanent(f"{what}: the answer is not a JSON object")
        return body, answer.headers.get("Date")

    def read(self, request: Request) -> dict:
        """`json` of a read (safe to repeat), tried again on Retryable per the retry
        policy; the last error is raised when the tries or the time run out."""
        return self.read_dated(request)[0]

    def read_dated(self, request: Request) -> tuple[dict, str | None]:
        """`read`, and the answer's Date header: the server's time when it answered."""
        return call_with_retries(lambda: self._dated(request), self._retry)

    def capabilities(self) -> Capabilities:
        """The server's Bulk capability, asked once; a server without the endpoint (404)
        has no Bulk. Raises the typed error when the server cannot answer."""
        if self._capabilities is None:
            try:
                config = self.read(Request("GET", "ServiceProviderConfig", OK_DISCOVERY))
            except NotFound:
                config = {}
            found = config.get("bulk")
            bulk: dict[str, Any] = found if isinstance(found, dict) else {}
            max_operations = _positive_int(bulk.get("maxOperations"))
            self._capabilities = Capabilities(
                bulk=bool(bulk.get("supported")) and max_operations is not None,
                max_operations=max_operations or 0,
                max_payload=_positive_int(bulk.get("maxPayloadSize")),
            )
        return self._capabilities


def error_detail(payload: object) -> str:
    """The server's own words in a SCIM error (RFC 7644 §3.12): `scimType: detail`."""
    if isinstance(payload, dict):
        scim_type = payload.get("scimType")
        detail = str(payload.get("detail") or "")
        if scim_type:
            return f"{scim_type}: {detail}" if detail else str(scim_type)
        return detail
    return payload.strip() if isinstance(payload, str) else ""


def dumps(body: Any) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


def _positive_int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None

