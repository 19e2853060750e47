"""Secrets (jml.secrets): read and checked, remembered, and redacted from texts and logs."""

from __future__ import annotations

import base64
import json
import logging
from urllib.parse import quote

import pytest

from jml.config import ConfigError
from jml.secrets import SecretError, read_secret, redact, redacting_logs, remember

TOKEN = "tok-3f9a2c-very-secret"


@pytest.mark.parametrize("value", [TOKEN + "\r", TOKEN + "\n", " " + TOKEN, TOKEN + " ", "a\x00b-long-enough", "x\tyzzy"])
def test_a_value_with_blanks_at_an_end_or_control_characters_is_refused_by_name(value):
    with pytest.raises(SecretError) as refused:
        read_secret({"APP_TOKEN": value}, "APP_TOKEN", "targets.app.token_env")
    message = str(refused.value)
    assert message.startswith("targets.app.token_env: environment variable APP_TOKEN holds")
    assert value.strip() not in message and isinstance(refused.value, ConfigError)


@pytest.mark.parametrize("environ", [{}, {"APP_TOKEN": ""}])
def test_a_missing_secret_is_refused_by_name(environ):
    with pytest.raises(SecretError, match="^where: environment variable APP_TOKEN is not set$"):
        read_secret(environ, "APP_TOKEN", "where")


def test_a_secret_read_is_redacted_from_texts_in_every_form():
    assert read_secret({"T": TOKEN}, "T", "t") == TOKEN
    assert redact(f"Illegal header value b'Bearer {TOKEN}'") == "Illegal header value b'Bearer ***'"
    assert redact(f"{TOKEN!r} and {TOKEN.encode()!r}") == "'***' and b'***'"
    assert redact("nothing secret here") == "nothing secret here"


def test_a_secret_is_redacted_as_json_a_url_and_base64_show_it():
    secret = 'jml:pa"ss/w+rd\\é'
    remember(secret)
    assert redact(json.dumps({"error": secret})) == '{"error": "***"}'
    assert redact(f"GET https://x/?t={quote(secret, safe='')}") == "GET https://x/?t=***"
    assert redact("Basic " + base64.b64encode(secret.encode()).decode()) == "Basic ***"


def test_log_records_are_redacted_message_and_traceback(caplog):
    read_secret({"T": TOKEN}, "T", "t")
    redacting_logs()
    log = logging.getLogger("jml.test")
    with caplog.at_level(logging.INFO, logger="jml.test"):
        log.info("sent %s", f"Bearer {TOKEN}")
        try:
            raise ValueError(f"header {TOKEN}")
        except ValueError:
            log.exception("failed")
    text = caplog.text + "".join(logging.Formatter().format(r) for r in caplog.records)
    assert TOKEN not in text and "Bearer ***" in text and "header ***" in text
