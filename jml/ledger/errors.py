"""The ledger's errors; each carries a one-line message meant for the user."""


class LedgerError(Exception):
    """A ledger request cannot be done as asked; the message is one line for the user."""


class LockLost(LedgerError):
    """The run lock is no longer this holder's (taken over, released, or its lease ran
    out); the message says so in one line, naming who holds it now."""


class RunLocked(Exception):
    """Another run holds the ledger's run lock; the message names it (one line)."""
