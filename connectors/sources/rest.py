"""An HRIS REST API as a source, through httpx.

`RestSourceConnector(config, environ=os.environ).read()` GETs `config.url` (with
`Authorization: Bearer <environ[config.token_env]>` when a token is configured), takes
the list of workers at the dotted path `items` of the JSON answer, and follows the URL at
the dotted path `next` (relative URLs are resolved against the page's URL) until it is
absent, null or empty. Each item becomes one row, one column per dotted path the
config reads (connectors.sources.mapped.read_paths; a missing path: None), which
`read` then maps to the feed's columns (`read_records`: the items as read).
A `next` URL on another origin (scheme, host, port) than `url` is refused, and so is a
redirect to one (connectors.http), so the token never leaves the configured API; the
client takes no proxy or trust store from the environment. The frame is the one every source returns
(connectors.sources.frames): cells as text, `_row` the item's position over all pages.

A dotted path walks objects by key and arrays by index: `data.workers`, `name.given`,
`emails.0.value`.

Transient failures (429, 408, 5xx, timeouts, connection errors) are tried again per
`config.retry` (connectors.retry: exponential backoff with jitter, never shorter than
the server's Retry-After, within the attempt and time caps); only the failing page is
fetched again.

Every failure is a SourceError whose one-line message names the source and the page:
the token variable is not set, `ca_file` cannot be used, a page failed for good (an HTTP
status, a timeout after the last try, a redirect to another origin), an answer is not
JSON, `items` is not a list, an item is not an object or a field is not a single value.
Reads are bounded (connectors.bounds): `next` repeating a page's URL, a page repeating
the items of an earlier page under a new URL, more than `config.max_pages` pages, an
answer larger than `config.max_response_mb` or JSON nested deeper than 64 levels ends
the read. The token never appears in a message or a log.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping
from typing import Any

import httpx
import pandas as pd

from connectors.base import ConfigurationError, Permanent, Retryable, SourceError, TargetError, secret
from connectors.bounds import Pages
from connectors.http import error_for_status, exchange, http_client, origin_of
from connectors.retry import call_with_retries
from connectors.sources.frames import text_frame
from connectors.sources.mapped import map_records, read_paths
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
        self._paths = read_paths(config)
        self._headers = {"Accept": "application/json"}
        if config.token_env is not None:
            token = secret(environ, config.token_env, f"source {config.name}", SourceError)
            self._headers["Authorization"] = f"Bearer {token}"

    def __repr__(self) -> str:
        return f"RestSourceConnector(name={self.name!r}, url={self._config.url!r})"

    def read(self) -> pd.DataFrame:
        """Every item of every page as the feed frame (mapped by `fields`) plus `_row`;
        SourceError."""
        return self.mapped(self.read_records())

    def mapped(self, records: pd.DataFrame) -> pd.DataFrame:
        """`records` (as `read_records` gives them) as the feed frame."""
        return map_records(records, self._config, where="")

    def read_records(self) -> pd.DataFrame:
        """Every item of every page as read: one text column per path, plus `_row`."""
        started = time.monotonic()
        config = self._config
        rows: list[list[Any]] = []
        seen: set[str] = set()
        url: str | None = config.url
        pages = Pages("", config.max_pages)
        try:
            client = http_client(config, what=f"source {self.name}", headers=self._headers)
        except ConfigurationError as exc:
            raise SourceError(str(exc)) from None
        with client:
            while url:
                if url in seen:
                    raise self._fail(url, "the next page's URL repeats a page already read")
                seen.add(url)
                body = self._page(client, url, pages)
                rows += self._rows(url, body, pages)
                url = self._next_url(url, body)
        frame = text_frame(self.name, self._paths, rows)
        log.info(
            "source %s: read %d rows from %d pages in %.2f s",
            self.name, len(frame), pages.count, time.monotonic() - started,
        )  # fmt: skip
        return frame

    def _rows(self, url: str, body: object, pages: Pages) -> list[list[Any]]:
        """The rows of one page (the value at each field's path in each item); the page
        must not repeat the items of one already read."""
        items = dig(body, self._config.items)
        if not isinstance(items, list):
            raise self._fail(url, f"`{self._config.items}` is not a list of workers")
        paths = self._paths
        rows = []
        for position, item in enumerate(items):
            if not isinstance(item, dict):
                raise self._fail(url, f"item {position} of `{self._config.items}` is not an object")
            rows.append([dig(item, path) for path in paths])
        try:
            pages.check(items)
        except Permanent as exc:
            raise self._fail(url, str(exc)) from None
        return rows

    def _next_url(self, url: str, body: object) -> str | None:
        """The next page's absolute URL (None after the last page); it must stay on the
        configured origin, so the token is never sent elsewhere."""
        following = dig(body, self._config.next) if self._config.next else None
        if following is not None and not isinstance(following, str):
            raise self._fail(url, f"`{self._config.next}` is not a URL")
        if not following:
            return None
        joined = httpx.URL(url).join(following)
        origin = origin_of(self._config.url)
        if origin_of(joined) != origin:
            raise self._fail(url, f"the next page's URL leaves {origin}")
        return str(joined)

    def _page(self, client: httpx.Client, url: str, pages: Pages) -> object:
        """One more page's JSON (refused past `max_pages`), tried again per the retry
        policy on transient failures."""
        try:
            pages.take()
            return call_with_retries(lambda: self._get(client, url), self._config.retry)
        except TargetError as exc:
            attempts = self._config.retry.attempts
            tries = f" (after {attempts} {'try' if attempts == 1 else 'tries'})" if isinstance(exc, Retryable) else ""
            raise self._fail(url, f"{exc}{tries}") from None

    def _get(self, client: httpx.Client, url: str) -> object:
        """GET one page, within the bounds: Retryable for what may pass, another
        TargetError for the rest."""
        config = self._config
        request = client.build_request("GET", url)
        answer = exchange(client, request, what="", timeout=config.timeout, max_mb=config.max_response_mb)
        if answer.status >= 400:
            raise error_for_status("", answer.status, retry_after=answer.headers.get("Retry-After"))
        return answer.json(f"HTTP {answer.status}")

    def _fail(self, url: str, why: str) -> SourceError:
        shown = httpx.URL(url).copy_with(query=None)
        return SourceError(f"source {self.name}: GET {shown}: {why}")
