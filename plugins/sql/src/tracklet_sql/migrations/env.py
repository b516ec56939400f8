"""Alembic environment of tracklet-sql: runs on the connection the caller hands over.

:mod:`tracklet_sql._migrations` builds the configuration in code (no ``alembic.ini``)
and passes an open connection, already inside the transaction that holds the schema
lock, as ``config.attributes["connection"]``.
"""

from __future__ import annotations

from alembic import context

from tracklet_sql._migrations import VERSION_TABLE
from tracklet_sql._schema import metadata

connection = context.config.attributes.get("connection")
if context.is_offline_mode() or connection is None:
    raise RuntimeError(
        "tracklet-sql migrations run only on a live connection: use `tracklet db upgrade URI` "
        "or tracklet_sql._migrations.upgrade(engine)."
    )

context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
