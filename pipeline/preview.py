"""`jml preview`: one person as a run would see them, writing nothing (SPEC "`jml
preview`"): each source's record as read (before `fields` maps it), the feed row after
mapping, the rules it breaks, the lifecycle, the bundles with their rules, per target
the account attributes jml would hold (in the target's own names) and the person's
planned operations.

The sources are read twice: once here for the records as the sources hold them, once
by the plan (`pipeline.sync.plan`, nothing recorded). A person no source holds is
`NotInFeed` (exit 2).
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import pandas as pd

from connectors.factory import build_source
from connectors.sources.csvfile import ROW_COLUMN
from connectors.targets.names import attribute_names
from jml.model import IssueKind, Lifecycle
from jml.plan import account_attributes
from pipeline import sync
from pipeline.outcome import Planned
from pipeline.run import Run

__all__ = ["NotInFeed", "preview"]

#: The lifecycle as preview names it (SPEC: prehire, active, suspended, terminated).
_SHOWN = {
    Lifecycle.NOT_YET: "prehire", Lifecycle.PREHIRE: "prehire", Lifecycle.ACTIVE: "active",
    Lifecycle.SUSPENDED: "suspended", Lifecycle.TERMINATED: "terminated", Lifecycle.DELETE: "terminated",
}  # fmt: skip
_WITH_ACCOUNT = (Lifecycle.PREHIRE, Lifecycle.ACTIVE, Lifecycle.SUSPENDED)


class NotInFeed(Exception):
    """No source holds the person; the message is one line."""


def preview(run: Run, employee_id: str) -> dict[str, Any]:
    """The preview document of one person (see the module docstring)."""
    sources, rows = _records(run, employee_id)
    if not sources:
        raise NotInFeed(f"no source holds employee_id {employee_id!r}")
    planned = sync.plan(run)
    if planned.error:
        raise NotInFeed(planned.error)
    resolved = planned.resolved
    record = resolved.persons.get(employee_id) if resolved else None
    row = _row(asdict(record)) if record is not None else rows[0]
    broken = sorted(
        {rule for i in planned.feed.issues if i.kind is IssueKind.QUARANTINE and i.employee_id == employee_id
         for rule in i.data.get("rules", ())}
    )  # fmt: skip
    return {
        "employee_id": employee_id,
        "as_of": run.as_of.isoformat(),
        "sources": sources,
        "row": row,
        "broken_rules": broken,
        "lifecycle": _lifecycle(planned, employee_id),
        "bundles": [
            {"bundle": bundle, "rule": rule}
            for bundle, rule in (run.settings.engine.matched_bundles(record).items() if record else ())
        ],
        "accounts": _accounts(run, planned, employee_id),
        "operations": [
            op.to_json()
            for op in (planned.checked.plan.operations if planned.checked else ())
            if op.employee_id == employee_id
        ],
        "halt": planned.halt,
    }


def _records(run: Run, employee_id: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each source's record of the person as read, and the feed rows mapped from them."""
    sources, rows = [], []
    for config in sorted(run.config.sources, key=lambda s: s.precedence):
        source = build_source(config, run.config.base_dir)
        records = source.read_records()
        mapped = source.mapped(records)
        if "employee_id" not in mapped.columns:
            continue
        for position in mapped.index[mapped["employee_id"].map(lambda v: (_text(v) or "").strip()) == employee_id]:
            sources.append({"name": config.name, "line": int(mapped[ROW_COLUMN][position]),
                            "record": _row(records.iloc[position].to_dict())})  # fmt: skip
            rows.append(_row(mapped.iloc[position].to_dict()))
    return sources, rows


def _text(value: object) -> str | None:
    """A cell or field as text (a missing one, NaN included, as None)."""
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def _row(values: dict[str, Any]) -> dict[str, str | None]:
    """A record as JSON text: without `_row` and the record's origin, its pass-through
    columns (`extra`) inline."""
    values = dict(values)
    extra = values.pop("extra", None) or {}
    for name in ("source", "row", ROW_COLUMN):
        values.pop(name, None)
    return {name: _text(value) for name, value in {**values, **extra}.items()}


def _lifecycle(planned: Planned, employee_id: str) -> str | None:
    person = planned.assessment.desired.get(employee_id) if planned.assessment else None
    return _SHOWN[person.lifecycle] if person is not None else None


def _accounts(run: Run, planned: Planned, employee_id: str) -> dict[str, dict[str, str | None]]:
    """Per target where the person should hold an account, the attributes jml would
    hold there, by the target's names; none for a held or quarantined person."""
    if planned.entitled is None or planned.targets is None:
        return {}
    person = planned.entitled.desired.get(employee_id)
    if person is None or person.record is None or person.lifecycle not in _WITH_ACCOUNT:
        return {}
    accounts = {}
    mapped = run.settings.mapped()
    for target, snapshot in planned.targets.snapshots.items():
        if not person.grants.get(target):
            continue
        names = attribute_names(run.config.target(target))
        manager = person.record.manager_id
        holders = {a.external_id for a in snapshot.accounts} | {
            eid for eid, d in planned.entitled.desired.items() if d.grants.get(target) and d.lifecycle in _WITH_ACCOUNT
        }
        values = account_attributes(
            person.record, manager if manager in holders else None, snapshot.held, mapped.get(target, {})
        )
        accounts[target] = {names.get(k, k): v for k, v in values.items()}
    return accounts
