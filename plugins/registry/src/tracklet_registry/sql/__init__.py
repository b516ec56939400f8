"""The SQL registry store: registered models, model versions and logged models on
sqlite, PostgreSQL and MySQL/MariaDB.

The engine comes from the core (``tracklet.plugins.sql_engine``, served by tracklet-sql);
the tables are this package's own (:mod:`tracklet_registry.sql.schema`), created and
upgraded by ``tracklet db upgrade`` through the ``tracklet_sql_migrations`` hook.
"""

from __future__ import annotations

__all__: list[str] = []
