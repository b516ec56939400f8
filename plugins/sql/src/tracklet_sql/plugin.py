"""Hook implementations of tracklet-sql: tracking stores for SQL database URIs, the
default ``./tracklet.db`` sqlite file, and the ``tracklet db`` command."""

from __future__ import annotations

import os
from typing import Any

from tracklet.plugins import Scheme, hookimpl

#: URI schemes served (a driver suffix such as ``+psycopg`` is dropped by tracklet.uri).
SCHEMES = ("sqlite", "postgresql", "mysql")
#: The file tracklet creates when nothing is configured and no earlier data is found.
DEFAULT_DB_FILE = "tracklet.db"
#: The file MLflow (3.7 and later) tracks to when nothing is configured; served as it is.
MLFLOW_DB_FILE = "mlflow.db"


@hookimpl
def tracklet_schemes() -> list[Scheme]:
    store = "tracklet_sql.store:SqlStore"
    return [Scheme("tracking", scheme, store) for scheme in SCHEMES]


@hookimpl
def tracklet_default_tracking_uri() -> str | None:
    """The working directory's earlier data, else a new ``./tracklet.db``.

    In order: ``./tracklet.db`` if it exists; None when ``./mlruns`` holds file-store
    experiments (tracklet-file answers); ``./mlflow.db`` if it exists (an MLflow project
    keeps its runs with ``import tracklet as mlflow``, whichever schema the file holds);
    else a new ``./tracklet.db``. ``mlruns`` comes before ``mlflow.db`` because MLflow
    3.7+ checks it first: in a folder holding both, both tools read the same runs. A new
    project never creates a file where MLflow looks for its own, so both tools can be used
    in one folder.
    """
    cwd = os.getcwd()
    if _is_database_file(os.path.join(cwd, DEFAULT_DB_FILE)):
        return _sqlite_uri(os.path.join(cwd, DEFAULT_DB_FILE))
    if _has_file_store_experiments(os.path.join(cwd, "mlruns")):
        return None
    if _is_database_file(os.path.join(cwd, MLFLOW_DB_FILE)):
        return _sqlite_uri(os.path.join(cwd, MLFLOW_DB_FILE))
    return _sqlite_uri(os.path.join(cwd, DEFAULT_DB_FILE))


def _sqlite_uri(path: str) -> str:
    return "sqlite:///" + path


def _is_database_file(path: str) -> bool:
    """A non-empty file: an empty one (``touch mlflow.db``) holds no runs to keep, and
    tracklet's tables written into it would break MLflow's use of that file."""
    try:
        return os.path.isfile(path) and os.path.getsize(path) > 0
    except OSError:
        return False


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
