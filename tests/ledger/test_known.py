"""What jml knows of each target between runs (jml.ledger.known) on SQLite and
PostgreSQL: a full read replaces it, a later read writes only the accounts that changed
or went, and the statements that do it never grow with the unchanged accounts."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from jml.ledger import KnownRead
from jml.model import Account, Snapshot
from tests.ledger.test_ledger import statements_sent

pytestmark = pytest.mark.both_ledgers

EARLIER = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def same(known: Snapshot, read: Snapshot) -> bool:
    """The same snapshot, accounts in any order (the ledger gives them in id order)."""
    by_id = sorted(read.accounts, key=lambda a: a.id or "")
    return known == replace(read, accounts=by_id)


def account(n: int, **changes) -> Account:
    made = Account(f"id-{n}", f"E{n}", True, {"user_name": f"u{n}", "manager": None}, {"all-staff"}, login=None)
    return replace(made, **changes)


def test_a_full_read_replaces_what_is_known_and_a_later_read_writes_what_changed(ledger):
    assert ledger.known_state("app") is None
    first = Snapshot("app", [account(n) for n in range(50)], {"all-staff", "admins"}, frozenset({"user_name", "manager"}),
                     {"user_name": 64}, memo={"since": "2026-12-01T08:00:00Z", "groups": {"g1": "all-staff"}})  # fmt: skip
    ledger.keep_known_state(first, KnownRead(EARLIER, EARLIER, "config-1"))
    known = ledger.known_state("app")
    assert known is not None and same(known.snapshot, first)
    assert (known.full_read_at, known.read_at, known.config) == (EARLIER, EARLIER, "config-1")

    later = EARLIER + timedelta(hours=1)
    accounts = [account(n) for n in range(2, 50)]  # id-0 and id-1 went
    accounts[0] = account(2, active=False, entitlements=set())  # id-2 changed
    accounts.append(account(99, external_id=None))  # a new one
    second = replace(first, accounts=accounts, memo={"since": "2026-12-01T09:00:00Z", "groups": {}})
    with statements_sent() as sent:
        ledger.keep_known_state(second, KnownRead(later, EARLIER, "config-1", since=first))
    known = ledger.known_state("app")
    assert known is not None and same(known.snapshot, second)
    assert (known.full_read_at, known.read_at) == (EARLIER, later)
    # on known_accounts: one delete of the 4 changed or gone ids, one insert of the 2 changed or new
    assert len([s for s in sent if "known_accounts" in s]) == 2, sent
    assert ledger.known_state("other") is None

    ledger.forget_known_state("app")
    assert ledger.known_state("app") is None
