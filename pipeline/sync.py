"""How the stages compose into a run: the one sequence every entry point uses.

    validate -> resolve -> read-targets -> naming -> lifecycle -> nhi -> entitle -> plan -> apply
    -> verify -> report -> alert-owners

Each stage is called through a `Stage`, `stage(name, function, *args)`: `direct` calls
the function (`jml plan`, which needs no Prefect run); the flows pass one that runs it
as a Prefect task of that name. The composition times each stage; it returns new
values and never changes one a stage returned. (The run lock is kept by its heartbeat,
`pipeline.lease`, and checked by each apply batch.)

- `people(run, stage)`: validate and resolve alone, with the feed gate, reading no
  target (`jml review`: who works here, and for whom).
- `plan(run, stage)`: every stage up to the plan and its gates. A feed gate or guard
  that trips halts the run, unless `--override-safety` lets it pass (an empty feed or a
  missing column cannot be overridden). A source that cannot be read stops it (error).
- `entitle_and_plan(run, planned, stage)`: entitle and plan again (after approvals were
  decided mid-run).
- `apply(run, planned, stage, progress)`: the plan batch by batch per target, the
  targets in parallel (`pipeline.parallel`), so a slow one holds up no other; a target
  found down parks its later batches; then the touched persons' accounts, and only those,
  are read back (verify).
  A batch that finds the run lock lost ends its target's apply at once, and every
  other target's at its next batch (each batch makes that check): no verify.
  Apply first keeps the emails generated for the persons it creates an account for
  (`pipeline.naming`).
- `for_person` / `for_drift`: a plan cut to what a partial run speaks for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Set
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from jml.ledger import AuditEntry
from jml.operations import Membership, Operation
from pipeline.apply import BatchResult, apply_batch, batches
from pipeline.feed import read_feed
from pipeline.naming import name_persons, reserve_new
from pipeline.nhis import watch_nhis
from pipeline.notify import alert_owners
from pipeline.outcome import Execution, Planned, Scope
from pipeline.parallel import per_target
from pipeline.persons import assess_lifecycles, entitle, resolve_persons
from pipeline.planning import for_persons, plan_changes
from pipeline.report import record_run
from pipeline.run import Run
from pipeline.targets import read_targets
from pipeline.verify import verify

__all__ = [
    "Stage",
    "apply",
    "audit_overrides",
    "direct",
    "entitle_and_plan",
    "for_drift",
    "for_person",
    "people",
    "plan",
    "report",
]

T = TypeVar("T")
#: How a stage is called: `stage(name, function, *args)` returns `function(*args)`.
Stage = Callable[..., Any]


def direct(name: str, function: Callable[..., T], *args: Any) -> T:
    """Call the stage's function as it is."""
    return function(*args)


class _Clock:
    """Times the stages of one run (seconds per stage name, summed)."""

    def __init__(self, stage: Stage, timings: dict[str, float] | None = None) -> None:
        self.stage, self.timings = stage, dict(timings or {})

    def __call__(self, name: str, function: Callable[..., T], *args: Any) -> T:
        started = time.perf_counter()
        result = self.stage(name, function, *args)
        self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - started
        return result


def people(run: Run, stage: Stage = direct) -> Planned:
    """The validate and resolve stages and the feed gate, no target read: who the feed
    says works here, and for whom. `resolved` is None when a source could not be read
    or the gate halted the run."""
    clock = _Clock(stage)
    feed = clock("validate", read_feed, run)
    planned = Planned(feed=feed)
    if feed.error:
        return replace(planned, timings=clock.timings)
    if feed.halt:
        planned = _gate(run, planned, feed.halt, possible=not feed.final)
        if planned.halt:
            return replace(planned, timings=clock.timings)
    resolved = clock("resolve", resolve_persons, run, feed)
    return replace(planned, resolved=resolved, timings=clock.timings)


def plan(run: Run, stage: Stage = direct) -> Planned:
    """Every stage up to the plan and its safety gates; nothing is written to targets."""
    planned = people(run, stage)
    if planned.resolved is None:
        return planned
    clock = _Clock(stage, dict(planned.timings))
    targets = clock("read-targets", read_targets, run)
    named = clock("naming", name_persons, run, planned.resolved, targets)
    assessment = clock("lifecycle", assess_lifecycles, run, named.resolved, targets)
    nhis = clock("nhi", watch_nhis, run, named.resolved, assessment, targets)
    planned = replace(
        planned, resolved=named.resolved, generated=named.new, targets=targets, assessment=assessment, nhis=nhis,
        timings=clock.timings,
    )  # fmt: skip
    return entitle_and_plan(run, planned, stage)


def entitle_and_plan(run: Run, planned: Planned, stage: Stage = direct) -> Planned:
    """The entitle and plan stages (again, after approvals were decided mid-run)."""
    assert planned.assessment is not None and planned.targets is not None
    clock = _Clock(stage, dict(planned.timings))
    entitled = clock("entitle", entitle, run, planned.assessment, planned.targets)
    checked = clock("plan", plan_changes, run, entitled, planned.targets)
    planned = replace(planned, entitled=entitled, checked=checked, timings=clock.timings)
    return _gate(run, planned, checked.halt, possible=True) if checked.halt else planned


def _gate(run: Run, planned: Planned, gate: str, *, possible: bool) -> Planned:
    """The run with a tripped gate: overridden (`--override-safety`), or halted."""
    if possible and run.override_safety:
        if gate in planned.overridden:  # the plan is made again after approvals
            return planned
        return replace(planned, overridden=(*planned.overridden, gate))
    return replace(planned, halt=gate)


def audit_overrides(run: Run, planned: Planned) -> None:
    """Record in the audit trail each gate an override let pass."""
    run.ledger.append_audit(
        AuditEntry(run.run_id, run.actor, "override_safety", None, None, {"gate": gate}, None)
        for gate in planned.overridden
    )


def apply(
    run: Run, planned: Planned, stage: Stage = direct, progress: Callable[[int], None] = lambda n: None
) -> Execution:
    """Apply the plan batch by batch per target, then read back what was touched."""
    assert planned.checked is not None and planned.entitled is not None and planned.targets is not None
    clock = _Clock(stage)
    reserve_new(run, planned.generated, planned.checked.plan.operations)
    per_batches = batches(planned.checked.plan.operations)
    counted = threading.Lock()

    def advance(operations: int) -> None:
        with counted:
            progress(operations)

    started = time.perf_counter()
    applied = per_target(list(per_batches), lambda target: _apply_target(run, target, per_batches[target], stage, advance))
    clock.timings["apply"] = time.perf_counter() - started
    results = tuple(result for one in applied.values() for result in one.results)
    parked = {target: one.parked for target, one in applied.items() if one.parked}
    if any(result.lost for result in results):  # another run holds the lock now: no verify
        return Execution(results, parked, (), clock.timings)
    touched = {target: one.touched for target, one in applied.items()}
    groups = {target: one.groups for target, one in applied.items()}
    verified = clock("verify", verify, run, planned.entitled.desired, touched, groups, planned.targets)
    return Execution(results, parked, verified.issues, clock.timings, verified.reads)


@dataclass(frozen=True, slots=True)
class _TargetApplied:
    """How one target's batches went: their results, the operations parked when the
    target was found down, the persons whose operations there all succeeded, and the
    groups whose members the batches applied changed (or tried to)."""

    results: tuple[BatchResult, ...]
    parked: int
    touched: frozenset[str]
    groups: frozenset[str]


def _apply_target(
    run: Run, target: str, target_batches: list[list[Operation]], stage: Stage, progress: Callable[[int], None]
) -> _TargetApplied:
    """One target's batches in plan order, until one finds the lock lost or the target
    down (its later batches are parked)."""
    results: list[BatchResult] = []
    done: set[str] = set()
    failed: set[str] = set()
    groups: set[str] = set()
    parked = 0
    for i, batch in enumerate(target_batches):
        result = stage("apply", apply_batch, run, target, batch)
        results.append(result)
        if result.lost:
            break
        progress(len(batch))
        groups.update(op.entitlement for op in batch if isinstance(op, Membership))
        done.update(result.done_persons)
        failed |= result.failed_persons
        if result.down:
            parked = sum(len(b) for b in target_batches[i + 1 :])
            break
    return _TargetApplied(tuple(results), parked, frozenset(done - failed), frozenset(groups))


def report(run: Run, planned: Planned, execution: Execution, scope: Scope, stage: Stage = direct) -> dict[str, Any]:
    """The report stage: the run recorded and finished; its JSON document. Then the
    owners' alerts (`pipeline.notify`): the exceptions it opened, to each owner's channel."""
    document = stage("report", record_run, run, planned, execution, scope)
    stage("alert-owners", alert_owners, run)
    return document


def for_person(run: Run, planned: Planned, employee_id: str) -> Planned:
    """The run cut to one person (`provision-person`): their operations, person state
    and account links only, and the deprovision guard judged on their plan alone."""
    assert planned.checked is not None and planned.targets is not None
    checked = for_persons(run, planned.checked, {employee_id}, planned.targets)
    halt = checked.halt if checked.halt and not run.override_safety else None
    return replace(_only(planned, {employee_id}), checked=checked, halt=halt)


def for_drift(planned: Planned, persons: Set[str], *, fix: bool) -> Planned:
    """The run cut to the drifted persons a reconcile fixes (none when it only reports,
    and then the guard does not matter: nothing is written)."""
    return replace(_only(planned, persons if fix else set()), halt=planned.halt if fix else None)


def _only(planned: Planned, persons: Set[str]) -> Planned:
    assessment = planned.assessment
    if assessment is not None:
        assessment = replace(assessment, states=tuple(s for s in assessment.states if s.employee_id in persons))
    checked = planned.checked
    if checked is not None:
        checked = replace(checked, plan=checked.plan.only(persons))
    return replace(planned, assessment=assessment, checked=checked)
