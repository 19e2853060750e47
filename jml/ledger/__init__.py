"""The ledger: jml's durable state (runs, persons, account links, grants, the
write-ahead journal of operations, exceptions and approvals, the audit trail).

`Ledger` is the only API the rest of jml uses::

    ledger = Ledger.open("sqlite:///jml.db")   # makes or upgrades the schema
    run_id = ledger.start_run(as_of=date.today(), dry_run=False,
                              override_safety=False, actor="cli")
    ...
    ledger.close()

Every method is one short transaction and returns the value types of
`jml.ledger.records` (no database rows). A problem the user can fix (an unknown
exception id, a role the bundle does not list, an unreachable database) raises
`LedgerError` with a one-line message; a misuse by the calling code raises
`ValueError` or `TypeError`.

Inside: `facade` (Ledger) delegates to one module per concern: `engine` (engine,
pragmas, transactions, schema upgrade), `lock`, `runs`, `persons`, `accounts` (links
and grants), `history` (access over time), `journal`, `issues` (the exception queue), `approvals` (recording
decisions; the rules are `jml.approvals`), `known` (the targets as last read), `audit` and its hash `chain`; `tables` is the schema.
"""

from typing import TYPE_CHECKING

from jml.ledger.errors import LedgerError, LockLost, RunLocked
from jml.ledger.records import (
    AccessChange,
    AccessRecord,
    ApprovalRecord,
    AuditEntry,
    AuditRecord,
    ChainReport,
    ExceptionRecord,
    GrantRecord,
    JournalRecord,
    KnownRead,
    KnownState,
    LockHolder,
    LockInfo,
    PersonState,
)

if TYPE_CHECKING:
    from jml.ledger.facade import Ledger


def __getattr__(name: str) -> object:
    """`Ledger`, imported on first use: its errors and records import no database code,
    so a command that only names them (`jml --help`) never loads SQLAlchemy."""
    if name == "Ledger":
        from jml.ledger.facade import Ledger

        return Ledger
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AccessChange",
    "AccessRecord",
    "ApprovalRecord",
    "AuditEntry",
    "AuditRecord",
    "ChainReport",
    "ExceptionRecord",
    "GrantRecord",
    "JournalRecord",
    "KnownRead",
    "KnownState",
    "Ledger",
    "LedgerError",
    "LockHolder",
    "LockInfo",
    "LockLost",
    "PersonState",
    "RunLocked",
]
