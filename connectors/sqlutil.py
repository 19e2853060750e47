"""What the SQL source and the SQL target share: building an engine from a configured
URL and password variable, and describing a database error in one line without the
statement's parameters."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import create_engine
from sqlalchemy.engine import URL, Engine, make_url

from connectors.base import ConnectorError, secret

__all__ = ["connect_args", "database_url", "engine_for", "first_line", "shown"]


def database_url(
    url: str, password_env: str | None, environ: Mapping[str, str], where: str, error: type[ConnectorError]
) -> URL:
    """The URL with its password from `environ[password_env]` (checked and remembered
    for redaction); `error` naming `where` and the variable when it is not usable."""
    parsed = make_url(url)
    if password_env is None:
        return parsed
    return parsed.set(password=secret(environ, password_env, where, error))


def connect_args(url: URL, timeout: float) -> dict[str, Any]:
    """The driver's connect (PostgreSQL) or lock-wait (SQLite) timeout."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return {"timeout": timeout}
    if backend == "postgresql":
        return {"connect_timeout": max(1, int(timeout))}
    return {}


def engine_for(url: URL, timeout: float) -> Engine:
    """An engine (no connection opened yet) with pre-ping and the driver timeout."""
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args(url, timeout))


def shown(url: str | URL) -> str:
    """The URL as it may be shown: without a password."""
    return make_url(url).render_as_string(hide_password=True)


def first_line(exc: BaseException) -> str:
    """`TypeName: first line` of the database's own error (SQLAlchemy's text would add
    the statement and its parameters, so names or emails)."""
    origin = getattr(exc, "orig", None) or exc
    words = (str(origin).strip().splitlines() or [""])[0]
    return f"{type(origin).__name__}: {words}"
