"""The report stage: record what a run found and did, finish it, and describe it.

`record_run(run, planned, execution, scope)` decides the run's status and records it:
- `failed`: the run lock was lost (by an apply batch or by now: the fencing check); the
  run writes nothing but its own row, whose document names the loss in `lock_lost`;
- `failed`: a source could not be read (nothing else is recorded);
- `halted`: a gate tripped; only the `safety_halt` exception is opened or kept;
- a dry run changes nothing in the ledger's state: `attention` when exceptions are open
  or the run found issues, else `converged`;
- otherwise the exception queue is made to agree with the issues of the scope's kinds
  (a target the run could not read closes nothing of its own), person states are kept
  (when the scope says so, and so are the NHIs' ownerships, with their changes in the
  audit trail, and the sAMAccountNames of the AD accounts it read linked to people:
  `pipeline.sams`) and matched accounts linked, and kept in the access history
  with the active state the run read (`Ledger.adopt_access`: what the run changed
  itself wins), and each target's read kept as what is known of it for the next run
  (`pipeline.targets.keep_known`; verify's full read of it, if it made one): `attention` when exceptions are open, else `converged`.
It appends `run_finished` to the audit trail, finishes the run with its JSON document
(`jml run --json`, which carries the trail's hash chain head after it, `audit_head`),
and returns the document. `summary_markdown` is the markdown of a
document (the run's summary artifact); every text in it that did not come from jml
itself (a halt naming a feed's columns, a target's name) is escaped by
`markdown_literal`, so it renders as the characters it is, never as a link, an image,
HTML, emphasis or a new table row.
"""

from __future__ import annotations

import string
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any

from jml.ledger import AuditEntry, ExceptionRecord
from jml.model import Issue, IssueKind
from jml.outcome import ATTENTION, CONVERGED, FAILED, HALTED
from jml.text import visible
from pipeline.outcome import Execution, Planned, Scope, all_issues, movement, skipped_targets
from pipeline.run import Run
from pipeline.sams import keep_read
from pipeline.targets import keep_known

__all__ = ["halt_issue", "live_issues", "markdown_literal", "record_run", "summary_markdown"]

#: CommonMark lets a backslash escape every ASCII punctuation character.
_PUNCTUATION = frozenset(string.punctuation)


def halt_issue(message: str, figures: dict[str, Any]) -> Issue:
    """The `safety_halt` exception of a run a safety gate stopped."""
    return Issue(IssueKind.SAFETY_HALT, "safety_halt", message, data=figures)


def live_issues(run: Run, kinds: Iterable[IssueKind], keep: Callable[[ExceptionRecord], bool]) -> tuple[Issue, ...]:
    """The open exceptions of `kinds` for which `keep(row)` holds, as issues identical to
    what the ledger holds (a partial run hands them back so that they stay open)."""
    wanted = {IssueKind(kind).value for kind in kinds}
    return tuple(
        Issue(IssueKind(row.kind), row.key, row.detail, row.employee_id, row.target, row.data or {})
        for row in run.ledger.list_exceptions("open")
        if row.kind in wanted and keep(row)
    )


def record_run(run: Run, planned: Planned, execution: Execution, scope: Scope) -> dict[str, Any]:
    """Record the run's outcome (see the module docstring); its JSON document."""
    if (lost := execution.lost or run.lock_lost()) is not None:
        return _record_lost(run, planned, execution, scope, lost)
    ledger = run.ledger
    opened = closed = 0
    issues = all_issues(planned, execution, scope)
    if planned.error:
        status = FAILED
    elif planned.halt:
        halt = halt_issue(planned.halt, _figures(planned))
        opened, closed = ledger.sync_issues(run.id, [halt], kinds={IssueKind.SAFETY_HALT}, owners=run.config.owner_rule)
        status = HALTED
    elif run.dry_run:
        status = ATTENTION if ledger.count_open() or issues else CONVERGED
    else:
        skipped = skipped_targets(planned, execution)
        opened, closed = ledger.sync_issues(
            run.id, issues, kinds=set(scope.kinds), skip_targets=skipped, owners=run.config.owner_rule
        )
        if scope.save_states and planned.assessment is not None:
            ledger.save_person_states(run.id, planned.assessment.states)
        if scope.save_states and planned.nhis is not None:
            ledger.save_nhis(run.id, run.actor, planned.nhis)
        if scope.save_states and planned.targets is not None:
            keep_read(run, planned.targets.snapshots)
        if planned.targets is not None:
            latest = replace(planned.targets, reads={**planned.targets.reads, **execution.reads})
            keep_known(run, latest, {d for batch in execution.batches for d in batch.deleted})
        if planned.checked is not None:
            for target, links in planned.checked.plan.matched.items():
                ledger.link_accounts(run.id, target, links)
                ledger.adopt_access(run.id, target, _active(planned, target, links))
        status = ATTENTION if ledger.count_open() else CONVERGED
    ledger.append_audit([AuditEntry(run.id, run.actor, "run_finished", None, None, {"status": status}, None)])
    document = run_document(run, planned, execution, scope, status, opened, closed)
    ledger.finish_run(run.id, status, document)
    return document


def _record_lost(run: Run, planned: Planned, execution: Execution, scope: Scope, lost: str) -> dict[str, Any]:
    """Finish a run that lost its lock, `failed`: its own row is all it writes (the
    exceptions, person states and links are the new holder's to keep)."""
    document = run_document(run, planned, execution, scope, FAILED, 0, 0, lock_lost=lost)
    run.ledger.finish_run(run.id, FAILED, document)
    return document


def _active(planned: Planned, target: str, links: Mapping[str, str]) -> dict[str, bool]:
    """employee_id -> whether the matched account (by id) was active as the run read it."""
    assert planned.targets is not None  # a plan is made from the targets' snapshots
    active = {a.id: a.active for a in planned.targets.snapshots[target].accounts if a.id}
    return {eid: active[account] for eid, account in links.items() if account in active}


def _figures(planned: Planned) -> dict[str, Any]:
    if planned.checked and planned.checked.halt:
        return dict(planned.checked.figures)
    return {"rows": planned.feed.rows, "invalid": planned.feed.invalid}


def run_document(
    run: Run,
    planned: Planned,
    execution: Execution,
    scope: Scope,
    status: str,
    opened: int,
    closed: int,
    *,
    lock_lost: str | None = None,
) -> dict[str, Any]:
    """The run's JSON document (`jml run --json`)."""
    operations = planned.checked.plan.operations if planned.checked else ()
    per_target: dict[str, dict[str, int]] = {}
    for op in operations:
        counts = per_target.setdefault(op.target, {})
        counts[op.action.value] = counts.get(op.action.value, 0) + 1
    batches = execution.batches
    timings = {**planned.timings, **execution.timings}
    return {
        "status": status,
        "flow": scope.flow,
        "run_id": run.run_id,
        "as_of": run.as_of.isoformat(),
        "dry_run": run.dry_run,
        "override_safety": run.override_safety,
        "halt": planned.halt,
        "error": planned.error,
        "lock_lost": lock_lost,
        "overridden": list(planned.overridden),
        "operations": {
            "planned": len(operations),
            "applied": sum(b.applied for b in batches),
            "failed": sum(b.failed for b in batches),
            "retried": sum(b.retried for b in batches),
            "settled": sum(b.settled for b in batches),
            "parked": sum(execution.parked.values()),
        },
        "per_target": per_target,
        "skipped_targets": sorted(skipped_targets(planned, execution)),
        "feed": {"rows": planned.feed.rows, "invalid": planned.feed.invalid},
        "data_docs": _data_docs(planned),
        "persons": movement(planned),
        "exceptions_open": run.ledger.count_open(),
        "exceptions_opened": opened,
        "exceptions_closed": closed,
        "timings": {stage: round(seconds, 3) for stage, seconds in timings.items()},
        "audit_head": run.ledger.audit_head(),
    }


def _data_docs(planned: Planned) -> dict[str, Any] | None:
    docs = planned.feed.data_docs
    return {"index": docs.index, "pages": dict(docs.pages)} if docs else None


def markdown_literal(value: object) -> str:
    """`value` as Markdown that renders as exactly `jml.text.visible(value)`: printable,
    redacted, and every ASCII punctuation character backslash-escaped."""
    return "".join("\\" + ch if ch in _PUNCTUATION else ch for ch in visible(value))


def summary_markdown(document: dict[str, Any]) -> str:
    """The markdown summary artifact of a run."""
    ops = document["operations"]
    lines = [
        f"# {document.get('flow', 'hr-sync')} run {document['run_id']}: {document['status']}",
        "",
        f"As of **{document['as_of']}**" + (" (dry run)" if document["dry_run"] else ""),
    ]
    if document["halt"]:
        lines += ["", f"**Halted**: {markdown_literal(document['halt'])}"]
    lines += [
        "",
        "| planned | applied | failed | parked | exceptions open | opened | closed |",
        "|---|---|---|---|---|---|---|",
        f"| {ops['planned']} | {ops['applied']} | {ops['failed']} | {ops['parked']}"
        f" | {document['exceptions_open']} | {document['exceptions_opened']}"
        f" | {document['exceptions_closed']} |",
        "",
        "| joiners | movers | leavers | feed rows | invalid rows |",
        "|---|---|---|---|---|",
        f"| {document['persons']['joiners']} | {document['persons']['movers']}"
        f" | {document['persons']['leavers']} | {document['feed']['rows']}"
        f" | {document['feed']['invalid']} |",
    ]
    if document["per_target"]:
        lines += ["", "| target | operations |", "|---|---|"]
        for target, counts in sorted(document["per_target"].items()):
            detail = ", ".join(f"{action} {n}" for action, n in sorted(counts.items()))
            lines.append(f"| {markdown_literal(target)} | {detail} |")
    if document["timings"]:
        lines += ["", "| stage | seconds |", "|---|---|"]
        lines += [f"| {stage} | {sec} |" for stage, sec in document["timings"].items()]
    if document.get("data_docs"):
        # as text to copy into a browser: renderers and browsers refuse file:// links
        # from a web page (the URLs are percent-encoded: no backtick in them)
        docs = document["data_docs"]
        pages = "; ".join(
            f"source {markdown_literal(source)}: `{url}`" for source, url in sorted(docs["pages"].items())
        )
        lines += [
            "",
            f"Data Docs (which rows broke which rules, open in a browser): {pages}; all runs: `{docs['index']}`",
        ]
    lines += ["", f"Audit trail head: `{document['audit_head']}` (`jml audit verify --head` checks a copy)"]
    return "\n".join(lines)
