"""The run lock while hr_sync is paused for approvals (issue 14, finding 6): the pause
used to renew nothing, so a 300 s lease ran out under a 3600 s wait and another run
could take the lock. With a 2 s lease and a pause several times as long, the paused run
still holds the lock (another holder is refused), and applies the approved grant when
it resumes."""

from __future__ import annotations

import os
import socket
import threading
import time
from datetime import UTC, datetime

import pytest
from prefect.flow_runs import resume_flow_run
from prefect.input.actions import read_flow_run_input

import tasks.approvals
from flows.hr_sync import hr_sync
from jml.ledger import Ledger, LockHolder
from tests.flows.running import run_bound
from tests.flows.test_approvals import POLICY, ROWS, paused_run
from tests.flows.test_hr_sync import AS_OF, write_world
from tests.flows.test_reconcile import accounts

TTL = 2
PAUSE = 4 * TTL


@pytest.fixture
def world(tmp_path, tenant_env, monkeypatch):
    """The approvals world (a high-risk grant for F0001), with a 2 s lease."""
    monkeypatch.setattr(tasks.approvals, "POLL_SECONDS", 1)
    config = write_world(tmp_path, tenant_env.url, ROWS)
    (tmp_path / "policy.yaml").write_text(POLICY)
    with config.open("a") as file:
        file.write(f"lock: {{ttl_seconds: {TTL}}}\n")
    return config


def test_a_run_paused_for_approvals_longer_than_its_lease_still_holds_the_lock(world):
    seen: dict = {}

    def operator() -> None:  # takes its time to decide, then approves both roles
        run_id = paused_run()
        time.sleep(PAUSE)
        seen["asked_at"] = datetime.now(UTC)
        with Ledger.open(f"sqlite:///{world.parent / 'jml.db'}") as ledger:
            seen["lease"] = ledger.lock_lease()
            seen["refused"] = ledger.acquire_lock(LockHolder.this_process(), ttl=60)
        schema = read_flow_run_input("paused-approvals-schema", flow_run_id=run_id)
        field = next(name for name in schema["properties"] if name.startswith("exception_"))
        resume_flow_run(
            run_id, run_input={field: "approve", "approver_hr": "Hana HR", "approver_business_owner": "Bo Owner"}
        )

    helper = threading.Thread(target=operator, daemon=True)
    helper.start()
    started = datetime.now(UTC)
    state = run_bound(world, hr_sync, as_of=AS_OF, wait_for_approvals=True, approval_timeout=120, return_state=True)
    helper.join(timeout=10)
    lease, refused, asked_at = seen["lease"], seen["refused"], seen["asked_at"]
    assert lease is not None and lease.holder.startswith(f"{socket.gethostname()}:{os.getpid()}:")
    assert lease.acquired_at >= started and (asked_at - lease.acquired_at).total_seconds() > PAUSE
    assert lease.expires_at > asked_at, "the lease was renewed during the pause"
    assert refused is not None and refused.holder == lease.holder, "another holder took the paused run's lock"
    assert state.is_completed() and state.name == "Completed", state
    document = state.result()
    assert document["status"] == "converged" and document["lock_lost"] is None
    assert "finance-admin" in accounts(world)["F0001"].entitlements
