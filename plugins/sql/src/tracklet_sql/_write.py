"""The three kinds of bulk write the store needs, in each dialect's own words.

* :func:`insert_ignore`: insert rows, skipping any whose key exists (metric history
  points, dataset links): a re-sent batch neither fails nor duplicates.
* :func:`upsert`: insert rows, overwriting the non-key columns of existing ones (tags).
* :func:`raise_latest`: fold points into ``latest_metrics``, replacing a row only by a
  point with a larger ``(step, timestamp, value)``, MLflow's rule for the latest value.

Each is one executemany statement (two for ``raise_latest`` on MySQL, which has no
conditional upsert), built once per dialect and table.

On sqlite (sqlite3) and PostgreSQL (psycopg 3), ``log_batch`` and ``create_run`` skip
SQLAlchemy's execution layer: :func:`driver_write` runs them on the pooled driver
connection (same transaction rules and retries as :func:`tracklet_sql._engine.write`),
with the statements of :func:`batch_sql` and :func:`insert_sql`; :func:`pipeline` sends
a batch's statements to PostgreSQL in one round trip. A batch's metric points are
columns (:func:`metric_points`), written by :func:`write_points`: on sqlite a few
multi-row ``VALUES`` statements, on PostgreSQL one ``unnest`` per table.
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache, lru_cache
from itertools import repeat
from typing import Any, NamedTuple, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from tracklet.validation import metric_columns

from ._engine import _RETRIES, _retryable, dialect_name

__all__ = [
    "LATEST_COLUMNS",
    "BatchPoints",
    "BatchSql",
    "Points",
    "batch_sql",
    "driver_write",
    "has_driver_path",
    "insert_ignore",
    "insert_ignore_tuples",
    "insert_sql",
    "max_values_rows",
    "metric_points",
    "missing_parent",
    "pipeline",
    "raise_latest",
    "upsert",
    "write_points",
]

T = TypeVar("T")
Rows = Sequence[Mapping[str, Any]]
_NATIVE_UPSERT = ("sqlite", "postgresql")


def _native_insert(dialect: str, table: sa.Table) -> Any:
    """The dialect's own ``insert()`` (with ``on_conflict_*``), imported on first use: a
    sqlite user never pays for importing the PostgreSQL and MySQL dialects."""
    if dialect == "postgresql":
        from sqlalchemy.dialects import postgresql

        return postgresql.insert(table)
    if dialect == "mysql":
        from sqlalchemy.dialects import mysql

        return mysql.insert(table)
    from sqlalchemy.dialects import sqlite

    return sqlite.insert(table)


def _key_columns(table: sa.Table) -> list[str]:
    return [c.name for c in table.primary_key.columns]


@lru_cache(maxsize=64)
def _insert_ignore(dialect: str, table: sa.Table) -> sa.Executable:
    if dialect == "postgresql":
        return _native_insert(dialect, table).on_conflict_do_nothing()
    if dialect == "sqlite":
        return table.insert().prefix_with("OR IGNORE")
    return table.insert().prefix_with("IGNORE")


def insert_ignore(conn: sa.Connection, table: sa.Table, rows: Rows) -> None:
    """Insert ``rows``, skipping those whose primary or unique key is already stored."""
    if rows:
        conn.execute(_insert_ignore(dialect_name(conn), table), list(rows))


class DriverSql(NamedTuple):
    """A statement in the driver's own terms, for rows given as tuples of some columns."""

    sql: str
    positional: bool  # positional parameters (else named, by column key)
    #: For positional parameters not in the rows' column order (the table's order differs,
    #: as in MLflow's tables): the index in a row of each parameter. None: the rows' order.
    order: tuple[int, ...] | None


def driver_sql(compiled: Any, columns: tuple[str, ...]) -> DriverSql:
    """The :class:`DriverSql` of an insert compiled with ``column_keys=columns``."""
    order = None
    if compiled.positional:
        positions = tuple(compiled.positiontup or ())
        assert sorted(positions) == sorted(columns), "unexpected parameters"
        if positions != columns:
            order = tuple(columns.index(p) for p in positions)
    return DriverSql(compiled.string, compiled.positional, order)


@lru_cache(maxsize=64)
def _compiled_insert_ignore(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> DriverSql:
    """The driver-level SQL of an insert-if-absent of ``columns``."""
    name = "mysql" if dialect.name == "mariadb" else dialect.name
    compiled = _insert_ignore(name, table).compile(dialect=dialect, column_keys=list(columns))
    return driver_sql(compiled, columns)


def insert_ignore_tuples(
    conn: sa.Connection, table: sa.Table, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    """:func:`insert_ignore` for many rows given as tuples of ``columns``.

    The hot path of ``log_batch``: the statement is compiled once per dialect and the rows
    go straight to the driver's ``executemany``, skipping SQLAlchemy's per-row parameter
    processing (a third of a 1,000-point batch's time otherwise).
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql" and len(rows) > 1:
        # one statement over arrays instead of one per row: 3-4x faster for 1,000 rows
        _unnest_insert(conn, table, columns, rows, "ON CONFLICT DO NOTHING")
        return
    _executemany(conn, _compiled_insert_ignore(conn.dialect, table, columns), columns, rows)


def _executemany(
    conn: sa.Connection, statement: DriverSql, columns: tuple[str, ...], rows: Sequence[tuple[Any, ...]]
) -> None:
    if not statement.positional:
        conn.exec_driver_sql(statement.sql, [dict(zip(columns, row, strict=True)) for row in rows])
    elif statement.order is None:
        conn.exec_driver_sql(statement.sql, list(rows))
    else:
        order = statement.order
        conn.exec_driver_sql(statement.sql, [tuple(row[i] for i in order) for row in rows])


def _unnest_insert(
    conn: sa.Connection,
    table: sa.Table,
    columns: tuple[str, ...],
    rows: Sequence[tuple[Any, ...]],
    conflict: str,
) -> None:
    arrays = {f"c{i}": [row[i] for row in rows] for i in range(len(columns))}
    conn.exec_driver_sql(_unnest_sql(conn.dialect, table, columns) + " " + conflict, arrays)


@lru_cache(maxsize=16)
def _unnest_sql(dialect: sa.Dialect, table: sa.Table, columns: tuple[str, ...]) -> str:
    """PostgreSQL: ``INSERT … SELECT * FROM unnest(<one array per column>)``."""
    preparer = dialect.identifier_preparer
    names = ", ".join(preparer.quote(table.c[c].name) for c in columns)
    arrays = ", ".join(
        f"%(c{i})s::{table.c[c].type.compile(dialect=dialect)}[]" for i, c in enumerate(columns)
    )
    return f"INSERT INTO {preparer.format_table(table)} ({names}) SELECT * FROM unnest({arrays})"


@lru_cache(maxsize=64)
def _upsert(dialect: str, table: sa.Table, columns: tuple[str, ...]) -> sa.Executable:
    if dialect == "mysql":
        statement = _native_insert(dialect, table)
        return statement.on_duplicate_key_update({c: statement.inserted[c] for c in columns})
    native = _native_insert(dialect, table)
    return native.on_conflict_do_update(
        index_elements=_key_columns(table), set_={c: native.excluded[c] for c in columns}
    )


def upsert(conn: sa.Connection, table: sa.Table, rows: Rows, columns: Sequence[str]) -> None:
    """Insert ``rows``; where the primary key exists, overwrite ``columns`` instead."""
    if rows:
        conn.execute(_upsert(dialect_name(conn), table, tuple(columns)), list(rows))


_POINT = ("step", "timestamp", "value", "nonfinite")


@lru_cache(maxsize=8)
def _raise_latest(dialect: str, latest: sa.Table) -> tuple[sa.Executable, ...]:
    if dialect in _NATIVE_UPSERT:
        native = _native_insert(dialect, latest)
        new, old = native.excluded, latest.c
        larger = sa.tuple_(new.step, new.timestamp, new.value) > sa.tuple_(old.step, old.timestamp, old.value)
        return (
            native.on_conflict_do_update(
                index_elements=["run_uuid", "key"], set_={old[c]: new[c] for c in _POINT}, where=larger
            ),
        )
    # MySQL evaluates ON DUPLICATE KEY UPDATE assignments left to right, each seeing the
    # previous ones, so a conditional upsert of four columns cannot be written there.
    b = {c: sa.bindparam(f"b_{c}") for c in ("run_uuid", "key", *_POINT)}
    c = latest.c
    larger = sa.or_(
        c.step < b["step"],
        sa.and_(c.step == b["step"], c.timestamp < b["timestamp"]),
        sa.and_(c.step == b["step"], c.timestamp == b["timestamp"], c.value < b["value"]),
    )
    update = (
        latest.update()
        .where(c.run_uuid == b["run_uuid"], c.key == b["key"], larger)
        .values({c[name]: b[name] for name in _POINT})
    )
    return (_insert_ignore(dialect, latest), update)


#: The columns of a point handed to :func:`raise_latest`, in order.
LATEST_COLUMNS = ("run_uuid", "key", "step", "timestamp", "value", "nonfinite")


@lru_cache(maxsize=8)
def _pg_raise(latest: sa.Table) -> str:
    """PostgreSQL: the conflict clause of :func:`raise_latest` (``nonfinite`` by its name)."""
    nonfinite = latest.c.nonfinite.name
    return (
        "ON CONFLICT (run_uuid, key) DO UPDATE SET step = excluded.step, timestamp = excluded.timestamp, "
        f"value = excluded.value, {nonfinite} = excluded.{nonfinite} "
        "WHERE (excluded.step, excluded.timestamp, excluded.value) "
        "> (latest_metrics.step, latest_metrics.timestamp, latest_metrics.value)"
    )


@lru_cache(maxsize=8)
def _compiled_raise(dialect: sa.Dialect, latest: sa.Table) -> DriverSql:
    compiled = _raise_latest("sqlite", latest)[0].compile(dialect=dialect, column_keys=list(LATEST_COLUMNS))
    return driver_sql(compiled, LATEST_COLUMNS)


def raise_latest(conn: sa.Connection, latest: sa.Table, rows: Sequence[tuple[Any, ...]]) -> None:
    """Fold points, tuples of :data:`LATEST_COLUMNS` (at most one per run and key), into
    the ``latest`` table (``latest_metrics``): a stored row is replaced only by a larger point."""
    if not rows:
        return
    dialect = dialect_name(conn)
    if dialect == "postgresql":
        _unnest_insert(conn, latest, LATEST_COLUMNS, rows, _pg_raise(latest))
    elif dialect == "sqlite":
        _executemany(conn, _compiled_raise(conn.dialect, latest), LATEST_COLUMNS, rows)
    else:
        insert, update = _raise_latest(dialect, latest)
        dicts = [dict(zip(LATEST_COLUMNS, row, strict=True)) for row in rows]
        conn.execute(insert, dicts)
        conn.execute(update, [{f"b_{k}": v for k, v in row.items()} for row in dicts])


# -- log_batch on the driver's own connection -------------------------------------------------------
#
# On sqlite (sqlite3) and PostgreSQL (psycopg 3) a log_batch runs its statements on the pooled
# DBAPI connection itself: SQLAlchemy's per-statement work (the execution context, result
# set-up, events) was most of a single log_metric's time on sqlite (~120 of 180 us).

#: The (dialect, driver) pairs :func:`driver_write` serves; others take SQLAlchemy's path.
_DRIVER_PATH = {("sqlite", "pysqlite"), ("postgresql", "psycopg")}


def has_driver_path(engine: sa.Engine) -> bool:
    """Whether ``log_batch`` can run on ``engine``'s driver connection (:class:`BatchSql`)."""
    return (engine.dialect.name, engine.dialect.driver) in _DRIVER_PATH


def driver_write(engine: sa.Engine, fn: Callable[[Any], T]) -> T:
    """Run ``fn(cursor)`` in one write transaction on a pooled driver connection.

    As :func:`tracklet_sql._engine.write` does: sqlite's transaction starts with ``BEGIN
    IMMEDIATE``; a deadlock, serialization failure, lock timeout or lost connection runs
    ``fn`` again (it must be safe to repeat); a driver error leaves as SQLAlchemy's
    wrapper (:class:`sqlalchemy.exc.DBAPIError`), any error after a rollback.
    """
    dialect = engine.dialect
    driver_error = dialect.loaded_dbapi.Error
    begin = "BEGIN IMMEDIATE" if dialect.name == "sqlite" else None
    for attempt in range(_RETRIES):
        fairy = engine.raw_connection()  # checked out from the pool (and its fork gate)
        cursor = None
        try:
            cursor = fairy.cursor()
            if begin:
                cursor.execute(begin)
            result = fn(cursor)
            fairy.commit()
            return result
        except driver_error as exc:
            lost = dialect.is_disconnect(exc, fairy.dbapi_connection, cursor)
            _rollback(fairy, lost)
            wrapped = DBAPIError.instance(
                None, None, exc, driver_error, connection_invalidated=lost, dialect=dialect
            )
            if attempt == _RETRIES - 1 or not (isinstance(wrapped, DBAPIError) and _retryable(wrapped)):
                raise wrapped from exc
        except BaseException:
            _rollback(fairy, False)
            raise
        finally:
            if cursor is not None:
                with contextlib.suppress(Exception):
                    cursor.close()
            fairy.close()  # back to the pool
        time.sleep(min(2.0, 0.01 * 2**attempt) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def pipeline(cursor: Any) -> contextlib.AbstractContextManager[Any]:
    """psycopg: a pipeline (statements sent without waiting for answers, errors raised on
    leaving it); sqlite3 runs each statement at once."""
    connection = cursor.connection
    if hasattr(connection, "pipeline"):
        return _pipeline(connection)
    return contextlib.nullcontext()


@contextlib.contextmanager
def _pipeline(connection: Any) -> Iterator[None]:
    """``connection.pipeline()``, closed quietly after an error inside it (psycopg would log
    a warning that the pipeline was aborted, the error's consequence); the error is raised."""
    pipe = connection.pipeline()
    pipe.__enter__()
    try:
        yield
    except BaseException:
        with contextlib.suppress(Exception):
            pipe.__exit__(None, None, None)
        raise
    pipe.__exit__(None, None, None)


def missing_parent(exc: BaseException) -> bool:
    """Whether a driver error is a foreign-key violation (a row's run does not exist)."""
    if getattr(exc, "sqlstate", None) == "23503":  # psycopg
        return True
    # sqlite3 is looked up, not imported: a PostgreSQL process never loads it (7.6M
    # instructions), and an error can only come from it once something else has.
    sqlite3 = sys.modules.get("sqlite3")
    return (
        sqlite3 is not None
        and isinstance(exc, sqlite3.IntegrityError)
        and "FOREIGN KEY constraint failed" in str(exc)
    )


def _rollback(fairy: Any, lost: bool) -> None:
    if lost:
        fairy.invalidate()
        return
    try:
        fairy.rollback()
    except Exception:
        fairy.invalidate()  # a connection that cannot roll back is not given to anyone else


class BatchSql(NamedTuple):
    """``log_batch``'s statements in the driver's SQL, parameters positional in the
    order the names say (``%s`` for psycopg, ``?`` for sqlite3)."""

    #: (experiment_id) -> (lifecycle_stage, artifact_location)
    experiment: str
    #: (run_uuid) -> lifecycle_stage
    run_stage: str
    #: one row of :data:`LATEST_COLUMNS` into ``metrics``, skipped if stored
    metric: str
    #: one row of :data:`LATEST_COLUMNS` into ``latest_metrics``, replacing a smaller point
    latest: str
    #: PostgreSQL: as ``metric`` and ``latest`` for many rows (``unnest``), parameters in
    #: psycopg's binary format: (run id, then one array per other column) and, for points
    #: of one step, timestamp and flag (:func:`_shared`), (run id, step, timestamp, flag,
    #: keys, values)
    metric_arrays: tuple[str, str] | None
    latest_arrays: tuple[str, str] | None
    #: sqlite: as ``metric`` and ``latest`` for many rows, the text before and after the
    #: rows of a multi-row ``VALUES`` (:func:`write_points`)
    metric_values: tuple[str, str] | None
    latest_values: tuple[str, str] | None
    #: (run_uuid, key, value) into ``params``, skipped if stored
    param: str
    #: (run_uuid, keys...) -> (key, value) of the run's params of those keys; ``{keys}``
    #: is one placeholder per key on sqlite, one array on PostgreSQL
    param_values: str
    #: (run_uuid, key, value) into ``tags``, replacing the value
    tag: str
    #: (name, run_uuid) -> the run renamed
    rename: str


@lru_cache(maxsize=16)
def batch_sql(dialect: sa.Dialect, schema: Any) -> BatchSql:
    """The :class:`BatchSql` of ``schema``'s tables (a :class:`~tracklet_sql._schemas.Schema`)."""
    pg = dialect.name == "postgresql"
    prep = dialect.identifier_preparer
    mark = "%s" if pg else "?"

    def names(table: sa.Table, keys: Sequence[str]) -> str:
        return ", ".join(prep.quote(table.c[k].name) for k in keys)

    def insert(table: sa.Table, keys: Sequence[str], conflict: str, marks: str = "") -> str:
        verb = "INSERT" if pg or conflict else "INSERT OR IGNORE"
        marks = marks or f"({', '.join([mark] * len(keys))})"
        tail = conflict or ("ON CONFLICT DO NOTHING" if pg else "")
        return f"{verb} INTO {prep.format_table(table)} ({names(table, keys)}) VALUES {marks} {tail}".rstrip()

    def values(table: sa.Table, conflict: str) -> tuple[str, str] | None:
        if pg:
            return None
        head, tail = insert(table, LATEST_COLUMNS, conflict, "\0").split("\0")
        return head, tail

    def arrays(table: sa.Table, conflict: str) -> tuple[str, str]:
        # binary parameters (%b): psycopg dumps a list of 1,000 floats or strings in C,
        # where text arrays cost it ~5x more CPU; the run id is one value, not an array
        cast = {k: table.c[k].type.compile(dialect=dialect) for k in LATEST_COLUMNS}
        head = f"INSERT INTO {prep.format_table(table)} ({names(table, LATEST_COLUMNS)}) SELECT %b::{cast['run_uuid']}, "
        tail = " " + (conflict or "ON CONFLICT DO NOTHING")
        every = ", ".join(f"%b::{cast[k]}[]" for k in LATEST_COLUMNS[1:])
        shared = f"%b::{cast['step']}, %b::{cast['timestamp']}, p.v, %b::{cast['nonfinite']}"
        return (
            f"{head}p.* FROM unnest({every}) AS p{tail}",
            f"{head}p.k, {shared} FROM unnest(%b::{cast['key']}[], %b::{cast['value']}[]) AS p(k, v){tail}",
        )

    def col(table: sa.Table, key: str) -> str:
        return prep.quote(table.c[key].name)

    runs, params, tags = schema.runs, schema.params, schema.tags
    latest_table = schema.latest_metrics
    lt = prep.format_table(latest_table)
    point = [col(latest_table, k) for k in ("step", "timestamp", "value")]
    raise_point = (
        f"ON CONFLICT ({names(latest_table, ('run_uuid', 'key'))}) DO UPDATE SET "
        + ", ".join(f"{col(latest_table, k)} = excluded.{col(latest_table, k)}" for k in _POINT)
        + f" WHERE ({', '.join(f'excluded.{p}' for p in point)}) > ({', '.join(f'{lt}.{p}' for p in point)})"
    )
    pt = prep.format_table(params)
    in_keys = f"= ANY({mark})" if pg else "IN ({keys})"
    experiments = schema.experiments
    return BatchSql(
        experiment=f"SELECT {col(experiments, 'lifecycle_stage')}, {col(experiments, 'artifact_location')} "
        f"FROM {prep.format_table(experiments)} WHERE {col(experiments, 'experiment_id')} = {mark}",
        run_stage=f"SELECT {col(runs, 'lifecycle_stage')} FROM {prep.format_table(runs)} "
        f"WHERE {col(runs, 'run_uuid')} = {mark}",
        metric=insert(schema.metrics, LATEST_COLUMNS, ""),
        latest=insert(latest_table, LATEST_COLUMNS, raise_point),
        metric_arrays=arrays(schema.metrics, "") if pg else None,
        latest_arrays=arrays(latest_table, raise_point) if pg else None,
        metric_values=values(schema.metrics, ""),
        latest_values=values(latest_table, raise_point),
        param=insert(params, ("run_uuid", "key", "value"), ""),
        param_values=f"SELECT {col(params, 'key')}, {col(params, 'value')} FROM {pt} "
        f"WHERE {col(params, 'run_uuid')} = {mark} AND {col(params, 'key')} {in_keys}",
        tag=insert(
            tags,
            ("run_uuid", "key", "value"),
            f"ON CONFLICT ({names(tags, ('run_uuid', 'key'))}) DO UPDATE SET "
            f"{col(tags, 'value')} = excluded.{col(tags, 'value')}",
        ),
        rename=f"UPDATE {prep.format_table(runs)} SET {col(runs, 'name')} = {mark} "
        f"WHERE {col(runs, 'run_uuid')} = {mark}",
    )


@lru_cache(maxsize=32)
def insert_sql(dialect: sa.Dialect, table: sa.Table, keys: tuple[str, ...]) -> str:
    """A plain one-row insert of the columns ``keys`` in the driver's SQL (positional)."""
    prep = dialect.identifier_preparer
    mark = "%s" if dialect.name == "postgresql" else "?"
    columns = ", ".join(prep.quote(table.c[k].name) for k in keys)
    return f"INSERT INTO {prep.format_table(table)} ({columns}) VALUES ({', '.join([mark] * len(keys))})"


# -- a batch's metric points ------------------------------------------------------------------------


class Points(NamedTuple):
    """Metric points of one run as columns: :data:`LATEST_COLUMNS` after ``run_uuid``.

    Columns because every writer wants them so: PostgreSQL binds one array per column,
    sqlite one flat parameter list filled by column, and neither pays for tuples per point.
    """

    keys: list[str]
    steps: list[int]
    timestamps: list[int]
    values: list[float]
    nonfinite: list[Any]

    def rows(self, run_id: str) -> list[tuple[Any, ...]]:
        """One tuple of :data:`LATEST_COLUMNS` per point."""
        return list(zip(repeat(run_id), *self))


class BatchPoints(NamedTuple):
    """A batch's points for ``metrics`` (each distinct point once) and for
    ``latest_metrics`` (each key's largest point: the same object when no key repeats)."""

    history: Points
    latest: Points


_INT, _FLOAT = frozenset({int}), frozenset({float})


def metric_points(metrics: Sequence[Any], encode: Callable[[float], tuple[float, Any]]) -> BatchPoints:
    """The :class:`BatchPoints` of validated metrics, values stored as ``encode`` says (the
    schema's ``encode_value``: NaN and infinities have their own form).

    Equal to building one ``(key, int(step), int(timestamp), *encode(float(value)))``
    tuple per metric and dropping repeats, at 60% of the cost (1,000 metrics: 3.9 instead
    of 6.6 million instructions): the conversions and checks run over whole columns in C.
    Only a batch where a key repeats takes the per-point path.
    """
    if not metrics:
        empty = Points([], [], [], [], [])
        return BatchPoints(empty, empty)
    # the columns validation read (a MetricBatch keeps them), else read here once
    keys, values, stamps, steps, plain = metric_columns(metrics)
    # numpy integers and floats, int values: as the driver must see them (``plain``:
    # validation found floats and ints only)
    if not plain and set(map(type, steps)) != _INT:
        steps = [int(s) for s in steps]
    if not plain and set(map(type, stamps)) != _INT:
        stamps = [int(t) for t in stamps]
    total = sum(values) if plain or set(map(type, values)) == _FLOAT else None
    if total is not None and total - total == 0:  # every value finite (inf - inf is nan)
        nonfinite = [encode(0.0)[1]] * len(values)
    else:
        encoded = [encode(float(v)) for v in values]
        values, nonfinite = [e[0] for e in encoded], [e[1] for e in encoded]
    history = Points(keys, steps, stamps, values, nonfinite)
    if len(set(keys)) == len(keys):
        return BatchPoints(history, history)  # one point per key (the usual batch): each its key's latest
    return _repeated_keys(history)


def _repeated_keys(points: Points) -> BatchPoints:
    """:func:`metric_points` for a batch where a key repeats: a repeated point is stored
    once, and each key's latest is its largest ``(step, timestamp, value)``, the first of equals."""
    rows = list(dict.fromkeys(zip(*points, strict=True)))
    latest: dict[str, tuple[Any, ...]] = {}
    for row in rows:
        if row[0] not in latest or row[1:4] > latest[row[0]][1:4]:
            latest[row[0]] = row
    return BatchPoints(_columns(rows), _columns(list(latest.values())))


def _columns(rows: list[tuple[Any, ...]]) -> Points:
    keys, steps, stamps, values, nonfinite = (list(c) for c in zip(*rows, strict=True))
    return Points(keys, steps, stamps, values, nonfinite)


def write_points(cursor: Any, sql: BatchSql, run_id: str, points: BatchPoints) -> None:
    """Insert ``points.history`` into ``metrics`` (a stored point is skipped) and raise
    ``latest_metrics`` to ``points.latest``, on a driver cursor (:func:`driver_write`).

    PostgreSQL: one ``unnest`` statement per table. sqlite: multi-row ``VALUES``
    statements (:func:`_chunk_sizes`) with the run id bound once (``?1``): a third fewer
    instructions than an ``executemany`` of one row at a time (1,000 points: 26 instead
    of 38 million, plain sqlite3), which opens the tables, binds and steps once per row.
    """
    if sql.metric_values is None or sql.latest_values is None:
        for arrays, one, part in (
            (sql.metric_arrays, sql.metric, points.history),
            (sql.latest_arrays, sql.latest, points.latest),
        ):
            if len(part.keys) > 1 and _shared(part):
                head = [run_id, part.steps[0], part.timestamps[0], part.nonfinite[0]]
                cursor.execute(arrays[1], [*head, part.keys, part.values])
            elif len(part.keys) > 1:
                cursor.execute(arrays[0], [run_id, *part])
            elif part.keys:
                cursor.execute(one, part.rows(run_id)[0])
        return
    chunks = _value_chunks(run_id, points.history)
    for rows, shared, params in chunks:
        cursor.execute(_values_sql(sql.metric_values, rows, shared), params)
    if points.latest is not points.history:
        chunks = _value_chunks(run_id, points.latest)
    for rows, shared, params in chunks:
        cursor.execute(_values_sql(sql.latest_values, rows, shared), params)


@cache
def max_values_rows() -> int:
    """Rows in sqlite's largest multi-row statement: 5 parameters a row and the run id, within
    sqlite's limit of bound parameters (32,766 since 3.32, 999 before). Asked only on sqlite,
    so that PostgreSQL and MySQL processes never import sqlite3."""
    import sqlite3

    return 1024 if sqlite3.sqlite_version_info >= (3, 32) else 128


def _chunk_sizes(count: int) -> list[int]:
    """The rows of each statement writing ``count`` points: powers of two, so that a dozen
    statement texts (each prepared once per connection, then found in the driver's
    statement cache) serve every batch size. The last may be larger than the points left,
    padded by repeating a point, when that adds at most 1/16 of its rows (1,000 points: one
    statement of 1,024): a repeated point changes neither table, as a re-sent batch does not."""
    sizes = []
    most = max_values_rows()
    while count > 0:
        above = 1 << (count - 1).bit_length()
        if above <= most and above - count <= above // 16:
            sizes.append(above)
            break
        size = min(most, 1 << (count.bit_length() - 1))
        sizes.append(size)
        count -= size
    return sizes


def _same(column: list[Any]) -> bool:
    """Whether every item of a non-empty column equals the first. Used on steps and
    timestamps (ints, :func:`metric_points`) and ``nonfinite`` flags, where equal items
    bind alike (False and 0 are both the integer 0 to sqlite3)."""
    return column.count(column[0]) == len(column)


def _shared(points: Points) -> bool:
    """Whether the points have one step, one timestamp and one ``nonfinite`` flag (every
    value finite): ``log_metrics`` of a training step, the usual batch, whose statements
    bind those three once (sqlite: :func:`_values_sql`; PostgreSQL: ``BatchSql.metric_arrays``)."""
    return _same(points.steps) and _same(points.timestamps) and _same(points.nonfinite)


def _value_chunks(run_id: str, points: Points) -> list[tuple[int, bool, list[Any]]]:
    """``(rows, shared, parameters)`` of each statement writing ``points``
    (:func:`_chunk_sizes`): the run id, then each point's five values, filled in by column
    (slice assignment, in C). ``shared``: the points have one step, one timestamp and one
    ``nonfinite`` (``log_metrics`` of a training step: the usual batch), bound once after the
    run id, and each point binds its key and value only (2,000 instead of 5,000 parameters
    for 1,000 points: a third fewer instructions in binding, :func:`_values_sql`)."""
    count = len(points.keys)
    shared = count > 1 and _shared(points)
    if shared:
        head = [run_id, points.steps[0], points.timestamps[0], points.nonfinite[0]]
        columns: tuple[list[Any], ...] = (points.keys, points.values)
    else:
        head, columns = [run_id], tuple(points)
    width = len(columns)
    chunks, start = [], 0
    for size in _chunk_sizes(count):
        end = min(start + size, count)
        pad = size - (end - start)
        params: list[Any] = head + [run_id] * (width * size)
        for i, column in enumerate(columns):
            part = column[start:end] + column[end - 1 : end] * pad if pad else column[start:end]
            params[len(head) + i :: width] = part
        chunks.append((size, shared, params))
        start = end
    return chunks


@lru_cache(maxsize=64)
def _values_sql(head_tail: tuple[str, str], rows: int, shared: bool = False) -> str:
    """The statement of ``head_tail`` (``BatchSql.metric_values``, ``latest_values``) for
    ``rows`` rows; ``shared``: step, timestamp and ``nonfinite`` bound once, as ``?2``-``?4``
    (every parameter numbered: a bare ``?`` after ``?4`` would take a number already used)."""
    head, tail = head_tail
    if not shared:
        return head + ", ".join(["(?1, ?, ?, ?, ?, ?)"] * rows) + tail
    return head + ", ".join(f"(?1, ?{5 + 2 * i}, ?2, ?3, ?{6 + 2 * i}, ?4)" for i in range(rows)) + tail
