"""Reading rows back as entities: whole runs and experiments, in bulk.

Loading N runs costs five queries whatever N is (runs, params, tags, latest metrics,
dataset inputs), each on the ``(run_uuid, key)`` primary keys. On PostgreSQL the ids
go as one array parameter; elsewhere in ``IN`` lists of at most :data:`CHUNK`, so no
statement exceeds a driver's parameter limit.

On PostgreSQL a search page needs no separate loads at all: :func:`with_run_rows`
wraps the page query so that each of its rows carries the run's columns and its
params, tags, latest metrics and inputs as JSON aggregates (correlated subqueries on
the same primary keys), and :func:`runs_of_rows` builds the runs from those rows: one
statement, one round trip per page.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tracklet.entities import (
    Dataset,
    DatasetInput,
    Experiment,
    InputTag,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
)

from ._schemas import Schema

try:  # a third of a PostgreSQL page's client time is decoding its JSON: orjson's is ~4x faster
    from orjson import loads as _json_loads

    _FAST_JSON = True
except ImportError:  # pragma: no cover - orjson comes with tracklet-sql[postgres]
    from json import loads as _json_loads

    _FAST_JSON = False

__all__ = [
    "CHUNK",
    "array_statement",
    "load_experiments",
    "load_run",
    "load_run_infos",
    "load_runs",
    "metric_history",
    "page_rows",
    "runs_of_rows",
    "with_run_rows",
]

#: Ids per ``IN (...)`` list; sqlite allows 32,766 parameters, MySQL and psycopg 65,535.
CHUNK = 500

_IDS = sa.bindparam("ids", expanding=True)
_RUN_COLUMNS = (
    "run_uuid",
    "name",
    "experiment_id",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
    "artifact_uri",
)


@dataclass(frozen=True)
class _Loads:
    """The bulk reads of one schema, each taking the ids as ``ids``."""

    runs: sa.Select[Any]
    params: sa.Select[Any]
    tags: sa.Select[Any]
    #: sqlite: each run's params (tags) as one JSON object, ``(run_uuid, json)`` rows
    params_json: sa.Select[Any]
    tags_json: sa.Select[Any]
    latest: sa.Select[Any]
    inputs: sa.Select[Any]
    input_tags: sa.Select[Any]
    experiments: sa.Select[Any]
    experiment_tags: sa.Select[Any]


@cache
def _loads(schema: Schema) -> _Loads:
    """Built once per schema: building a statement costs more than running it on sqlite."""
    s = schema
    return _Loads(
        runs=sa.select(*(s.runs.c[name] for name in _RUN_COLUMNS)).where(s.runs.c.run_uuid.in_(_IDS)),
        params=sa.select(s.params.c.run_uuid, s.params.c.key, s.params.c.value).where(
            s.params.c.run_uuid.in_(_IDS)
        ),
        tags=sa.select(s.tags.c.run_uuid, s.tags.c.key, s.tags.c.value).where(s.tags.c.run_uuid.in_(_IDS)),
        params_json=_json_objects(s.params),
        tags_json=_json_objects(s.tags),
        latest=sa.select(
            s.latest_metrics.c.run_uuid,
            s.latest_metrics.c.key,
            s.latest_metrics.c.value,
            s.latest_metrics.c.nonfinite,
            s.latest_metrics.c.timestamp,
            s.latest_metrics.c.step,
        ).where(s.latest_metrics.c.run_uuid.in_(_IDS)),
        inputs=(
            sa.select(
                s.inputs.c.destination_id,
                s.inputs.c.input_uuid,
                s.datasets.c.name,
                s.datasets.c.digest,
                s.datasets.c.dataset_source_type,
                s.datasets.c.dataset_source,
                s.datasets.c.dataset_schema,
                s.datasets.c.dataset_profile,
            )
            .join(s.datasets, s.datasets.c.dataset_uuid == s.inputs.c.source_id)
            .where(s.inputs.c.source_type == "DATASET", s.inputs.c.destination_type == "RUN")
            .where(s.inputs.c.destination_id.in_(_IDS))
            .order_by(s.inputs.c.destination_id, s.datasets.c.name, s.datasets.c.digest)
        ),
        input_tags=sa.select(s.input_tags.c.input_uuid, s.input_tags.c.name, s.input_tags.c.value).where(
            s.input_tags.c.input_uuid.in_(_IDS)
        ),
        experiments=sa.select(
            s.experiments.c.experiment_id,
            s.experiments.c.name,
            s.experiments.c.artifact_location,
            s.experiments.c.lifecycle_stage,
            s.experiments.c.creation_time,
            s.experiments.c.last_update_time,
        ).where(s.experiments.c.experiment_id.in_(_IDS)),
        experiment_tags=sa.select(
            s.experiment_tags.c.experiment_id, s.experiment_tags.c.key, s.experiment_tags.c.value
        ).where(s.experiment_tags.c.experiment_id.in_(_IDS)),
    )


def _json_objects(table: sa.Table) -> sa.Select[Any]:
    """sqlite: ``(run_uuid, {key: value, ...})`` per run of ``table`` (params or tags), the
    object as JSON text in key order (the primary key's, as the plain rows come)."""
    c = table.c
    return (
        sa.select(c.run_uuid, sa.func.json_group_object(c.key, c.value))
        .where(c.run_uuid.in_(_IDS))
        .group_by(c.run_uuid)
    )


@cache
def _reads_json_objects(dialect: sa.Dialect) -> bool:
    """Whether params and tags are read as one JSON object per run (:func:`_json_objects`):
    on sqlite 3.38+ (JSON functions built in) with orjson. Python's sqlite3 module
    releases the GIL around every column it reads, and a row per param costs ~4x what
    decoding the run's object with orjson does (100 runs of 10 params: ~0.9 -> ~0.5 ms)."""
    if dialect.name != "sqlite" or not _FAST_JSON:
        return False
    version: tuple[int, ...] = getattr(dialect.dbapi, "sqlite_version_info", (0,))
    return version >= (3, 38)


def _chunks(ids: Sequence[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


@lru_cache(maxsize=1024)
def _driver_statement(
    dialect: sa.Dialect, statement: sa.Select[Any], n: int
) -> tuple[str, list[str] | None, list[str], dict[str, Any]]:
    """For ``n`` ids: the driver-level SQL of ``statement``, the order of its positional
    parameters (None for named ones), the names the ids bind to, and the other parameters."""
    state = statement.compile(dialect=dialect).construct_expanded_state({"ids": [""] * n})
    params = dict(state.parameters)
    names = [f"ids_{i}" for i in range(1, n + 1)]
    assert all(name in params for name in names), "unexpected parameter names"
    positions = list(state.positiontup or []) if state.positiontup is not None else None
    return state.statement, positions, names, params


def array_statement(dialect: sa.Dialect, statement: sa.Select[Any]) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: ``statement`` with every ``col IN (:name…)`` of an expanding parameter as
    ``col = ANY(:name)``, one array parameter each, compiled: the driver-level SQL and the
    values of its constant parameters. The SQL text is the same for any number of values,
    so psycopg's query cache and server-side prepared statements apply to every call (an
    ``IN`` list of 100 placeholders is re-parsed by the driver on every call). Not cached
    here: callers cache per statement."""
    from sqlalchemy.dialects.postgresql import ARRAY
    from sqlalchemy.sql import operators
    from sqlalchemy.sql.elements import BinaryExpression, BindParameter

    def swap(element: Any) -> Any:
        if (
            isinstance(element, BinaryExpression)
            and element.operator in (operators.in_op, operators.not_in_op)
            and isinstance(element.right, BindParameter)
            and element.right.expanding
        ):
            array_type = ARRAY(element.left.type)
            values = element.right.value
            if values is None:  # named, bound at each call
                array = sa.bindparam(element.right.key, type_=array_type)
            else:  # a constant list of the filter
                array = sa.bindparam(None, list(values), type_=array_type)
            if element.operator is operators.in_op:
                return element.left == sa.any_(array)
            return element.left != sa.all_(array)
        return None

    rewritten = sa.sql.visitors.replacement_traverse(statement, {}, swap)
    compiled = rewritten.compile(dialect=dialect)
    if "POSTCOMPILE" in compiled.string:
        raise AssertionError(f"a list parameter was left expanding in: {compiled.string}")
    return compiled.string, dict(compiled.params)


@lru_cache(maxsize=64)
def _array_statement(dialect: sa.Dialect, statement: sa.Select[Any]) -> tuple[str, dict[str, Any]]:
    """A bulk load's :func:`array_statement`, its ids bound as ``ids``, once per load."""
    return array_statement(dialect, statement)


def _rows(conn: sa.Connection, statement: sa.Select[Any], ids: Sequence[Any]) -> list[tuple[Any, ...]]:
    """Every row for ``ids`` as plain tuples, straight from the driver's cursor.

    The hot path of ``get_run`` and of every search page (some 2,500 rows for 100 runs):
    SQLAlchemy's statement rendering and Row objects cost more than the queries, so the
    statement is rendered once per id count (once in all on PostgreSQL, which takes the
    ids as one array) and the rows come from the DBAPI cursor, inside the connection's
    transaction.
    """
    if not conn.in_transaction():
        conn.begin()  # one snapshot for all the queries of a load (rolled back on close)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    out: list[tuple[Any, ...]] = []
    try:
        if conn.dialect.name == "postgresql":
            sql, constants = _array_statement(conn.dialect, statement)
            cursor.execute(sql, {**constants, "ids": list(ids)})
            return list(cursor.fetchall())
        for chunk in _chunks(ids):
            sql, positions, names, constants = _driver_statement(conn.dialect, statement, len(chunk))
            bound = {**constants, **dict(zip(names, chunk, strict=True))}
            cursor.execute(sql, [bound[name] for name in positions] if positions is not None else bound)
            out += cursor.fetchall()
    finally:
        cursor.close()
    return out


@lru_cache(maxsize=512)
def _expanded_statement(
    dialect: sa.Dialect, statement: sa.Select[Any], shape: tuple[tuple[str, int], ...]
) -> tuple[str, list[str], dict[str, Any]]:
    """sqlite: the driver-level SQL of ``statement`` for parameters of this ``shape``
    (``(name, n)``: a list parameter expanded to ``n`` placeholders ``name_1``..``name_n``,
    or one value for ``n = -1``), the order of its positional parameters, and its
    constant parameters (the filter's values)."""
    compiled = statement.compile(dialect=dialect)
    state = compiled.construct_expanded_state({name: [None] * n if n >= 0 else None for name, n in shape})
    assert state.positiontup is not None, "sqlite takes positional parameters"
    return state.statement, list(state.positiontup), dict(state.parameters)


def page_rows(conn: sa.Connection, statement: sa.Select[Any], parameters: dict[str, Any]) -> list[Any]:
    """sqlite: the rows of a search page query as plain tuples, from the driver's cursor.

    SQLAlchemy's execution re-renders every list parameter (``IN``) into the SQL text on
    each call and wraps each row; the statement is compiled here once per list length,
    and the values bound in order. The search's parameters need no conversion on sqlite
    (ints, floats and strings; :func:`tracklet_sql._search` binds nothing else)."""
    shape = tuple((k, len(v) if isinstance(v, list) else -1) for k, v in parameters.items())
    sql, positions, constants = _expanded_statement(conn.dialect, statement, shape)
    bound = {**constants, **parameters}
    for name, n in shape:
        if n >= 0:
            bound.update(zip([f"{name}_{i}" for i in range(1, n + 1)], bound.pop(name), strict=True))
    if not conn.in_transaction():
        conn.begin()  # the page and its runs' loads read one snapshot (rolled back on close)
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, [bound[name] for name in positions])
        return list(cursor.fetchall())
    finally:
        cursor.close()


def _run_info(row: tuple[Any, ...]) -> RunInfo:
    run_uuid, name, experiment_id, user_id, status, start_time, end_time, stage, artifact_uri = row
    return RunInfo(
        run_uuid,
        str(experiment_id),
        user_id or "",
        status,
        start_time,
        end_time,
        stage,
        artifact_uri,
        name or "",
    )


def load_run_infos(schema: Schema, conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, RunInfo]:
    """The :class:`RunInfo` of each of these runs (unknown ids are left out), by id."""
    return {row[0]: _run_info(row) for row in _rows(conn, _loads(schema).runs, run_ids)}


def load_runs(
    schema: Schema, conn: sa.Connection, run_ids: Sequence[str], with_inputs: bool = True
) -> dict[str, Run]:
    """The runs with these ids (unknown ids are left out), by id."""
    if not run_ids:
        return {}
    loads = _loads(schema)
    infos = load_run_infos(schema, conn, run_ids)
    ids = list(infos)
    if _reads_json_objects(conn.dialect):
        params = {run_uuid: _json_loads(text) for run_uuid, text in _rows(conn, loads.params_json, ids)}
        tags = {run_uuid: _json_loads(text) for run_uuid, text in _rows(conn, loads.tags_json, ids)}
    else:
        params = _key_values(_rows(conn, loads.params, ids))
        tags = _key_values(_rows(conn, loads.tags, ids))
    points: dict[str, list[tuple[str, float, int, int]]] = defaultdict(list)
    decode_value = schema.decode_value
    for run_uuid, key, value, nonfinite, timestamp, step in _rows(conn, loads.latest, ids):
        if nonfinite:
            value = decode_value(value, nonfinite)
        points[run_uuid].append((key, value, timestamp, step))
    inputs = _load_inputs(loads, conn, ids) if with_inputs else {}
    return {
        run_id: Run(
            info,
            # each run's own dicts, handed over (a new empty one where it has none)
            RunData.from_points(points.get(run_id, ()), params.get(run_id) or {}, tags.get(run_id) or {}),
            RunInputs(inputs.get(run_id, [])),
        )
        for run_id, info in infos.items()
    }


def _key_values(rows: Sequence[tuple[Any, ...]]) -> dict[str, dict[str, Any]]:
    """``{run_uuid: {key: value}}`` of ``(run_uuid, key, value)`` rows, in their order."""
    out: dict[str, dict[str, Any]] = defaultdict(dict)
    for run_uuid, key, value in rows:
        out[run_uuid][key] = value
    return out


def _load_inputs(loads: _Loads, conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, list[DatasetInput]]:
    rows = list(_rows(conn, loads.inputs, run_ids))
    if not rows:
        return {}
    tags: dict[str, list[InputTag]] = defaultdict(list)
    for input_uuid, name, value in _rows(conn, loads.input_tags, [row[1] for row in rows]):
        tags[input_uuid].append(InputTag(name, value))
    out: dict[str, list[DatasetInput]] = defaultdict(list)
    for run_uuid, input_uuid, *dataset_fields in rows:
        # by name, as MLflow's SQL store reads them (its primary key's order) on every database
        input_tags = sorted(tags.get(input_uuid, []), key=lambda t: t.key)
        out[run_uuid].append(DatasetInput(Dataset(*dataset_fields), input_tags))
    return out


def with_run_rows(schema: Schema, page: sa.Select[Any], id_label: str) -> sa.Select[Any]:
    """PostgreSQL: ``page`` (a search page, in its order, the run id labelled ``id_label``)
    with each run's rows attached: its columns (:data:`_RUN_COLUMNS`), then one JSON array
    of four: its params, tags, latest metrics and dataset inputs, each an array of rows
    (null when it has none; one JSON value per run is parsed faster than four).

    Each aggregate is a correlated subquery on a ``(run_uuid, …)`` key, run once per row
    of the page whatever the table statistics say. Metric values travel as text (the
    shortest exact form PostgreSQL prints), so ``-0.0`` and whole numbers come back as
    the floats they are. The rows keep the page's order: the caller orders by the page's
    columns (:func:`tracklet_sql._search` does).
    """
    from sqlalchemy.dialects.postgresql import aggregate_order_by

    s = schema
    page_rows = page.cte("page")
    run_id = page_rows.c[id_label]

    def rows_of(match: ColumnElement[Any], order: Any, *values: Any) -> Any:
        return (
            sa.select(sa.func.json_agg(aggregate_order_by(sa.func.json_build_array(*values), order)))
            .where(match == run_id)
            .scalar_subquery()
        )

    p, t, lm = s.params.c, s.tags.c, s.latest_metrics.c
    i, d, it = s.inputs.c, s.datasets.c, s.input_tags.c
    input_tags = (
        sa.select(sa.func.json_agg(sa.func.json_build_array(it.name, it.value)))
        .where(it.input_uuid == i.input_uuid)
        .scalar_subquery()
    )
    inputs = (
        sa.select(
            sa.func.json_agg(
                aggregate_order_by(
                    sa.func.json_build_array(
                        d.name,
                        d.digest,
                        d.dataset_source_type,
                        d.dataset_source,
                        d.dataset_schema,
                        d.dataset_profile,
                        input_tags,
                    ),
                    d.name,
                    d.digest,
                )
            )
        )
        .select_from(s.inputs.join(s.datasets, d.dataset_uuid == i.source_id))
        .where(i.source_type == "DATASET", i.destination_type == "RUN", i.destination_id == run_id)
        .scalar_subquery()
    )
    runs = s.runs
    children = sa.func.json_build_array(
        rows_of(p.run_uuid, p.key, p.key, p.value),
        rows_of(t.run_uuid, t.key, t.key, t.value),
        rows_of(lm.run_uuid, lm.key, lm.key, sa.cast(lm.value, sa.Text), lm.nonfinite, lm.timestamp, lm.step),
        inputs,
    )
    return sa.select(
        *page_rows.c,
        *(runs.c[name] for name in _RUN_COLUMNS),
        # as text, decoded by runs_of_rows (the driver's own JSON loader is the slow json module)
        sa.cast(children, sa.Text).label("run_children"),
    ).select_from(page_rows.join(runs, runs.c.run_uuid == run_id))


def runs_of_rows(schema: Schema, rows: Sequence[Sequence[Any]], skip: int) -> list[Run]:
    """The runs of :func:`with_run_rows`' rows, in their order; ``skip`` is the number of
    the page's own columns before the run's."""
    decode_value = schema.decode_value
    out = []
    end = skip + len(_RUN_COLUMNS)
    for row in rows:
        params, tags, latest, inputs = _json_loads(row[end])
        points = [
            (key, decode_value(float(text), nonfinite) if nonfinite else float(text), timestamp, step)
            for key, text, nonfinite, timestamp, step in latest or ()
        ]
        run_inputs = [
            DatasetInput(
                Dataset(*fields),
                sorted((InputTag(k, v) for k, v in input_tags or ()), key=lambda tag: tag.key),
            )
            for *fields, input_tags in inputs or ()
        ]
        out.append(
            Run(
                _run_info(row[skip:end]),
                RunData.from_points(points, dict(params or ()), dict(tags or ())),
                RunInputs(run_inputs),
            )
        )
    return out


@lru_cache(maxsize=8)
def _pg_run_statement(dialect: sa.Dialect, schema: Schema) -> tuple[str, dict[str, Any]]:
    runs = schema.runs
    one = sa.select(runs.c.run_uuid.label("run_id")).where(runs.c.run_uuid == sa.bindparam("run_id"))
    return array_statement(dialect, with_run_rows(schema, one, "run_id"))


def load_run(schema: Schema, conn: sa.Connection, run_id: str) -> Run | None:
    """The run with this id, or None. On PostgreSQL one statement in autocommit (one round
    trip; ``conn`` must not be in a transaction yet), elsewhere :func:`load_runs`' loads."""
    if conn.dialect.name != "postgresql":
        return load_runs(schema, conn, [run_id]).get(run_id)
    sql, constants = _pg_run_statement(conn.dialect, schema)
    autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
    rows = autocommit.exec_driver_sql(sql, {**constants, "run_id": run_id}).fetchall()
    found = runs_of_rows(schema, rows, 1)
    return found[0] if found else None


@lru_cache(maxsize=16)
def _history_statement(
    dialect: sa.Dialect, schema: Schema
) -> tuple[str, list[str] | None, dict[str, Any], bool]:
    """One metric's history of one run, in logging order: the driver-level SQL, the order
    of its positional parameters (None for named ones), its constant parameters, and
    whether it selects ``(value, timestamp, step)`` with the value decoded in SQL
    (``(value, nonfinite, timestamp, step)`` otherwise).

    sqlite and PostgreSQL decode the stored ``(value, nonfinite)`` pair themselves (a
    column less to fetch: a tenth of the time of 100,000 points): PostgreSQL has NaN and
    infinities, sqlite infinities (``9e999``) and NULL for NaN. MySQL has neither.
    """
    m = schema.metrics.c
    order = (m.step, m.timestamp, m.value, m.nonfinite)
    where = (m.run_uuid == sa.bindparam("run_uuid"), m.key == sa.bindparam("key"))
    if dialect.name in ("sqlite", "postgresql"):
        if dialect.name == "sqlite":
            nan, inf, ninf = sa.null(), sa.literal_column("9e999"), sa.literal_column("-9e999")
        else:
            nan, inf, ninf = (sa.literal_column(f"'{v}'::float8") for v in ("NaN", "Infinity", "-Infinity"))
        value = sa.case(
            (schema.is_nan(m.nonfinite), nan),
            (schema.is_infinite(m.nonfinite, True), inf),
            (schema.is_infinite(m.nonfinite, False), ninf),
            else_=m.value,
        )
        statement = sa.select(value, m.timestamp, m.step)
        decoded = True
    else:
        statement = sa.select(m.value, m.nonfinite, m.timestamp, m.step)
        decoded = False
    compiled = statement.where(*where).order_by(*order).compile(dialect=dialect)
    positions = list(compiled.positiontup) if compiled.positiontup is not None else None
    return compiled.string, positions, dict(compiled.params), decoded


def metric_history(schema: Schema, conn: sa.Connection, run_id: str, key: str) -> list[Metric]:
    """Every point of metric ``key`` of the run, by step, timestamp and value; empty when
    the run has none (or does not exist: the caller tells them apart).

    The rows come straight from the driver's cursor (no SQLAlchemy Row objects: a third
    of the time of 100,000 points), each made a :class:`Metric` as it is read
    (:meth:`Metric.from_rows`; no list of all rows beside the points). On PostgreSQL the
    connection is switched to autocommit first, so the read costs one round trip, no
    BEGIN or ROLLBACK (``conn`` must not be in a transaction yet).
    """
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    sql, positions, constants, decoded = _history_statement(conn.dialect, schema)
    parameters = {**constants, "run_uuid": run_id, "key": key}
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, [parameters[name] for name in positions] if positions is not None else parameters)
        if decoded:  # sqlite's NULL for NaN is read as NaN by from_rows
            return Metric.from_rows(key, cursor)
        decode = schema.decode_value
        return Metric.from_rows(
            key, [(decode(value, nonfinite), t, step) for value, nonfinite, t, step in cursor]
        )
    finally:
        cursor.close()


def load_experiments(
    schema: Schema, conn: sa.Connection, experiment_ids: Sequence[int]
) -> dict[int, Experiment]:
    """The experiments with these ids, with their tags, by id."""
    loads = _loads(schema)
    tags: dict[int, dict[str, str]] = defaultdict(dict)
    for experiment_id, key, value in _rows(conn, loads.experiment_tags, experiment_ids):
        tags[experiment_id][key] = value
    return {
        experiment_id: Experiment(
            experiment_id=str(experiment_id),
            name=name,
            artifact_location=location,
            lifecycle_stage=stage,
            tags=tags.get(experiment_id, {}),
            creation_time=created,
            last_update_time=updated,
        )
        for experiment_id, name, location, stage, created, updated in _rows(
            conn, loads.experiments, experiment_ids
        )
    }
