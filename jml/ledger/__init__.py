"""The ledger: jml's durable state (runs, persons, account links, grants, the
write-ahead journal of operations, exceptions and approvals, the audit trail).

`Ledger` is the only API the rest of jml uses::

    ledger = Ledger.open("sqlite:///jml.db")   # makes or upgrades the schema
    run_id = ledger.start_run(as_of=date.today(), dry_run=False,
                              override_safety=False, actor="cli")
    ...
    ledger.close()

Every method is one short transaction. A problem the user can fix (an unknown
exception id, a role the bundle does not list, an unreachable database) raises
`LedgerError` with a one-line message; a misuse by the calling code raises
`ValueError` or `TypeError`.
"""


class LedgerError(Exception):
    """A ledger request cannot be done as asked; the message is one line for the user."""


class RunLocked(Exception):
    """Another run holds the ledger's run lock; the message names it (one line)."""


from jml.ledger.repository import AuditEntry, Ledger, LockHolder, PersonState  # noqa: E402

__all__ = ["AuditEntry", "Ledger", "LedgerError", "LockHolder", "PersonState", "RunLocked"]
