"""The config file's schema and loader.

Strict: an unknown key, a missing one or a bad value is a ConfigError whose message is
one line naming the file and the field. Relative paths (feeds, policy, the SQLite state
file) are relative to the config file. Secrets are never read from the file: targets
name the environment variable that holds them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class ConfigError(Exception):
    """A config, policy or input file is missing or invalid; the message is one line."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]


class CsvSource(Strict):
    name: Name
    type: Literal["csv"]
    path: Path
    precedence: int = Field(default=1, ge=1)


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


class ScimTarget(Strict):
    name: Name
    type: Literal["scim"]
    url: str = Field(pattern=r"^https?://")
    token_env: str | None = None
    verify: bool = True
    timeout: float = Field(default=30.0, gt=0)
    concurrency: int = Field(default=8, ge=1, le=64)
    page_size: int = Field(default=500, ge=1, le=10000)
    bulk: bool = True  # use the Bulk endpoint when the server advertises it
    retry: RetryPolicy = RetryPolicy()


SourceConfig = Annotated[CsvSource, Field(discriminator="type")]
TargetConfig = Annotated[ScimTarget, Field(discriminator="type")]


class LifecycleConfig(Strict):
    prehire_days: int = Field(default=7, ge=0)
    delete_after_days: int | None = Field(default=30, ge=0)
    absent: Literal["exception", "deprovision"] = "exception"


class SafetyConfig(Strict):
    max_invalid_fraction: float = Field(default=0.05, ge=0, le=1)
    max_deprovision_fraction: float = Field(default=0.10, ge=0, le=1)
    deprovision_floor: int = Field(default=5, ge=0)


class Config(Strict):
    state: str = "sqlite:///jml.db"
    sources: list[SourceConfig] = Field(min_length=1)
    targets: list[TargetConfig] = Field(min_length=1)
    policy: Path
    lifecycle: LifecycleConfig = LifecycleConfig()
    safety: SafetyConfig = SafetyConfig()
    #: Where the file was loaded from; relative paths in it are resolved against it.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("targets", "sources")
    @classmethod
    def _unique_names(cls, items: list) -> list:
        names = [item.name for item in items]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"names must be unique, repeated: {', '.join(duplicated)}")
        return items

    def resolve(self, path: Path) -> Path:
        """A path from the file, made absolute against the config file's folder."""
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def state_url(self) -> str:
        """The SQLAlchemy URL of the ledger, a relative SQLite path made absolute."""
        prefix = "sqlite:///"
        if self.state.startswith(prefix) and not self.state.startswith(prefix + "/"):
            rest = self.state[len(prefix) :]
            if rest and rest != ":memory:":
                return prefix + str(self.resolve(Path(rest)).resolve())
        return self.state

    def target(self, name: str) -> TargetConfig:
        """The target of that name."""
        return next(t for t in self.targets if t.name == name)


def describe_validation_error(path: Path, error: ValidationError) -> str:
    """One line naming the file and the first bad field of a pydantic error."""
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
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


def load_config(path: str | Path) -> Config:
    """Read and check the config file; raise ConfigError with one clear line."""
    path = Path(path)
    data = read_yaml(path, "config")
    try:
        return Config.model_validate({**data, "base_dir": path.resolve().parent})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(path, exc)) from None
