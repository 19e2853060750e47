"""HTTP helpers shared by the connectors that speak HTTP: which statuses are worth
trying again, and the Retry-After header as seconds. No I/O.
"""

from __future__ import annotations

import email.utils
from datetime import datetime, timezone

__all__ = ["RETRY_AFTER_STATUSES", "is_retryable_status", "retry_after_seconds"]

#: Statuses whose Retry-After is honoured: 429 (RFC 6585 §4), 503 (RFC 9110 §15.6.4).
RETRY_AFTER_STATUSES = frozenset({429, 503})


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
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
