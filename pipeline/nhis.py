"""The nhi stage: who owns each registered non-human identity this run (`jml.nhi`).

`watch_nhis(run, resolved, assessment, targets)` judges every registry entry against
what HR says of its owner this run and what the targets hold (the accounts the
read-targets stage set apart), starting from the ownerships the ledger kept. It writes
nothing: the report stage keeps what it found (`Ledger.save_nhis`) in a run that records.
"""

from __future__ import annotations

from jml.evaluate import Assessment
from jml.nhi import Watch, standings, watch
from jml.resolve import Resolved
from pipeline.run import Run
from pipeline.targets import TargetState

__all__ = ["watch_nhis"]


def watch_nhis(run: Run, resolved: Resolved, assessment: Assessment, targets: TargetState) -> Watch:
    """The NHIs' ownerships, ownership changes and issues of this run."""
    known = {eid: state.manager_id for eid, state in run.ledger.person_states().items()}
    people = standings(assessment.desired, resolved.persons.keys(), resolved.held, known)
    held = {target: set(accounts) for target, accounts in targets.nhis.items()}
    return watch(run.settings.nhis, run.ledger.nhi_ownerships(), people, held, as_of=run.as_of)
