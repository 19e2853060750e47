"""The hr_sync flow under a Prefect test harness, against a real scim2-server."""

from __future__ import annotations

import asyncio
import json
from datetime import date
from pathlib import Path

from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, FlowRunFilter, FlowRunFilterId

from connectors.kernel import Kernel
from connectors.targets.scim import ScimDriver
from flows.hr_sync import hr_sync
from jml.ledger import Ledger
from pipeline.apply import MAX_BATCHES, MIN_BATCH
from tests.flows.running import run_bound

HEADER = "employee_id,first_name,last_name,email,department,job_code,manager_id,employment_type,status,hire_date"
AS_OF = date(2026, 3, 2)


def write_world(folder: Path, url: str, rows: list[str], header: str = HEADER, **safety) -> Path:
    (folder / "workers.csv").write_text("\n".join([header, *rows]) + "\n")
    (folder / "policy.yaml").write_text(
        "bundles:\n  staff: {grants: {app: [all-staff]}}\n  eng: {grants: {app: [engineering]}}\n"
        "rules:\n  - {when: {employment_type: [employee]}, grant: [staff]}\n"
        "  - {when: {department: [Engineering]}, grant: [eng]}\n"
    )
    limits = ", ".join(f"{k}: {v}" for k, v in safety.items())
    config = folder / "jml.yaml"
    config.write_text(
        "state: sqlite:///jml.db\nsources: [{name: hr, type: csv, path: workers.csv}]\n"
        f"targets: [{{name: app, type: scim, url: '{url}', token_env: APP_TOKEN}}]\n"
        f"policy: policy.yaml\nsafety: {{{limits}}}\n"
    )
    return config


def people(n: int, department: str = "Engineering", status: str = "active") -> list[str]:
    return [
        f"E{i:05d},First{i},Last{i},p{i}@example.com,{department},ENG,{'E00000' if i else ''},"
        f"employee,{status},2020-01-01"
        for i in range(n)
    ]


def task_run_names(flow_run_id) -> list[str]:
    async def read():
        async with get_client() as client:
            runs = await client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
            )
            return [run.name.rsplit("-", 1)[0] for run in runs]

    return asyncio.run(read())


def artifacts_of(flow_run_id) -> list:
    """The artifacts the flow run published (whatever else the server holds)."""

    async def read():
        async with get_client() as client:
            return await client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id]))
            )

    return asyncio.run(read())


def table_rows(artifact) -> list[dict]:
    """The rows of a table artifact (Prefect keeps them as JSON text)."""
    return json.loads(artifact.data) if isinstance(artifact.data, str) else artifact.data


def test_converged_run_is_completed_and_publishes_a_summary(tmp_path, tenant_env):
    config = write_world(tmp_path, tenant_env.url, people(3))
    state = run_bound(config, hr_sync, as_of=AS_OF, return_state=True)
    document = state.result()
    assert state.is_completed() and state.name == "Completed"
    assert document["status"] == "converged" and document["operations"]["applied"] == 9
    summaries = artifacts_of(state.state_details.flow_run_id)
    assert any(a.type == "markdown" and "hr-sync run" in a.data for a in summaries)
    again = run_bound(config, hr_sync, as_of=AS_OF, return_state=True).result()
    assert again["operations"]["planned"] == 0


def test_open_exceptions_end_completed_named_attention(tmp_path, tenant_env):
    rows = people(2) + ["BAD ID,X,Y,bad@example.com,Sales,S,,employee,active,2020-01-01"]
    config = write_world(tmp_path, tenant_env.url, rows, max_invalid_fraction=0.5)
    state = run_bound(config, hr_sync, as_of=AS_OF, return_state=True)
    assert state.is_completed() and state.name == "Attention"
    assert state.result()["exceptions_open"] == 1


def test_the_runs_artifacts_never_hold_the_targets_token_and_the_summary_the_audit_head(tmp_path, tenant_env):
    rows = people(2) + ["BAD ID,X,Y,bad@example.com,Sales,S,,employee,active,2020-01-01"]
    config = write_world(tmp_path, tenant_env.url, rows, max_invalid_fraction=0.5)
    state = run_bound(config, hr_sync, as_of=AS_OF, return_state=True)
    published = artifacts_of(state.state_details.flow_run_id)
    assert {"hr-sync-summary", "hr-sync-exceptions"} <= {a.key for a in published}, "the run's artifacts were read"
    for artifact in published:
        assert tenant_env.token not in f"{artifact.data} {artifact.description}", artifact.key
    [summary] = [a for a in published if a.key == "hr-sync-summary"]
    [opened] = [a for a in published if a.key == "hr-sync-exceptions"]
    assert [(row["kind"], row["owner"]) for row in table_rows(opened)] == [("quarantine", "iam")]
    head = state.result()["audit_head"]
    assert f"Audit trail head: `{head}`" in summary.data, "a copy of the head outside the ledger"
    ledger = Ledger.open(f"sqlite:///{tmp_path / 'jml.db'}")
    try:
        assert ledger.audit_head() == head
    finally:
        ledger.close()


def test_safety_gate_ends_failed_named_halted_with_its_figures(tmp_path, tenant_env):
    config = write_world(tmp_path, tenant_env.url, people(10), deprovision_floor=2)
    run_bound(config, hr_sync, as_of=AS_OF, return_state=True)
    write_world(tmp_path, tenant_env.url, people(10, status="terminated"), deprovision_floor=2)
    state = run_bound(config, hr_sync, as_of=AS_OF, return_state=True)
    assert state.is_failed() and state.name == "Halted"
    assert "deprovision guard" in state.message and "10 persons" in state.message
    assert state.result(raise_on_failure=False)["operations"]["applied"] == 0


def test_task_runs_do_not_grow_with_the_population(tmp_path, tenant_env, scim_server):
    """Apply is cut into at most MAX_BATCHES task runs per target: two populations that
    both fill MAX_BATCHES batches of MIN_BATCH operations (3 per person: the create and
    two grants) run the very same task runs, MAX_BATCHES of them apply; batches grow in
    size, not in number."""
    enough = -(-MIN_BATCH * MAX_BATCHES // 3)
    names = {}
    for n in (enough, 3 * enough):
        folder = tmp_path / str(n)
        folder.mkdir()
        config = write_world(folder, scim_server.tenant().url, people(n))
        state = run_bound(config, hr_sync, as_of=AS_OF, return_state=True)
        assert state.result()["operations"]["applied"] == 3 * n
        names[n] = sorted(task_run_names(state.state_details.flow_run_id))
    assert names[enough].count("apply") == MAX_BATCHES
    assert names[3 * enough] == names[enough]


class SilentlyDroppingGrants(ScimDriver):
    """A target that reports grants as done without doing them: a fault no real server
    produces on demand, so it is the one stand-in in these tests."""

    def change_members(self, group, changes):
        removals = [(add, handle) for add, handle in changes if not add]
        if removals:
            super().change_members(group, removals)

    def create_group(self, group, members):
        return True  # "created", with nobody in it


def test_verify_reports_drift_when_the_target_does_not_hold_what_it_acknowledged(
    tmp_path, tenant_env, monkeypatch
):
    import connectors.factory

    # pipeline.run's Targets imports build_target when a target is first used
    monkeypatch.setattr(connectors.factory, "build_target", lambda cfg: Kernel(SilentlyDroppingGrants(cfg), cfg.retry))
    config = write_world(tmp_path, tenant_env.url, people(2))
    document = run_bound(config, hr_sync, as_of=AS_OF, return_state=True).result()
    assert document["status"] == "attention"
    from jml.config import load_config
    from jml.ledger import Ledger

    ledger = Ledger.open(load_config(config).state_url)
    drift = [e for e in ledger.list_exceptions("open") if e.kind == "drift"]
    ledger.close()
    assert {e.employee_id for e in drift} == {"E00000", "E00001"}
    monkeypatch.undo()
    monkeypatch.setenv("APP_TOKEN", tenant_env.token)
    healed = run_bound(config, hr_sync, as_of=AS_OF, return_state=True).result()
    assert healed["status"] == "converged" and healed["exceptions_closed"] == 2
