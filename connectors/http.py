"""What the connectors that speak HTTP share (the SCIM target, the REST source): the one
way an httpx client is built and a request exchanged, one translation of httpx's errors
and of failed statuses into the typed errors of `connectors.base`, and the Retry-After
header as seconds.

    http_client(config, what=..., headers=...)   the httpx.Client of one configured service
    exchange(client, request, what=..., timeout=..., max_mb=...)   one request -> an Answer
    translate_httpx(what, timeout)   a context manager: httpx errors -> Retryable/Permanent
    error_for_status(what, status, detail, retry_after)   a failed status -> its typed error

A client never reads the environment (SPEC "Fail closed"): no proxy from `HTTP_PROXY`,
`HTTPS_PROXY` or `ALL_PROXY`, no trust store from `SSL_CERT_FILE` or `SSL_CERT_DIR`;
the config's `proxy` and `ca_file` (else certifi's bundle) are what it uses. An exchange
follows redirects only within the request's origin (scheme, host, port): a redirect
elsewhere is refused before anything, the token included, is sent there. Its answer is
read within `max_response_mb` (connectors.bounds).

A request that never left (the connection was refused or could not be made in time,
no connection was free in the pool) is `Retryable` with `maybe_applied=False`; one that
may have reached the server (a read timeout, a dropped connection) is `Retryable` that
may have been applied. 429, 503 and 408 say the server did not act; other 5xx may have.
"""

from __future__ import annotations

import email.utils
import ssl
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from connectors.base import ConfigurationError, Conflict, NotFound, Permanent, Retryable, TargetError, said
from connectors.bounds import load_json, read_body
from jml.config import HttpEndpoint

__all__ = [
    "RETRY_AFTER_STATUSES", "Answer", "error_for_status", "exchange", "http_client", "is_retryable_status",
    "origin_of", "retry_after_seconds", "translate_httpx",
]  # fmt: skip

#: Statuses whose Retry-After is honoured: 429 (RFC 6585 §4), 503 (RFC 9110 §15.6.4).
RETRY_AFTER_STATUSES = frozenset({429, 503})
#: Retryable statuses that say the server did not act on the request.
NOT_APPLIED_STATUSES = frozenset({408, 429, 503})
#: How a failed status is typed besides retryable ones: 404, and RFC 7644 §3.12's
#: uniqueness and ETag mismatch.
CONFLICT_STATUSES = frozenset({409, 412})
#: httpx errors raised before the request reached the server.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
#: How many redirects (within the origin) one exchange follows.
MAX_REDIRECTS = 10
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Answer:
    """A response read in full within the bounds: its status, headers and body."""

    status: int
    headers: httpx.Headers
    body: bytes

    def json(self, what: str) -> object:
        """The body as JSON (connectors.bounds.load_json: Permanent when it is not JSON
        or nests too deep)."""
        return load_json(self.body, what)


def http_client(
    config: HttpEndpoint,
    *,
    what: str,
    headers: Mapping[str, str],
    base_url: str = "",
    max_connections: int | None = None,
) -> httpx.Client:
    """The httpx client of one configured service (see the module docstring): TLS
    verified against `config.ca_file` or certifi's bundle unless `verify: false`, the
    proxy `config.proxy` if any, no redirect followed by httpx itself (`exchange` does).
    ConfigurationError (naming `what` and the field) when the CA file cannot be used."""
    verify: ssl.SSLContext | bool = config.verify
    if config.ca_file is not None:
        try:
            verify = ssl.create_default_context(cafile=str(config.ca_file))
        except OSError as exc:  # ssl.SSLError included
            raise ConfigurationError(f"{what}: ca_file {config.ca_file}: {exc.strerror or exc}") from None
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    ) if max_connections is not None else httpx.Limits()  # fmt: skip
    return httpx.Client(
        base_url=base_url,
        headers=dict(headers),
        timeout=config.timeout,
        verify=verify,
        proxy=config.proxy,
        trust_env=False,
        follow_redirects=False,
        limits=limits,
    )


def exchange(client: httpx.Client, request: httpx.Request, *, what: str, timeout: float, max_mb: int) -> Answer:
    """Send `request` and read its answer (at most `max_mb` megabytes), following
    redirects within its origin. Permanent for a redirect to another origin (nothing is
    sent there), more than MAX_REDIRECTS, or a body too large; httpx's errors as
    `translate_httpx` types them."""
    origin = origin_of(request.url)
    with translate_httpx(what, timeout):
        for _ in range(MAX_REDIRECTS + 1):
            response = client.send(request, stream=True)
            try:
                following = response.next_request
                if following is None:
                    return Answer(response.status_code, response.headers, read_body(response, what, max_mb))
            finally:
                response.close()
            elsewhere = origin_of(following.url)
            if elsewhere != origin:
                raise Permanent(said(what, f"HTTP {response.status_code} redirects to {elsewhere}, another origin"))
            request = following
    raise Permanent(said(what, f"more than {MAX_REDIRECTS} redirects"))


def origin_of(url: httpx.URL | str) -> str:
    """A URL's origin (RFC 6454) as `scheme://host:port`, the port always written
    (never the user info, path or query)."""
    url = httpx.URL(url)
    host = f"[{url.host}]" if ":" in url.host else url.host
    return f"{url.scheme}://{host}:{url.port or _DEFAULT_PORTS.get(url.scheme, 0)}"


def is_retryable_status(status: int) -> bool:
    """429, 408 and every 5xx: the server may answer differently later."""
    return status in (408, 429) or status >= 500


def retry_after_seconds(value: str | None) -> float | None:
    """Retry-After (RFC 9110 §10.2.3) as seconds: delay-seconds or an HTTP-date; None
    when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


@contextmanager
def translate_httpx(what: str, timeout: float) -> Iterator[None]:
    """Raise httpx's errors inside the block as the typed errors, most specific first:
    a timeout or a transport failure is Retryable, anything else Permanent. `what`
    (e.g. "app: GET Users"), when given, starts each message."""
    try:
        yield
    except httpx.TimeoutException as exc:
        sent = not isinstance(exc, _NEVER_SENT)
        raise Retryable(said(what, f"timed out after {timeout} s"), maybe_applied=sent) from exc
    except httpx.TransportError as exc:
        sent = not isinstance(exc, _NEVER_SENT)
        raise Retryable(said(what, f"{type(exc).__name__}: {exc}"), maybe_applied=sent) from exc
    except httpx.HTTPError as exc:
        raise Permanent(said(what, f"{type(exc).__name__}: {exc}")) from exc


def error_for_status(what: str, status: int, detail: str = "", retry_after: str | None = None) -> TargetError:
    """The typed error of a failed status; `detail` is the server's own words."""
    message = said(what, f"HTTP {status}" + (f": {detail}" if detail else ""))
    if is_retryable_status(status):
        wait = retry_after_seconds(retry_after) if status in RETRY_AFTER_STATUSES else None
        return Retryable(message, status=status, retry_after=wait, maybe_applied=status not in NOT_APPLIED_STATUSES)
    if status == 404:
        return NotFound(message, status=status)
    if status in CONFLICT_STATUSES:
        return Conflict(message, status=status)
    return Permanent(message, status=status)
