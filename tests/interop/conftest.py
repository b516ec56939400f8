"""Shared pieces of the interop tests.

The suite imports test files in importlib mode, where a test cannot import its conftest or
a sibling module by a relative name: this folder goes on ``sys.path`` so that they import
``_interop_tools`` by name.

* ``mlflow_db``: the URI of a new database for MLflow to create (sqlite, PostgreSQL,
  MariaDB/MySQL).
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Iterator

import pytest

_FOLDER = str(pathlib.Path(__file__).parent)
if _FOLDER not in sys.path:
    sys.path.insert(0, _FOLDER)

from _interop_tools import mysql_database, postgres_database  # noqa: E402


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def mlflow_db(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> Iterator[str]:
    """The URI of a new database for MLflow to create: a sqlite file, or a fresh PostgreSQL
    or MariaDB/MySQL database (skipped when the server is not reachable, failed when
    ``TRACKLET_TEST_REQUIRE_SERVERS`` is set)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'mlflow.db'}"
    elif request.param == "mysql":
        with mysql_database("tracklet_mlflow_db") as uri:
            yield uri
    else:
        with postgres_database("tracklet_mlflow_db") as uri:
            yield uri
