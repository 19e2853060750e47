"""The ledger's two errors; both carry a one-line message meant for the user."""


class LedgerError(Exception):
    """A ledger request cannot be done as asked; the message is one line for the user."""


class RunLocked(Exception):
    """Another run holds the ledger's run lock; the message names it (one line)."""
