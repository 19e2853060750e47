"""The targets of the config file: a SCIM service, an LDAP directory, an app database."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    Field,
    field_validator,
    model_validator,
)

from jml.config.attributes import check_attributes
from jml.config.common import EnvName, FullReadHours, Identifier, Name, RetryPolicy, SqlUrl, Strict
from jml.config.network import Endpoint, HttpEndpoint
from jml.dn import is_under, split_dn
from jml.mapping import Compiled, FieldSpec, SpecField, ValueSpec, compile_spec
from jml.model import ACCOUNT_ATTRIBUTES

#: The doc of every target's `attributes` (jml.config.attributes).
ATTRIBUTES_DOC = "target attribute -> value spec over the feed columns (SPEC 'Target attributes')"


class ScimTarget(HttpEndpoint):
    """A SCIM 2.0 service provider at `url` (the base URL of its endpoints), reached as
    an `HttpEndpoint` (jml.config.network): TLS, proxy, and the bounds on a read."""

    name: Name
    #: Who works this entry's exceptions (SPEC "Owners"); None: `owners.default`.
    owner: Name | None = None
    type: Literal["scim"]
    url: str = Field(pattern=r"^https?://")
    token_env: str | None = None
    concurrency: int = Field(default=8, ge=1, le=64)
    page_size: int = Field(default=500, ge=1, le=10000)
    bulk: bool = True  # use the Bulk endpoint when the server advertises it
    retry: RetryPolicy = RetryPolicy()
    full_read_hours: FullReadHours = 24.0
    attributes: dict[str, SpecField] = Field(default={}, description=ATTRIBUTES_DOC)

    @field_validator("attributes")
    @classmethod
    def _check_attributes(cls, attributes: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        return dict(check_attributes("scim", attributes))


class LdapTarget(Endpoint):
    """An LDAP directory: accounts `uid=<employee_id>,<people_dn>` (moved under
    `disabled_dn` while disabled), entitlements `member` of `cn=<name>,<groups_dn>`;
    reached as an `Endpoint` (jml.config.network: TLS, cleartext only to loopback)."""

    name: Name
    #: Who works this entry's exceptions (SPEC "Owners"); None: `owners.default`.
    owner: Name | None = None
    type: Literal["ldap"]
    url: str = Field(pattern=r"^ldaps?://[^/?#]+/?$")
    bind_dn: str = Field(min_length=1)
    password_env: EnvName
    people_dn: str = Field(min_length=1)
    groups_dn: str = Field(min_length=1)
    disabled_dn: str = Field(min_length=1)
    page_size: int = Field(default=500, ge=1, le=10000)
    retry: RetryPolicy = RetryPolicy()
    full_read_hours: FullReadHours = 24.0
    attributes: dict[str, SpecField] = Field(default={}, description=ATTRIBUTES_DOC)

    @field_validator("attributes")
    @classmethod
    def _check_attributes(cls, attributes: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        return dict(check_attributes("ldap", attributes))


#: The feed columns an AD target's `ou` and `sam_account_name` may read, and the
#: canonical attribute of an account each is kept in: the driver works them out from
#: what the account holds (a transfer, a changed department, moves it).
AD_COLUMNS = {
    "first_name": "given_name",
    "last_name": "family_name",
    "employee_id": "employee_number",
    "email": "email",
    "department": "department",
    "job_code": "title",
}
#: The mapped attribute by which the plan writes an AD account's last day of access
#: (SPEC "Active Directory target"): the driver writes it as accountExpires.
AD_EXPIRES = "accountExpires"
_AD_EXPIRES_SPEC = ValueSpec.model_validate({"from": ["termination_date", "contract_end_date"]})


class SamAccountName(Strict):
    """How an AD account's sAMAccountName is made (SPEC "Generated identifiers"): the
    template over the feed columns, folded and numbered to at most `max_length`."""

    template: str = "{first_name:.1}{last_name}"
    max_length: int = Field(default=20, ge=2, le=20)

    @field_validator("template")
    @classmethod
    def _check_template(cls, template: str) -> str:
        _reads_known_columns("sam_account_name", compile_spec("sam_account_name", template, bare="template"))
        return template


def _reads_known_columns(field: str, spec: Compiled) -> None:
    unknown = sorted(set(spec.columns) - AD_COLUMNS.keys())
    if unknown:
        raise ValueError(f"{field} reads {', '.join(unknown)}; it may read only {', '.join(AD_COLUMNS)}")


class AdTarget(Endpoint):
    """An Active Directory domain over LDAPS (SPEC "Active Directory target"): `user`
    objects in the OU `ou` gives (a value spec over the feed columns of AD_COLUMNS,
    yielding a DN under `base_dn`; a bare string is a template), moved to `disabled_ou`
    while disabled when one is set; entitlements `member` of the global security groups
    `CN=<name>,<groups_ou>`."""

    name: Name
    #: Who works this entry's exceptions (SPEC "Owners"); None: `owners.default`.
    owner: Name | None = None
    type: Literal["ad"]
    url: str = Field(pattern=r"^ldaps://[^/?#]+/?$")
    bind_dn: str = Field(min_length=1)
    password_env: EnvName
    base_dn: str = Field(min_length=1)
    ou: SpecField
    groups_ou: str = Field(min_length=1)
    disabled_ou: str | None = None
    sam_account_name: SamAccountName = SamAccountName()
    upn_suffix: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$")
    page_size: int = Field(default=500, ge=1, le=10000)
    retry: RetryPolicy = RetryPolicy()
    full_read_hours: FullReadHours = 24.0
    attributes: dict[str, SpecField] = Field(default={}, description=ATTRIBUTES_DOC)

    @field_validator("url", mode="before")
    @classmethod
    def _ldaps_only(cls, url: object) -> object:
        if isinstance(url, str) and not url.lower().startswith("ldaps://"):
            raise ValueError("an AD target is reached over LDAPS only (passwords are set on it): use ldaps://")
        return url

    @field_validator("attributes")
    @classmethod
    def _check_attributes(cls, attributes: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        return dict(check_attributes("ad", attributes))

    @model_validator(mode="after")
    def _check_dns(self) -> AdTarget:
        for field in ("bind_dn", "base_dn", "groups_ou", "disabled_ou"):
            value = getattr(self, field)
            try:
                if value is not None:
                    split_dn(value)
            except ValueError as exc:
                raise ValueError(f"{field} is not a DN: {exc}") from None
        for field in ("groups_ou", "disabled_ou"):
            value = getattr(self, field)
            if value is not None and not is_under(value, self.base_dn):
                raise ValueError(f"{field} {value!r} is not under base_dn")
        spec = self.ou_spec()
        _reads_known_columns("ou", spec)
        fixed = spec.template.text if spec.template is not None and not spec.template.names else None
        for value in (*(spec.map or {}).values(), spec.default, fixed):
            if value is not None and not self.is_ou(value):
                raise ValueError(f"ou {value!r} is not a DN under base_dn")
        return self

    def ou_spec(self) -> Compiled:
        """`ou`, compiled (a bare string is a template)."""
        return compile_spec("ou", self.ou, bare="template")

    def is_ou(self, value: str) -> bool:
        """Whether `value` is a DN strictly under `base_dn` (where an account may live)."""
        try:
            return is_under(value, self.base_dn) and not is_under(self.base_dn, value)
        except ValueError:
            return False

    def mapped_attributes(self) -> dict[str, FieldSpec]:
        """`attributes` and the last day of access the plan writes as accountExpires."""
        return {**self.attributes, AD_EXPIRES: _AD_EXPIRES_SPEC}


class SqlUsers(Strict):
    """Where the app keeps its users. `key`: its primary key (generated by the app when
    the column has a default, else jml writes the employee_id); `external_id`: the
    employee_id; `active`: a boolean or 0/1 column. The optional columns hold the other
    canonical attributes (`manager`: the manager's key); a canonical attribute with no
    column is not held by this target, so jml never diffs it. `updated_at`: a timestamp
    column that the database's clock sets on every change of a row (a trigger, or the
    app's own `now()`); jml sets it on the rows it writes, and runs between full reads
    then read only the rows changed since (SPEC "Incremental runs")."""

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
    updated_at: Identifier | None = None

    def own_columns(self) -> dict[str, str]:
        """The columns jml alone writes (the key, the link, the login, the state, the
        manager's key, the change stamp) -> what they hold."""
        named: dict[str, str | None] = {"key": self.key, "external_id": self.external_id, "username": self.username}
        named |= {"email": self.email, "active": self.active, "manager": self.manager, "updated_at": self.updated_at}
        return {column: what for what, column in named.items() if column}


class SqlRoles(Strict):
    """Where the app keeps role assignments: one row links `user` (the users key) to
    `role` (the entitlement name)."""

    table: Identifier
    user: Identifier
    role: Identifier


class SqlTarget(SqlUrl):
    """An application's own database, mapped (never migrated) by jml."""

    name: Name
    #: Who works this entry's exceptions (SPEC "Owners"); None: `owners.default`.
    owner: Name | None = None
    type: Literal["sql"]
    db_schema: Identifier | None = Field(default=None, alias="schema")
    users: SqlUsers
    roles: SqlRoles
    page_size: int = Field(default=1000, ge=1, le=100_000)
    timeout: float = Field(default=30.0, gt=0)
    retry: RetryPolicy = RetryPolicy()
    full_read_hours: FullReadHours = 24.0
    attributes: dict[str, SpecField] = Field(default={}, description=ATTRIBUTES_DOC)

    @field_validator("attributes")
    @classmethod
    def _check_attributes(cls, attributes: dict[str, FieldSpec]) -> dict[str, FieldSpec]:
        return dict(check_attributes("sql", attributes))

    @model_validator(mode="after")
    def _own_columns(self) -> SqlTarget:
        """An attribute may be a column of the users table that `users` does not map,
        or one it maps to a canonical attribute jml may let it override; never a
        column jml alone writes, nor a canonical name mapped to another column."""
        own = {column.lower(): what for column, what in self.users.own_columns().items()}
        for key in self.attributes:
            column = getattr(self.users, key, None) if key in ACCOUNT_ATTRIBUTES else None
            if key.lower() in own:
                raise ValueError(f"attribute {key!r} cannot be set: it is the users table's {own[key.lower()]} column,"
                                 " which jml alone writes")  # fmt: skip
            if column is not None and column.lower() != key.lower():
                raise ValueError(f"attribute {key!r} is jml's name of the column {column!r}; name the column")
        return self
