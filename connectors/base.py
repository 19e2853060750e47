"""What a source and a target must offer, and the one error tree at the connector boundary.

Errors (every connector translates its library's errors into these, `raise ... from exc`):

    ConnectorError          anything that went wrong talking to a system
    ├── SourceError         a source could not be read (file, encoding, HTTP, SQL); the
    │                       message names the source and where it broke
    └── TargetError         an operation or a read against a target failed
        ├── Retryable       worth trying again: 429, 5xx, timeouts, connection errors;
        │                   `retry_after` is the server's Retry-After in seconds, if any
        ├── Conflict        the target holds something that clashes (409, 412)
        ├── NotFound        the account or group is not there (404)
        └── Permanent       the target refused it for good (other 4xx); not retried

A target whose read fails with a TargetError is unreachable for the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import pandas as pd

from jml.model import Operation, Snapshot


class ConnectorError(Exception):
    """Base of every error a connector raises."""


class SourceError(ConnectorError):
    """A source could not be read; the message is one line naming the source."""


class TargetError(ConnectorError):
    """An operation or read against a target failed."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Retryable(TargetError):
    """A transient failure: 429, 5xx, timeout or connection error."""

    def __init__(
        self, message: str, *, status: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class Conflict(TargetError):
    """The target holds something that clashes with the operation."""


class NotFound(TargetError):
    """The account or group the operation names is not on the target."""


class Permanent(TargetError):
    """The target refused the operation; trying again will not help."""


class ClosesOnExit:
    """A connector usable as a context manager: `with` closes it on the way out."""

    def __enter__(self):
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@runtime_checkable
class Source(Protocol):
    """An HR system. `read` returns every row as text (missing cells as None), with the
    feed's own column names; validation happens after, in `expectations`."""

    name: str

    def read(self) -> pd.DataFrame: ...


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


@runtime_checkable
class Target(Protocol):
    """A downstream system holding accounts and entitlements.

    `read` returns the whole target in one paged pass (accounts with their canonical
    attributes, `manager` as the manager's employee_id, and entitlements).
    `apply` runs operations in the order given (a manager's create precedes its
    reports') and returns one Outcome per operation, in the same order; it raises only
    when it cannot talk to the target at all. Every write but a create must be safe to
    send twice (replace, add a member already there, remove one already gone, delete an
    account already deleted); a create is settled with `find` before it is sent again.
    """

    name: str

    def read(self) -> Snapshot: ...

    def apply(self, operations: list[Operation]) -> list[Outcome]: ...

    def find(self, employee_ids: list[str]) -> dict[str, str]:
        """employee_id -> the target's account id, for those of `employee_ids` that have
        an account: how a create whose reply was lost is settled before a retry."""
        ...

    def close(self) -> None: ...
