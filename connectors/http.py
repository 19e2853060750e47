"""What the connectors that speak HTTP share (the SCIM target, the REST source): one
translation of httpx's errors and of failed statuses into the typed errors of
`connectors.base`, and the Retry-After header as seconds.

    translate_httpx(what, timeout)   a context manager: httpx errors -> Retryable/Permanent
    error_for_status(what, status, detail, retry_after)   a failed status -> its typed error

A request that never left (the connection was refused or could not be made in time,
no connection was free in the pool) is `Retryable` with `maybe_applied=False`; one that
may have reached the server (a read timeout, a dropped connection) is `Retryable` that
may have been applied. 429, 503 and 408 say the server did not act; other 5xx may have.
"""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

import httpx

from connectors.base import Conflict, NotFound, Permanent, Retryable, TargetError

__all__ = ["RETRY_AFTER_STATUSES", "error_for_status", "is_retryable_status", "retry_after_seconds", "translate_httpx"]

#: Statuses whose Retry-After is honoured: 429 (RFC 6585 §4), 503 (RFC 9110 §15.6.4).
RETRY_AFTER_STATUSES = frozenset({429, 503})
#: Retryable statuses that say the server did not act on the request.
NOT_APPLIED_STATUSES = frozenset({408, 429, 503})
#: How a failed status is typed besides retryable ones: 404, and RFC 7644 §3.12's
#: uniqueness and ETag mismatch.
CONFLICT_STATUSES = frozenset({409, 412})
#: httpx errors raised before the request reached the server.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


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
        raise Retryable(_said(what, f"timed out after {timeout} s"), maybe_applied=sent) from exc
    except httpx.TransportError as exc:
        sent = not isinstance(exc, _NEVER_SENT)
        raise Retryable(_said(what, f"{type(exc).__name__}: {exc}"), maybe_applied=sent) from exc
    except httpx.HTTPError as exc:
        raise Permanent(_said(what, f"{type(exc).__name__}: {exc}")) from exc


def error_for_status(what: str, status: int, detail: str = "", retry_after: str | None = None) -> TargetError:
    """The typed error of a failed status; `detail` is the server's own words."""
    message = _said(what, f"HTTP {status}" + (f": {detail}" if detail else ""))
    if is_retryable_status(status):
        wait = retry_after_seconds(retry_after) if status in RETRY_AFTER_STATUSES else None
        return Retryable(message, status=status, retry_after=wait, maybe_applied=status not in NOT_APPLIED_STATUSES)
    if status == 404:
        return NotFound(message, status=status)
    if status in CONFLICT_STATUSES:
        return Conflict(message, status=status)
    return Permanent(message, status=status)


def _said(what: str, text: str) -> str:
    return f"{what}: {text}" if what else text
