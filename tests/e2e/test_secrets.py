"""Secrets and privacy: the SCIM token never appears in what jml prints, records or
publishes (stdout, stderr, --json documents, the ledger file, Prefect logs and
artifacts); logs name people by employee_id, not by name or email; `verify: false`
is warned about on every run."""

from __future__ import annotations

import asyncio

import yaml
from prefect.client.orchestration import get_client

from tests.e2e.helpers import ATTENTION, worker


def prefect_text(api_env: dict) -> str:
    """Every log message and artifact of the session's Prefect server, as one text."""
    import os

    async def read() -> str:
        texts: list[str] = []
        async with get_client() as client:
            for reader, text_of in ((client.read_logs, lambda log: log.message),
                                    (client.read_artifacts, lambda artifact: str(artifact.data))):
                offset = 0
                while page := await reader(limit=200, offset=offset):
                    texts += [text_of(item) for item in page]
                    offset += len(page)
        return "\n".join(texts)

    saved = {k: os.environ.get(k) for k in api_env}
    os.environ.update(api_env)
    try:
        return asyncio.run(read())
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_the_token_never_leaks_and_logs_name_people_by_employee_id(scenario):
    token = scenario.tenant.token
    scenario.write_feed([
        worker("E001", first_name="Zebedee", last_name="Quixotic", email="zebedee.quixotic@example.com"),
        worker("E002"), worker("E003"), worker("E004"),
        worker("E005", email="not-an-email"),  # quarantined: an exception with a message
    ])  # fmt: skip
    document = yaml.safe_load(scenario.config.read_text())
    broken = {**document["targets"][0], "name": "down", "url": "http://127.0.0.1:9", "verify": False,
              "retry": {"attempts": 1}}  # fmt: skip
    document["targets"].append(broken)
    scenario.config.write_text(yaml.safe_dump(document))
    outputs = []
    for command, args in (("plan", ()), ("run", ("--as-of", "2026-03-02")), ("exceptions", ("--status", "all")),
                          ("audit", ())):  # fmt: skip
        result = scenario.run(command, *args)
        outputs += [result.stdout, result.stderr]
        if command == "run":
            assert result.code == ATTENTION, result
            assert "verify: false" in result.stderr and "TLS certificate verification is OFF" in result.stderr
            for private in ("Zebedee", "Quixotic", "zebedee.quixotic@example.com"):
                assert private not in result.stderr, f"{private} in the run's log"
    outputs.append((scenario.root / "jml.db").read_bytes().decode("latin-1"))
    outputs.append(prefect_text(scenario.prefect_env))
    for text in outputs:
        assert token not in text
    assert any("target down is unreachable" in text for text in outputs)
