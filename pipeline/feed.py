"""The validate stage: read every HR source and run its expectation suite (the feed gate).

`read_feed(run)` reads the sources best precedence first, warning about each source
whose transport is weakened (`verify: false`, `insecure: true`). A source that cannot be read
at all ends the stage with `error` (one line naming it: bad input, exit 2), and so does a
target attribute reading a column no source yields. A feed the
gate stops has `halt`; a `final` halt (an empty feed, a required column missing) cannot
be overridden and carries no records, while too many invalid rows can be overridden
and keep their records and quarantine issues.

A recorded run (not `jml plan`, `preview` or `review`, which write nothing) then has
GX build the Data Docs of the sources it validated, halted or not, once for the run
(`expectations.data_docs`, in `Config.data_docs_dir`); `Feed.data_docs` says where. Docs
that cannot be written are a warning in the run's log: the run goes on without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from connectors.base import SourceError
from connectors.factory import build_source
from expectations.data_docs import DataDocs, DataDocsError, build_data_docs
from expectations.runner import validate_feed
from jml.config import weakened
from jml.config.attributes import unknown_column
from jml.lifecycle import Ending
from jml.model import KNOWN_COLUMNS, HrRecord, Issue
from jml.text import visible
from pipeline.run import Run

__all__ = ["Feed", "read_feed"]


@dataclass(frozen=True, slots=True)
class Feed:
    """The valid records per source (best precedence first), the quarantine issues, the
    ids held back, and the gate's verdict (see the module docstring)."""

    records: tuple[tuple[HrRecord, ...], ...] = ()
    issues: tuple[Issue, ...] = ()
    held: frozenset[str] = frozenset()
    halt: str | None = None
    final: bool = False
    error: str | None = None
    rows: int = 0
    invalid: int = 0
    #: What the held (quarantined) rows say of the end of each person's access.
    held_endings: Mapping[str, tuple[Ending, ...]] = field(default_factory=dict)
    #: Where this run's Data Docs are; None when none were built.
    data_docs: DataDocs | None = None


def read_feed(run: Run) -> Feed:
    """Read each source and validate it (the feed gate), then build the Data Docs."""
    validations: dict[str, Any] = {}
    feed = _validate(run, validations)
    if not run.recorded or not validations:
        return feed
    try:
        docs = build_data_docs(validations, run.config.data_docs_dir, run_name=f"run-{run.id}")
    except DataDocsError as exc:
        run.log.warning("%s; the run goes on without them", visible(str(exc)))
        return feed
    return replace(feed, data_docs=docs)


def _validate(run: Run, validations: dict[str, Any]) -> Feed:
    """Read and validate each source, best precedence first; each GX result goes into
    `validations` (source name -> result)."""
    records: list[tuple[HrRecord, ...]] = []
    issues: list[Issue] = []
    held: set[str] = set()
    endings: dict[str, list[Ending]] = {}
    rows = invalid = 0
    halt: str | None = None
    columns = set(KNOWN_COLUMNS)  # what the targets' attributes may read
    for source in sorted(run.config.sources, key=lambda s: s.precedence):
        for warning in weakened(source):
            run.log.warning("source %s: %s", source.name, warning)
        try:
            frame = build_source(source, run.config.base_dir).read()
        except SourceError as exc:  # bad input, not a crash: no traceback in the run's log
            return Feed(error=str(exc))
        checked = validate_feed(
            frame,
            source=source.name,
            max_invalid_fraction=run.config.safety.max_invalid_fraction,
            provenance=source.provenance,
            email_required=run.config.naming.email is None,
        )
        if checked.result is not None:
            validations[source.name] = checked.result
        rows += checked.rows
        invalid += checked.invalid
        columns |= {str(name) for name in frame.columns} | set(getattr(source, "fields", None) or ())
        if checked.halt:
            halt = f"feed gate: {checked.halt}"
            if not checked.records:
                return Feed(tuple(records), tuple(issues), frozenset(held), halt, True, None, rows, invalid)
        records.append(tuple(checked.records))
        issues.extend(checked.issues)
        held |= checked.held
        for eid, found in checked.held_endings.items():
            endings.setdefault(eid, []).extend(found)
    unknown = unknown_column(run.config.targets, columns)
    if unknown:
        return Feed(error=unknown)
    held_endings = {eid: tuple(found) for eid, found in endings.items()}
    return Feed(tuple(records), tuple(issues), frozenset(held), halt, False, None, rows, invalid, held_endings)
