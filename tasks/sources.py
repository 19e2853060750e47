"""Read every HR source and validate it: the feed gate."""

from __future__ import annotations

from dataclasses import dataclass, field

from prefect import task
from prefect.cache_policies import NONE

from connectors.base import SourceError
from connectors.factory import build_source
from expectations.runner import validate_feed
from jml.model import HrRecord, Issue
from tasks.context import RunContext


@dataclass(slots=True)
class Feed:
    """The valid records per source (best precedence first), the quarantine issues, the
    ids held back and, when the feed gate trips, why. A `final` halt (empty feed,
    missing column) cannot be overridden; too many invalid rows can."""

    records: list[list[HrRecord]] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    held: set[str] = field(default_factory=set)
    halt: str | None = None
    final: bool = False
    #: A source that could not be read at all (one line naming it): bad input, exit 2.
    error: str | None = None
    rows: int = 0
    invalid: int = 0


@task(name="validate", cache_policy=NONE)
def read_and_validate(ctx: RunContext) -> Feed:
    """Read each source and run its expectation suite (the feed gate)."""
    feed = Feed()
    for source in sorted(ctx.config.sources, key=lambda s: s.precedence):
        try:
            frame = build_source(source, ctx.config.base_dir).read()
        except SourceError as exc:  # bad input, not a crash: no traceback in the run's log
            feed.error = str(exc)
            return feed
        checked = validate_feed(
            frame, source=source.name, max_invalid_fraction=ctx.config.safety.max_invalid_fraction
        )
        feed.rows += checked.rows
        feed.invalid += checked.invalid
        if checked.halt:
            feed.halt = f"feed gate: {checked.halt}"
            if not checked.records:
                feed.final = True
                return feed
        feed.records.append(checked.records)
        feed.issues.extend(checked.issues)
        feed.held |= checked.held
    return feed

