"""An application's own SQL database as a jml target, through SQLAlchemy (any URL).

- `schema`: the mapping of the app's tables (config `users` and `roles`), the attributes
  it holds, the reflected tables;
- `rows`: accounts as rows, and every statement, built without I/O;
- `errors`: the typed error of a database failure (`database_error`);
- `connection`: the transaction of a session, and where other statements run;
- `driver`: `SqlDriver`, the kernel's primitives over those.
"""

from connectors.targets.sql.driver import SqlDriver
from connectors.targets.sql.errors import database_error

__all__ = ["SqlDriver", "database_error"]
