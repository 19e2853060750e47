"""`jml review --manager ID [--all-levels] [--format csv|json]`: the access of a
manager's reports, with the reason of each entitlement and since when, for an access
review (SPEC "Audit you can prove").

Who reports to whom, and who is terminated today, come from the feed, read as `jml
plan` reads it but only up to resolve (`pipeline.sync.people`: no target is contacted);
what each holds, why and since when, from the ledger's grants. Read-only: it records no
run and writes no audit event. An unknown manager is exit 2; a feed the gate stops is
exit 4, as for `jml plan`. Without --format (or --json) a table (`app.render.table`).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from app.cli_support import DEFAULT_CONFIG, ConfigOpt, Exit, JsonOpt, emit, out
from app.render import table
from jml.lifecycle import today
from jml.review import REVIEW_FIELDS, UnknownManager, csv_text, items, under_review
from jml.secrets import redact

FORMATS = ("csv", "json")


def review(
    manager: Annotated[str, typer.Option("--manager", help="The manager's employee_id.")],
    all_levels: Annotated[
        bool, typer.Option("--all-levels", help="The whole chain of reports below, not only direct ones.")
    ] = False,
    output: Annotated[str | None, typer.Option("--format", help="csv or json (default: a table).")] = None,
    config: ConfigOpt = DEFAULT_CONFIG,
    as_json: JsonOpt = False,
) -> None:
    """The access of a manager's reports, with the reason of each entitlement (an access review)."""
    if output is not None and output not in FORMATS:
        raise Exit(2, f"--format: {output!r} is not one of {', '.join(FORMATS)}")
    if as_json and output == "csv":
        raise Exit(2, "--json and --format csv ask for two formats: give one")
    from pipeline import sync
    from pipeline.run import open_run

    day = today()
    with open_run(config, as_of=day, record=False) as run:
        found = sync.people(run)
        if found.error:  # a source that could not be read: bad input
            raise Exit(2, f"error: {found.error}")
        if found.resolved is None:
            raise Exit(4, f"halted: {found.halt}")
        try:
            chain = under_review(found.resolved, manager, day, all_levels=all_levels)
        except UnknownManager as exc:
            raise Exit(2, f"error: {exc}") from None
        review_items = items(run.ledger.grants_held(chain))
    if as_json or output == "json":
        emit({"manager": manager, "review": review_items})
    elif output == "csv":
        sys.stdout.write(redact(csv_text(review_items)))
    else:
        rows = [[item[name] for name in REVIEW_FIELDS] for item in review_items]
        scope = "all levels" if all_levels else "direct reports"
        out.print(table(f"access review of {manager}'s {scope}: {len(review_items)} entitlements", REVIEW_FIELDS, rows))
