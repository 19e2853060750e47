"""Alembic environment of the ledger, run programmatically (see `jml.ledger.engine.upgrade`).

The caller passes an open connection in `config.attributes["connection"]`; the
migrations run inside the caller's transaction. Without one (a developer making a new
revision with autogenerate) an engine is made from the `sqlalchemy.url` option.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from jml.ledger.tables import metadata

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
        # The ledger opens the transaction itself (on SQLite with BEGIN IMMEDIATE), so
        # DDL is transactional on both backends: a failed migration leaves nothing.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if url is None:
        raise RuntimeError("no sqlalchemy.url: give one in the Alembic config (see migrations/README)")
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            _run(connection)
    finally:
        engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("the ledger's migrations run online only")
run_migrations_online()
