"""Secrets and privacy: the SCIM token never appears in what jml prints, records or
publishes (stdout, stderr, --json documents, the ledger file, Prefect logs and
artifacts); logs name people by employee_id, not by name or email; `verify: false`
is warned about on every run."""

from __future__ import annotations

import asyncio
import json

import yaml
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from tests.e2e.helpers import ATTENTION, worker
from tests.httpserving import Quiet, serving


def prefect_text(api_env: dict) -> str:
    """Every log message and artifact of the session's Prefect server, as one text (read
    with the API URL set in Prefect's settings, so no ephemeral server is started)."""

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

    with temporary_settings(updates={PREFECT_API_URL: api_env["PREFECT_API_URL"]}):
        return asyncio.run(read())


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
    published = prefect_text(scenario.prefect_env)
    assert "operations on app" in published, "the run's Prefect logs were read"
    outputs.append(published)
    for text in outputs:
        assert token not in text
    assert any("target down is unreachable" in text for text in outputs)


def test_a_token_with_a_line_end_is_refused_by_name_before_anything_runs(scenario):
    """Issue 14, finding 1: a token read from a CRLF env file (`tok\\r`) was copied by h11
    into every error (`Illegal header value b'Bearer tok\\r'`). It is refused when the
    config is checked: exit 2, one line naming the variable, never the value."""
    scenario.write_feed([worker("E001")])
    for bad in (scenario.tenant.token + "\r", scenario.tenant.token + "\n", " " + scenario.tenant.token):
        for command in (("run", "--as-of", "2026-03-02"), ("plan",)):
            result = scenario.run(*command, env={"APP_TOKEN": bad})
            assert result.code == 2, result
            assert "APP_TOKEN" in result.stderr and "line end" in result.stderr, result
            assert scenario.tenant.token not in result.stderr + result.stdout
            assert len(result.stderr.strip().splitlines()) == 1, result


class Echoing(Quiet):
    """A SCIM server that holds nobody and refuses every write with an error quoting the
    request's Authorization header back (a server that echoes what it was sent)."""

    protocol_version = "HTTP/1.1"

    def _answer(self, status: int, body: dict) -> None:
        payload = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/scim+json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        if self.path.endswith("/ServiceProviderConfig"):
            return self._answer(200, {"bulk": {"supported": False}})
        return self._answer(200, {"totalResults": 0, "Resources": []})

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        detail = f"not allowed for {self.headers.get('Authorization')}"
        return self._answer(400, {"status": "400", "detail": detail})


def test_a_server_quoting_the_token_back_leaks_it_nowhere(scenario):
    """Every error text is redacted where it is made: the failed operations' exceptions,
    the run document, the ledger and the log show `***` where the server quoted the token."""
    with serving(Echoing) as server:
        scenario.configure(url=f"{server}/scim")
        scenario.write_feed([worker("E001"), worker("E002")])
        token = scenario.tenant.token
        run = scenario.run("run", "--as-of", "2026-03-02")
        assert run.code == ATTENTION, run
        failed = scenario.exceptions_of("failed_operation")
        assert failed and all("***" in e["detail"] and "Bearer" in e["detail"] for e in failed), failed
        texts = [run.stdout, run.stderr, (scenario.root / "jml.db").read_bytes().decode("latin-1")]
        texts += [scenario.run(command).stdout for command in ("exceptions", "audit")]
        assert all(token not in text for text in texts)
