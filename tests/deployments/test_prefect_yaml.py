"""deployments/prefect.yaml is what the deployments table renders: committed current,
every entrypoint loading the flow it names, the config's default schedules."""

from __future__ import annotations

from pathlib import Path

import yaml
from prefect.flows import load_flow_from_entrypoint

from deployments.prefect_yaml import PATH, render
from deployments.table import DEPLOYMENTS
from jml.config import SchedulesConfig

ROOT = Path(__file__).resolve().parents[2]


def test_the_committed_file_is_what_the_table_renders():
    assert PATH.read_text(encoding="utf-8") == render(), (
        "deployments/prefect.yaml is out of date: run `.venv/bin/python -m deployments`"
    )


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
        assert entry["parameters"] == {"config": "{{ $JML_CONFIG }}"}
        assert entry["description"] == deployment.description
