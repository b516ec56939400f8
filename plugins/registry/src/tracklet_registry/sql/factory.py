"""The SQL registry store for a database URI, in whichever schema the database holds.

A database tracklet-sql created holds tracklet's registry tables
(:class:`~tracklet_registry.sql.store.SqlRegistryStore`); one MLflow created holds
MLflow's, served as they are by
:class:`~tracklet_registry.sql.mlflow_store.MlflowSchemaRegistryStore`. The plugin's
``registry`` schemes point here, so ``get_registry_store("sqlite:///mlflow.db")`` opens
an existing MLflow registry without changing its schema.
"""

from __future__ import annotations

from tracklet.stores.registry import RegistryStore

__all__ = ["sql_registry_store"]


def sql_registry_store(store_uri: str | None = None) -> RegistryStore:
    """The registry store for the database at ``store_uri`` (see the module docstring)."""
    from ._engine import open_engine
    from .mlflow_schema import detect_mlflow_schema
    from .store import SqlRegistryStore

    if store_uri:
        tables = detect_mlflow_schema(open_engine(store_uri))
        if tables is not None:
            from .mlflow_store import MlflowSchemaRegistryStore

            return MlflowSchemaRegistryStore(store_uri, tables)
    return SqlRegistryStore(store_uri)
