"""`jml preview --employee-id ID [--as-of D] [--json]`: one person as a run would see
them, nothing written (`pipeline.preview`; SPEC "`jml preview`"): how an admin tests a
mapping on one person before a run. An id no source holds is exit 2; any other person
exit 0 (a quarantined one too: the rules they break are the answer)."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli_support import DEFAULT_CONFIG, AsOfOpt, ConfigOpt, Exit, JsonOpt, emit, out, parse_day
from app.render import literal, table


def preview(
    employee_id: Annotated[str, typer.Option("--employee-id", help="The person's employee_id.")],
    config: ConfigOpt = DEFAULT_CONFIG,
    as_of: AsOfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One person as a run would see them: records, mapped row, rules, bundles, accounts, operations."""
    from pipeline.preview import NotInFeed
    from pipeline.preview import preview as look
    from pipeline.run import open_run

    day = parse_day(as_of)
    with open_run(config, as_of=day, record=False) as run:
        try:
            document = look(run, employee_id.strip())
        except NotInFeed as exc:
            raise Exit(2, f"error: {exc}") from None
    if as_json:
        emit(document)
        return
    out.print(literal(f"{employee_id} as of {document['as_of']}: {document['lifecycle'] or 'held'}"))
    for source in document["sources"]:
        out.print(
            table(f"source {source['name']}, line {source['line']}", ("field", "value"), source["record"].items())
        )
    out.print(table("the feed row after mapping", ("column", "value"), document["row"].items()))
    if document["broken_rules"]:
        out.print(literal("broken rules: " + ", ".join(document["broken_rules"])))
    out.print(table("bundles", ("bundle", "rule"), [(b["bundle"], b["rule"]) for b in document["bundles"]]))
    for target, attributes in document["accounts"].items():
        out.print(table(f"account on {target}", ("attribute", "value"), attributes.items()))
    rows = [(op["target"], op["action"], str(op.get("detail") or ""), op["reason"]) for op in document["operations"]]
    out.print(table("operations", ("target", "action", "detail", "reason"), rows))
