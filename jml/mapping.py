"""The value-spec grammar (SPEC "Mapping a source's records"): how one feed column (or
one target attribute, one generated identifier) is made from a record.

A spec is a bare string or a `ValueSpec` mapping of `from` (a column or a list of them:
the first non-empty wins) or `template` (placeholders `{name}` and `{name:.N}`, parsed
with `string.Formatter().parse`, never evaluated), then `map`, `default`,
`date_format` and `case`. `compile_spec` checks one spec once (ValueError, one line
naming the field); the `Compiled` result applies it to a record (`value`) or to whole
columns (`values`, each distinct value transformed once). The order within one field:
pick, trim, `map`, `date_format`, `case`, then `default` if empty. Empty text and
whitespace are empty: the result is None.

Pure: no I/O, no pandas. The model is strict like jml.config.common.Strict (unknown
keys refused, frozen); it does not import jml.config, which imports this module.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

__all__ = [
    "Compiled",
    "FieldSpec",
    "SpecField",
    "Template",
    "ValueSpec",
    "check_date_format",
    "compile_spec",
    "parse_template",
]

Getter = Callable[[str], "str | None"]

_PRECISION = re.compile(r"\.([1-9][0-9]{0,3})")
#: The strftime codes a source's date format may use (those strptime reads portably).
_DATE_CODES = frozenset("aAwdbBmyYHIpMSfzZjUW%")
_SAMPLE = datetime(2026, 3, 2, 13, 4, 5, 678000, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template: literal text and placeholders, each a name (by its index in
    `names`, the distinct names it reads in order of first use) and an optional cut
    (`{name:.N}`: the first N characters)."""

    text: str
    parts: tuple[tuple[str, int | None, int | None], ...]  # (literal, index in names, cut)
    names: tuple[str, ...]

    def render(self, get: Getter) -> str | None:
        """The text with each placeholder's value (trimmed, then cut); None as soon as
        one placeholder is empty."""
        return self.render_values([get(name) for name in self.names])

    def render_values(self, values: Sequence[str | None]) -> str | None:
        """`render` given the value of each of `names`, in that order."""
        out: list[str] = []
        for literal, index, cut in self.parts:
            out.append(literal)
            if index is None:
                continue
            value = values[index]
            value = value.strip() if value is not None else ""
            if not value:
                return None
            out.append(value[:cut] if cut is not None else value)
        return "".join(out)


def parse_template(text: str, *, paths: bool = False) -> Template:
    """`text` parsed as a template, or ValueError (one line) for what is refused:
    unbalanced braces, a positional `{}`, indexing `[ ]`, a `!` conversion, a format
    spec other than `.N`, and attribute access (a `.` in a name) unless `paths`
    (placeholders are dotted paths of a REST record)."""
    parts: list[tuple[str, str | None, int | None]] = []
    try:
        parsed = list(string.Formatter().parse(text))
    except ValueError as exc:
        raise ValueError(f"template {text!r}: {exc}") from None
    for literal, name, spec, conversion in parsed:
        if name is None:
            parts.append((literal, None, None))
            continue
        where = f"template {text!r}: placeholder {'{' + name + '}'!r}"
        if not name.strip():
            raise ValueError(f"template {text!r}: a placeholder must name a column ({{}} is refused)")
        if "[" in name or "]" in name:
            raise ValueError(f"{where}: indexing [ ] is refused")
        if conversion is not None:
            raise ValueError(f"{where}: the conversion !{conversion} is refused")
        if not paths and "." in name:
            raise ValueError(f"{where}: attribute access is refused (a placeholder names a column)")
        cut = None
        if spec:
            match = _PRECISION.fullmatch(spec)
            if match is None:
                raise ValueError(f"{where}: the format spec {spec!r} is refused (only .N, the first N characters)")
            cut = int(match.group(1))
        parts.append((literal, name, cut))
    names = tuple(dict.fromkeys(name for _, name, _ in parts if name is not None))
    indexed = tuple((literal, None if name is None else names.index(name), cut) for literal, name, cut in parts)
    return Template(text, indexed, names)


def check_date_format(fmt: str) -> str:
    """`fmt` when it is a strftime format naming the year, month and day that reads
    back what it writes; ValueError otherwise."""
    codes = re.findall(r"%(.)", fmt.replace("%%", ""))
    if fmt.replace("%%", "").endswith("%") or any(code not in _DATE_CODES for code in codes):
        raise ValueError(f"date_format {fmt!r}: unknown strftime code (use %Y %m %d %H %M %S %z ...)")
    if not ({"Y", "y"} & set(codes) and ({"m", "b", "B"} & set(codes) and "d" in codes or "j" in codes)):
        raise ValueError(f"date_format {fmt!r}: must name the year, the month and the day")
    try:
        read_back = datetime.strptime(_SAMPLE.strftime(fmt), fmt).date()
    except (ValueError, re.error):
        read_back = None
    if read_back != _SAMPLE.date():
        raise ValueError(f"date_format {fmt!r}: does not read back the dates it writes")
    return fmt


def _as_text(value: Any, what: str) -> Any:
    """A YAML number as the text written (`1: employee`); a YAML boolean refused (YAML
    reads `yes`, `no`, `on`, `off` as true/false: quote them)."""
    if isinstance(value, bool):
        raise ValueError(f"{what} {str(value).lower()} is a YAML boolean: quote it")
    if isinstance(value, int | float):
        return str(value)
    return value


class ValueSpec(BaseModel):
    """One field's mapping (see the module docstring); unknown keys are refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    from_: str | list[Annotated[str, Field(min_length=1)]] | None = Field(None, alias="from", min_length=1)
    template: str | None = None
    map: dict[str, str] | None = None
    default: str | None = None
    date_format: str | None = None
    case: Literal["lower", "upper"] | None = None

    @field_validator("map", mode="before")
    @classmethod
    def _map_text(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {_as_text(k, "map key"): _as_text(v, "map value") for k, v in value.items()}
        return value

    @field_validator("default", mode="before")
    @classmethod
    def _default_text(cls, value: Any) -> Any:
        return _as_text(value, "default")

    @field_validator("template")
    @classmethod
    def _check_template(cls, value: str | None) -> str | None:
        if value is not None:
            parse_template(value, paths=True)
        return value

    @field_validator("date_format")
    @classmethod
    def _check_date_format(cls, value: str | None) -> str | None:
        return check_date_format(value) if value is not None else None

    @model_validator(mode="after")
    def _one_pick(self) -> ValueSpec:
        if self.from_ is not None and self.template is not None:
            raise ValueError("give either from or template, not both")
        return self


#: A bare string (a column or path under `fields`, a template under `attributes`) or a mapping.
FieldSpec = str | ValueSpec


def _kind(value: Any) -> str:
    return "text" if isinstance(value, str) else "mapping"


#: FieldSpec for pydantic models: a bad mapping's error names its key, not "not a string".
SpecField = Annotated[
    Annotated[str, Tag("text")] | Annotated[ValueSpec, Tag("mapping")],
    Discriminator(_kind),
]


@dataclass(frozen=True, slots=True)
class Compiled:
    """One field's spec, checked: `name` is the column (or attribute) it makes,
    `columns` what it reads (the `from` columns or the template's names)."""

    name: str
    columns: tuple[str, ...]
    template: Template | None = None
    map: Mapping[str, str] | None = None
    default: str | None = None
    date_format: str | None = None
    case: Literal["lower", "upper"] | None = None

    def value(self, get: Getter) -> str | None:
        """The field's value for one record (`get`: a column's text, None if empty)."""
        if self.template is not None:
            return self.finish(self.template.render(get))
        for column in self.columns:
            picked = get(column)
            if picked is not None and picked.strip():
                return self.finish(picked)
        return self.finish(None)

    def values(self, columns: Mapping[str, Sequence[str | None]], n: int) -> list[str | None]:
        """The field's value for each of `n` records, from whole columns (a column
        absent from `columns` is empty): trim, `case` and `default` row by row, `map`
        and `date_format` once per distinct value."""
        picked = self._picked(columns, n)
        if self.map is not None or self.date_format is not None:
            done = {value: self.finish(value) for value in set(picked)}
            return [done[value] for value in picked]
        default = self.default or None
        if self.case == "lower":
            return [(value.strip().lower() or default) if value is not None else default for value in picked]
        if self.case == "upper":
            return [(value.strip().upper() or default) if value is not None else default for value in picked]
        return [(value.strip() or default) if value is not None else default for value in picked]

    def _picked(self, columns: Mapping[str, Sequence[str | None]], n: int) -> Sequence[str | None]:
        """Each record's picked value: the template's text, or the first non-empty
        `from` column's."""
        if self.template is not None:
            template = self.template
            cells = [columns.get(name) or [None] * n for name in template.names]
            if not cells:
                return [template.render_values(())] * n
            return [template.render_values(row) for row in zip(*cells, strict=True)]
        read: list[Sequence[str | None]] = [columns.get(column) or [None] * n for column in self.columns]
        picked = read[0]
        for more in read[1:]:
            picked = [old if old is not None and old.strip() else new for old, new in zip(picked, more, strict=True)]
        return picked

    def finish(self, value: str | None) -> str | None:
        """What follows the pick: trim, map, date_format, case, default; None if empty."""
        text = value.strip() if value is not None else ""
        if self.map is not None:
            if text in self.map:
                text = self.map[text].strip()
            elif self.default is not None:
                text = ""  # not listed: the default, at the end
        if self.date_format is not None and text:
            try:
                text = datetime.strptime(text, self.date_format).strftime("%Y-%m-%d")
            except ValueError:
                pass  # stays as written: the feed rules quarantine it
        if self.case == "lower":
            text = text.lower()
        elif self.case == "upper":
            text = text.upper()
        if not text and self.default is not None:
            text = self.default
        return text or None


def compile_spec(name: str, spec: FieldSpec, *, bare: Literal["column", "template"], paths: bool = False) -> Compiled:
    """`spec` for the field `name`, checked once: a bare string is a column (or path)
    when `bare` is "column", a template when "template"; a mapping with neither `from`
    nor `template` reads the column `name`. `paths`: names are dotted paths (REST).
    ValueError, one line naming the field, for a bad spec."""
    try:
        if isinstance(spec, str):
            spec = ValueSpec.model_validate({"from": spec} if bare == "column" else {"template": spec})
        template = parse_template(spec.template, paths=paths) if spec.template is not None else None
    except ValueError as exc:
        raise ValueError(f"field {name}: {_first_line(exc)}") from None
    if template is not None:
        columns = template.names
    elif isinstance(spec.from_, list):
        columns = tuple(spec.from_)
    else:
        columns = (spec.from_ if spec.from_ is not None else name,)
    return Compiled(name, columns, template, spec.map, spec.default, spec.date_format, spec.case)


def _first_line(exc: ValueError) -> str:
    """A ValueError's message, or a pydantic error's first message, on one line."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        first = errors()[0]
        return str(first["msg"]).removeprefix("Value error, ")
    return str(exc).splitlines()[0]
