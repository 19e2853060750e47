"""The HR sources of the config file: CSV, an HRIS REST API, a SQL query."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
)

from jml.config.common import Column, DottedPath, EnvName, Name, RetryPolicy, SqlUrl, Strict
from jml.config.network import HttpEndpoint


class CsvSource(Strict):
    name: Name
    #: Who works this entry's exceptions (SPEC "Owners"); None: `owners.default`.
    owner: Name | None = None
    type: Literal["csv"]
    path: Path
    precedence: int = Field(default=1, ge=1)


class RestSource(HttpEndpoint):
    """An HRIS REST API: GET `url`, the rows at `items` (a dotted path), the next page's
    URL at `next` (absent or empty: the last page); `fields` maps each feed column to
    a dotted path inside one item. Transient failures are retried per `retry`. Reached
    as an `HttpEndpoint` (jml.config.network): TLS, proxy, and the bounds on a read."""

    name: Name
    #: Who works this entry's exceptions (SPEC "Owners"); None: `owners.default`.
    owner: Name | None = None
    type: Literal["rest"]
    url: str = Field(pattern=r"^https?://")
    token_env: EnvName | None = None
    items: DottedPath
    next: DottedPath | None = None
    fields: dict[Column, DottedPath] = Field(min_length=1)
    precedence: int = Field(default=1, ge=1)
    retry: RetryPolicy = RetryPolicy()


class SqlSource(SqlUrl):
    """An HR database: `query` returns one row per worker with the feed's column names
    (alias them: `SELECT emp_no AS employee_id, ...`)."""

    name: Name
    #: Who works this entry's exceptions (SPEC "Owners"); None: `owners.default`.
    owner: Name | None = None
    type: Literal["sql"]
    query: str = Field(min_length=1)
    precedence: int = Field(default=1, ge=1)
