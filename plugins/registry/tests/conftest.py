"""Shared fixtures of tracklet-registry's tests (other test modules may add theirs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tracklet_registry.file import FileRegistryStore


@pytest.fixture
def mlruns(tmp_path: Path) -> Path:
    """A fresh ``mlruns`` folder path (not created yet)."""
    return tmp_path / "mlruns"


@pytest.fixture
def file_registry_store(mlruns: Path) -> FileRegistryStore:
    """A file registry store (registry and logged models) over a fresh ``mlruns`` folder."""
    return FileRegistryStore(str(mlruns))


# -- SQL databases (tests of tracklet_registry.sql) ---------------------------------------------
# A sqlite file per test; one fresh PostgreSQL and one fresh MariaDB/MySQL database per
# session when those servers are reachable (TRACKLET_TEST_POSTGRES_URI /
# TRACKLET_TEST_MYSQL_URI; skipped when down, failed when TRACKLET_TEST_REQUIRE_SERVERS is set).

import os  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Iterator  # noqa: E402

SQL_SERVERS = {
    "postgresql": os.environ.get("TRACKLET_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("TRACKLET_TEST_MYSQL_URI", "mysql://root@127.0.0.1:3306/test"),
}
_SQL_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}


def _sql_admin_url(kind: str) -> object:
    import sqlalchemy as sa

    url = sa.engine.make_url(SQL_SERVERS[kind])
    if url.drivername in _SQL_DRIVERS:
        url = url.set(drivername=_SQL_DRIVERS[url.drivername])
    return url


def sql_server_database(kind: str) -> Iterator[str]:
    """Create a fresh database on the ``kind`` server, yield its URI, drop it afterwards."""
    import sqlalchemy as sa

    try:
        admin = sa.create_engine(_sql_admin_url(kind), isolation_level="AUTOCOMMIT")  # type: ignore[call-overload]
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not available here"
        reason = (
            f"{kind} is not available at {SQL_SERVERS[kind]} ({type(exc).__name__}); start it or set the URI"
        )
        if os.environ.get("TRACKLET_TEST_REQUIRE_SERVERS"):
            pytest.fail(f"{reason} (TRACKLET_TEST_REQUIRE_SERVERS is set: the server tests must run)")
        pytest.skip(reason)
    name = f"tracklet_registry_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.engine.make_url(SQL_SERVERS[kind]).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            force = " WITH (FORCE)" if kind == "postgresql" else ""
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        admin.dispose()


@pytest.fixture(scope="session")
def registry_postgresql_uri() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session."""
    yield from sql_server_database("postgresql")


@pytest.fixture(scope="session")
def registry_mysql_uri() -> Iterator[str]:
    """A fresh MariaDB/MySQL database for this test session."""
    yield from sql_server_database("mysql")


def empty_registry_tables(uri: str) -> None:
    """Delete every row of the registry's tables (the database may be shared by a session)."""
    from tracklet.plugins import sql_engine
    from tracklet_registry.sql import schema

    engine = sql_engine(uri)
    with engine.begin() as conn:
        for table in reversed(schema.metadata.sorted_tables):
            conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def sql_registry_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URI with empty registry tables: sqlite, PostgreSQL and MariaDB/MySQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'registry.db'}"
    uri: str = request.getfixturevalue(f"registry_{request.param}_uri")
    empty_registry_tables(uri)
    return uri


# -- real servers (tests of tracklet_registry.rest and tracklet_registry.server) ----------------


@pytest.fixture(scope="session")
def registry_servers() -> object:
    """The launcher of real servers in ``_registry_servers.py``: ``tracklet_server(root,
    backend=None)`` and ``mlflow_server(root)``. Tests import in importlib mode, so the
    folder is put on ``sys.path`` (child processes a test spawns import it by name too)."""
    import importlib
    import sys

    folder = str(Path(__file__).parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    return importlib.import_module("_registry_servers")


@pytest.fixture(scope="session")
def new_registry_server_database() -> object:
    """``with new_registry_server_database("postgresql") as uri:`` a fresh, empty database
    of its own, dropped on exit (``"mysql"`` for MariaDB/MySQL)."""
    import contextlib

    return contextlib.contextmanager(sql_server_database)
