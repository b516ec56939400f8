"""Hook implementations of tracklet-sql: tracking stores for SQL database URIs, the
default ``mlflow.db`` sqlite file, and the ``tracklet db`` command."""

from __future__ import annotations

import os
from typing import Any

from tracklet.plugins import Scheme, hookimpl

#: URI schemes served (a driver suffix such as ``+psycopg`` is dropped by tracklet.uri).
SCHEMES = ("sqlite", "postgresql", "mysql")
#: The file MLflow (3.7 and later) tracks to when nothing is configured.
DEFAULT_DB_FILE = "mlflow.db"


@hookimpl
def tracklet_schemes() -> list[Scheme]:
    store = "tracklet_sql.store:SqlStore"
    return [Scheme("tracking", scheme, store) for scheme in SCHEMES]


@hookimpl
def tracklet_default_tracking_uri() -> str | None:
    """``sqlite:///<working directory>/mlflow.db``, as MLflow 3.7+ defaults to.

    Like MLflow, leaves the default to ``./mlruns`` (None, so tracklet-file answers) when
    that folder already holds file-store experiments, so existing work stays in view.
    """
    cwd = os.getcwd()
    if _has_file_store_experiments(os.path.join(cwd, "mlruns")):
        return None
    return "sqlite:///" + os.path.join(cwd, DEFAULT_DB_FILE)


def _has_file_store_experiments(folder: str) -> bool:
    """MLflow's rule: a folder named by digits holding a ``meta.yaml`` (artifacts that a
    database-backed store keeps under ``./mlruns`` do not count)."""
    try:
        with os.scandir(folder) as entries:
            return any(
                entry.is_dir()
                and entry.name.isdigit()
                and os.path.lexists(os.path.join(entry.path, "meta.yaml"))
                for entry in entries
            )
    except OSError:
        return False


@hookimpl
def tracklet_sql_engine(uri: str) -> Any:
    """tracklet-sql's engine for a database URI it serves, the database prepared (every
    migration set's tables created or checked); None for other URIs."""
    from tracklet.uri import get_scheme

    if get_scheme(uri) not in SCHEMES:
        return None
    from tracklet_sql._engine import shared_engine

    return shared_engine(uri)


@hookimpl
def tracklet_cli_commands() -> list[Any]:
    from tracklet_sql.cli import db

    return [db]
