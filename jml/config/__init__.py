"""The config file's schema and loader.

Strict: an unknown key, a missing one or a bad value is a ConfigError whose message is
one line naming the file and the field. Relative paths (feeds, policy, the SQLite state
file) are relative to the config file. Secrets are never read from the file: targets
name the environment variable that holds them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import Field, ValidationError, ValidationInfo, field_validator

from jml.config.common import (
    Column,
    ConfigError,
    DottedPath,
    EnvName,
    Identifier,
    Name,
    RetryPolicy,
    Strict,
    anchor_sqlite_url,
    database_url_without_secrets,
    describe_validation_error,
    read_yaml,
)
from jml.config.naming import NamingConfig
from jml.config.network import Endpoint, HttpEndpoint, weakened
from jml.config.nhi import NhiConfig
from jml.config.run import (
    AlertChannel,
    LifecycleConfig,
    LockConfig,
    OwnersConfig,
    SafetyConfig,
    ScheduleConfig,
    SchedulesConfig,
    SlackAlert,
    WebhookAlert,
)
from jml.config.sources import CsvSource, RestSource, SqlSource
from jml.config.targets import AD_COLUMNS, AD_EXPIRES, AdTarget, LdapTarget, ScimTarget, SqlRoles, SqlTarget, SqlUsers
from jml.model import KNOWN_COLUMNS
from jml.owners import Owners

__all__ = [
    "AD_COLUMNS", "AD_EXPIRES", "AdTarget", "AlertChannel", "Column", "Config", "ConfigError", "CsvSource", "DottedPath", "Endpoint", "EnvName",
    "HttpEndpoint", "Identifier", "LdapTarget", "LifecycleConfig", "LockConfig", "Name", "NamingConfig", "NhiConfig", "OwnersConfig",
    "RestSource", "RetryPolicy", "SafetyConfig", "ScheduleConfig", "SchedulesConfig", "ScimTarget", "SlackAlert", "SourceConfig", "SqlRoles",
    "SqlSource", "SqlTarget", "SqlUsers", "Strict", "TargetConfig", "WebhookAlert", "anchor_sqlite_url",
    "describe_validation_error", "load_config", "read_yaml", "weakened",
]  # fmt: skip


SourceConfig = Annotated[CsvSource | RestSource | SqlSource, Field(discriminator="type")]
TargetConfig = Annotated[ScimTarget | LdapTarget | SqlTarget | AdTarget, Field(discriminator="type")]


class Config(Strict):
    state: str = "sqlite:///jml.db"
    sources: list[SourceConfig] = Field(min_length=1)
    targets: list[TargetConfig] = Field(min_length=1)
    policy: Path
    lifecycle: LifecycleConfig = LifecycleConfig()
    safety: SafetyConfig = SafetyConfig()
    lock: LockConfig = LockConfig()
    owners: OwnersConfig = OwnersConfig()
    #: The registry of non-human identities (SPEC "NHIs"); None: none is watched.
    nhi: NhiConfig | None = None
    #: Generated identifiers (SPEC "Generated identifiers"); by default none.
    naming: NamingConfig = NamingConfig()
    schedules: SchedulesConfig = SchedulesConfig()
    alerts: list[AlertChannel] = []
    #: The folder of the runs' Data Docs (`data_docs_dir`); None: the default.
    data_docs: Path | None = None
    #: Where the file was loaded from; relative paths in it are resolved against it.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @field_validator("state")
    @classmethod
    def _no_secret_in_state(cls, state: str) -> str:
        return database_url_without_secrets(state, "the driver reads it from the environment (PGPASSWORD) or ~/.pgpass")

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

    @field_validator("naming")
    @classmethod
    def _naming_reads_feed_columns(cls, naming: NamingConfig, info: ValidationInfo) -> NamingConfig:
        """naming.email's placeholders are feed columns: when every source lists its
        `fields`, the known columns and those (else any column may pass through)."""
        listed = [getattr(source, "fields", None) for source in info.data.get("sources") or ()]
        if listed and all(fields is not None for fields in listed):
            unknown = naming.unknown_columns([*KNOWN_COLUMNS, *(name for f in listed for name in f or ())])
            if unknown:
                raise ValueError(f"email: {{{unknown[0]}}} is no feed column")
        return naming

    def resolve(self, path: Path) -> Path:
        """A path from the file, made absolute against the config file's folder."""
        return path if path.is_absolute() else (self.base_dir / path)

    @property
    def state_url(self) -> str:
        """The SQLAlchemy URL of the ledger, a relative SQLite path made absolute."""
        return anchor_sqlite_url(self.state, self.base_dir)

    @property
    def data_docs_dir(self) -> Path:
        """The folder of the Data Docs site: `data_docs` (relative to the config file),
        else `data-docs/` beside the SQLite state file, else beside the config file
        (the state is not a file: PostgreSQL, or SQLite in memory)."""
        if self.data_docs is not None:
            return self.resolve(self.data_docs)
        prefix, _, path = self.state_url.partition(":///")
        if prefix.split("+")[0] == "sqlite" and path.startswith("/"):
            return Path(path.partition("?")[0]).parent / "data-docs"
        return self.base_dir / "data-docs"

    @property
    def owner_rule(self) -> Owners:
        """Who works each exception: `owners.default`, and each source's and target's
        `owner` (falling back to it)."""
        default = self.owners.default
        return Owners(
            default,
            {s.name: s.owner or default for s in self.sources},
            {t.name: t.owner or default for t in self.targets},
        )

    def target(self, name: str) -> TargetConfig:
        """The target of that name."""
        return next(t for t in self.targets if t.name == name)

    def secrets(self, *, alerts: bool = False) -> list[tuple[str, str]]:
        """(the config field, the environment variable) of every secret the targets and
        sources name, and with `alerts` the alert channels' too."""
        found = []
        for kind, entries in (("sources", self.sources), ("targets", self.targets)):
            for entry in entries:
                for key in ("token_env", "password_env"):
                    variable = getattr(entry, key, None)
                    if variable:
                        found.append((f"{kind}.{entry.name}.{key}", variable))
        if alerts:
            for n, channel in enumerate(self.alerts):
                variable = getattr(channel, "webhook_url_env", None)
                if variable:
                    found.append((f"alerts.{n}.webhook_url_env", variable))
        return found


def load_config(path: str | Path) -> Config:
    """Read and check the config file; raise ConfigError with one clear line."""
    path = Path(path)
    data = read_yaml(path, "config")
    try:
        base_dir = path.resolve().parent
        return Config.model_validate({**data, "base_dir": base_dir}, context={"base_dir": base_dir})
    except ValidationError as exc:
        raise ConfigError(describe_validation_error(path, exc)) from None
