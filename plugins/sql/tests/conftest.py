"""Databases for the tracklet-sql tests: a sqlite file per test, and one fresh PostgreSQL
and one fresh MariaDB/MySQL database per session when those servers are reachable.

The server URIs come from ``TRACKLET_TEST_POSTGRES_URI`` and ``TRACKLET_TEST_MYSQL_URI``
(defaults: the local servers of the development machines and CI). A test needing a
server that is down is skipped with a message saying how to enable it, or fails when
``TRACKLET_TEST_REQUIRE_SERVERS`` is set (``.ci/run`` sets it).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa  # noqa: E402

from tracklet_sql import _schema  # noqa: E402
from tracklet_sql._engine import dialect_name, make_engine  # noqa: E402

SERVERS = {
    "postgresql": os.environ.get("TRACKLET_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test"),
    "mysql": os.environ.get("TRACKLET_TEST_MYSQL_URI", "mysql://root@127.0.0.1:3306/test"),
}
_HOW = {
    "postgresql": "start PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth, database test) or set "
    "TRACKLET_TEST_POSTGRES_URI",
    "mysql": "start MariaDB/MySQL on 127.0.0.1:3306 (user root, no password, database test) or set "
    "TRACKLET_TEST_MYSQL_URI",
}


def server_database(kind: str) -> Iterator[str]:
    """Create a fresh database on the ``kind`` server, yield its URI, drop it afterwards."""
    base = SERVERS[kind]
    try:
        admin = make_engine(base).execution_options(isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not available here"
        reason = (
            f"{kind} is not available ({type(exc).__name__}: {str(exc).splitlines()[0][:120]}); {_HOW[kind]}"
        )
        if os.environ.get("TRACKLET_TEST_REQUIRE_SERVERS"):
            pytest.fail(f"{reason} (TRACKLET_TEST_REQUIRE_SERVERS is set: the server tests must run)")
        pytest.skip(reason)
    name = f"tracklet_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield str(sa.engine.make_url(base).set(database=name).render_as_string(hide_password=False))
    finally:
        with admin.connect() as conn:
            force = " WITH (FORCE)" if kind == "postgresql" else ""
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}{force}")
        admin.dispose()


@pytest.fixture(scope="session")
def new_server_database() -> Callable[[str], contextlib.AbstractContextManager[str]]:
    """``with new_server_database("postgresql") as uri:`` a fresh database of its own,
    dropped on exit (``"mysql"`` for MariaDB/MySQL). Usable from fixtures of any scope."""
    return contextlib.contextmanager(server_database)


@pytest.fixture(scope="session")
def postgres_uri() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session."""
    yield from server_database("postgresql")


@pytest.fixture(scope="session")
def mysql_uri() -> Iterator[str]:
    """A fresh MariaDB/MySQL database for this test session."""
    yield from server_database("mysql")


def empty_database(uri: str) -> None:
    """Delete every row, so the next store opened on ``uri`` starts with just the Default experiment."""
    engine = make_engine(uri)
    try:
        with engine.begin() as conn:
            if dialect_name(conn) == "mysql":
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
            names = set(sa.inspect(conn).get_table_names())
            for table in reversed(_schema.metadata.sorted_tables):
                if table.name in names:
                    conn.execute(table.delete())
            if dialect_name(conn) == "mysql":
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
    finally:
        engine.dispose()


@pytest.fixture
def empty_postgres_uri(postgres_uri: str) -> str:
    """The session's PostgreSQL database, emptied for this test."""
    empty_database(postgres_uri)
    return postgres_uri


@pytest.fixture
def empty_mysql_uri(mysql_uri: str) -> str:
    """The session's MariaDB/MySQL database, emptied for this test."""
    empty_database(mysql_uri)
    return mysql_uri
