"""The registry's migration set: its tables' Alembic history, with its own version table.

tracklet-sql gathers every plugin's set through the ``tracklet_sql_migrations`` hook:
it creates this set's tables (from :data:`tracklet_registry.sql.schema.metadata`,
stamped at :data:`HEAD`) in a database that has none of them yet (a fresh one, or one
tracklet-sql created before the registry plugin was installed), refuses a database at
another revision with what to run, and upgrades it with ``tracklet db upgrade URI``.

To change the schema, write ``migrations/versions/NNNN_<what>.py`` by hand
(``script.py.mako`` is the template), append its revision to :data:`REVISIONS` and
change :mod:`tracklet_registry.sql.schema` to match.
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["HEAD", "MIGRATIONS_DIR", "REVISIONS", "VERSION_TABLE", "migration_set"]

#: Every revision of ``migrations/versions``, oldest first.
REVISIONS: tuple[str, ...] = ("0001",)
#: The revision this tracklet-registry reads and writes.
HEAD = REVISIONS[-1]
#: Where the registry set records its revision (tracklet-sql's is ``tracklet_alembic_version``).
VERSION_TABLE = "tracklet_registry_alembic_version"
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def migration_set() -> Any:
    """The :class:`tracklet.plugins.SqlMigrations` describing the registry's tables."""
    from tracklet.plugins import SqlMigrations

    return SqlMigrations(
        name="tracklet-registry",
        script_location=MIGRATIONS_DIR,
        version_table=VERSION_TABLE,
        head=HEAD,
        metadata="tracklet_registry.sql.schema:metadata",
    )
