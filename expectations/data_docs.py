"""Great Expectations Data Docs of a run's validations: one static site per config.

`build_data_docs(validations, directory, run_name=...)` hands each source's GX
validation result (`FeedValidation.result`) to GX's own site builder (`SiteBuilder`
with a `TupleFilesystemStoreBackend` on `directory`), once per run, and returns the
file:// URLs of the site's index and of each source's page. GX keeps each run's pages
and results (`results/`, JSON, which its index reads back): the index lists the newest
INDEX_LIMIT validations built into the folder. The builder has a GX context of its own
(the runner's validates meanwhile), used under a lock.

No personal data reaches the pages: the runner has GX leave the failing values out
(`exclude_unexpected_values`), so a failed rule's table shows, in the place of the
value, the rule's name (`meta["rule"]`, as the quarantine exceptions name it) and the
failing rows by `_row` (GX shows the first 10 of a rule; `jml exceptions` lists all).
A folder that cannot be written raises DataDocsError, one line naming it.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from expectations.hr_feed import ROW_COLUMN, rule_of
from expectations.runner import ephemeral_context, failing_rows

__all__ = ["DataDocs", "DataDocsError", "build_data_docs"]

_SITE = "jml"
_STORE = "jml_validation_results"
#: The index lists this many validations at most (the newest); older pages stay.
INDEX_LIMIT = 100
#: What the page shows in the place of a failing value (which is never kept).
_WITHHELD = "{rule}: value not shown"

_context: Any = None
_lock = threading.Lock()


class DataDocsError(Exception):
    """The Data Docs could not be written (the message is one line naming the folder)."""


@dataclass(frozen=True, slots=True)
class DataDocs:
    """Where a run's Data Docs are: file:// URLs of the site's index and of each
    source's page."""

    index: str
    pages: Mapping[str, str]


def build_data_docs(validations: Mapping[str, Any], directory: Path, *, run_name: str) -> DataDocs:
    """Render the validation result of each source (name -> GX result) into the site
    at `directory`, as run `run_name`; where the pages are."""
    from great_expectations.core.run_identifier import RunIdentifier
    from great_expectations.data_context.types.resource_identifiers import (
        ExpectationSuiteIdentifier,
        ValidationResultIdentifier,
    )
    from great_expectations.exceptions import GreatExpectationsError

    run = RunIdentifier(run_name=run_name, run_time=datetime.now(UTC))
    global _context
    with _lock:
        if _context is None:
            _context = ephemeral_context()
        try:
            store = _context.add_store(_STORE, _store(directory))
            _context.add_data_docs_site(_SITE, _site(directory))
            keys = {}
            for source, result in validations.items():
                key = ValidationResultIdentifier(ExpectationSuiteIdentifier(result.suite_name), run, source)
                store.set(key, _shown(result, source, run))
                keys[source] = key
            index = _context.build_data_docs(site_names=[_SITE], resource_identifiers=list(keys.values()))[_SITE]
            pages = {
                source: _file_url(_context.get_docs_sites_urls(key, site_name=_SITE)[0]["site_url"])
                for source, key in keys.items()
            }
        except (OSError, GreatExpectationsError) as exc:
            reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc).splitlines()[0]
            raise DataDocsError(f"data docs not written to {directory}: {reason}") from None
        finally:
            if _SITE in _context.list_data_docs_sites():
                _context.delete_data_docs_site(_SITE)
            if _STORE in _context.stores:
                _context.delete_store(_STORE)
    return DataDocs(_file_url(index), pages)


def _file_url(url: str) -> str:
    """GX's file:// URL (its path as it is) percent-encoded, as a browser wants it."""
    return Path(url.removeprefix("file://")).as_uri()


def _store(directory: Path) -> dict[str, Any]:
    """The validation results, kept as JSON in `results/` (GX's index reads them)."""
    backend = {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(directory / "results")}
    return {"class_name": "ValidationResultsStore", "store_backend": backend}


def _site(directory: Path) -> dict[str, Any]:
    """The HTML site in `directory`: the validations' pages and the index."""
    return {
        "class_name": "SiteBuilder",
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(directory)},
        "site_index_builder": {
            "class_name": "DefaultSiteIndexBuilder",
            "validation_results_limit": INDEX_LIMIT,
            "show_how_to_buttons": False,
        },
        "site_section_builders": {
            "expectations": "None",
            "profiling": "None",
            "validations": {"source_store_name": _STORE},
        },
    }


def _shown(result: Any, source: str, run: Any) -> Any:
    """A copy of the result as the page shows it: the source and the run named, and
    each failed rule's rows (by `_row`) under a placeholder value naming the rule."""
    shown = copy.copy(result)
    batch_spec = {**result.meta.get("batch_spec", {}), "data_asset_name": source}
    shown.meta = {**result.meta, "run_id": run, "batch_spec": batch_spec}
    shown.results = [_with_rows(item) for item in result.results]
    return shown


def _with_rows(item: Any) -> Any:
    details = item.result or {}
    failing = details.get("unexpected_index_list")
    if item.success or not failing:
        return item
    rows = failing_rows(failing)
    value = _WITHHELD.format(rule=rule_of(item.expectation_config))
    item = copy.copy(item)
    item.result = {
        **details,
        "partial_unexpected_counts": [{"value": value, "count": len(rows)}],
        "unexpected_index_list": [{"value": value, ROW_COLUMN: row} for row in rows],
    }
    return item
