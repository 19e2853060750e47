"""`jml access --as-of D`: which accounts (active or not) and entitlements each person
held at the end of a past day, from the ledger's access history. Read-only."""

from __future__ import annotations

from typing import Annotated

import typer

from app.cli_support import DEFAULT_CONFIG, ConfigOpt, Exit, JsonOpt, emit, open_ledger, out, parse_day
from app.render import table


def access(
    config: ConfigOpt = DEFAULT_CONFIG,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="The day whose end is shown (YYYY-MM-DD); default today (UTC).")
    ] = None,
    employee_id: Annotated[str | None, typer.Option("--employee-id", help="Only this person.")] = None,
    target: Annotated[str | None, typer.Option("--target", help="Only this target.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Who held which account and entitlements at the end of a day (from the ledger).

    The end of day D is the state left by the last run, in run order, whose as-of date
    is on or before D (dry runs change nothing). An unknown person or target is exit 2;
    a day before the first run shows nothing.
    """
    from jml.config import load_config

    day = parse_day(as_of)
    settings = load_config(config)
    with open_ledger(config, settings) as ledger:
        if employee_id is not None and not ledger.knows_person(employee_id):
            raise Exit(2, f"--employee-id: {employee_id!r} is not known to the ledger")
        if target is not None and target not in {t.name for t in settings.targets} | ledger.access_targets():
            raise Exit(2, f"--target: {target!r} is not a target of the config or the ledger")
        held = ledger.access_as_of(day, employee_id, target)
    if as_json:
        emit({"as_of": day.isoformat(), "access": [
            {"employee_id": r.employee_id, "target": r.target, "active": r.active, "entitlements": list(r.entitlements)}
            for r in held
        ]})  # fmt: skip
        return
    rows = [(r.employee_id, r.target, "yes" if r.active else "no", ", ".join(r.entitlements)) for r in held]
    out.print(table(f"access at the end of {day.isoformat()}", ("employee_id", "target", "active", "entitlements"), rows))
