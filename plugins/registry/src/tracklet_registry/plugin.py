"""Hook implementations of tracklet-registry: registry stores for file, SQL and HTTP URIs,
and the ``models:`` artifact scheme."""

from __future__ import annotations

from typing import Any

from tracklet.plugins import Scheme, hookimpl

#: Local folders: plain paths and ``file:`` URIs (MLflow's ``mlruns`` layout).
FILE_SCHEMES = ("", "file")
#: SQL database URIs, as tracklet-sql serves them (a driver suffix such as ``+psycopg``
#: is dropped by tracklet.uri). A copy of tracklet-sql's list, never an import of it.
SQL_SCHEMES = ("sqlite", "postgresql", "mysql")
#: A tracking server.
HTTP_SCHEMES = ("http", "https")


@hookimpl
def tracklet_schemes() -> list[Scheme]:
    file_store = "tracklet_registry.file.store:FileRegistryStore"
    sql_store = "tracklet_registry.sql.factory:sql_registry_store"
    rest_store = "tracklet_registry.rest:RestRegistryStore"
    return [
        *(Scheme("registry", scheme, file_store) for scheme in FILE_SCHEMES),
        *(Scheme("registry", scheme, sql_store) for scheme in SQL_SCHEMES),
        *(Scheme("registry", scheme, rest_store) for scheme in HTTP_SCHEMES),
        Scheme("artifacts", "models", "tracklet_registry.models_artifacts:ModelsArtifactRepository"),
    ]


@hookimpl
def tracklet_server_routes() -> list[Any]:
    """The registry's and logged models' REST endpoints on ``tracklet server``."""
    from tracklet_registry.server.routes import registry_routes

    return registry_routes()


@hookimpl
def tracklet_cli_commands() -> list[Any]:
    """``tracklet models``: list, describe, versions, alias, transition, download."""
    from tracklet_registry.cli import models

    return [models]


@hookimpl
def tracklet_sql_migrations() -> list[Any]:
    """The registry's tables in the tracking database (created, checked and upgraded by
    tracklet-sql with ``tracklet db upgrade``), with their own Alembic version table."""
    from tracklet_registry.sql.migration_set import migration_set

    return [migration_set()]
