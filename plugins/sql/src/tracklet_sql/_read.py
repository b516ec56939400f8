"""Reading rows back as entities: whole runs and experiments, in bulk.

Loading N runs costs five queries whatever N is (runs, params, tags, latest metrics,
dataset inputs), each on the ``(run_uuid, key)`` primary keys; ids go in chunks so
no statement exceeds a driver's parameter limit.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa

from tracklet._tags import MLFLOW_DATASET_CONTEXT
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

from . import _schema as s
from ._schema import decode_value

__all__ = ["load_experiments", "load_runs", "run_info", "CHUNK"]

#: Ids per ``IN (...)`` list; sqlite allows 32,766 parameters, MySQL and psycopg 65,535.
CHUNK = 500

_IDS = sa.bindparam("ids", expanding=True)
_RUNS = sa.select(s.runs).where(s.runs.c.run_uuid.in_(_IDS))
_PARAMS = sa.select(s.params.c.run_uuid, s.params.c.key, s.params.c.value).where(
    s.params.c.run_uuid.in_(_IDS)
)
_TAGS = sa.select(s.tags.c.run_uuid, s.tags.c.key, s.tags.c.value).where(s.tags.c.run_uuid.in_(_IDS))
_LATEST = sa.select(
    s.latest_metrics.c.run_uuid,
    s.latest_metrics.c.key,
    s.latest_metrics.c.value,
    s.latest_metrics.c.nonfinite,
    s.latest_metrics.c.timestamp,
    s.latest_metrics.c.step,
).where(s.latest_metrics.c.run_uuid.in_(_IDS))
_INPUTS = (
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
)
_INPUT_TAGS = sa.select(s.input_tags.c.input_uuid, s.input_tags.c.name, s.input_tags.c.value).where(
    s.input_tags.c.input_uuid.in_(_IDS)
)
_EXPERIMENTS = sa.select(s.experiments).where(s.experiments.c.experiment_id.in_(_IDS))
_EXPERIMENT_TAGS = sa.select(
    s.experiment_tags.c.experiment_id, s.experiment_tags.c.key, s.experiment_tags.c.value
).where(s.experiment_tags.c.experiment_id.in_(_IDS))


def _chunks(ids: Sequence[Any]) -> Iterator[list[Any]]:
    for start in range(0, len(ids), CHUNK):
        yield list(ids[start : start + CHUNK])


def _rows(conn: sa.Connection, statement: sa.Select[Any], ids: Sequence[Any]) -> Iterator[sa.Row[Any]]:
    for chunk in _chunks(ids):
        yield from conn.execute(statement, {"ids": chunk})


def run_info(row: Any) -> RunInfo:
    """A :class:`RunInfo` from a ``runs`` row (or anything with its column names as attributes)."""
    return RunInfo(
        run_id=row.run_uuid,
        experiment_id=str(row.experiment_id),
        user_id=row.user_id or "",
        status=row.status,
        start_time=row.start_time,
        end_time=row.end_time,
        lifecycle_stage=row.lifecycle_stage,
        artifact_uri=row.artifact_uri,
        run_name=row.name or "",
    )


def load_runs(conn: sa.Connection, run_ids: Sequence[str], with_inputs: bool = True) -> dict[str, Run]:
    """The runs with these ids (unknown ids are left out), by id."""
    if not run_ids:
        return {}
    infos = {row.run_uuid: run_info(row) for row in _rows(conn, _RUNS, run_ids)}
    ids = list(infos)
    params: dict[str, dict[str, str]] = defaultdict(dict)
    for row in _rows(conn, _PARAMS, ids):
        params[row.run_uuid][row.key] = row.value
    tags: dict[str, dict[str, str]] = defaultdict(dict)
    for row in _rows(conn, _TAGS, ids):
        tags[row.run_uuid][row.key] = row.value
    metric_objs: dict[str, list[Metric]] = defaultdict(list)
    metrics: dict[str, dict[str, float]] = defaultdict(dict)
    for row in _rows(conn, _LATEST, ids):
        value = decode_value(row.value, row.nonfinite)
        metric_objs[row.run_uuid].append(Metric(row.key, value, row.timestamp, row.step))
        metrics[row.run_uuid][row.key] = value
    inputs = _load_inputs(conn, ids) if with_inputs else {}
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


def _load_inputs(conn: sa.Connection, run_ids: Sequence[str]) -> dict[str, list[DatasetInput]]:
    rows = list(_rows(conn, _INPUTS, run_ids))
    if not rows:
        return {}
    tags: dict[str, list[InputTag]] = defaultdict(list)
    for row in _rows(conn, _INPUT_TAGS, [r.input_uuid for r in rows]):
        tags[row.input_uuid].append(InputTag(row.name, row.value))
    out: dict[str, list[DatasetInput]] = defaultdict(list)
    for row in rows:
        dataset = Dataset(
            row.name,
            row.digest,
            row.dataset_source_type,
            row.dataset_source,
            row.dataset_schema,
            row.dataset_profile,
        )
        # the context tag first, as MLflow lists it
        input_tags = sorted(tags.get(row.input_uuid, []), key=lambda t: t.key != MLFLOW_DATASET_CONTEXT)
        out[row.destination_id].append(DatasetInput(dataset, input_tags))
    return out


def load_experiments(conn: sa.Connection, experiment_ids: Sequence[int]) -> dict[int, Experiment]:
    """The experiments with these ids, with their tags, by id."""
    tags: dict[int, dict[str, str]] = defaultdict(dict)
    for row in _rows(conn, _EXPERIMENT_TAGS, experiment_ids):
        tags[row.experiment_id][row.key] = row.value
    return {
        row.experiment_id: Experiment(
            experiment_id=str(row.experiment_id),
            name=row.name,
            artifact_location=row.artifact_location,
            lifecycle_stage=row.lifecycle_stage,
            tags=tags.get(row.experiment_id, {}),
            creation_time=row.creation_time,
            last_update_time=row.last_update_time,
        )
        for row in _rows(conn, _EXPERIMENTS, experiment_ids)
    }

