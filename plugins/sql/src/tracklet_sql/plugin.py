"""Hook implementations of tracklet-sql: tracking stores for SQL database URIs."""

from __future__ import annotations

from tracklet.plugins import Scheme, hookimpl

#: URI schemes served (a driver suffix such as ``+psycopg`` is dropped by tracklet.uri).
SCHEMES = ("sqlite", "postgresql", "mysql")


@hookimpl
def tracklet_schemes() -> list[Scheme]:
    store = "tracklet_sql.store:SqlStore"
    return [Scheme("tracking", scheme, store) for scheme in SCHEMES]
