"""The HR sources of the config file: CSV, an HRIS REST API, a SQL query.

Every source may map its records to the feed's columns with `fields` (SPEC "Mapping a
source's records"): feed column -> a value spec of jml.mapping, a bare string naming a
column (CSV, SQL) or a dotted path (REST). The specs are compiled when the config is
loaded (a bad one is a ConfigError naming the field); `mapping` holds them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, ClassVar, Literal

from pydantic import BaseModel, Field, PrivateAttr, field_validator

from jml.config.common import DottedPath, EnvName, Name, RetryPolicy, SqlUrl, Strict
from jml.config.network import HttpEndpoint
from jml.mapping import Compiled, SpecField, compile_spec

#: A feed column a source's `fields` makes.
FieldKey = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
_DOTTED = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")


def compile_fields(fields: dict[str, SpecField] | None, *, paths: bool) -> tuple[Compiled, ...]:
    """Each entry of `fields` compiled (bare strings are columns, or dotted paths when
    `paths`); ValueError naming the field for a bad one."""
    compiled = tuple(compile_spec(name, spec, bare="column", paths=paths) for name, spec in (fields or {}).items())
    for entry in compiled if paths else ():
        bad = next((path for path in entry.columns if not _DOTTED.match(path)), None)
        if bad is not None:
            raise ValueError(f"field {entry.name}: {bad!r} is not a dotted path (name.first, emails.0.value)")
    return compiled


class MappedFields(BaseModel):
    """A source's `fields` and their compiled specs (`mapping`, in the file's order);
    `PATHS`: whether its names are dotted paths into a JSON record."""

    PATHS: ClassVar[bool] = False
    fields: dict[FieldKey, SpecField] | None = None
    _mapping: tuple[Compiled, ...] = PrivateAttr(default=())

    @field_validator("fields")
    @classmethod
    def _compile(cls, fields: dict[str, SpecField] | None) -> dict[str, SpecField] | None:
        compile_fields(fields, paths=cls.PATHS)
        return fields

    def model_post_init(self, context: object, /) -> None:
        self._mapping = compile_fields(self.fields, paths=self.PATHS)

    @property
    def mapping(self) -> tuple[Compiled, ...]:
        """The compiled `fields` (empty without `fields`: the columns pass as read)."""
        return self._mapping

    @property
    def mapping_names(self) -> frozenset[str]:
        """The feed columns `fields` lists."""
        return frozenset(entry.name for entry in self._mapping)

    @property
    def provenance(self) -> dict[str, tuple[str, ...]]:
        """Each mapped feed column -> the source's columns (or paths) it is made from."""
        return {entry.name: entry.columns for entry in self._mapping}


class CsvSource(MappedFields, Strict):
    name: Name
    #: Who works this entry's exceptions (SPEC "Owners"); None: `owners.default`.
    owner: Name | None = None
    type: Literal["csv"]
    path: Path
    precedence: int = Field(default=1, ge=1)


class RestSource(MappedFields, HttpEndpoint):
    """An HRIS REST API: GET `url`, the rows at `items` (a dotted path), the next page's
    URL at `next` (absent or empty: the last page); `fields` maps each feed column to
    a dotted path inside one item, or to a mapping of paths. Transient failures are retried per `retry`. Reached
    as an `HttpEndpoint` (jml.config.network): TLS, proxy, and the bounds on a read."""

    name: Name
    #: Who works this entry's exceptions (SPEC "Owners"); None: `owners.default`.
    owner: Name | None = None
    type: Literal["rest"]
    url: str = Field(pattern=r"^https?://")
    token_env: EnvName | None = None
    items: DottedPath
    next: DottedPath | None = None
    PATHS: ClassVar[bool] = True
    fields: dict[FieldKey, SpecField] = Field(min_length=1)
    precedence: int = Field(default=1, ge=1)
    retry: RetryPolicy = RetryPolicy()


class SqlSource(MappedFields, SqlUrl):
    """An HR database: `query` returns one row per worker with the feed's column names
    (alias them: `SELECT emp_no AS employee_id, ...`) or the columns `fields` maps."""

    name: Name
    #: Who works this entry's exceptions (SPEC "Owners"); None: `owners.default`.
    owner: Name | None = None
    type: Literal["sql"]
    query: str = Field(min_length=1)
    precedence: int = Field(default=1, ge=1)
