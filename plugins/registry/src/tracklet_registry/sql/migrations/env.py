"""Alembic environment of the registry's tables: runs on the connection the caller hands over.

tracklet-sql builds the configuration in code (no ``alembic.ini``) and passes an open
connection, inside the transaction that holds its schema lock, as
``config.attributes["connection"]``. The revision is recorded in the registry's own
version table, so tracklet-sql's history and this one never mix.
"""

from __future__ import annotations

from alembic import context

from tracklet_registry.sql.migration_set import VERSION_TABLE
from tracklet_registry.sql.schema import metadata

connection = context.config.attributes.get("connection")
if context.is_offline_mode() or connection is None:
    raise RuntimeError(
        "tracklet-registry migrations run only on a live connection: use `tracklet db upgrade URI`."
    )

context.configure(connection=connection, target_metadata=metadata, version_table=VERSION_TABLE)
with context.begin_transaction():
    context.run_migrations()
