"""The audit trail's hash chain: what makes an edited, deleted or inserted event visible.

Each event carries `prev_hash`, the hash of the event before it (`GENESIS` for the
first), and `hash` = SHA-256 over the previous hash and the event's canonical JSON
(`link`). The canonical JSON is the event as the ledger stores and returns it: its time
(ISO 8601, UTC, microseconds), run, actor, action, employee_id, target, detail and
reason, with sorted keys, no spaces and UTF-8 text. The id is not part of it: the chain
itself fixes the order. This format is a contract (migration 0004 chains existing
events with it, and copies of heads kept outside the ledger are checked against it):
it never changes.

`verify(engine, heads)` walks the events in id order, streaming, and names the first
break:
- an event whose stored hash is not the hash of its own content: it was edited;
- an event that links to an event further back than the one before it: the events in
  between were inserted;
- an event that links to no event there is: the event(s) before it were deleted, or
  reordered, or the one before it was rewritten with a new hash;
- a head kept elsewhere (each run's document, or `--head`) that no event has: events
  after the last one that is there were deleted.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Engine

from jml.ledger import tables as t
from jml.ledger.engine import read
from jml.ledger.records import ChainReport

GENESIS = "0" * 64

#: How far back an inserted run of events is recognised as such (beyond it: "deleted").
_RECENT = 10_000
#: Rows fetched per round trip while verifying.
_STREAM = 10_000

_a = t.audit.c
#: The columns the canonical JSON is made of, in the order `content` takes them.
CONTENT = (_a.at, _a.run_id, _a.actor, _a.action, _a.employee_id, _a.target, _a.detail, _a.reason)


def content(
    at: datetime,
    run_id: int | None,
    actor: str,
    action: str,
    employee_id: str | None,
    target: str | None,
    detail: Mapping[str, Any],
    reason: str | None,
) -> bytes:
    """The canonical JSON of one event (`detail` as the JSON column returns it)."""
    event = {
        "at": at.isoformat(timespec="microseconds"),
        "run_id": run_id,
        "actor": actor,
        "action": action,
        "employee_id": employee_id,
        "target": target,
        "detail": detail,
        "reason": reason,
    }
    return json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link(prev_hash: str, event: bytes) -> str:
    """The hash of an event whose canonical JSON is `event`, following `prev_hash`."""
    return hashlib.sha256(prev_hash.encode("ascii") + b"\n" + event).hexdigest()


def chained(prev_hash: str, events: Iterable[bytes]) -> list[tuple[str, str]]:
    """(prev_hash, hash) of each event, in order, continuing the chain from `prev_hash`."""
    pairs = []
    for event in events:
        digest = link(prev_hash, event)
        pairs.append((prev_hash, digest))
        prev_hash = digest
    return pairs


def verify(engine: Engine, heads: Mapping[str, str] | None = None) -> ChainReport:
    """Recompute the chain (see the module docstring). `heads` maps a head hash kept
    elsewhere to where it was kept (e.g. "run 12"); each must be an event's hash."""
    wanted = dict(heads or {})
    query = select(_a.id, _a.prev_hash, _a.hash, *CONTENT).order_by(_a.id)
    expected, count, last_id = GENESIS, 0, None
    recent: deque[tuple[str, int]] = deque(maxlen=_RECENT)  # (hash, id) of the events just seen
    with read(engine) as conn:
        for row in conn.execution_options(yield_per=_STREAM).execute(query):
            event_id, prev_hash, digest = row[0], row[1], row[2]
            if link(prev_hash, content(*row[3:])) != digest:
                return ChainReport(
                    count, expected, event_id, f"event {event_id} was edited: its content does not match its hash"
                )
            if prev_hash != expected:
                back = next((i for h, i in reversed(recent) if h == prev_hash), None)
                if back is not None:
                    first = next(i for _, i in recent if i > back)
                    problem = f"event {first} was inserted: event {event_id} links to event {back}, before it"
                    return ChainReport(count, expected, first, problem)
                after = f"after event {last_id}" if last_id is not None else "at the start"
                problem = (f"event {event_id} links to no event there is: events {after} were deleted or"
                           " reordered, or the event before it was rewritten")  # fmt: skip
                return ChainReport(count, expected, event_id, problem)
            wanted.pop(digest, None)
            recent.append((digest, event_id))
            expected, count, last_id = digest, count + 1, event_id
    if wanted:
        head, where = next(iter(wanted.items()))
        last = f"event {last_id}" if last_id is not None else "the start"
        problem = f"the head {head} kept in {where} is no event's hash: events after {last} were deleted"
        return ChainReport(count, expected, None, problem)
    return ChainReport(count, expected)


def head(conn) -> tuple[int, str]:
    """(id, hash) of the last event, or (0, GENESIS) for an empty trail."""
    row = conn.execute(select(_a.id, _a.hash).order_by(_a.id.desc()).limit(1)).first()
    return (row[0], row[1]) if row else (0, GENESIS)
