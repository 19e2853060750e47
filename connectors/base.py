"""What a source and a target must offer, and the one error tree at the connector boundary.

Errors (every connector translates its library's errors into these, `raise ... from exc`):

    ConnectorError          anything that went wrong talking to a system
    ├── ConfigurationError  the connector's config cannot work (a secret not set)
    ├── SourceError         a source could not be read (file, encoding, HTTP, SQL); the
    │                       message names the source and where it broke
    └── TargetError         an operation or a read against a target failed
        ├── Retryable       worth trying again: 429, 5xx, timeouts, connection errors;
        │                   `retry_after` is the server's Retry-After in seconds, if any;
        │                   `maybe_applied` says whether the target may have acted
        │                   (a lost reply, a timeout) or certainly did not (429, 503)
        ├── Conflict        the target holds something that clashes (409, 412)
        ├── NotFound        the account or group is not there (404)
        │   └── GroupMissing  the group a membership change names does not exist
        └── Permanent       the target refused it for good (other 4xx); not retried

A target whose read fails with a TargetError is unreachable for the run. `Aborted` (not
a ConnectorError) is how a transactional driver says that its current transaction is
lost: the kernel rolls the whole batch back and applies it again one by one.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, Self, runtime_checkable

from jml.model import Snapshot
from jml.operations import Operation
from jml.secrets import SecretError, read_secret, redact

if TYPE_CHECKING:  # only the sources import pandas: `jml --help` and the ledger commands never do
    import pandas as pd


class ConnectorError(Exception):
    """Base of every error a connector raises. Its message is redacted when it is made
    (`jml.secrets.redact`): a library's error text that quotes a token never travels."""

    def __init__(self, message: object = "", *args: object) -> None:
        super().__init__(redact(str(message)), *args)


class SourceError(ConnectorError):
    """A source could not be read; the message is one line naming the source."""


class ConfigurationError(ConnectorError):
    """A connector cannot be built from its config: a secret's variable is not set, a
    DN does not parse. The message is one line naming the target and the field."""


def secret(
    environ: Mapping[str, str], variable: str, where: str, error: type[ConnectorError] = ConfigurationError
) -> str:
    """The secret in `environ[variable]`, checked and remembered for redaction
    (`jml.secrets.read_secret`); `error` (one line naming `where` and the variable)
    when it is missing or unusable."""
    try:
        return read_secret(environ, variable, where)
    except SecretError as exc:
        raise error(str(exc)) from None


class TargetError(ConnectorError):
    """An operation or read against a target failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Retryable(TargetError):
    """A transient failure: 429, 5xx, timeout or connection error. `maybe_applied` is
    False only when the target certainly did not act (it answered 429 or 503, or
    refused before starting); a create that may have been applied is looked up before
    it is sent again."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        retry_after: float | None = None,
        maybe_applied: bool = True,
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after
        self.maybe_applied = maybe_applied


class Conflict(TargetError):
    """The target holds something that clashes with the operation."""


class NotFound(TargetError):
    """The account or group the operation names is not on the target."""


class GroupMissing(NotFound):
    """A membership change names a group the target does not hold (yet)."""


class Permanent(TargetError):
    """The target refused the operation; trying again will not help."""


class Aborted(Exception):
    """A transactional driver's transaction is lost (the database refused a statement);
    `error` is the typed error of the statement that broke it."""

    def __init__(self, error: TargetError) -> None:
        super().__init__(str(error))
        self.error = error


def propagated(error: TargetError, reason: str) -> TargetError:
    """An error of the same type as `error`, for an operation that depended on it (and
    was therefore not sent: nothing of it can have been applied)."""
    message = f"{reason}: {error}"
    if isinstance(error, Retryable):
        return Retryable(message, status=error.status, retry_after=error.retry_after, maybe_applied=False)
    return type(error)(message, status=error.status)


def said(what: str, text: str) -> str:
    """An error message: `text` after `what` (who did what, e.g. "app: GET Users") when
    there is one."""
    return f"{what}: {text}" if what else text


@dataclass(frozen=True, slots=True)
class TargetSchema:
    """What a target holds: the canonical attributes it stores (the planner writes and
    compares only these)."""

    attributes: frozenset[str]


class ClosesOnExit:
    """A connector usable as a context manager: `with` closes it on the way out."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@runtime_checkable
class Records(Protocol):
    """What reads a source's records as it holds them (a CSV file, an SQL query): its
    own column names, every cell as text (missing ones as None), and `_row`."""

    name: str

    def read(self) -> pd.DataFrame: ...


@runtime_checkable
class Source(Protocol):
    """An HR system. `read` returns every row as text (missing cells as None), with the
    feed's own column names; validation happens after, in `expectations`. It is
    `mapped(read_records())`: the records as the source holds them (its own column
    names or paths, and `_row`), then made into the feed's columns by `fields`."""

    name: str

    def read(self) -> pd.DataFrame: ...

    def read_records(self) -> pd.DataFrame: ...

    def mapped(self, records: pd.DataFrame) -> pd.DataFrame: ...


@dataclass(slots=True)
class Outcome:
    """What happened to one operation: `error` is None when it was applied.
    `account_id` is the target's id of the account (set by a create)."""

    operation: Operation
    error: TargetError | None = None
    account_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class Applied:
    """What applying a list of operations did: one Outcome per operation (same order),
    how many were sent again, how many creates of unknown outcome were found applied
    (`settled`), the seconds spent waiting between tries, and whether the target turned
    out to be down (its circuit breaker opened: send it nothing more this run)."""

    outcomes: list[Outcome]
    retried: int = 0
    settled: int = 0
    waited: float = 0.0
    down: bool = False


@runtime_checkable
class Target(Protocol):
    """A downstream system holding accounts and entitlements (every target is a driver
    on `connectors.kernel`, which implements this).

    `read` returns the whole target in one paged pass: accounts with the attributes of
    `schema` (`manager` as the manager's employee_id) and their entitlements;
    `read_changes(known)` what `read` would return now, made from an earlier read and
    what changed since (None when the target cannot say what changed: read in full);
    `read_accounts` the same of the accounts linked to some employee_ids only (with
    `groups`, their memberships of those groups at least: `Driver.read_accounts`). `apply`
    runs operations in the order given (a manager's create precedes its reports'),
    retrying what failed transiently, and never raises for a failed operation. `find`
    maps employee_ids to the target's account ids, for those that have an account.
    """

    name: str
    schema: TargetSchema

    def read(self) -> Snapshot: ...

    def read_changes(self, known: Snapshot) -> Snapshot | None: ...

    def read_accounts(self, employee_ids: Sequence[str], groups: Collection[str] | None = None) -> Snapshot: ...

    def apply(self, operations: Sequence[Operation]) -> Applied: ...

    def find(self, employee_ids: Sequence[str]) -> dict[str, str]: ...

    def close(self) -> None: ...
