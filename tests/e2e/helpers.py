"""End-to-end helpers: one `Scenario` per test, the real `jml` command, a real SCIM server.

A Scenario is a folder (tmp_path) holding jml.yaml, policy.yaml (the example policy by
default), the HR feed `feeds/workers.csv` and the ledger (`state`: the SQLite file
jml.db there by default; any SQLAlchemy URL, e.g. a PostgreSQL database, when given;
`ledger_rows` reads it with SQL). `run(...)` runs the
installed `jml` command in a process of its own (forked by tests/zygote.py, which has
great_expectations imported already) pointed at the session's Prefect server and at a
fresh SCIM tenant, and checks the `--json` contract (stdout holds one JSON document and
nothing else). `scim_users()` and `groups()` read the SCIM server's real state.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import httpx
import yaml
from sqlalchemy import create_engine

from jml.config.common import anchor_sqlite_url
from tests import zygote

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

#: The feed columns, in the examples' order (signing_authority is a pass-through column).
COLUMNS = (
    "employee_id", "first_name", "last_name", "email", "department", "job_code", "location",
    "manager_id", "employment_type", "status", "hire_date", "termination_date",
    "contract_end_date", "signing_authority",
)  # fmt: skip

DEFAULT_LIFECYCLE = {"prehire_days": 7, "delete_after_days": 30, "absent": "exception"}
DEFAULT_SAFETY = {
    "max_invalid_fraction": 0.25,
    "max_deprovision_fraction": 0.10,
    "deprovision_floor": 5,
}

#: Exit codes of the SPEC.
CONVERGED, OTHER, USAGE, ATTENTION, HALTED = 0, 1, 2, 3, 4


def worker(employee_id: str, **fields: str) -> dict[str, str]:
    """One feed row with sensible defaults: an active Engineering employee since 2020."""
    number = employee_id.lower()
    row = {
        "employee_id": employee_id,
        "first_name": f"First{number}",
        "last_name": f"Last{number}",
        "email": f"{number}@example.com",
        "department": "Engineering",
        "job_code": "ENG",
        "location": "London",
        "manager_id": "",
        "employment_type": "employee",
        "status": "active",
        "hire_date": "2020-01-06",
        "termination_date": "",
        "contract_end_date": "",
        "signing_authority": "",
    }
    unknown = set(fields) - set(row)
    assert not unknown, f"unknown feed columns {unknown}"
    row.update(fields)
    return row


@dataclass
class Result:
    """What one `jml` command did: exit code, the parsed --json document (None when
    stdout was empty), and stderr."""

    code: int
    json: dict | None
    stdout: str
    stderr: str
    args: tuple[str, ...]

    def __str__(self) -> str:
        return (
            f"jml {' '.join(self.args)} -> exit {self.code}\n--- stdout\n{self.stdout[-4000:]}"
            f"\n--- stderr\n{self.stderr[-4000:]}"
        )

    def expect(self, code: int) -> Result:
        """Assert the exit code (showing the whole output if it differs)."""
        assert self.code == code, f"expected exit {code}\n{self}"
        return self


class Scenario:
    """One test's world: a config folder, a SCIM tenant, the Prefect API to report to,
    the ledger's URL."""

    def __init__(self, root: Path, tenant, prefect_env: dict[str, str], state: str = "sqlite:///jml.db") -> None:
        self.root = root
        self.tenant = tenant
        self.prefect_env = prefect_env
        self.state = state
        self.config = root / "jml.yaml"
        self.feed = root / "feeds" / "workers.csv"
        self.feed.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(EXAMPLES / "policy.yaml", root / "policy.yaml")
        self.configure()

    # -- the files -----------------------------------------------------------------

    def configure(
        self,
        *,
        url: str | None = None,
        more_targets: dict[str, str] | None = None,
        lifecycle: dict | None = None,
        safety: dict | None = None,
        **extra: object,
    ) -> dict:
        """Write jml.yaml: the example config pointed at this scenario's tenant (or at
        `url`), plus `more_targets` (name -> SCIM URL, same token), with lifecycle/safety
        keys overridden and any extra top-level keys added."""
        targets = {"app": url or self.tenant.url, **(more_targets or {})}
        document = {
            "state": self.state,
            "sources": [{"name": "hr", "type": "csv", "path": "feeds/workers.csv"}],
            "targets": [
                {"name": name, "type": "scim", "url": target_url, "token_env": "APP_TOKEN"}
                for name, target_url in targets.items()
            ],
            "policy": "policy.yaml",
            "lifecycle": {**DEFAULT_LIFECYCLE, **(lifecycle or {})},
            "safety": {**DEFAULT_SAFETY, **(safety or {})},
            **extra,
        }
        self.config.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        return document

    def write_policy(self, policy: dict) -> None:
        """Replace policy.yaml."""
        (self.root / "policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False), encoding="utf-8")

    def write_feed(self, rows: list[dict[str, str]] | str) -> None:
        """Write the HR feed: rows (dicts, see `worker`) under the full header, or raw text."""
        if isinstance(rows, str):
            self.feed.write_text(rows, encoding="utf-8")
            return
        lines = [",".join(COLUMNS)]
        lines += [",".join(row.get(column, "") for column in COLUMNS) for row in rows]
        self.feed.write_text("\n".join(lines) + "\n", encoding="utf-8")

    def use_example_feed(self, day: str) -> None:
        """Copy examples/feeds/<day>.csv over the feed."""
        shutil.copy(EXAMPLES / "feeds" / f"{day}.csv", self.feed)

    def ledger_rows(self, query: str) -> list[tuple]:
        """The rows of one SQL query on the scenario's ledger."""
        engine = create_engine(anchor_sqlite_url(self.state, self.root))
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.exec_driver_sql(query)]
        finally:
            engine.dispose()

    # -- the command ---------------------------------------------------------------

    def run(
        self,
        command: str,
        *args: str,
        as_json: bool = True,
        config: bool = True,
        timeout: float = 180,
        env: dict[str, str] | None = None,
    ) -> Result:
        """`jml <command> --config <jml.yaml> <args> [--json]` in the scenario's folder
        (`config=False`: no --config, so the default ./jml.yaml; `env`: variables set for
        this command); with --json, stdout must be exactly one JSON document (or empty,
        when the command failed early)."""
        argv = [command, *(["--config", str(self.config)] if config else []), *args]
        if as_json:
            argv.append("--json")
        env = {**os.environ, **self.prefect_env, "APP_TOKEN": self.tenant.token, **(env or {})}
        done = zygote.run(argv, cwd=self.root, env=env, timeout=timeout)
        document = None
        if as_json and done.stdout.strip():
            try:
                document = json.loads(done.stdout)
            except json.JSONDecodeError as exc:
                raise AssertionError(
                    f"stdout of `jml {' '.join(argv)}` is not one JSON document ({exc}):\n"
                    f"{done.stdout[:4000]}\n--- stderr\n{done.stderr[-4000:]}"
                ) from None
            assert isinstance(document, dict), done.stdout[:1000]
        return Result(done.returncode, document, done.stdout, done.stderr, tuple(argv))

    def sync(self, as_of: str, *args: str, expect: int | None = None) -> Result:
        """`jml run --as-of <as_of> --json`, asserting the exit code when given."""
        result = self.run("run", "--as-of", as_of, *args)
        if expect is not None:
            result.expect(expect)
        assert result.json is not None, f"no JSON document\n{result}"
        return result

    def exceptions(self, status: str = "open") -> list[dict]:
        """`jml exceptions --status <status> --json`."""
        result = self.run("exceptions", "--status", status).expect(CONVERGED)
        return result.json["exceptions"]

    def exceptions_of(self, kind: str, status: str = "open") -> list[dict]:
        return [e for e in self.exceptions(status) if e["kind"] == kind]

    def audit(self, *args: str) -> list[dict]:
        """`jml audit [args] --json`."""
        return self.run("audit", *args).expect(CONVERGED).json["audit"]

    # -- the SCIM server's real state (of this scenario's tenant) -------------------

    @property
    def scim(self) -> ScimView:
        return ScimView(self.tenant)

    def all_users(self) -> list[dict]:
        return self.scim.all_users()

    def scim_users(self) -> dict[str, dict]:
        return self.scim.scim_users()

    def groups(self) -> dict[str, set[str]]:
        return self.scim.groups()

    def memberships(self, employee_id: str) -> set[str]:
        return self.scim.memberships(employee_id)

    def post_user(self, user: dict) -> dict:
        return self.scim.post_user(user)


class ScimView:
    """What one SCIM tenant really holds, read (and, to set a scene, written) directly."""

    def __init__(self, tenant) -> None:
        self.tenant = tenant
        self.headers = {"Authorization": f"Bearer {tenant.token}"}

    def _get(self, endpoint: str) -> list[dict]:
        response = httpx.get(
            f"{self.tenant.url}/{endpoint}", params={"count": 1000}, headers=self.headers, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json().get("Resources") or []

    def _post(self, endpoint: str, body: dict) -> dict:
        response = httpx.post(
            f"{self.tenant.url}/{endpoint}",
            json=body,
            headers={**self.headers, "Content-Type": "application/scim+json"},
            timeout=10,
        )
        assert response.status_code == 201, response.text
        return response.json()

    def all_users(self) -> list[dict]:
        """Every SCIM User of the tenant, as the server returns it."""
        return self._get("Users")

    def scim_users(self) -> dict[str, dict]:
        """SCIM Users with an externalId, by externalId (each externalId at most once)."""
        users: dict[str, dict] = {}
        for user in self.all_users():
            external = user.get("externalId")
            if external is None:
                continue
            assert external not in users, f"two SCIM users with externalId {external}"
            users[external] = user
        return users

    def groups(self) -> dict[str, set[str]]:
        """Group displayName -> the externalIds (else SCIM ids) of its members."""
        external_of = {u["id"]: u.get("externalId") or u["id"] for u in self.all_users()}
        return {
            group["displayName"]: {
                external_of.get(member["value"], member["value"])
                for member in group.get("members") or ()
            }
            for group in self._get("Groups")
        }

    def memberships(self, employee_id: str) -> set[str]:
        """The displayNames of the groups listing this person."""
        return {name for name, members in self.groups().items() if employee_id in members}

    def post_user(self, user: dict) -> dict:
        """Create a SCIM User directly on the server (as another system would)."""
        return self._post("Users", {"schemas": [USER_SCHEMA], **user})

    def post_group(self, name: str, member_ids: list[str]) -> dict:
        """Create a SCIM Group directly on the server, with these SCIM ids as members."""
        return self._post(
            "Groups",
            {"schemas": [GROUP_SCHEMA], "displayName": name, "members": [{"value": i} for i in member_ids]},
        )

    def patch_user(self, user_id: str, operations: list[dict]) -> None:
        """Change a SCIM User directly on the server (as an admin in another tool would)."""
        response = httpx.patch(
            f"{self.tenant.url}/Users/{user_id}",
            json={"schemas": [PATCH_SCHEMA], "Operations": operations},
            headers={**self.headers, "Content-Type": "application/scim+json"},
            timeout=10,
        )
        assert response.status_code in (200, 204), response.text

    def delete_user(self, user_id: str) -> None:
        response = httpx.delete(f"{self.tenant.url}/Users/{user_id}", headers=self.headers, timeout=10)
        assert response.status_code == 204, response.text


def enterprise(user: dict) -> dict:
    """The enterprise extension of a SCIM User ({} when absent)."""
    return user.get(ENTERPRISE) or {}
