"""deployments/prefect.yaml, rendered from the table: the same deployments as `jml serve`
(names, descriptions, tags, the `config` parameter) for a process work pool, with the
schedules the config gives by default (`jml.config.SchedulesConfig`).

`render()` is the file's text; `write()` writes it beside this module (`python -m
deployments`). The file is committed, and a test checks it equals `render()`, so the
table and the file cannot drift apart.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from deployments.table import DEPLOYMENTS, Deployment
from jml.config import SchedulesConfig

PATH = Path(__file__).with_name("prefect.yaml")
#: Filled in by the environment of `prefect deploy` (see the header).
CONFIG_PLACEHOLDER = "{{ $JML_CONFIG }}"
HOME_PLACEHOLDER = "{{ $JML_HOME }}"
WORK_POOL = {"name": "jml", "work_queue_name": "default", "job_variables": {}}

HEADER = """\
# Generated from deployments/table.py by `python -m deployments`: edit the table, not
# this file (a test fails when they differ).
#
# The jml deployments for a process work pool: the same ones that `jml serve` serves,
# with the same names and parameters, and the default schedules of the config's
# `schedules:`.
#
# From the repository root (the worker runs the flows from there, with jml installed):
#   export JML_HOME=$PWD JML_CONFIG=/etc/jml/jml.yaml     # an absolute path
#   prefect work-pool create jml --type process
#   prefect deploy --all --prefect-file deployments/prefect.yaml
#   prefect worker start --pool jml
# A config's own `schedules:` apply to `jml serve` only; change a schedule of this way
# of running in the UI. Alerts: `jml serve --alerts-only`; see the README.
"""


class _Dumper(yaml.SafeDumper):
    """Writes a repeated value out in full (no `&id001` anchors)."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def entrypoint(deployment: Deployment) -> str:
    """`path/to/module.py:function` of the deployment's flow, from the repository root."""
    function = deployment.flow.fn
    return f"{function.__module__.replace('.', '/')}.py:{function.__name__}"


def declaration(deployment: Deployment, schedules: SchedulesConfig) -> dict:
    """One entry of the file's `deployments:`."""
    schedule = deployment.schedule_in(schedules)
    return {
        "name": deployment.name,
        "entrypoint": entrypoint(deployment),
        "description": deployment.description,
        "tags": list(deployment.tags),
        "parameters": deployment.parameters(CONFIG_PLACEHOLDER),
        "schedules": [] if schedule is None else [schedule.model_dump(exclude_none=True)],
        "work_pool": WORK_POOL,
    }


def render() -> str:
    """The text of deployments/prefect.yaml."""
    document = {
        "name": "jml",
        "build": None,
        "push": None,
        "pull": [{"prefect.deployments.steps.set_working_directory": {"directory": HOME_PLACEHOLDER}}],
        "deployments": [declaration(d, SchedulesConfig()) for d in DEPLOYMENTS],
    }
    return HEADER + "\n" + yaml.dump(document, Dumper=_Dumper, sort_keys=False, width=100)


def write(path: Path = PATH) -> Path:
    """Write the rendered file to `path`; return it."""
    path.write_text(render(), encoding="utf-8")
    return path
