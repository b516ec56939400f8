"""The database engine of a registry store, and write transactions that retry.

The engine is tracklet-sql's (through the core's ``tracklet.plugins.sql_engine``): one
per process and URI, fork-safe, sqlite tuned (WAL, busy timeout, case-sensitive LIKE),
with the registry's tables created or checked through its migration set. This package
never imports tracklet-sql.

:func:`write` runs a function in one write transaction. On sqlite the transaction
starts with ``BEGIN IMMEDIATE`` (the ``sqlite_begin`` execution option tracklet-sql's
engine honours), so writers queue on the busy timeout instead of failing when a read
turns into a write; on every dialect a deadlock, serialization failure or lock timeout
runs the function again from a rolled-back transaction.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, OperationalError

__all__ = ["dialect_name", "open_engine", "write"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_WRITE = {"sqlite_begin": "BEGIN IMMEDIATE"}
_RETRIES = 8


def open_engine(uri: str) -> sa.Engine:
    """The engine for ``uri``, its tables prepared, from the core's SQL engine hook.

    :raises TrackletException: ``FEATURE_DISABLED`` naming tracklet-sql when it is not
        installed.
    """
    from tracklet.plugins import sql_engine

    engine: sa.Engine = sql_engine(uri)
    return engine


def dialect_name(bind: sa.Engine | sa.Connection) -> str:
    """``"sqlite"``, ``"postgresql"`` or ``"mysql"`` (MariaDB included)."""
    name = bind.dialect.name
    return "mysql" if name == "mariadb" else name


def _retryable(exc: DBAPIError) -> bool:
    """Deadlocks, serialization failures and lock timeouts: the transaction can run again."""
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in ("40001", "40P01", "55P03"):
        return True
    args: Any = getattr(orig, "args", ())
    if args and args[0] in (1205, 1213):  # MySQL lock wait timeout, deadlock
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(orig)


def write(engine: sa.Engine, fn: Callable[[sa.Connection], T]) -> T:
    """Run ``fn(connection)`` in one write transaction, retrying on deadlocks and lock timeouts.

    ``fn`` must only read and write through the connection it is given, so that a retried
    attempt starts afresh; an exception it raises rolls everything back.
    """
    for attempt in range(_RETRIES):
        try:
            with engine.connect().execution_options(**_WRITE) as conn, conn.begin():
                return fn(conn)
        except DBAPIError as exc:
            if attempt == _RETRIES - 1 or not _retryable(exc):
                raise
            delay = min(2.0, 0.01 * 2**attempt) * (0.5 + random.random())
            log.debug("retrying a registry write after %s (attempt %d)", exc.orig, attempt + 1)
            time.sleep(delay)
    raise AssertionError("unreachable")
