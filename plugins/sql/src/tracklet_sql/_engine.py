"""Engines for tracking URIs: driver defaults, sqlite tuning, fork safety, retried writes.

* ``postgresql://`` uses psycopg 3 and ``mysql://`` PyMySQL unless the URI names a
  driver (``postgresql+psycopg2://``, ``mysql+mysqldb://``).
* sqlite runs in WAL mode (readers never block the writer), with a 60 s busy timeout,
  ``synchronous=NORMAL`` (a killed process loses nothing it committed; a power cut
  may lose the last commits), foreign keys on, case-sensitive ``LIKE``, reads
  through a 256 MiB memory map and the write-ahead log copied back into the database
  (checkpointed) every :data:`_SQLITE_WAL_AUTOCHECKPOINT_PAGES` pages, not sqlite's 1,000. Write
  transactions start with ``BEGIN IMMEDIATE`` so two writers queue on the busy
  timeout instead of failing with "database is locked" when a read turns into a write.
* A process forked after using an engine drops the inherited pooled connections
  (their sockets and sqlite handles belong to the parent; they are kept referenced,
  never closed or finalised in the child) and opens its own. A fork also waits until no
  thread is inside sqlite: a thread holding one of SQLite's library-wide mutexes at the
  moment of the fork would leave it locked forever in the child (see :class:`_ForkGate`).
* :func:`write` runs a function in a write transaction and retries it when the
  database reports a deadlock, a serialization failure or a lock timeout.
"""

from __future__ import annotations

import collections
import logging
import os
import random
import threading
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, OperationalError
from sqlalchemy.pool import QueuePool, StaticPool
from sqlalchemy.util import queue as sqla_queue

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

if TYPE_CHECKING:
    import sqlite3  # imported by SQLAlchemy's sqlite dialect, in sqlite processes only

__all__ = ["dialect_name", "make_engine", "shared_engine", "write"]

log = logging.getLogger(__name__)
T = TypeVar("T")

_DEFAULT_DRIVERS = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}
_SQLITE_BUSY_TIMEOUT_S = 60.0
_SQLITE_MMAP_BYTES = 256 * 1024 * 1024
#: WAL pages after which a commit checkpoints. A ``log_batch`` of 100 metrics rewrites
#: ~150 pages (one leaf per metric key), the same ones call after call: at sqlite's 1,000 a
#: checkpoint (two fsyncs, every distinct page copied) came every ~7 commits; at 4,000 it
#: comes every ~27 and copies each hot page once for all of them: CPU per such call
#: -9 to -10% (1.61-1.65 -> 1.47-1.49 ms mean, thread CPU, A/B in one process). 4,000
#: frames stay within the first block of the WAL's index (4,062), so a read looks a page
#: up in one hash table, as before; a search over 2,000 runs right after loading them
#: (the WAL holding most of the database) measured +2% CPU (5.23 -> 5.32 ms).
_SQLITE_WAL_AUTOCHECKPOINT_PAGES = 4000
_ENGINES: weakref.WeakSet[sa.Engine] = weakref.WeakSet()
#: In a forked child: the parent's pools, kept so that nothing finalises its connections.
_INHERITED_POOLS: list[Any] = []
#: Seconds a fork waits for threads to leave sqlite before it goes ahead regardless.
_FORK_WAIT_S = 10.0
_WRITE = {"sqlite_begin": "BEGIN IMMEDIATE"}
_RETRIES = 8
#: Seconds a pooled server connection may sit idle before its next use checks it first.
_PING_IDLE_S = 2.0
#: PostgreSQL drivers whose SQLAlchemy dialect looks the ``hstore`` type up on first connect.
_HSTORE_PROBING_DRIVERS = ("psycopg", "psycopg2", "psycopg2cffi")


def _url(uri: str) -> URL:
    try:
        url = make_url(uri)
    except ArgumentError as exc:
        raise TrackletException(f"Invalid database URI {uri!r}: {exc}", INVALID_PARAMETER_VALUE) from None
    backend = url.get_backend_name()
    if backend == "mariadb":
        backend = "mysql"
    if url.drivername in _DEFAULT_DRIVERS:
        url = url.set(drivername=_DEFAULT_DRIVERS[url.drivername])
    if backend == "mysql" and "charset" not in url.query:
        url = url.update_query_dict({"charset": "utf8mb4"})
    return url


def dialect_name(engine: sa.Engine | sa.Connection) -> str:
    """``"sqlite"``, ``"postgresql"`` or ``"mysql"`` (MariaDB included)."""
    name = engine.dialect.name
    return "mysql" if name == "mariadb" else name


def make_engine(uri: str) -> sa.Engine:
    """An engine for a tracking URI, tuned for its dialect."""
    url = _url(uri)
    backend = url.get_backend_name()
    if backend == "sqlite":
        engine = _sqlite_engine(url)
    elif backend in ("postgresql", "mysql", "mariadb"):
        options: dict[str, Any] = {"pool_recycle": 3600}
        if backend != "postgresql":
            # MySQL's REPEATABLE READ takes gap locks that deadlock concurrent batch writers.
            options["isolation_level"] = "READ COMMITTED"
        elif url.get_driver_name() in _HSTORE_PROBING_DRIVERS:
            # No table of tracklet (or of MLflow's schema) has an hstore column: the dialect's
            # lookup of the type on first connect (a savepoint, a pg_type query, a release:
            # three round trips in every new process) would find nothing it uses.
            options["use_native_hstore"] = False
        try:
            engine = sa.create_engine(url, **options)
        except ModuleNotFoundError as exc:
            extra = "postgres" if backend == "postgresql" else "mysql"
            raise TrackletException(
                f"The database driver for {url.drivername!r} is not installed ({exc.name}). "
                f'Install it with: pip install "tracklet-sql[{extra}]"',
                INVALID_PARAMETER_VALUE,
            ) from None
        _ping_when_idle(engine)
    else:
        raise TrackletException(
            f"tracklet-sql does not serve {backend!r} databases; use sqlite, postgresql or mysql.",
            INVALID_PARAMETER_VALUE,
        )
    _ENGINES.add(engine)
    return engine


def _ping_when_idle(engine: sa.Engine) -> None:
    """Check a pooled server connection before use only when it has sat idle in the pool
    for :data:`_PING_IDLE_S` or more (a server restart, an idle timeout of the server or of
    a proxy between); a dead one is replaced before the call uses it. SQLAlchemy's
    ``pool_pre_ping`` would check at every checkout: one more round trip for every call,
    which a burst of calls (a training loop logging, a server under load) does not need.
    A connection lost in the middle of a burst fails that call; writes retry it
    (:func:`write`)."""

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < _PING_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except Exception as exc:  # noqa: BLE001 - any failure means the connection is gone
            raise DisconnectionError(f"a pooled connection failed its liveness check: {exc}") from exc


def _sqlite_engine(url: URL) -> sa.Engine:
    database = url.database or ""
    memory = database in ("", ":memory:") or database.startswith("file::memory:")
    options: dict[str, Any] = {
        "connect_args": {"timeout": _SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    }
    if memory:
        # one shared connection, or every checkout would see its own empty database
        options["poolclass"] = StaticPool
    else:
        folder = os.path.dirname(os.path.abspath(database))
        if not os.path.isdir(folder):
            raise TrackletException(
                f"Cannot open sqlite database {database!r}: folder {folder!r} does not exist. "
                "Create it first, or point the tracking URI at an existing folder.",
                INVALID_PARAMETER_VALUE,
            )
        options["poolclass"] = _ForkGatedPool
    engine = sa.create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        # Take transaction control from the driver: _on_begin emits BEGIN itself.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        if not memory:
            _enable_wal(cursor)
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA case_sensitive_like=ON")
        # temporary files in memory: a multi-row insert (log_batch's, tracklet_sql._write)
        # keeps the old content of each page it changes in a statement journal, to undo
        # itself alone; past 64 KiB sqlite spilled it to a temp file, a write() per page
        # (~650 per 1,000-point batch, ~30% of its CPU time). Not needed for durability.
        cursor.execute("PRAGMA temp_store=MEMORY")
        if not memory:
            # reads through a memory map skip a read() call per page: searches ~20% faster
            cursor.execute(f"PRAGMA mmap_size={_SQLITE_MMAP_BYTES}")
            cursor.execute(f"PRAGMA wal_autocheckpoint={_SQLITE_WAL_AUTOCHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))

    return engine


class _ForkGate:
    """Keeps ``os.fork()`` out of sqlite.

    SQLite's library-wide mutexes (the unix VFS's, the shared-memory index's) are held
    for microseconds inside each call, with the GIL released; a fork in that instant
    copies one locked into the child, which then hangs on its first connect. Threads are
    *inside* from taking a pooled connection until they give it back (creating and
    closing connections included); a fork waits until none is, for at most
    :data:`_FORK_WAIT_S` (a thread holding a connection that long is not expected), and
    holds new ones back until it is done.

    Every pooled checkout and return passes here, so the common case (no fork under way)
    is one plain lock held for a counter's update; the condition built on that lock is
    waited on and notified only while a fork is under way.
    """

    def __init__(self) -> None:
        self._start_afresh()

    def _start_afresh(self) -> None:
        """No thread inside, no fork under way, new (unheld) lock and condition."""
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a fork's start, end, or last leaver
        self._inside = 0
        self._forking = False

    def enter(self) -> None:
        with self._lock:
            while self._forking:
                self._changed.wait()
            self._inside += 1

    def leave(self) -> None:
        with self._lock:
            self._inside -= 1
            if self._forking and not self._inside:
                self._changed.notify_all()

    def before_fork(self) -> None:
        self._lock.acquire()  # held through the fork: released in the parent, replaced in the child
        self._forking = True
        self._changed.wait_for(lambda: not self._inside, _FORK_WAIT_S)

    def after_fork_in_parent(self) -> None:
        self._forking = False
        self._changed.notify_all()
        self._lock.release()

    def after_fork_in_child(self) -> None:
        # the child's only thread is the one that forked, outside sqlite
        self._start_afresh()


_SQLITE_GATE = _ForkGate()


class _PoolQueue(sqla_queue.Queue[Any]):
    """QueuePool's queue of idle connections with its common paths on the mutex alone.

    SQLAlchemy's queue enters a condition and notifies another on every get and put. A
    QueuePool only ever puts without blocking (a full queue closes the connection), so no
    thread waits for room and a get has no one to notify; a put notifies only when a
    thread waits for a connection (the pool at its limit), which takes the queue's own path.
    """

    def __init__(self, maxsize: int = 0, use_lifo: bool = False) -> None:
        super().__init__(maxsize, use_lifo)
        self._waiting = 0

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        with self.mutex:
            if self.queue:
                return self.queue.pop() if self.use_lifo else self.queue.popleft()
            if not block:
                raise sqla_queue.Empty
            self._waiting += 1
            try:
                return super().get(block, timeout)  # the mutex is re-entrant; waiting releases it
            finally:
                self._waiting -= 1

    def put(self, item: Any, block: bool = True, timeout: float | None = None) -> None:
        if block:
            super().put(item, block, timeout)
            return
        with self.mutex:
            if self._full():
                raise sqla_queue.Full
            self.queue.append(item)
            if self._waiting:
                self.not_empty.notify()


class _ForkGatedPool(QueuePool):
    """QueuePool whose connections are inside :data:`_SQLITE_GATE` while checked out."""

    _queue_class = _PoolQueue

    _getting = threading.local()  # QueuePool._do_get calls itself when it must retry

    def _do_get(self) -> Any:
        if getattr(self._getting, "active", False):
            return super()._do_get()
        _SQLITE_GATE.enter()
        self._getting.active = True
        try:
            return super()._do_get()
        except BaseException:
            _SQLITE_GATE.leave()
            raise
        finally:
            self._getting.active = False

    def _do_return_conn(self, record: Any) -> None:
        try:
            super()._do_return_conn(record)
        finally:
            _SQLITE_GATE.leave()


def _after_fork_in_child() -> None:
    _SQLITE_GATE.after_fork_in_child()
    for engine in list(_ENGINES):
        _INHERITED_POOLS.append(engine.pool)
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_SQLITE_GATE.before_fork,
        after_in_parent=_SQLITE_GATE.after_fork_in_parent,
        after_in_child=_after_fork_in_child,
    )


def _retryable(exc: DBAPIError) -> bool:
    """Deadlocks, serialization failures and lock timeouts: the transaction can simply run again."""
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if code in ("40001", "40P01", "55P03"):
        return True
    args = getattr(orig, "args", ())
    if args and args[0] in (1205, 1213):  # MySQL lock wait timeout, deadlock
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(orig)


def write(engine: sa.Engine, fn: Callable[[sa.Connection], T]) -> T:
    """Run ``fn(connection)`` in one write transaction, retrying on deadlocks and lock timeouts.

    ``fn`` must be safe to run again (it is, when it only reads and writes through the
    connection it is given): a retried attempt starts from a rolled-back transaction.
    """
    for attempt in range(_RETRIES):
        try:
            with engine.connect().execution_options(**_WRITE) as connection, connection.begin():
                return fn(connection)
        except DBAPIError as exc:
            if attempt == _RETRIES - 1 or not _retryable(exc):
                raise
            delay = min(2.0, 0.01 * 2**attempt) * (0.5 + random.random())
            log.debug("retrying a write after %s (attempt %d, sleeping %.3f s)", exc.orig, attempt + 1, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")


def _enable_wal(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL, waiting for other connections as a write would.

    Changing the journal mode needs the file to itself, and sqlite answers "database is
    locked" at once, without its busy timeout, when another process holds it (seen with
    8 processes opening a new file together). WAL is persistent: once any connection
    has switched, the others find it set and the pragma returns at once.
    """
    import sqlite3  # already loaded by the sqlite dialect; not imported by server processes

    deadline = time.monotonic() + _SQLITE_BUSY_TIMEOUT_S
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay * random.uniform(0.5, 1.5))
        delay = min(delay * 2, 0.2)


#: How many databases keep a shared engine (and its pooled connections) at once; the
#: least recently opened beyond this is disposed (its connections closed; an engine still
#: in a store's hands reconnects on its next use), so a process that touches many databases
#: — a long test session, a notebook walking through projects — does not run out of file
#: descriptors.
MAX_SHARED_ENGINES = 32
_shared: collections.OrderedDict[str, sa.Engine] = collections.OrderedDict()
_shared_lock = threading.Lock()


def shared_engine(uri: str) -> sa.Engine:
    """This process's engine for ``uri``, the database prepared (tracklet-sql's schema and
    every plugin's migration set created or checked): what the ``tracklet_sql_engine``
    hook hands to other plugins. Built once per URI; a forked child keeps the engine and
    opens its own connections (see the module docstring)."""
    engine = _shared.get(uri)
    if engine is not None:
        return engine
    with _shared_lock:
        engine = _shared.get(uri)
        if engine is None:
            from ._migrations import prepare_database

            engine = make_engine(uri)
            try:
                prepare_database(engine)
            except BaseException:
                engine.dispose()
                raise
            _shared[uri] = engine
            while len(_shared) > MAX_SHARED_ENGINES:
                _shared.popitem(last=False)[1].dispose()
    return engine


def _new_shared_lock_in_child() -> None:
    global _shared_lock
    _shared_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_shared_lock_in_child)
