"""Non-human identities end to end (SPEC "Non-human identities (NHIs)") against
scim2-server, with the NHIs' accounts made in the tenant by hand as a real tenant has
them (one of them a member of a group jml grants to people): an owner who leaves hands
the NHI to their manager, who is asked to confirm it; an owner whose manager left too
leaves an orphan; an owner on leave keeps it; a registered account the tenant lacks is
missing; a registry edit names a new owner; jml never touches an NHI's account."""

from __future__ import annotations

import csv

from tests.e2e.conftest import Inbox
from tests.e2e.helpers import ATTENTION, CONVERGED, USAGE, Scenario, worker

DAY1, DAY2, DAY3 = "2026-03-02", "2026-03-10", "2026-03-11"
REGISTRY = ("target", "account", "owner", "kind", "description")


def write_registry(scenario: Scenario, rows: list[tuple[str, str, str, str]]) -> None:
    with (scenario.root / "nhis.csv").open("w", newline="", encoding="utf-8") as file:
        out = csv.writer(file)
        out.writerow(REGISTRY)
        out.writerows([("app", account, owner, kind, f"the {account} account") for account, owner, kind in rows])


def feed(day: int) -> list[dict[str, str]]:
    """Managers M1 and M2; O1 (reports to M1) and O2 (to M2) leave on day 2, M2 too; O3
    is on leave."""
    left = {"status": "terminated", "termination_date": "2026-03-09"} if day >= 2 else {}
    return [
        worker("M1"),
        worker("M2", **left),
        worker("O1", manager_id="M1", **left),
        worker("O2", manager_id="M2", **left),
        worker("O3", manager_id="M1", status="leave"),
    ]


def users(scenario: Scenario) -> dict[str, dict]:
    """The tenant's users by userName."""
    return {user["userName"]: user for user in scenario.all_users()}


def members(scenario: Scenario) -> set[str]:
    """The userNames of the members of all-staff."""
    names = {user["id"]: user["userName"] for user in scenario.all_users()}
    [group] = [g for g in scenario.scim._get("Groups") if g["displayName"] == "all-staff"]
    return {names[member["value"]] for member in group.get("members") or ()}


def nhis(scenario: Scenario) -> dict[str, dict]:
    listed = scenario.run("nhi").expect(CONVERGED).json["nhis"]
    return {item["account"]: item for item in listed}


def test_nhis_pass_to_the_manager_when_the_owner_leaves_and_are_never_touched(scenario: Scenario, inbox: Inbox) -> None:
    scenario.write_policy(
        {
            "bundles": {"staff": {"grants": {"app": ["all-staff"]}}},
            "rules": [{"name": "everyone", "when": {"employment_type": ["employee"]}, "grant": ["staff"]}],
        }
    )
    scenario.configure(
        nhi={"registry": "nhis.csv"},
        alerts=[{"type": "webhook", "url": f"{inbox.url}/m1", "owner": "M1"}],
    )
    backup = scenario.post_user({"userName": "svc-backup", "active": True})
    # Tagged with its owner's employee_id, as some tenants do: still not O2's account.
    deploy = scenario.post_user({"userName": "bot-deploy", "active": True, "externalId": "O2"})
    admin = scenario.post_user({"userName": "ADMIN-shared", "active": False})
    scenario.scim.post_group("all-staff", [backup["id"]])
    write_registry(
        scenario,
        [
            ("svc-backup", "O1", "service_account"),
            ("bot-deploy", "O2", "bot"),
            ("admin-shared", "O3", "shared_admin"),
            ("api-payroll", "O1", "api_client"),
        ],
    )
    before = {u["id"]: u for u in scenario.all_users()}

    scenario.write_feed(feed(1))
    scenario.sync(DAY1, expect=ATTENTION)
    assert [(e["kind"], e["target"], e["owner"]) for e in scenario.exceptions()] == [("nhi_missing", "app", "iam")]
    listed = nhis(scenario)
    assert {a: (n["owner"], n["owner_status"], n["since"], n["kind"]) for a, n in listed.items()} == {
        "svc-backup": ("O1", "active", DAY1, "service_account"),
        "bot-deploy": ("O2", "active", DAY1, "bot"),
        "admin-shared": ("O3", "suspended", DAY1, "shared_admin"),
        "api-payroll": ("O1", "active", DAY1, "api_client"),
    }
    # Neither an orphan nor a person: the people got accounts, the NHIs were left as they were.
    people = {f"{p.lower()}@example.com" for p in ("M1", "M2", "O1", "O2", "O3")}
    assert set(users(scenario)) == people | {"svc-backup", "bot-deploy", "ADMIN-shared"}
    assert members(scenario) == people | {"svc-backup"}

    # Day 2: O1 leaves (M1 takes svc-backup and api-payroll), O2 and their manager M2
    # leave (bot-deploy is an orphan), O3 is still on leave (keeps admin-shared); the
    # missing api-payroll is no longer registered.
    write_registry(
        scenario,
        [("svc-backup", "O1", "service_account"), ("bot-deploy", "O2", "bot"), ("admin-shared", "O3", "shared_admin")],
    )
    scenario.write_feed(feed(2))
    scenario.sync(DAY2, expect=ATTENTION)
    listed = nhis(scenario)
    assert {a: (n["owner"], n["owner_status"], n["since"], n["review"]) for a, n in listed.items()} == {
        "svc-backup": ("M1", "active", DAY2, True),
        "bot-deploy": ("O2", "terminated", DAY1, False),
        "admin-shared": ("O3", "suspended", DAY1, False),
    }
    open_now = {(e["kind"], e["owner"]): e for e in scenario.exceptions()}
    assert set(open_now) == {("nhi_review", "M1"), ("orphan_nhi", "iam")}
    assert "bot-deploy" in open_now[("orphan_nhi", "iam")]["detail"]
    assert [e["kind"] for e in scenario.exceptions("all") if e["status"] == "closed"] == ["nhi_missing"]
    # The leavers' own accounts are disabled and stripped; every NHI account is untouched,
    # svc-backup still in the group it shares with people.
    now = users(scenario)
    assert [p for p in ("m1", "m2", "o1", "o2", "o3") if now[f"{p}@example.com"]["active"]] == ["m1"]
    assert members(scenario) == {"m1@example.com", "o3@example.com", "svc-backup"}
    after = {u["id"]: u for u in scenario.all_users()}
    for nhi in (backup, deploy, admin):
        assert after[nhi["id"]]["meta"]["version"] == before[nhi["id"]]["meta"]["version"], nhi["userName"]
    # The handover is in the audit trail; the new owner's channel was told.
    [handover] = [e for e in scenario.audit("--employee-id", "M1") if e["action"] == "nhi_owner"]
    assert handover["detail"] == {"account": "svc-backup", "before": "O1", "owner": "M1"}
    assert "passed to their manager" in handover["reason"]
    assert [m["counts"] for m in inbox.to("/m1")] == [{"nhi_review": 1}]

    # Only the new owner confirms, as owner; then the review is closed.
    review = open_now[("nhi_review", "M1")]["id"]
    refused = scenario.run("approve", str(review), "--by", "O3", "--role", "owner").expect(USAGE)
    assert "O3 is not the current owner of service_account svc-backup on app (its owner is M1)" in refused.stderr
    scenario.run("approve", str(review), "--by", "M1", "--role", "manager").expect(USAGE)
    scenario.run("reject", str(review), "--by", "M1").expect(USAGE)
    confirmed = scenario.run("approve", str(review), "--by", "M1", "--role", "owner").expect(CONVERGED)
    assert confirmed.json["exception"]["status"] == "closed"

    # Day 3: the registry names M1 for bot-deploy: no review, the orphan closes.
    write_registry(
        scenario,
        [("svc-backup", "O1", "service_account"), ("bot-deploy", "M1", "bot"), ("admin-shared", "O3", "shared_admin")],
    )
    scenario.sync(DAY3, expect=CONVERGED)
    listed = nhis(scenario)
    assert {a: (n["owner"], n["since"], n["review"]) for a, n in listed.items()} == {
        "svc-backup": ("M1", DAY2, False),
        "bot-deploy": ("M1", DAY3, False),
        "admin-shared": ("O3", DAY1, False),
    }
    assert scenario.exceptions() == []
    trail = [(e["action"], e["detail"].get("account")) for e in scenario.audit() if e["action"].startswith("nhi_")]
    assert trail == [
        *[("nhi_owner", account) for account in ("svc-backup", "bot-deploy", "admin-shared", "api-payroll")],  # day 1
        ("nhi_owner", "svc-backup"), ("nhi_owner", "api-payroll"),  # day 2: a handover, a row removed
        ("nhi_confirm", "svc-backup"), ("nhi_owner", "bot-deploy"),  # M1 confirmed; day 3: the registry edit
    ]  # fmt: skip

    # Reconcile: a registered NHI is no orphan; an account nobody registered is.
    stray = scenario.post_user({"userName": "svc-unknown", "active": True})
    scenario.run("reconcile", "--as-of", DAY3).expect(ATTENTION)
    assert [(e["kind"], e["target"]) for e in scenario.exceptions()] == [("orphan", "app")]
    assert stray["id"] in scenario.exceptions()[0]["detail"]


def test_a_bad_registry_row_is_one_line_and_exit_2(scenario: Scenario) -> None:
    scenario.configure(nhi={"registry": "nhis.csv"})
    write_registry(scenario, [("svc-backup", "O1", "service_account"), ("bot", "not an id", "bot")])
    scenario.write_feed([worker("O1")])
    failed = scenario.run("run", "--as-of", DAY1, as_json=False).expect(USAGE)
    assert failed.stderr.strip().splitlines() == [
        f"error: {scenario.root / 'nhis.csv'}: line 3, column owner: 'not an id' is not an employee_id"
        " (letters, digits, _ and -)"
    ]
    (scenario.root / "nhis.csv").unlink()
    missing = scenario.run("plan", "--as-of", DAY1, as_json=False).expect(USAGE)
    assert "nhi registry:" in missing.stderr and "file not found" in missing.stderr
    assert "Traceback" not in failed.stderr + missing.stderr
