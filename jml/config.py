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
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError


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

    @property
    def secret(self) -> tuple[str, str | None]:
        """(the config key naming the secret's variable, that variable)."""
        return "token_env", self.token_env


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


class _SqlUrl(Strict):
    """A SQLAlchemy URL without a password (the password comes from `password_env`);
    a relative SQLite path is relative to the config file."""

    url: str
    password_env: EnvName | None = None

    @field_validator("url")
    @classmethod
    def _check_url(cls, url: str, info: ValidationInfo) -> str:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ValueError("not a SQLAlchemy database URL (dialect://user@host/database)") from None
        if parsed.password is not None:
            raise ValueError("the URL must not hold a password: name its variable in password_env")
        base_dir = (info.context or {}).get("base_dir")
        return anchor_sqlite_url(url, Path(base_dir)) if base_dir is not None else url


class RestSource(Strict):
    """An HRIS REST API: GET `url`, the rows at `items` (a dotted path), the next page's
    URL at `next` (absent or empty: the last page); `fields` maps each feed column to
    a dotted path inside one item. Transient failures are retried per `retry`."""

    name: Name
    type: Literal["rest"]
    url: str = Field(pattern=r"^https?://")
    token_env: EnvName | None = None
    items: DottedPath
    next: DottedPath | None = None
    fields: dict[Column, DottedPath] = Field(min_length=1)
    precedence: int = Field(default=1, ge=1)
    verify: bool = True
    timeout: float = Field(default=30.0, gt=0)
    max_pages: int = Field(default=10_000, ge=1)
    retry: RetryPolicy = RetryPolicy()


class SqlSource(_SqlUrl):
    """An HR database: `query` returns one row per worker with the feed's column names
    (alias them: `SELECT emp_no AS employee_id, ...`)."""

    name: Name
    type: Literal["sql"]
    query: str = Field(min_length=1)
    precedence: int = Field(default=1, ge=1)


class LdapTarget(Strict):
    """An LDAP directory: accounts `uid=<employee_id>,<people_dn>` (moved under
    `disabled_dn` while disabled), entitlements `member` of `cn=<name>,<groups_dn>`."""

    name: Name
    type: Literal["ldap"]
    url: str = Field(pattern=r"^ldaps?://[^/?#]+/?$")
    bind_dn: str = Field(min_length=1)
    password_env: EnvName
    people_dn: str = Field(min_length=1)
    groups_dn: str = Field(min_length=1)
    disabled_dn: str = Field(min_length=1)
    verify: bool = True
    timeout: float = Field(default=30.0, gt=0)
    page_size: int = Field(default=500, ge=1, le=10000)
    retry: RetryPolicy = RetryPolicy()

    @property
    def secret(self) -> tuple[str, str | None]:
        """(the config key naming the secret's variable, that variable)."""
        return "password_env", self.password_env


class SqlUsers(Strict):
    """Where the app keeps its users. `key`: its primary key (generated by the app when
    the column has a default, else jml writes the employee_id); `external_id`: the
    employee_id; `active`: a boolean or 0/1 column. The optional columns hold the other
    canonical attributes (`manager`: the manager's key); a canonical attribute with no
    column is not held by this target, so jml never diffs it."""

    table: Identifier
    key: Identifier
    external_id: Identifier
    username: Identifier
    email: Identifier
    active: Identifier
    display_name: Identifier
    given_name: Identifier | None = None
    family_name: Identifier | None = None
    employee_number: Identifier | None = None
    department: Identifier | None = None
    title: Identifier | None = None
    manager: Identifier | None = None


class SqlRoles(Strict):
    """Where the app keeps role assignments: one row links `user` (the users key) to
    `role` (the entitlement name)."""

    table: Identifier
    user: Identifier
    role: Identifier


class SqlTarget(_SqlUrl):
    """An application's own database, mapped (never migrated) by jml."""

    name: Name
    type: Literal["sql"]
    db_schema: Identifier | None = Field(default=None, alias="schema")
    users: SqlUsers
    roles: SqlRoles
    page_size: int = Field(default=1000, ge=1, le=100_000)
    timeout: float = Field(default=30.0, gt=0)
    retry: RetryPolicy = RetryPolicy()

    @property
    def secret(self) -> tuple[str, str | None]:
        """(the config key naming the secret's variable, that variable)."""
        return "password_env", self.password_env


SourceConfig = Annotated[CsvSource | RestSource | SqlSource, Field(discriminator="type")]
TargetConfig = Annotated[ScimTarget | LdapTarget | SqlTarget, Field(discriminator="type")]


class LifecycleConfig(Strict):
    prehire_days: int = Field(default=7, ge=0)
    delete_after_days: int | None = Field(default=30, ge=0)
    absent: Literal["exception", "deprovision"] = "exception"


class SafetyConfig(Strict):
    max_invalid_fraction: float = Field(default=0.05, ge=0, le=1)
    max_deprovision_fraction: float = Field(default=0.10, ge=0, le=1)
    deprovision_floor: int = Field(default=5, ge=0)


class LockConfig(Strict):
    """The run lock: one run at a time per ledger. A run waits up to `wait_seconds`
    for it, then refuses; a holder that stops renewing loses it after `ttl_seconds`."""

    ttl_seconds: float = Field(default=300.0, gt=0)
    wait_seconds: float = Field(default=0.0, ge=0)


class ScheduleConfig(Strict):
    """When a deployment runs by itself: a 5-field `cron` expression or an `interval`
    in seconds (exactly one), in `timezone` (an IANA name)."""

    cron: str | None = Field(default=None, pattern=r"^\S+( +\S+){4}$")
    interval: int | None = Field(default=None, ge=60)
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {zone!r}") from None
        return zone

    @model_validator(mode="after")
    def _one_kind(self) -> ScheduleConfig:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("give exactly one of cron and interval")
        return self


class SchedulesConfig(Strict):
    """The schedules of the scheduled deployments; `null` means on demand only."""

    hr_sync: ScheduleConfig | None = ScheduleConfig(cron="0 * * * *")
    reconcile: ScheduleConfig | None = ScheduleConfig(cron="0 2 * * *")


class WebhookAlert(Strict):
    """Alerts POSTed as JSON to `url` (a Prefect Custom Webhook notification block)."""

    type: Literal["webhook"]
    url: str = Field(pattern=r"^https?://")


class SlackAlert(Strict):
    """Alerts to a Slack incoming webhook whose URL (a secret) is in `webhook_url_env`."""

    type: Literal["slack"]
    webhook_url_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")


AlertChannel = Annotated[WebhookAlert | SlackAlert, Field(discriminator="type")]


class Config(Strict):
    state: str = "sqlite:///jml.db"
    sources: list[SourceConfig] = Field(min_length=1)
    targets: list[TargetConfig] = Field(min_length=1)
    policy: Path
    lifecycle: LifecycleConfig = LifecycleConfig()
    safety: SafetyConfig = SafetyConfig()
    lock: LockConfig = LockConfig()
    schedules: SchedulesConfig = SchedulesConfig()
    alerts: list[AlertChannel] = []
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

    @field_validator("sources")
    @classmethod
    def _distinct_precedence(cls, sources: list) -> list:
        """Several sources merge by precedence (1 wins), so no two may share one."""
        seen: dict[int, str] = {}
        for source in sources:
            if source.precedence in seen:
                raise ValueError(
                    f"sources {seen[source.precedence]} and {source.name} have the same"
                    f" precedence {source.precedence}; give each its own (1 wins)"
                )
            seen[source.precedence] = source.name
        return sources

    def resolve(self, path: Path) -> Path:
        """A path from the file, made absolute against the config file's folder."""
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def state_url(self) -> str:
        """The SQLAlchemy URL of the ledger, a relative SQLite path made absolute."""
        return anchor_sqlite_url(self.state, self.base_dir)

    def target(self, name: str) -> TargetConfig:
        """The target of that name."""
        return next(t for t in self.targets if t.name == name)


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


def load_config(path: str | Path) -> Config:
    """Read and check the config file; raise ConfigError with one clear line."""
    path = Path(path)
    data = read_yaml(path, "config")
    try:
        base_dir = path.resolve().parent
        return Config.model_validate({**data, "base_dir": base_dir}, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(path, exc)) from None
