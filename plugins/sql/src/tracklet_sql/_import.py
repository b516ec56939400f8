"""The copy primitives of capability ``import`` on SQL (what ``tracklet migrate`` writes
through), on tracklet's schema and MLflow's alike.

Each call is one transaction that makes the rows exactly what it is given, whatever was
stored before, so a copy killed half-way and run again ends with nothing missing and
nothing twice: an experiment or run row is upserted with its given id and fields, a
run's params, tags and dataset links are replaced, a metric's history is deleted and
inserted again with its latest value recomputed by MLflow's rule (largest step, then
timestamp, then value). Exact repeats of a point collapse into one: both schemas' primary
keys are the whole point, as in MLflow's own database.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tracklet.entities import DatasetInput, Experiment, Metric, Run
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.stores import refusals
from tracklet.utils.time import now_ms

from ._engine import write
from ._schemas import Schema
from ._write import LATEST_COLUMNS, insert_ignore_tuples, upsert

_INT_MAX = 2**31 - 1  # experiment ids are INTEGER columns

__all__ = ["SqlImport", "metric_histories"]

_EXPERIMENT_FIELDS = ("name", "artifact_location", "lifecycle_stage", "creation_time", "last_update_time")
_RUN_FIELDS = (
    "name",
    "experiment_id",
    "user_id",
    "status",
    "start_time",
    "end_time",
    "lifecycle_stage",
    "artifact_uri",
    "deleted_time",
)
_METRIC_COLUMNS = ("run_uuid", "key", "step", "timestamp", "value", "nonfinite")


def metric_histories(schema: Schema, conn: sa.Connection, run_id: str) -> dict[str, list[Metric]]:
    """Every metric history of a run, by key (sorted), in one query."""
    m = schema.metrics.c
    statement = (
        sa.select(m.key, m.value, m.nonfinite, m.timestamp, m.step)
        .where(m.run_uuid == run_id)
        .order_by(m.key, m.step, m.timestamp, m.value, m.nonfinite)
    )
    decode = schema.decode_value
    out: dict[str, list[Metric]] = {}
    for key, value, nonfinite, timestamp, step in conn.execute(statement):
        out.setdefault(key, []).append(Metric(key, decode(value, nonfinite), timestamp, step))
    return {key: out[key] for key in sorted(out)}


class SqlImport:
    """The ``import`` half of :class:`tracklet_sql.store.SqlStore` (a mixin: it uses the
    store's ``engine``, ``dialect``, ``schema`` and dataset linking)."""

    engine: sa.Engine
    dialect: str
    schema: Schema

    def _link_dataset(
        self, conn: sa.Connection, run_id: str, experiment_key: int, item: DatasetInput
    ) -> None:
        raise NotImplementedError  # the store's

    def _experiment_id_by_name(self, conn: sa.Connection, name: str) -> int | None:
        raise NotImplementedError  # the store's

    # -- experiments ---------------------------------------------------------------------------

    def _import_experiment(self, experiment: Experiment, experiment_id: str) -> None:
        columns = self.schema.experiments.c
        self.schema.check_length(self.dialect, columns.name, experiment.name, "The experiment name")
        location = experiment.artifact_location
        self.schema.check_length(self.dialect, columns.artifact_location, location, "The artifact location")
        key = int(experiment_id)
        if not 0 <= key <= _INT_MAX or str(key) != experiment_id:
            # stored, it could never be read back (ids are INTEGER columns) and its row would
            # hold the name against a later copy that renumbers
            raise TrackletException(
                f"Experiment id {experiment_id} cannot be stored: tracklet-sql's experiment ids "
                f"are integers from 0 to {_INT_MAX} (MLflow's file store makes 18-digit ones). "
                "Copy with `tracklet migrate --renumber-experiments` to give experiments new ids "
                "(runs keep theirs).",
                INVALID_PARAMETER_VALUE,
            )
        row = {
            "experiment_id": key,
            "name": experiment.name,
            "artifact_location": experiment.artifact_location,
            "lifecycle_stage": experiment.lifecycle_stage,
            "creation_time": experiment.creation_time,
            "last_update_time": experiment.last_update_time,
        }
        tags = [{"experiment_id": key, "key": k, "value": str(v)} for k, v in experiment.tags.items()]

        def store(conn: sa.Connection) -> None:
            holder = self._experiment_id_by_name(conn, experiment.name)
            if holder is not None and holder != key:
                raise refusals.experiment_name_taken(experiment.name)
            self._upsert_experiment(conn, row)
            upsert(conn, self.schema.experiment_tags, tags, ["value"])

        write(self.engine, store)

    def _upsert_experiment(self, conn: sa.Connection, row: dict[str, Any]) -> None:
        """Upsert an experiment row with its own id, keeping the id sequence beyond it."""
        experiments = self.schema.experiments
        if self.dialect == "mysql" and row["experiment_id"] == 0:
            # an explicit 0 in an AUTO_INCREMENT column means "next value" unless told otherwise
            mode = conn.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar()
            conn.exec_driver_sql(
                "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')"
            )
            try:
                upsert(conn, experiments, [row], _EXPERIMENT_FIELDS)
            finally:
                conn.execute(sa.text("SET SESSION sql_mode = :mode"), {"mode": mode})
            return
        upsert(conn, experiments, [row], _EXPERIMENT_FIELDS)
        if self.dialect == "postgresql":
            # an explicit id leaves the serial's sequence behind: the next create would collide
            conn.execute(
                sa.text(
                    "SELECT setval(pg_get_serial_sequence('experiments', 'experiment_id'), "
                    "GREATEST((SELECT MAX(experiment_id) FROM experiments), 1))"
                )
            )

    # -- runs ----------------------------------------------------------------------------------

    def _import_run(self, run: Run) -> None:
        info, schema = run.info, self.schema
        uri_column = schema.runs.c.artifact_uri
        schema.check_length(self.dialect, uri_column, info.artifact_uri, "The run's artifact URI")
        run_id, experiment_key = info.run_id, int(info.experiment_id)
        params = [{"run_uuid": run_id, "key": k, "value": str(v)} for k, v in run.data.params.items()]
        tags = [{"run_uuid": run_id, "key": k, "value": str(v)} for k, v in run.data.tags.items()]
        datasets = list(run.inputs.dataset_inputs) if run.inputs else []
        runs = schema.runs

        def store(conn: sa.Connection) -> None:
            found = conn.execute(
                sa.select(schema.experiments.c.experiment_id).where(
                    schema.experiments.c.experiment_id == experiment_key
                )
            ).first()
            if found is None:
                raise refusals.no_such_experiment(info.experiment_id)
            stored = conn.execute(sa.select(runs.c.deleted_time).where(runs.c.run_uuid == run_id)).first()
            deleted_time = None
            if info.lifecycle_stage == "deleted":
                # kept across re-imports; a new deleted run is deleted as of its copy
                deleted_time = stored[0] if stored is not None and stored[0] is not None else now_ms()
            row = {
                "run_uuid": run_id,
                "name": info.run_name,
                "experiment_id": experiment_key,
                "user_id": info.user_id,
                "status": info.status,
                "start_time": info.start_time,
                "end_time": info.end_time,
                "lifecycle_stage": info.lifecycle_stage,
                "artifact_uri": info.artifact_uri,
                "deleted_time": deleted_time,
            }
            if stored is None:
                conn.execute(runs.insert().values({**row, **schema.run_defaults}))
            else:
                conn.execute(
                    runs.update().where(runs.c.run_uuid == run_id).values({k: row[k] for k in _RUN_FIELDS})
                )
            self._replace_children(conn, run_id, params, tags)
            self._replace_inputs(conn, run_id, experiment_key, datasets)

        write(self.engine, store)

    def _replace_children(
        self, conn: sa.Connection, run_id: str, params: list[dict[str, Any]], tags: list[dict[str, Any]]
    ) -> None:
        for table, rows in ((self.schema.params, params), (self.schema.tags, tags)):
            conn.execute(table.delete().where(table.c.run_uuid == run_id))
            if rows:
                conn.execute(table.insert(), rows)

    def _replace_inputs(
        self, conn: sa.Connection, run_id: str, experiment_key: int, datasets: Sequence[DatasetInput]
    ) -> None:
        """The run's dataset links become exactly ``datasets`` (datasets themselves, kept per
        experiment, stay; other kinds of input, MLflow's model links, are left alone)."""
        i, t = self.schema.inputs, self.schema.input_tags
        links = (
            sa.select(i.c.input_uuid)
            .where(i.c.destination_type == "RUN", i.c.destination_id == run_id, i.c.source_type == "DATASET")
            .scalar_subquery()
        )
        conn.execute(t.delete().where(t.c.input_uuid.in_(links)))
        conn.execute(
            i.delete().where(
                i.c.destination_type == "RUN", i.c.destination_id == run_id, i.c.source_type == "DATASET"
            )
        )
        for item in datasets:
            self._link_dataset(conn, run_id, experiment_key, item)

    # -- metric histories ----------------------------------------------------------------------

    def _import_metric_history(self, run_id: str, key: str, metrics: list[Metric]) -> None:
        schema = self.schema
        encode = schema.encode_value
        points: dict[tuple[Any, ...], None] = {}  # an ordered set: a repeat is one row
        for m in metrics:
            value, nonfinite = encode(float(m.value))
            points[(run_id, key, int(m.step), int(m.timestamp), value, nonfinite)] = None
        rows = list(points)
        latest = max(rows, key=lambda r: (r[2], r[3], r[4]), default=None)
        metrics_table, latest_table = schema.metrics, schema.latest_metrics

        def store(conn: sa.Connection) -> None:
            runs = schema.runs
            if conn.execute(sa.select(runs.c.run_uuid).where(runs.c.run_uuid == run_id)).first() is None:
                raise refusals.no_such_run(run_id)
            for table in (metrics_table, latest_table):
                conn.execute(table.delete().where(table.c.run_uuid == run_id, table.c.key == key))
            insert_ignore_tuples(conn, metrics_table, _METRIC_COLUMNS, rows)
            if latest is not None:
                conn.execute(latest_table.insert(), [dict(zip(LATEST_COLUMNS, latest, strict=True))])

        write(self.engine, store)

    def _get_metric_histories(self, run_id: str) -> dict[str, list[Metric]]:
        runs = self.schema.runs
        with self.engine.connect() as conn:
            if conn.execute(sa.select(runs.c.run_uuid).where(runs.c.run_uuid == run_id)).first() is None:
                raise refusals.no_such_run(run_id)
            return metric_histories(self.schema, conn, run_id)
