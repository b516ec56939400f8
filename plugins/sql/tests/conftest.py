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
import tempfile
import uuid
from collections.abc import Callable, Iterator
from typing import Any

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


def _round_trips(store: Any, call: Callable[[], object]) -> list[str]:
    """The client's messages of each round trip ``call()`` makes on the pooled connection
    of ``store`` (a PostgreSQL :class:`~tracklet_sql.store.SqlStore`): one entry per
    ``ReadyForQuery`` message from the server, read from libpq's trace."""
    import psycopg

    with store.engine.connect() as conn:  # the connection the next call checks out again
        dbapi = conn.connection.dbapi_connection
        assert isinstance(dbapi, psycopg.Connection)
    with tempfile.TemporaryFile() as trace:
        dbapi.pgconn.trace(trace.fileno())
        dbapi.pgconn.set_trace_flags(psycopg.pq.Trace.SUPPRESS_TIMESTAMPS)
        try:
            call()
        finally:
            dbapi.pgconn.untrace()
        trace.seek(0)
        lines = trace.read().decode("utf-8", "replace").splitlines()
    trips, sent = [], []
    for line in lines:
        fields = line.split("\t")
        if len(fields) < 3 or fields[0] not in ("F", "B"):
            continue  # the rest of a statement's text, which can hold line breaks
        direction, message = fields[0], " ".join(fields[2:]).strip()
        if direction == "F":
            sent.append(message)
        elif message.startswith("ReadyForQuery"):
            trips.append(" ".join(sent))
            sent = []
    return trips


@pytest.fixture
def round_trips() -> Callable[[Any, Callable[[], object]], list[str]]:
    """``round_trips(store, call)``: the messages the client sent in each round trip of
    ``call()`` on the store's pooled PostgreSQL connection."""
    return _round_trips
