"""The NHI rules (jml.nhi): registry rows, handover to the manager, orphans, missing
accounts, the snapshot split and who may confirm a handover."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from jml.approvals import DecisionRefused
from jml.config import ConfigError
from jml.model import Account, IssueKind, Lifecycle, Snapshot
from jml.nhi import (
    ABSENT,
    NhiKind,
    Ownership,
    RegistryEntry,
    Standing,
    account_key,
    confirmer,
    split_accounts,
    standings,
    watch,
)
from jml.nhi_registry import check_columns, parse_registry
from jml.plan import Desired
from tests.unit.factories import record

DAY1, DAY2 = date(2026, 3, 2), date(2026, 3, 10)
ACTIVE = Standing("active")


def entry(
    account: str = "svc-backup", owner: str = "O1", target: str = "app", kind=NhiKind.SERVICE_ACCOUNT
) -> RegistryEntry:
    return RegistryEntry(target, account, owner, kind, "nightly backup", 2)


def kept(*ownerships: Ownership) -> dict:
    return {o.key: o for o in ownerships}


def kinds(found) -> dict[str, str]:
    return {issue.key: issue.kind.value for issue in found.issues}


def test_a_new_row_is_owned_by_its_registry_owner_from_today() -> None:
    found = watch([entry()], {}, {"O1": ACTIVE}, {"app": {"svc-backup"}}, as_of=DAY1)
    (ownership,) = found.ownerships
    assert (ownership.owner, ownership.registry_owner, ownership.since, ownership.review) == ("O1", "O1", DAY1, False)
    assert [(c.before, c.owner, c.reason) for c in found.changes] == [(None, "O1", "registered")]
    assert found.issues == ()


def test_a_leaver_hands_the_nhi_to_their_active_manager_who_must_confirm_it() -> None:
    first = watch([entry()], {}, {"O1": ACTIVE}, {}, as_of=DAY1).ownerships[0]
    people = {"O1": Standing("terminated", "M1"), "M1": ACTIVE}
    found = watch([entry()], kept(first), people, {"app": {"svc-backup"}}, as_of=DAY2)
    (ownership,) = found.ownerships
    assert (ownership.owner, ownership.registry_owner, ownership.since, ownership.review) == ("M1", "O1", DAY2, True)
    assert [(c.before, c.owner) for c in found.changes] == [("O1", "M1")]
    (issue,) = found.issues
    assert (issue.kind, issue.key, issue.employee_id, issue.data["owner"]) == (
        IssueKind.NHI_REVIEW, "nhi_review:app:svc-backup", "M1", "M1",
    )  # fmt: skip
    # The next run changes nothing and keeps asking the new owner, until they confirm.
    again = watch([entry()], kept(ownership), people, {"app": {"svc-backup"}}, as_of=DAY2)
    assert again.ownerships == (ownership,) and again.changes == ()
    assert kinds(again) == {"nhi_review:app:svc-backup": "nhi_review"}


@pytest.mark.parametrize(
    ("manager", "why"),
    [
        (None, "no manager"),
        (Standing("terminated"), "the manager left too"),
        (Standing("suspended"), "the manager is on leave"),
        (Standing("prehire"), "the manager has not started"),
        (Standing(None), "the manager is held back"),
        (ABSENT, "the manager is in no source"),
    ],
)
def test_with_no_active_manager_the_nhi_is_an_orphan_and_keeps_its_last_owner(manager, why) -> None:
    first = watch([entry()], {}, {"O1": ACTIVE}, {}, as_of=DAY1).ownerships[0]
    people = {"O1": Standing("absent", "M1" if manager is not None else None)}
    if manager is not None and manager is not ABSENT:
        people["M1"] = manager
    found = watch([entry()], kept(first), people, {}, as_of=DAY2)
    assert found.ownerships == (first,), why
    assert found.changes == ()
    assert kinds(found) == {"orphan_nhi:app:svc-backup": "orphan_nhi"}
    assert "O1" in found.issues[0].detail and found.issues[0].employee_id == "O1"


def test_the_handover_goes_to_the_manager_only_never_further_up() -> None:
    first = watch([entry()], {}, {"O1": ACTIVE}, {}, as_of=DAY1).ownerships[0]
    people = {"O1": Standing("terminated", "M1"), "M1": Standing("terminated", "CEO"), "CEO": ACTIVE}
    found = watch([entry()], kept(first), people, {}, as_of=DAY2)
    assert found.ownerships[0].owner == "O1"
    assert kinds(found) == {"orphan_nhi:app:svc-backup": "orphan_nhi"}


@pytest.mark.parametrize("status", ["suspended", "prehire", None])
def test_an_owner_on_leave_not_started_or_held_back_keeps_it(status) -> None:
    first = watch([entry()], {}, {"O1": ACTIVE}, {}, as_of=DAY1).ownerships[0]
    found = watch([entry()], kept(first), {"O1": Standing(status, "M1"), "M1": ACTIVE}, {}, as_of=DAY2)
    assert found.ownerships == (first,) and found.changes == () and found.issues == ()


def test_an_owner_in_no_source_is_absent_and_the_nhi_an_orphan() -> None:
    found = watch([entry(owner="NOBODY")], {}, {}, {}, as_of=DAY1)
    assert found.ownerships[0].owner == "NOBODY"
    assert kinds(found) == {"orphan_nhi:app:svc-backup": "orphan_nhi"}


def test_a_registry_edit_makes_the_named_person_owner_and_asks_no_review() -> None:
    first = watch([entry()], {}, {"O1": ACTIVE}, {}, as_of=DAY1).ownerships[0]
    found = watch([entry(owner="O9")], kept(first), {"O1": ACTIVE, "O9": ACTIVE}, {}, as_of=DAY2)
    (ownership,) = found.ownerships
    assert (ownership.owner, ownership.registry_owner, ownership.since, ownership.review) == ("O9", "O9", DAY2, False)
    assert [(c.before, c.owner, c.reason) for c in found.changes] == [("O1", "O9", "the registry names another owner")]
    assert found.issues == ()


def test_a_registry_edit_naming_the_new_owner_ends_the_review_and_keeps_since() -> None:
    handed = Ownership("app", "svc-backup", "service_account", "", "O1", "M1", DAY1, review=True)
    found = watch([entry(owner="M1")], kept(handed), {"O1": Standing("terminated", "M1"), "M1": ACTIVE}, {}, as_of=DAY2)
    (ownership,) = found.ownerships
    assert (ownership.owner, ownership.registry_owner, ownership.since, ownership.review) == ("M1", "M1", DAY1, False)
    assert found.changes == () and found.issues == ()


def test_a_missing_account_is_reported_only_for_targets_read() -> None:
    rows = [entry(), entry("api-gone", kind=NhiKind.API_CLIENT), entry("bot", target="wiki", kind=NhiKind.BOT)]
    found = watch(rows, {}, {"O1": ACTIVE}, {"app": {"svc-backup"}}, as_of=DAY1)
    assert kinds(found) == {"nhi_missing:app:api-gone": "nhi_missing"}  # wiki was not read: nothing said


def test_a_removed_row_is_no_longer_watched() -> None:
    first = watch([entry(), entry("bot")], {}, {"O1": ACTIVE}, {}, as_of=DAY1).ownerships
    found = watch([entry()], kept(*first), {}, {}, as_of=DAY2)
    assert [o.account for o in found.ownerships] == ["svc-backup"]
    assert found.removed == (("app", "bot"),)
    assert [(c.account, c.before, c.owner) for c in found.changes] == [("bot", "O1", None)]


def test_accounts_are_named_case_insensitively_and_split_from_the_snapshot() -> None:
    nhi = Account("1", None, True, {"user_name": "SVC-Backup"}, {"all-staff"})
    uid = Account("2", "bot-ldap", True, {"user_name": "bot@example.com"}, login="bot-ldap")
    person = Account("3", "E1", True, {"user_name": "e1@example.com"})
    people, nhis = split_accounts(Snapshot("app", [nhi, uid, person]), {account_key(" svc-backup "), "bot-ldap"})
    assert people.accounts == [person]
    assert nhis == {"svc-backup": nhi, "bot-ldap": uid}
    same, none = split_accounts(Snapshot("app", [person]), set())
    assert same.accounts == [person] and none == {}


def test_standings_from_the_feed_the_held_and_the_ledger() -> None:
    desired = {
        "A": Desired("A", Lifecycle.ACTIVE, record("A", manager_id="M")),
        "N": Desired("N", Lifecycle.NOT_YET, record("N")),
        "D": Desired("D", Lifecycle.DELETE, record("D")),
        "H": Desired("H", Lifecycle.TERMINATED, None),
    }
    found = standings(desired, {"A", "N", "D"}, {"H", "Q"}, {"A": "OLD", "H": "MH", "Q": None, "GONE": "MG"})
    assert found == {
        "A": Standing("active", "M"), "N": Standing("prehire", None), "D": Standing("terminated", None),
        "H": Standing("terminated", "MH"), "Q": Standing(None, None), "GONE": Standing("absent", "MG"),
    }  # fmt: skip


def test_only_the_current_owner_confirms_an_open_review_as_owner() -> None:
    handed = Ownership("app", "svc-backup", "service_account", "", "O1", "M1", DAY2, review=True)
    assert confirmer(7, "open", handed, "m1", "owner") == "M1"
    refusals = [
        ("closed", handed, "M1", "owner", "nothing left to confirm"),
        ("open", handed, "M1", "manager", "--role owner"),
        ("open", handed, "O1", "owner", "is not the current owner"),
        ("open", None, "M1", "owner", "waits for no confirmation"),
        ("open", Ownership("app", "svc-backup", "bot", "", "O1", "M1", DAY2), "M1", "owner", "waits for no"),
    ]
    for status, ownership, by, role, message in refusals:
        with pytest.raises(DecisionRefused, match=message):
            confirmer(7, status, ownership, by, role)


# -- the registry's rows --------------------------------------------------------------

PATH = Path("nhis.csv")


def rows(*values: dict) -> list[tuple[int, dict]]:
    base = {"target": "app", "account": "svc-backup", "owner": "O1", "kind": "service_account", "description": ""}
    return [(line, {**base, **value}) for line, value in enumerate(values, start=2)]


def test_registry_rows_become_entries() -> None:
    (found,) = parse_registry(PATH, rows({"description": " nightly backup "}), {"app"})
    assert found == RegistryEntry("app", "svc-backup", "O1", NhiKind.SERVICE_ACCOUNT, "nightly backup", 2)


@pytest.mark.parametrize(
    ("value", "column", "message"),
    [
        ({"target": "crm"}, "target", r"'crm' is not a target of the config \(app\)"),
        ({"account": "  "}, "account", "is empty"),
        ({"owner": "O 1"}, "owner", "'O 1' is not an employee_id"),
        ({"owner": ""}, "owner", "'' is not an employee_id"),
        ({"kind": "robot"}, "kind", "'robot' is not one of service_account, api_client, bot, shared_admin"),
        ({"description": "x" * 4097}, "description", "longer than 4096"),
        ({"account": "svc\x1b[2Jx"}, "account", r"'svc\\x1b\[2Jx' holds a control"),
    ],
)
def test_a_bad_registry_row_is_one_line_naming_the_file_line_and_column(value, column, message) -> None:
    with pytest.raises(ConfigError, match=rf"^nhis.csv: line 3, column {column}: .*{message}") as caught:
        parse_registry(PATH, rows({}, value), {"app"})
    assert "\n" not in str(caught.value) and "\x1b" not in str(caught.value)


def test_an_account_registered_twice_names_both_lines() -> None:
    with pytest.raises(ConfigError, match=r"line 3, column account: SVC-backup on app is registered twice \(line 2\)"):
        parse_registry(PATH, rows({}, {"account": "SVC-backup"}), {"app"})


def test_the_header_must_have_the_registry_columns() -> None:
    check_columns(PATH, ["target", "account", "owner", "kind"])
    with pytest.raises(ConfigError, match="the header has no column 'owner'"):
        check_columns(PATH, ["target", "account", "kind", "description"])
    with pytest.raises(ConfigError, match="unknown column 'secret'"):
        check_columns(PATH, ["target", "account", "owner", "kind", "secret"])
