"""`Ledger.grants_held`: the grants some persons hold now, on every target, with their
reason and since when (what `jml review` lists), read set-based (`both_ledgers`)."""

from __future__ import annotations

import pytest

from jml.ledger import GrantRecord, Ledger
from tests.ledger.test_ledger import BULK, SMALL, assert_batched, driver_calls, new_run

pytestmark = pytest.mark.both_ledgers


def test_grants_held_are_those_of_the_persons_asked_on_every_target(ledger):
    first = new_run(ledger)
    ledger.record_grants(first, "app", [("E2", "all-staff", "rule everyone -> bundle staff"),
                                        ("E1", "eng", "rule engineers -> bundle engineering"),
                                        ("E3", "all-staff", "rule everyone -> bundle staff")])  # fmt: skip
    ledger.record_grants(first, "directory", [("E1", "eng", "rule engineers -> bundle engineering")])
    [since] = {g.granted_at for g in ledger.grants_held(["E1"]) if g.target == "app"}
    assert since.tzinfo is not None

    later = new_run(ledger)
    ledger.record_grants(later, "app", [("E1", "eng", "rule devs -> bundle engineering")])
    ledger.record_grants(later, "app", [("E1", "all-staff", "rule everyone -> bundle staff")])
    ledger.remove_grants("directory", [("E1", "eng")])

    held = ledger.grants_held(["E1", "E2", "E1", "nobody"])
    assert [(g.employee_id, g.target, g.entitlement, g.reason) for g in held] == [
        ("E1", "app", "all-staff", "rule everyone -> bundle staff"),
        ("E1", "app", "eng", "rule devs -> bundle engineering"),
        ("E2", "app", "all-staff", "rule everyone -> bundle staff"),
    ]
    by_key = {(g.employee_id, g.entitlement): g.granted_at for g in held}
    assert by_key[("E1", "eng")] == since, "a new reason keeps the grant's since"
    assert by_key[("E1", "all-staff")] > since, "a new grant is since its own time"
    assert ledger.grants_held([]) == []


def held_steps(ledger: Ledger, prefix: str, n: int) -> dict[str, int]:
    """Statements of reading the grants of n persons (two grants each)."""
    ids = [f"{prefix}{i:06d}" for i in range(n)]
    run = new_run(ledger)
    ledger.record_grants(run, "app", [(eid, name, "rule r -> bundle b") for eid in ids for name in ("a", "b")])
    held, calls = driver_calls(ledger.grants_held, ids)
    assert len(held) == 2 * n and all(isinstance(g, GrantRecord) for g in held)
    return {"read": calls}


def test_bulk_grants_held_take_a_statement_per_in_list_not_per_person(ledger):
    small = held_steps(ledger, "S", SMALL)
    assert_batched(small, held_steps(ledger, "E", BULK))
