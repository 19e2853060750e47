"""deployments/prefect.yaml, rendered from the table: the same deployments as `jml serve`
(names, descriptions, tags) for a process work pool, with the schedules the config
gives by default (`jml.config.SchedulesConfig`); and deployments/process-pool.json, the
base job template of that pool: Prefect's default for a process pool, except that no
deployment or run may set the environment or the command of a flow run, so the
config the worker is bound to (`JML_CONFIG` in its own environment) is the only one
its runs can use (`flows.binding`).

`render()` and `pool_template()` are the files' contents; `write()` writes both beside
this module (`python -m deployments`). Both are committed, and a test checks they equal
what these render, so the table and the files cannot drift apart.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from prefect.workers.process import ProcessWorker

from deployments.table import DEPLOYMENTS, Deployment
from jml.config import SchedulesConfig

PATH = Path(__file__).with_name("prefect.yaml")
POOL_PATH = Path(__file__).with_name("process-pool.json")
#: Filled in by the environment of `prefect deploy` (see the header).
HOME_PLACEHOLDER = "{{ $JML_HOME }}"
#: What the pool's runs may not set: their environment and their command.
LOCKED = ("env", "command")
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
#   export JML_HOME=$PWD
#   prefect work-pool create jml --type process --base-job-template deployments/process-pool.json
#   prefect deploy --all --prefect-file deployments/prefect.yaml
#   JML_CONFIG=/etc/jml/jml.yaml prefect worker start --pool jml   # the worker's config
# No run parameter names a config file, and the pool lets no run set environment
# variables: every run of this worker uses its JML_CONFIG.
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


def pool_template() -> str:
    """The text of deployments/process-pool.json (see the module docstring)."""
    template = ProcessWorker.get_default_base_job_template()
    for name in LOCKED:
        template["variables"]["properties"].pop(name, None)
    template["job_configuration"].update(env={}, command=None)
    return json.dumps(template, indent=2, sort_keys=True) + "\n"


def write(path: Path = PATH, pool: Path = POOL_PATH) -> tuple[Path, Path]:
    """Write both rendered files; return their paths."""
    path.write_text(render(), encoding="utf-8")
    pool.write_text(pool_template(), encoding="utf-8")
    return path, pool
