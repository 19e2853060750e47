"""The reconcile flow against a real scim2-server: drift, active leavers and orphans are
exceptions; nothing is written without `fix`; `fix` removes the drift, never touches
orphans; hr-sync neither opens nor closes orphan exceptions."""

from __future__ import annotations

import httpx

from connectors.factory import build_target
from flows.hr_sync import hr_sync
from flows.reconcile import reconcile
from jml.config import load_config
from jml.ledger import ExceptionRecord, Ledger
from jml.operations import Revoke
from tests.flows.running import run_bound
from tests.flows.test_hr_sync import AS_OF, people, write_world

USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def open_exceptions(config) -> dict[str, ExceptionRecord]:
    ledger = Ledger.open(load_config(config).state_url)
    try:
        return {row.key: row for row in ledger.list_exceptions("open")}
    finally:
        ledger.close()


def scim(config):
    return build_target(load_config(config).target("app"))


def post_user(tenant, **fields) -> dict:
    response = httpx.post(
        f"{tenant.url}/Users",
        json={"schemas": [USER], "active": True, **fields},
        headers={"Authorization": f"Bearer {tenant.token}", "Content-Type": "application/scim+json"},
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return response.json()


def accounts(config) -> dict:
    connector = scim(config)
    try:
        return {a.external_id: a for a in connector.read().accounts}
    finally:
        connector.close()


def test_reconcile_reports_then_fixes_drift_and_leaves_orphans_alone(tmp_path, tenant_env):
    config = write_world(tmp_path, tenant_env.url, people(3))
    assert run_bound(config, hr_sync, as_of=AS_OF, return_state=True).result()["status"] == "converged"
    # Someone strips a membership by hand; a leaver is not yet synced; two strangers appear.
    e1 = accounts(config)["E00001"]
    connector = scim(config)
    connector.apply([Revoke(target="app", employee_id="E00001", reason="test", entitlement="engineering", account_id=e1.id)])
    connector.close()
    feed = tmp_path / "workers.csv"
    feed.write_text(feed.read_text().replace("E00002,First2,Last2,p2@example.com,Engineering,ENG,E00000,employee,active",
                                             "E00002,First2,Last2,p2@example.com,Engineering,ENG,E00000,employee,terminated"))  # fmt: skip
    svc = post_user(tenant_env, userName="svc-backup@example.com", externalId="X999")
    bare = post_user(tenant_env, userName="nobody@example.com")

    state = run_bound(config, reconcile, return_state=True)
    assert state.is_completed() and state.name == "Attention", state
    found = open_exceptions(config)
    assert found["drift:app:E00001"].detail.endswith("missing engineering")
    assert "leaver (terminated) whose account is still active" in found["drift:app:E00002"].detail
    assert {f"orphan:app:{svc['id']}", f"orphan:app:{bare['id']}"} <= set(found)
    assert "nobody@example.com" not in found[f"orphan:app:{bare['id']}"].detail  # no emails
    assert "drift:app:E00000" not in found
    now = accounts(config)
    assert "engineering" not in now["E00001"].entitlements and now["E00002"].active  # nothing written

    fixed = run_bound(config, reconcile, fix=True, return_state=True)
    document = fixed.result()
    assert document["operations"]["failed"] == 0 and document["operations"]["applied"] >= 3
    now = accounts(config)
    assert "engineering" in now["E00001"].entitlements
    assert not now["E00002"].active and not now["E00002"].entitlements
    left = open_exceptions(config)
    assert not [key for key in left if key.startswith("drift:")]
    assert {f"orphan:app:{svc['id']}", f"orphan:app:{bare['id']}"} <= set(left)  # never touched
    assert accounts(config)["X999"].active

    run_bound(config, hr_sync, as_of=AS_OF, return_state=True)
    assert {f"orphan:app:{svc['id']}", f"orphan:app:{bare['id']}"} <= set(open_exceptions(config))
