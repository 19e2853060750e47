"""Secrets: read from the environment, checked when read, and kept out of every text.

- `read_secret(environ, variable, where)` returns the value of an environment variable
  that holds a secret (a token, a password, a webhook URL). A value that is missing or
  empty, or that starts or ends with blanks or holds a control character (a CRLF env
  file, a secret made from a file with its newline), is refused with a `SecretError`
  naming `where` and the variable, never the value: an HTTP library would copy such a
  value into its own error texts ("Illegal header value b'Bearer ...\\r'").
- Every value read is remembered for the process; `redact(text)` replaces each one
  (and the forms it takes in a Python or bytes repr, a JSON string, a URL and base64)
  by `***`. Connector errors are
  redacted when they are made, log records when they are made (`redacting_logs`), and
  the command line redacts what it prints, so a secret reaches no message, record, log,
  alert or artifact even through a library's error text.
"""

from __future__ import annotations

import base64
import json
import logging
import threading
import traceback
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from jml.config import ConfigError

__all__ = ["SecretError", "read_secret", "redact", "redacting_logs", "remember"]

#: Values shorter than this are not searched for in texts (they would match ordinary
#: words); no real token or password is that short.
MIN_REDACTED = 4
MASK = "***"

_lock = threading.Lock()
_secrets: set[str] = set()


class SecretError(ConfigError):
    """A secret's variable is not set, or its value cannot be used as it is."""


def read_secret(environ: Mapping[str, str], variable: str, where: str) -> str:
    """The secret in `environ[variable]`, checked and remembered (see the module
    docstring); `where` names what needs it (e.g. "targets.app.token_env")."""
    value = environ.get(variable)
    if not value:
        raise SecretError(f"{where}: environment variable {variable} is not set")
    if value != value.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise SecretError(
            f"{where}: environment variable {variable} holds blanks at either end or control"
            " characters (a line end?); its value is refused"
        )
    remember(value)
    return value


def remember(value: str) -> None:
    """Keep `value` out of every text `redact` sees from now on."""
    if len(value) >= MIN_REDACTED:
        with _lock:
            _secrets.add(value)


def redact(text: str) -> str:
    """`text` with every remembered secret replaced by `***`."""
    with _lock:
        known = sorted(_secrets, key=len, reverse=True)
    for secret in known:
        for form in _forms(secret):
            if form in text:
                text = text.replace(form, MASK)
    return text


def _forms(secret: str) -> tuple[str, ...]:
    """The secret as it stands in a text: itself; as a str or bytes repr, a JSON string
    and a URL shows it; and base64-encoded (a Basic `Authorization` header)."""
    encoded = secret.encode()
    return (
        secret,
        repr(secret)[1:-1],
        repr(encoded)[2:-1],
        json.dumps(secret)[1:-1],
        quote(secret, safe=""),
        base64.b64encode(encoded).decode("ascii"),
    )


class _RedactingRecord(logging.LogRecord):
    """A log record whose message and traceback are redacted: the traceback is written
    out (redacted) when the record is made, so no formatter writes it again."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.exc_info and self.exc_info[0] is not None:
            self.exc_text = redact("".join(traceback.format_exception(*self.exc_info)).rstrip("\n"))
        if self.stack_info:
            self.stack_info = redact(self.stack_info)

    def getMessage(self) -> str:  # noqa: N802 - logging's name
        return redact(super().getMessage())


def redacting_logs() -> None:
    """Make every log record of the process redact its message and traceback (done
    once; later calls change nothing)."""
    if logging.getLogRecordFactory() is not _RedactingRecord:
        logging.setLogRecordFactory(_RedactingRecord)
