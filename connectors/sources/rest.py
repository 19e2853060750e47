"""An HRIS REST API as a source, through httpx.

`RestSourceConnector(config, environ=os.environ).read()` GETs `config.url` (with
`Authorization: Bearer <environ[config.token_env]>` when a token is configured), takes
the list of workers at the dotted path `items` of the JSON answer, and follows the URL at
the dotted path `next` (relative URLs are resolved against the page's URL) until it is
absent, null or empty. Each item becomes one row: for every `fields` entry
`{column: dotted path}`, the value at that path inside the item (a missing path: None).
A `next` URL on another origin (scheme, host, port) than `url` is refused, so the token
never leaves the configured API. The frame is the one every source returns
(connectors.sources.frames): cells as text, `_row` the item's position over all pages.

A dotted path walks objects by key and arrays by index: `data.workers`, `name.given`,
`emails.0.value`.

Transient failures (429, 408, 5xx, timeouts, connection errors) are tried again per
`config.retry` (connectors.retry: exponential backoff with jitter, never shorter than
the server's Retry-After, within the attempt and time caps); only the failing page is
fetched again.

Every failure is a SourceError whose one-line message names the source and the page:
the token variable is not set, a page failed for good (an HTTP status, a timeout after
the last try), an answer is not JSON, `items` is not a list, an item is not an object
or a field is not a single value, `next` repeats a page already read or the pages exceed
`config.max_pages`. The token never appears in a message or a log.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import httpx
import pandas as pd

from connectors.base import Permanent, Retryable, SourceError, TargetError, secret
from connectors.http import error_for_status, translate_httpx
from connectors.retry import call_with_retries
from connectors.sources.frames import text_frame
from jml.config import RestSource

__all__ = ["RestSourceConnector", "dig"]

log = logging.getLogger(__name__)

_MISSING = object()


def dig(document: object, path: str) -> Any:
    """The value at a dotted path (`a.b.0.c`), or None where the path leads nowhere."""
    current: Any = document
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part, _MISSING)
        elif isinstance(current, list) and part.isdigit():
            index = int(part)
            current = current[index] if index < len(current) else _MISSING
        else:
            current = _MISSING
        if current is _MISSING:
            return None
    return current


class RestSourceConnector:
    """Reads the HR feed from a paged REST API; see the module docstring."""

    def __init__(self, config: RestSource, *, environ: Mapping[str, str] = os.environ) -> None:
        self.name = config.name
        self._config = config
        self._headers = {"Accept": "application/json"}
        if config.token_env is not None:
            token = secret(environ, config.token_env, f"source {config.name}", SourceError)
            self._headers["Authorization"] = f"Bearer {token}"

    def __repr__(self) -> str:
        return f"RestSourceConnector(name={self.name!r}, url={self._config.url!r})"

    def read(self) -> pd.DataFrame:
        """Every item of every page as a frame of text plus `_row`; SourceError."""
        started = time.monotonic()
        config = self._config
        columns = list(config.fields)
        paths = list(config.fields.values())
        rows: list[list[Any]] = []
        seen: set[str] = set()
        url: str | None = config.url
        pages = 0
        # Redirects are followed; httpx drops the Authorization header on a redirect to
        # another origin.
        with httpx.Client(
            headers=self._headers, timeout=config.timeout, verify=config.verify, follow_redirects=True
        ) as client:
            while url:
                if url in seen:
                    raise self._fail(url, "the next page's URL repeats a page already read")
                if pages == config.max_pages:
                    raise self._fail(url, f"more than max_pages ({config.max_pages}) pages")
                seen.add(url)
                pages += 1
                body = self._page(client, url)
                items = dig(body, config.items)
                if not isinstance(items, list):
                    raise self._fail(url, f"`{config.items}` is not a list of workers")
                for position, item in enumerate(items):
                    if not isinstance(item, dict):
                        raise self._fail(url, f"item {position} of `{config.items}` is not an object")
                    rows.append([dig(item, path) for path in paths])
                following = dig(body, config.next) if config.next else None
                if following is not None and not isinstance(following, str):
                    raise self._fail(url, f"`{config.next}` is not a URL")
                url = self._next_url(url, following) if following else None
        frame = text_frame(self.name, columns, rows)
        log.info(
            "source %s: read %d rows from %d pages in %.2f s",
            self.name, len(frame), pages, time.monotonic() - started,
        )  # fmt: skip
        return frame

    def _next_url(self, url: str, following: str) -> str:
        """The next page's absolute URL; it must stay on the configured origin, so the
        token is never sent elsewhere."""
        joined = httpx.URL(url).join(following)
        origin = httpx.URL(self._config.url)
        if (joined.scheme, joined.host, joined.port) != (origin.scheme, origin.host, origin.port):
            raise self._fail(url, f"the next page's URL leaves {origin.scheme}://{origin.netloc.decode()}")
        return str(joined)

    def _page(self, client: httpx.Client, url: str) -> object:
        """One page's JSON, tried again per the retry policy on transient failures."""
        try:
            return call_with_retries(lambda: self._get(client, url), self._config.retry)
        except TargetError as exc:
            attempts = self._config.retry.attempts
            tries = f" (after {attempts} {'try' if attempts == 1 else 'tries'})" if isinstance(exc, Retryable) else ""
            raise self._fail(url, f"{exc}{tries}") from None

    def _get(self, client: httpx.Client, url: str) -> object:
        """GET one page: Retryable for what may pass, another TargetError for the rest."""
        with translate_httpx("", self._config.timeout):
            response = client.get(url)
        status = response.status_code
        if status >= 400:
            raise error_for_status("", status, retry_after=response.headers.get("Retry-After"))
        try:
            return response.json()
        except ValueError:
            raise Permanent(f"HTTP {status}: the answer is not JSON") from None

    def _fail(self, url: str, why: str) -> SourceError:
        shown = httpx.URL(url).copy_with(query=None)
        return SourceError(f"source {self.name}: GET {shown}: {why}")
