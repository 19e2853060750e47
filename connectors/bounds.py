"""The bounds on what one read takes from a server (SPEC "Fail closed": reads are
bounded), shared by the SCIM target and the REST source:

    Pages(what, max_pages)          a paged read: at most `max_pages` pages, none a repeat
    read_body(response, what, max_mb)   a streamed httpx body, refused past `max_mb` MB
    load_json(body, what)           JSON, refused when nested deeper than MAX_DEPTH
    cheaper_in_full(wanted, population, floor)   whether one full read costs less than
                                    reading `wanted` resources one way or another

Each refusal is a `Permanent` (not retried: the server would answer the same) whose one
line starts with `what` (e.g. "app: GET Users"; none when empty) and says which bound
the answer broke, never what it held. A target whose read is refused is unreachable
for the run; a source turns it into its SourceError.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

import httpx

from connectors.base import Permanent, said

__all__ = ["MAX_DEPTH", "Pages", "cheaper_in_full", "fingerprint", "load_json", "read_body"]

#: The deepest nesting of arrays and objects accepted in an answer.
MAX_DEPTH = 64
MEGABYTE = 1024 * 1024


def cheaper_in_full(wanted: int, population: int, floor: int) -> bool:
    """Whether one full read of `population` resources costs less than reading `wanted`
    of them by lookups or a filter: more than `floor` and a quarter of them."""
    return wanted > max(floor, population // 4)


class Pages:
    """The pages of one paged read. `take()` before fetching each page refuses the one
    past `max_pages`; `check(items)` after reading it refuses a page whose items repeat
    those of a page already read (an empty page repeats nothing)."""

    def __init__(self, what: str, max_pages: int) -> None:
        self._what = what
        self._max_pages = max_pages
        self._seen: dict[bytes, int] = {}  # fingerprint -> page number
        self.count = 0

    def take(self) -> None:
        if self.count >= self._max_pages:
            raise Permanent(said(self._what, f"more than max_pages ({self._max_pages}) pages"))
        self.count += 1

    def check(self, items: Sequence[object]) -> None:
        if not items:
            return
        earlier = self._seen.setdefault(fingerprint(items), self.count)
        if earlier != self.count:
            raise Permanent(said(self._what, f"page {self.count} repeats page {earlier}"))


def fingerprint(items: Sequence[object]) -> bytes:
    """A digest of a page's items (as parsed JSON), equal for equal pages."""
    text = json.dumps(items, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


def read_body(response: httpx.Response, what: str, max_mb: int) -> bytes:
    """The (decoded) body of a response sent with `stream=True`, read chunk by chunk:
    refused as soon as it passes `max_mb` megabytes (at once when its Content-Length
    says it will), so a huge answer is never held. Transport errors are httpx's (the
    caller translates them); the response is left open for the caller to close."""
    max_bytes = max_mb * MEGABYTE
    too_large = f"the answer is larger than max_response_mb ({max_mb} MB)"
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise Permanent(said(what, too_large))
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise Permanent(said(what, too_large))
        chunks.append(chunk)
    return b"".join(chunks)


def load_json(body: bytes, what: str) -> object:
    """The JSON value of a body; Permanent when it is not JSON, or nests arrays and
    objects deeper than MAX_DEPTH (checked without recursion; a parser's own
    RecursionError is the same refusal)."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise Permanent(said(what, _too_deep())) from None
    except ValueError:
        raise Permanent(said(what, "the answer is not JSON")) from None
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth >= MAX_DEPTH:
                    raise Permanent(said(what, _too_deep()))
                stack.append((child, depth + 1))
    return value


def _too_deep() -> str:
    return f"the answer nests JSON deeper than {MAX_DEPTH} levels"
