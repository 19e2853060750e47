"""deployments/prefect.yaml and process-pool.json are what the deployments table
renders: committed current, every entrypoint loading the flow it names, the config's
default schedules, no parameter naming a config file, and a pool whose runs cannot set
their environment or command."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from prefect.flows import load_flow_from_entrypoint

from deployments.prefect_yaml import PATH, POOL_PATH, pool_template, render
from deployments.table import DEPLOYMENTS
from jml.config import SchedulesConfig

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_files_are_what_the_table_renders():
    assert PATH.read_text(encoding="utf-8") == render(), (
        "deployments/prefect.yaml is out of date: run `.venv/bin/python -m deployments`"
    )
    assert POOL_PATH.read_text(encoding="utf-8") == pool_template(), (
        "deployments/process-pool.json is out of date: run `.venv/bin/python -m deployments`"
    )


def test_no_run_of_the_pool_can_set_its_environment_or_command():
    template = json.loads(POOL_PATH.read_text(encoding="utf-8"))
    assert not {"env", "command"} & set(template["variables"]["properties"])
    assert template["job_configuration"]["env"] == {} and template["job_configuration"]["command"] is None
    assert "{{ env }}" not in POOL_PATH.read_text() and "{{ command }}" not in POOL_PATH.read_text()


def test_each_declared_deployment_is_a_row_of_the_table_with_its_default_schedule():
    declared = yaml.safe_load(PATH.read_text(encoding="utf-8"))["deployments"]
    assert [d["name"] for d in declared] == [d.name for d in DEPLOYMENTS]
    defaults = SchedulesConfig()
    for entry, deployment in zip(declared, DEPLOYMENTS, strict=True):
        path, function = entry["entrypoint"].split(":")
        assert load_flow_from_entrypoint(f"{ROOT / path}:{function}").name == deployment.name
        schedule = deployment.schedule_in(defaults)
        expected = [] if schedule is None else [{"cron": schedule.cron, "timezone": schedule.timezone}]
        assert entry["schedules"] == expected
        assert "parameters" not in entry  # nothing names a config file
        assert entry["description"] == deployment.description
