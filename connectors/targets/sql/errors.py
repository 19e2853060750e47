"""The typed error (`connectors.base`) of a database failure.

    a lost connection, a timeout, OperationalError ("database is locked")  -> Retryable
    IntegrityError (a unique or a foreign key)                              -> Conflict
    anything else                                                           -> Permanent

The message is `<target>: <what>: <TypeName>: <the database's first line>`, never the
statement or its parameters (so no names or emails). A Retryable says whether the
database may have applied something (`maybe_applied`): the caller knows (nothing when
a statement failed inside a transaction that is rolled back; maybe when the connection
was lost at commit).
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError, SQLAlchemyError

from connectors.base import Conflict, Permanent, Retryable, TargetError
from connectors.sqlutil import first_line

__all__ = ["connection_lost", "database_error"]


def database_error(name: str, what: str, exc: SQLAlchemyError, *, maybe_applied: bool = False) -> TargetError:
    """The typed error of `exc`, raised while the target `name` did `what`."""
    message = f"{name}: {what}: {first_line(exc)}"
    if connection_lost(exc) or isinstance(exc, OperationalError):
        return Retryable(message, maybe_applied=maybe_applied)
    if isinstance(exc, IntegrityError):
        return Conflict(message)
    return Permanent(message)


def connection_lost(exc: SQLAlchemyError) -> bool:
    """Whether the connection went away (SQLAlchemy invalidated it)."""
    return isinstance(exc, DBAPIError) and exc.connection_invalidated
