"""Where the SQL driver's statements run: the transaction of an open session, or a
connection of their own; and how a database error there is raised.

`Connections(name, engine)`:
- `session()` is one transaction on one connection, kept for the calling thread while
  it is open: committed when the body ends, rolled back when the body raises. A
  database error beginning or committing it raises `Aborted` with its typed error
  (nothing was applied, unless the connection was lost at commit: `maybe_applied`).
- `connected(what)` is the connection to run statements on: the session's when this
  thread has one open, else one for the `with` block alone (reads, lookups). A
  database error inside is `Aborted(typed error)` in a session (its transaction is
  lost: nothing of it was applied) and the typed error itself outside one. Any other
  error (a TargetError the driver raises) passes through and leaves the session going.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from connectors.base import Aborted
from connectors.targets.sql.errors import connection_lost, database_error

__all__ = ["Connections"]

log = logging.getLogger(__name__)


class Connections:
    """The engine of one SQL target and this thread's open session; see the module
    docstring."""

    def __init__(self, name: str, engine: Engine) -> None:
        self.name = name
        self.engine = engine
        self._local = threading.local()  # .session: the open session's connection

    @contextmanager
    def session(self) -> Iterator[None]:
        """One transaction for everything the `with` block runs through `connected`."""
        try:
            connection = self.engine.connect()  # its transaction begins with the first statement
        except SQLAlchemyError as exc:
            raise Aborted(database_error(self.name, "connect", exc)) from exc
        self._local.session = connection
        try:
            try:
                yield
            finally:
                self._local.session = None
            connection.commit()
        except SQLAlchemyError as exc:  # the body raises Aborted, never this: the commit
            raise Aborted(database_error(self.name, "commit", exc, maybe_applied=connection_lost(exc))) from exc
        finally:
            self._release(connection)

    @contextmanager
    def connected(self, what: str) -> Iterator[Connection]:
        """The connection for statements doing `what` (named in an error's message)."""
        session: Connection | None = getattr(self._local, "session", None)
        try:
            if session is not None:
                yield session
            else:
                with self.engine.connect() as connection:
                    yield connection
        except SQLAlchemyError as exc:
            error = database_error(self.name, what, exc)
            if session is not None:
                raise Aborted(error) from exc
            raise error from exc

    def close(self) -> None:
        """Close the engine's pooled connections."""
        self.engine.dispose()

    def _release(self, connection: Connection) -> None:
        """Close the connection, rolling back what was not committed. If it cannot even
        do that, the pool has dropped it (and the database rolls back a lost
        transaction): what the session raises matters, not this."""
        try:
            connection.close()
        except SQLAlchemyError as exc:
            log.info("target %s: a connection failed to close (%s); dropped", self.name, type(exc).__name__)
