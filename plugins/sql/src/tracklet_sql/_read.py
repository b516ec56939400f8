"""Reading rows back as entities: whole runs and experiments, in bulk.

Loading N runs costs five queries whatever N is (runs, params, tags, latest metrics,
dataset inputs), each on the ``(run_uuid, key)`` primary keys. On PostgreSQL the ids
go as one array parameter; elsewhere in ``IN`` lists of at most :data:`CHUNK`, so no
statement exceeds a driver's parameter limit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import sqlalchemy as sa

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

__all__ = ["load_experiments", "load_run_infos", "load_runs", "CHUNK"]

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


@lru_cache(maxsize=64)
def _array_statement(dialect: sa.Dialect, statement: sa.Select[Any]) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: ``statement`` with ``col IN (:ids…)`` as ``col = ANY(:ids)``, one
    array parameter, rendered once: the SQL text is the same for any number of ids, so
    psycopg's query cache and server-side prepared statements apply to every load
    (an ``IN`` list of 100 placeholders is re-parsed by the driver on every call)."""
    from sqlalchemy.dialects.postgresql import ARRAY
    from sqlalchemy.sql import operators
    from sqlalchemy.sql.elements import BinaryExpression

    def swap(element: Any) -> Any:
        if (
            isinstance(element, BinaryExpression)
            and element.operator is operators.in_op
            and getattr(element.right, "key", None) == "ids"
        ):
            array = sa.bindparam("ids", type_=ARRAY(element.left.type))
            return element.left == sa.any_(array)
        return None

    rewritten = sa.sql.visitors.replacement_traverse(statement, {}, swap)
    compiled = rewritten.compile(dialect=dialect)
    constants = {k: v for k, v in compiled.params.items() if k != "ids"}
    return compiled.string, constants


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
    params: dict[str, dict[str, str]] = defaultdict(dict)
    for run_uuid, key, value in _rows(conn, loads.params, ids):
        params[run_uuid][key] = value
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    for run_uuid, key, value in _rows(conn, loads.tags, ids):
        tags[run_uuid][key] = value
    metric_objs: dict[str, list[Metric]] = defaultdict(list)
    metrics: dict[str, dict[str, float]] = defaultdict(dict)
    decode_value = schema.decode_value
    for run_uuid, key, value, nonfinite, timestamp, step in _rows(conn, loads.latest, ids):
        if nonfinite:
            value = decode_value(value, nonfinite)
        metric_objs[run_uuid].append(Metric(key, value, timestamp, step))
        metrics[run_uuid][key] = value
    inputs = _load_inputs(loads, conn, ids) if with_inputs else {}
    empty: dict[str, Any] = {}
    return {
        run_id: Run(
            info,
            RunData.from_dicts(
                metric_objs.get(run_id, []),
                metrics.get(run_id, empty),
                params.get(run_id, empty),
                tags.get(run_id, empty),
            ),
            RunInputs(inputs.get(run_id, [])),
        )
        for run_id, info in infos.items()
    }


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
