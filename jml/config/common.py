"""What every part of the config file shares: the error, the strict base model, the
field types, the SQLite URL anchoring, the retry policy, and reading YAML into one clear
line per error."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)


class ConfigError(Exception):
    """A config, policy or input file is missing or invalid; the message is one line."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


#: Hours a target is planned from what jml knows of it (SPEC "Incremental runs") before
#: a run reads it in full again; 0: every run reads it in full.
FullReadHours = Annotated[float, Field(ge=0, le=8760)]

#: An environment variable's name (where a secret is read from).
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
#: A table or column name of a SQL mapping (quoted by SQLAlchemy, never formatted in).
Identifier = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_$]{0,62}$")]
#: A dotted path into a JSON document: `data.items`, `name.given`, `emails.0.value`.
DottedPath = Annotated[str, Field(pattern=r"^[^.\s]+(\.[^.\s]+)*$", max_length=256)]
#: A feed column a source yields (the SPEC's names, or a pass-through column).
Column = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,63}$")]


def anchor_sqlite_url(url: str, base_dir: Path) -> str:
    """A SQLAlchemy URL whose relative SQLite file path is made absolute against
    `base_dir` (the config file's folder); any other URL unchanged."""
    prefix, _, rest = url.partition(":///")
    if prefix.split("+")[0] == "sqlite" and rest and not rest.startswith("/") and rest != ":memory:":
        path, query = rest.partition("?")[::2]
        anchored = str((base_dir / path).resolve())
        return f"{prefix}:///{anchored}" + (f"?{query}" if query else "")
    return url


#: Query parameters that carry a credential (compared lowercased, `-` read as `_`).
SECRET_PARAMETERS = frozenset(
    {"password", "passwd", "pwd", "pass", "secret", "token", "access_token", "api_key", "apikey", "key"}
)


def holds_secret(password: str | None, query_keys: Iterable[str]) -> bool:
    """Whether a URL with this password (after the user) and these query parameter
    names carries a credential."""
    return password is not None or any(key.lower().replace("-", "_") in SECRET_PARAMETERS for key in query_keys)


def secret_in_url_message(hint: str) -> str:
    """The one sentence refusing a URL that holds a credential (`hint`: where it goes)."""
    return f"the URL must not hold a password (after the user or in the query string): {hint}"


def database_url_without_secrets(url: str, hint: str = "name its variable in password_env") -> str:
    """`url` when it is a SQLAlchemy URL holding no password, neither after the user
    nor in its query string (a secret comes from the environment: `hint` says how);
    ValueError otherwise, never quoting the URL."""
    from sqlalchemy.engine import make_url  # SQLAlchemy only once a URL is checked (not for `jml --help`)
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ValueError("not a SQLAlchemy database URL (dialect://user@host/database)") from None
    if holds_secret(parsed.password, parsed.query):
        raise ValueError(secret_in_url_message(hint))
    return url


class SqlUrl(Strict):
    """A SQLAlchemy URL without a password (the password comes from `password_env`);
    a relative SQLite path is relative to the config file."""

    url: str
    password_env: EnvName | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str, info: ValidationInfo) -> str:
        database_url_without_secrets(url)
        base_dir = (info.context or {}).get("base_dir")
        return anchor_sqlite_url(url, Path(base_dir)) if base_dir is not None else url


def _printable(part: object) -> str:
    """A location part as text on one line (a key with control characters is quoted)."""
    text = str(part)
    return text if text.isprintable() else repr(text)


def describe_validation_error(path: Path, error: ValidationError) -> str:
    """One line naming the file and the first bad field of a pydantic error."""
    first = error.errors()[0]
    where = ".".join(_printable(part) for part in first["loc"]) or "(top level)"
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "missing":
        message = "required key is missing"
    count = error.error_count()
    more = f" (and {count - 1} more)" if count > 1 else ""
    return f"{path}: {where}: {message}{more}"


def read_yaml(path: Path, what: str) -> dict:
    """The mapping at the top of a YAML file, or a ConfigError naming the file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError(f"{path}: {what} file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the {what} file: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{path}: {where}{problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the {what} file must hold a mapping of keys")
    return data


class RetryPolicy(Strict):
    """How apply retries a target's transient failures (429, 5xx, timeouts, connection
    errors): up to `attempts` tries within `max_seconds`, waiting `backoff_seconds` x 2^n
    (with jitter, at most `max_backoff_seconds`) or the server's Retry-After if longer.
    After `breaker_threshold` tries in a row where nothing succeeded the target counts
    as down for the rest of the run (circuit breaker)."""

    attempts: int = Field(default=5, ge=1, le=50)
    max_seconds: float = Field(default=120.0, gt=0)
    backoff_seconds: float = Field(default=0.5, ge=0)
    max_backoff_seconds: float = Field(default=30.0, ge=0)
    breaker_threshold: int = Field(default=3, ge=1)
