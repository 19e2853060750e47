"""What a target driver implements: a few primitives the kernel calls (the ConnId model).

A driver knows its system's protocol and schema; the kernel (`connectors.kernel`) does
the rest once for every target: ordering and batching, dependencies between operations,
outcomes and logging, retries, and settling creates whose reply was lost.

A **handle** is the driver's own reference to an account (a SCIM id, an LDAP entry, a
SQL key); the kernel keeps one per employee_id and hands it back to the primitives.
Values the kernel passes are ready to write: attribute name -> value (None: no value);
`manager` is already the manager's handle (a manager without an account is left out,
with a warning, before the driver sees it) or, inside a Bulk request, a `BulkRef`.

Primitives raise the typed errors of `connectors.base` (a `Retryable` says whether the
target may have acted). A driver with transactions raises `Aborted` when its
transaction is lost; the kernel then applies the batch again one operation at a time.
"""

from __future__ import annotations

import abc
from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Protocol, TypeVar

from connectors.base import TargetError, TargetSchema
from jml.model import Snapshot
from jml.operations import Operation

__all__ = ["OVERLAP", "Bulk", "BulkItem", "BulkRef", "Driver", "Handle", "Reading", "chunked"]

Handle = Any
T = TypeVar("T")

#: How far back of a read's start its target's next delta read starts (`read_changes`):
#: a minute of margin for clocks that disagree (a server's nodes, or jml's and the
#: server's); runs closer together than that read each other's writes again (harmless,
#: and only those).
OVERLAP = timedelta(seconds=60)


def chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """`items` in consecutive slices of at most `size` (a lookup's or query's share)."""
    return [items[start : start + size] for start in range(0, len(items), size)]


@dataclass(slots=True)
class Reading:
    """One read: the snapshot, and the handle of every linked account."""

    snapshot: Snapshot
    handles: dict[str, Handle] = field(default_factory=dict)


class Driver(abc.ABC):
    """The primitives of one target (subclass it and implement the abstract ones).

    `concurrency` is how many units of work may run at once (1: one after the other, in
    plan order); `lookup_chunk` how many employee_ids one `lookup` may take. `bulk()`
    and `session()` are capabilities a driver may offer (none by default); a
    `transactional` driver's `session()` is a transaction. A driver that
    `retries_reads` tries each request of its reads again itself (per the target's
    retry policy: one failed page costs that page again); the kernel then calls a read
    once instead of trying the whole read again.
    """

    name: str
    schema: TargetSchema
    concurrency: int = 1
    lookup_chunk: int = 50
    transactional: bool = False
    retries_reads: bool = False

    @abc.abstractmethod
    def read(self) -> Reading:
        """Every account and group of the target (one paged pass)."""

    def read_changes(self, known: Snapshot) -> Reading | None:
        """What `read` would give now, made from `known` (an earlier read, with its
        `memo`) and what changed on the target since (SPEC "Incremental runs"), its
        memo saying where the next one starts; None when the driver cannot tell what
        changed (the kernel's caller then reads in full). Exact or None: never less
        than a full read would find. By default None: a driver without delta reads is
        read in full."""
        return None

    @abc.abstractmethod
    def lookup(self, employee_ids: Sequence[str]) -> dict[str, Handle]:
        """The accounts linked to these employee_ids (at most `lookup_chunk` of them)."""

    @abc.abstractmethod
    def read_accounts(
        self, employee_ids: Sequence[str], handles: Mapping[str, Handle], groups: Collection[str] | None = None
    ) -> Reading:
        """The accounts linked to these employee_ids (any number of them), exactly as
        `read` gives them (attributes, `active`, entitlements, the manager as an
        employee_id), with their handles; an employee_id without an account is left
        out. The snapshot's `groups` are the groups those accounts are members of, at
        least; `held` and `limits` are `read`'s. `handles` are those the kernel knows
        of some of them (from its last read and its writes): a driver may read those
        accounts by handle, and asks for the others by employee_id. With `groups`, only
        the memberships of those groups are asked for: a driver may read only them
        (entitlements outside them are then missing) or all. Never a full read of the
        accounts: reading back what a run wrote costs O(written)."""

    @abc.abstractmethod
    def resolve(self, employee_id: str, account_id: str) -> Handle | None:
        """The handle of the account with this id (from a plan or the ledger); None
        when the target does not hold it."""

    @abc.abstractmethod
    def account_id(self, handle: Handle) -> str:
        """The target's id of the account (what the ledger links)."""

    @abc.abstractmethod
    def create(self, employee_id: str, values: Mapping[str, Any], active: bool) -> Handle:
        """Create the account of `employee_id` with these attribute values."""

    @abc.abstractmethod
    def update(self, handle: Handle, employee_id: str, values: Mapping[str, Any], link: bool) -> Handle:
        """Change these attributes (None: remove the value); with `link`, also set the
        account's link to `employee_id` (adoption). Returns the handle, which a rename
        may have changed."""

    @abc.abstractmethod
    def set_active(self, handle: Handle, employee_id: str, active: bool) -> Handle:
        """Enable or disable the account. Returns the handle, which a move may have
        changed."""

    @abc.abstractmethod
    def delete(self, handle: Handle, employee_id: str) -> None:
        """Remove the account (and what refers to it); an account already gone is fine."""

    @abc.abstractmethod
    def change_members(self, group: str, changes: Sequence[tuple[bool, Handle]]) -> None:
        """Add (True) or remove (False) these accounts as members of `group`, in order;
        adding a member already there and removing one already gone are fine.
        GroupMissing when the target has no such group."""

    @abc.abstractmethod
    def create_group(self, group: str, members: Sequence[Handle]) -> bool:
        """Create the group with these members; False when it exists already (someone
        created it meanwhile)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release connections."""

    def bulk(self) -> Bulk | None:
        """The Bulk capability, when the target offers one and the config allows it.
        May ask the target once (a TargetError then fails the call)."""
        return None

    def session(self) -> AbstractContextManager[None]:
        """What runs inside is applied together or not at all (a driver with
        transactions; `Aborted` inside rolls it back)."""
        return nullcontext()


@dataclass(frozen=True, slots=True)
class BulkRef:
    """A manager created earlier in the same Bulk request (by the item at `position`)."""

    position: int


@dataclass(frozen=True, slots=True)
class BulkItem:
    """One account operation of a Bulk request: its handle (None for a create) and its
    ready values (a create's or an update's)."""

    operation: Operation
    handle: Handle | None
    values: Mapping[str, Any]


class Bulk(Protocol):
    """A driver that can send many account operations in one request."""

    max_operations: int
    max_payload: int | None

    def bulk_size(self, operation: Operation) -> int:
        """An upper bound of the bytes one operation adds to a Bulk request."""
        ...

    def send_bulk(self, items: Sequence[BulkItem]) -> list[Handle | TargetError]:
        """Send the items as one request; per item, the handle it left (a create's new
        one) or its typed error. Raises the typed error when the request itself failed."""
        ...
