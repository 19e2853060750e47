"""Generated identifiers in the ledger (jml.ledger.identifiers) on SQLite and
PostgreSQL: kept lowercased, one of each kind per person, never changed once kept, and
never given to a second person."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError

from tests.ledger.test_ledger import new_run

pytestmark = pytest.mark.both_ledgers


def test_identifiers_are_kept_for_good_one_per_person_and_kind(ledger):
    first = new_run(ledger)
    ledger.reserve_identifiers(first, "email", {"E1": "Jane.Doe@corp.example.com", "E2": "jane.doe2@corp.example.com"})
    ledger.reserve_identifiers(first, "sam_account_name:ad", {"E1": "jdoe"})
    # a person who has one keeps it: a later value for them is not recorded
    ledger.reserve_identifiers(new_run(ledger), "email", {"E1": "jane.smith@corp.example.com"})
    assert ledger.reserved_identifiers("email") == {
        "E1": "jane.doe@corp.example.com",
        "E2": "jane.doe2@corp.example.com",
    }
    assert ledger.reserved_identifiers("sam_account_name:ad") == {"E1": "jdoe"}
    assert ledger.reserved_identifiers("nothing") == {}


def test_a_value_kept_for_one_person_is_never_given_to_another(ledger):
    run = new_run(ledger)
    ledger.reserve_identifiers(run, "email", {"E1": "jane.doe@corp.example.com"})
    with pytest.raises(IntegrityError):
        ledger.reserve_identifiers(run, "email", {"E3": "JANE.DOE@corp.example.com"})
    assert ledger.reserved_identifiers("email") == {"E1": "jane.doe@corp.example.com"}
