"""SqlStore: the tracking store on sqlite, PostgreSQL and MySQL/MariaDB.

It writes the primitives of :class:`~tracklet.stores.TrackingStore`, which has
checked every argument; each runs as one transaction
(:func:`tracklet_sql._engine.write`), so a rejected or interrupted call changes
nothing. Metric points go to ``metrics`` (history, insert-if-absent, so a re-sent
batch is harmless) and ``latest_metrics`` (one row per run and key) in the same
transaction. Searches are compiled to SQL (:mod:`tracklet_sql._search`) and the
page's runs are loaded in five bulk queries (:mod:`tracklet_sql._read`), or, on
PostgreSQL, with the page in the same statement: one round trip per page, per
``get_run`` and per whole metric history.
"""

from __future__ import annotations

import itertools
import operator
import uuid
from collections.abc import Sequence
from functools import cache
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tracklet.entities import (
    DatasetInput,
    Experiment,
    ExperimentTag,
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    RunStatus,
    RunTag,
)
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.search import decode_page_token, encode_page_token
from tracklet.stores import TrackingStore, refusals
from tracklet.stores.tracking import MAX_DATASET_SUMMARIES, DatasetSummary
from tracklet.uri import append_to_uri_path, resolve_local_uri
from tracklet.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_RUN_NAME
from tracklet.utils.time import now_ms

from ._engine import dialect_name, make_engine, write
from ._import import SqlImport
from ._migrations import prepare_database
from ._read import load_experiments, load_run, load_run_infos, metric_history
from ._sampling import SqlSampling
from ._schemas import Schema
from ._search import search_experiment_ids, search_runs
from ._traces import SqlTraces
from ._write import (
    BatchPoints,
    batch_sql,
    driver_write,
    has_driver_path,
    insert_ignore,
    insert_ignore_tuples,
    insert_sql,
    metric_points,
    missing_parent,
    pipeline,
    raise_latest,
    upsert,
    write_points,
)

__all__ = ["SqlStore"]

DEFAULT_EXPERIMENT_ID = 0
_ACTIVE, _DELETED = LifecycleStage.ACTIVE, LifecycleStage.DELETED
_INT_MAX = 2**31 - 1  # experiment ids are INTEGER columns

_METRIC_COLUMNS = ("run_uuid", "key", "step", "timestamp", "value", "nonfinite")


@cache
def _run_stage(schema: Schema) -> sa.Select[Any]:
    runs = schema.runs
    return sa.select(runs.c.lifecycle_stage, runs.c.experiment_id).where(
        runs.c.run_uuid == sa.bindparam("run_uuid")
    )


@cache
def _history(schema: Schema) -> sa.Select[Any]:
    m = schema.metrics.c
    return (
        sa.select(m.value, m.nonfinite, m.timestamp, m.step)
        .where(m.run_uuid == sa.bindparam("run_uuid"), m.key == sa.bindparam("key"))
        .order_by(m.step, m.timestamp, m.value, m.nonfinite)
    )


class _DriverBatch(NamedTuple):
    """A log_batch's rows as tuples, in :class:`tracklet_sql._write.BatchSql`'s parameter order."""

    points: BatchPoints
    params: list[tuple[str, str, str]]
    tags: list[tuple[str, str, str]]
    new_name: str | None


def _execute_rows(cursor: Any, sql: str, rows: Sequence[tuple[Any, ...]]) -> None:
    """One statement per row on a driver cursor (``execute`` for one: cheaper than a one-row
    ``executemany``)."""
    if len(rows) == 1:
        cursor.execute(sql, rows[0])
    elif rows:
        cursor.executemany(sql, rows)


def _experiment_key(experiment_id: Any) -> int | None:
    """The integer id for a user's experiment id; None if it cannot name a stored one. Only
    the canonical spelling names one: "01" is not experiment 1."""
    text = str(experiment_id)
    if text.isascii() and text.isdecimal() and len(text) <= 10:
        number = int(text)
        if str(number) == text and number <= _INT_MAX:
            return number
    return None


def _experiment_keys(experiment_ids: list[str]) -> list[int]:
    """The integer ids of those that can name a stored experiment."""
    return [k for k in (_experiment_key(e) for e in experiment_ids) if k is not None]


class SqlStore(SqlImport, SqlSampling, TrackingStore, SqlTraces):
    """Tracking store on a SQL database named by a SQLAlchemy URL.

    :param store_uri: ``sqlite:///path.db``, ``postgresql://…`` or ``mysql://…`` (a
        ``+driver`` suffix is honoured). A new sqlite file is created with the schema; a
        server database must be empty or at this version's schema (``tracklet db upgrade``).
    :param artifact_uri: root under which new experiments keep artifacts
        (``<root>/<experiment_id>``); ``./mlruns`` of the working directory when None,
        as MLflow does for its database stores.

    A database holding MLflow's own schema is served as it is (:mod:`tracklet_sql._schemas`:
    ``self.schema`` says which tables and value encoding the store works on).

    Traces (with their spans: ``span_storage``) are :class:`tracklet_sql._traces.SqlTraces`';
    the copy primitives (capability ``import``) :class:`tracklet_sql._import.SqlImport`'s.
    """

    capabilities = frozenset({"datasets", "concurrent_processes", "idempotent_metrics", "import"})

    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        if not store_uri:
            raise TrackletException(
                "SqlStore needs a database URI such as sqlite:///mlflow.db.", INVALID_PARAMETER_VALUE
            )
        super().__init__(store_uri, artifact_uri)
        self.engine = make_engine(store_uri)
        self.dialect = dialect_name(self.engine)
        try:
            self.schema: Schema = prepare_database(self.engine)
        except BaseException:
            self.engine.dispose()  # a refused database leaves no connection behind
            raise
        self.artifact_root_uri = resolve_local_uri(artifact_uri or "mlruns")
        #: log_batch's statements on the driver's connection (sqlite3, psycopg), else None
        self._batch_sql = (
            batch_sql(self.engine.dialect, self.schema) if has_driver_path(self.engine) else None
        )
        self._ensure_default_experiment()

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    def _ensure_default_experiment(self) -> None:
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(self.schema.experiments.c.experiment_id).where(
                    self.schema.experiments.c.experiment_id == DEFAULT_EXPERIMENT_ID
                )
            ).first()
        if found is None:
            write(self.engine, self._create_default_experiment)

    def _check_experiment(self, name: str, location: str | None) -> None:
        """Refuse what a narrower column of MLflow's schema cannot hold (no-op on tracklet's)."""
        columns = self.schema.experiments.c
        self.schema.check_length(self.dialect, columns.name, name, "The experiment name")
        self.schema.check_length(self.dialect, columns.artifact_location, location, "The artifact location")

    def _create_default_experiment(self, conn: sa.Connection) -> None:
        now = now_ms()
        row = {
            "experiment_id": DEFAULT_EXPERIMENT_ID,
            "name": "Default",
            "artifact_location": append_to_uri_path(self.artifact_root_uri, str(DEFAULT_EXPERIMENT_ID)),
            "lifecycle_stage": _ACTIVE,
            "creation_time": now,
            "last_update_time": now,
        }
        if self.dialect == "mysql":
            # an explicit 0 in an AUTO_INCREMENT column means "next value" unless told otherwise
            mode = conn.exec_driver_sql("SELECT @@SESSION.sql_mode").scalar()
            conn.exec_driver_sql(
                "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',NO_AUTO_VALUE_ON_ZERO')"
            )
            try:
                insert_ignore(conn, self.schema.experiments, [row])
            finally:
                conn.execute(sa.text("SET SESSION sql_mode = :mode"), {"mode": mode})
        else:
            insert_ignore(conn, self.schema.experiments, [row])

    # -- experiments ---------------------------------------------------------------------------

    def _create_experiment(
        self, name: str, artifact_location: str | None, tags: list[ExperimentTag | RunTag]
    ) -> str:
        """Create an experiment; its artifacts go to ``artifact_location`` or ``<root>/<id>``."""
        now = now_ms()

        def create(conn: sa.Connection) -> str:
            if self._experiment_id_by_name(conn, name) is not None:
                raise refusals.experiment_name_taken(name)
            location = resolve_local_uri(artifact_location) if artifact_location else None
            self._check_experiment(name, location)
            result = conn.execute(
                self.schema.experiments.insert().values(
                    name=name,
                    artifact_location=location,
                    lifecycle_stage=_ACTIVE,
                    creation_time=now,
                    last_update_time=now,
                )
            )
            key = int(result.inserted_primary_key[0])
            if location is None:
                conn.execute(
                    self.schema.experiments.update()
                    .where(self.schema.experiments.c.experiment_id == key)
                    .values(artifact_location=append_to_uri_path(self.artifact_root_uri, str(key)))
                )
            rows = {t.key: {"experiment_id": key, "key": t.key, "value": str(t.value)} for t in tags}
            upsert(conn, self.schema.experiment_tags, list(rows.values()), ["value"])
            return str(key)

        try:
            return write(self.engine, create)
        except IntegrityError:
            # another process took the name between our check and our insert
            raise refusals.experiment_name_taken(name) from None

    def _experiment_id_by_name(self, conn: sa.Connection, name: str) -> int | None:
        found = conn.execute(
            sa.select(self.schema.experiments.c.experiment_id).where(self.schema.experiments.c.name == name)
        ).first()
        return None if found is None else int(found[0])

    def _get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment, active or deleted."""
        key = _experiment_key(experiment_id)
        if key is not None:
            with self.engine.connect() as conn:
                found = load_experiments(self.schema, conn, [key]).get(key)
            if found is not None:
                return found
        raise refusals.no_such_experiment(experiment_id)

    def _get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        """The experiment with this name (active or deleted), or None."""
        with self.engine.connect() as conn:
            key = self._experiment_id_by_name(conn, experiment_name)
            return None if key is None else load_experiments(self.schema, conn, [key]).get(key)

    def _search_experiments(
        self,
        view_type: int,
        max_results: int,
        filter_string: str | None,
        order_by: list[str],
        page_token: str | None,
    ) -> PagedList[Experiment]:
        """Experiments matching the filter, ordered and paged in the database."""
        stages = LifecycleStage.view_type_to_stages(view_type)
        with self.engine.connect() as conn:
            ids, token = search_experiment_ids(
                conn, stages, filter_string, order_by, max_results, page_token, self.schema
            )
            found = load_experiments(self.schema, conn, ids)
        return PagedList([found[i] for i in ids if i in found], token)

    def _delete_experiment(self, experiment_id: str) -> None:
        """Mark the experiment and its active runs deleted."""
        key = _experiment_key(experiment_id)
        now = now_ms()

        def delete(conn: sa.Connection) -> None:
            if self._experiment_stage(conn, key, experiment_id) != _ACTIVE:
                raise refusals.experiment_not_deleted(experiment_id)
            self._set_experiment(conn, key, lifecycle_stage=_DELETED, last_update_time=now)
            conn.execute(
                self.schema.runs.update()
                .where(self.schema.runs.c.experiment_id == key, self.schema.runs.c.lifecycle_stage == _ACTIVE)
                .values(lifecycle_stage=_DELETED, deleted_time=now)
            )

        write(self.engine, delete)

    def _restore_experiment(self, experiment_id: str) -> None:
        """Mark a deleted experiment and its deleted runs active again."""
        key = _experiment_key(experiment_id)

        def restore(conn: sa.Connection) -> None:
            if self._experiment_stage(conn, key, experiment_id) != _DELETED:
                raise refusals.experiment_not_deleted(experiment_id)
            self._set_experiment(conn, key, lifecycle_stage=_ACTIVE, last_update_time=now_ms())
            conn.execute(
                self.schema.runs.update()
                .where(
                    self.schema.runs.c.experiment_id == key, self.schema.runs.c.lifecycle_stage == _DELETED
                )
                .values(lifecycle_stage=_ACTIVE, deleted_time=None)
            )

        write(self.engine, restore)

    def _rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an active experiment; the new name must be unused."""
        key = _experiment_key(experiment_id)

        self._check_experiment(new_name, None)

        def rename(conn: sa.Connection) -> None:
            if self._experiment_stage(conn, key, experiment_id) != _ACTIVE:
                raise refusals.rename_deleted_experiment(experiment_id)
            holder = self._experiment_id_by_name(conn, new_name)
            if holder is not None and holder != key:
                raise refusals.experiment_name_taken(new_name)
            self._set_experiment(conn, key, name=new_name, last_update_time=now_ms())

        try:
            write(self.engine, rename)
        except IntegrityError:
            raise refusals.experiment_name_taken(new_name) from None

    def _set_experiment_tag(self, experiment_id: str, tag: ExperimentTag | RunTag) -> None:
        """Set one tag of an active experiment."""
        key = _experiment_key(experiment_id)
        row = {"experiment_id": key, "key": tag.key, "value": "" if tag.value is None else str(tag.value)}

        def set_tag(conn: sa.Connection) -> None:
            self._active_experiment(conn, key, experiment_id)
            upsert(conn, self.schema.experiment_tags, [row], ["value"])

        write(self.engine, set_tag)

    def _delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one tag of an active experiment."""
        number = _experiment_key(experiment_id)
        t = self.schema.experiment_tags.c

        def delete(conn: sa.Connection) -> None:
            self._active_experiment(conn, number, experiment_id)
            if (
                conn.execute(
                    self.schema.experiment_tags.delete().where(t.experiment_id == number, t.key == key)
                ).rowcount
                == 0
            ):
                raise refusals.no_experiment_tag(experiment_id, key)

        write(self.engine, delete)

    def _experiment_stage(self, conn: sa.Connection, key: int | None, experiment_id: str) -> str:
        """The experiment's lifecycle stage; ``RESOURCE_DOES_NOT_EXIST`` if there is none."""
        stage = None
        if key is not None:
            stage = conn.execute(
                sa.select(self.schema.experiments.c.lifecycle_stage).where(
                    self.schema.experiments.c.experiment_id == key
                )
            ).scalar()
        if stage is None:
            raise refusals.no_such_experiment(experiment_id)
        return str(stage)

    def _active_experiment(self, conn: sa.Connection, key: int | None, experiment_id: str) -> None:
        """Refuses unless the experiment exists and is active (MLflow's words and code)."""
        stage = self._experiment_stage(conn, key, experiment_id)
        if stage != _ACTIVE:
            raise refusals.experiment_not_active(experiment_id, stage)

    def _set_experiment(self, conn: sa.Connection, key: int | None, **values: Any) -> None:
        conn.execute(
            self.schema.experiments.update()
            .where(self.schema.experiments.c.experiment_id == key)
            .values(**values)
        )

    # -- runs ------------------------------------------------------------------------------------

    def _create_run(
        self,
        experiment_id: str,
        user_id: str | None,
        start_time: int | None,
        tags: list[RunTag],
        run_name: str,
    ) -> Run:
        """Create a RUNNING run in an active experiment."""
        key = _experiment_key(experiment_id)
        run_id = uuid.uuid4().hex
        tag_values = {t.key: "" if t.value is None else str(t.value) for t in tags}
        info_values = {
            "run_uuid": run_id,
            "name": run_name,
            "experiment_id": key,
            "user_id": user_id or "",
            "status": RunStatus.to_string(RunStatus.RUNNING),
            "start_time": start_time if start_time is not None else now_ms(),
            "end_time": None,
            "lifecycle_stage": _ACTIVE,
        }

        def run_values(row: Any) -> dict[str, Any]:
            """The new run's columns, given its experiment's (lifecycle_stage, artifact_location)."""
            if row is None:
                raise refusals.no_such_experiment(experiment_id)
            if row[0] != _ACTIVE:
                raise refusals.run_in_deleted_experiment(experiment_id)
            values = {
                **info_values,
                **self.schema.run_defaults,
                "artifact_uri": append_to_uri_path(row[1], run_id, "artifacts"),
            }
            self.schema.check_length(
                self.dialect,
                self.schema.runs.c.artifact_uri,
                values["artifact_uri"],
                "The run's artifact URI",
            )
            return values

        def create(conn: sa.Connection) -> dict[str, Any]:
            values = run_values(
                conn.execute(
                    sa.select(
                        self.schema.experiments.c.lifecycle_stage, self.schema.experiments.c.artifact_location
                    ).where(self.schema.experiments.c.experiment_id == key)
                ).first()
            )
            conn.execute(self.schema.runs.insert().values(values))
            tag_rows = [{"run_uuid": run_id, "key": k, "value": v} for k, v in tag_values.items()]
            if tag_rows:
                conn.execute(self.schema.tags.insert(), tag_rows)
            return values

        def create_on_driver(cursor: Any) -> dict[str, Any]:
            sql = self._batch_sql
            assert sql is not None
            cursor.execute(sql.experiment, (key,))
            values = run_values(cursor.fetchone())
            with pipeline(cursor):
                cursor.execute(
                    insert_sql(self.engine.dialect, self.schema.runs, tuple(values)), tuple(values.values())
                )
                _execute_rows(cursor, sql.tag, [(run_id, k, v) for k, v in tag_values.items()])
            return values

        if self._batch_sql is not None:
            values = driver_write(self.engine, create_on_driver)
        else:
            values = write(self.engine, create)
        info = RunInfo(
            run_id,
            experiment_id,
            values["user_id"],
            values["status"],
            values["start_time"],
            None,
            _ACTIVE,
            values["artifact_uri"],
            run_name,
        )
        return Run(info, RunData(tags=[RunTag(k, v) for k, v in tag_values.items()]))

    def _get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params, tags and dataset inputs."""
        with self.engine.connect() as conn:
            found = load_run(self.schema, conn, run_id)
        if found is None:
            raise refusals.no_such_run(run_id)
        return found

    def _update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        """Change status, end time and/or name of an active run."""
        values: dict[str, Any] = {}
        if run_status is not None:
            values["status"] = run_status
        if end_time is not None:
            values["end_time"] = end_time
        if run_name:
            values["name"] = run_name

        def update(conn: sa.Connection) -> RunInfo:
            self._active_run(conn, run_id)
            if values:
                conn.execute(
                    self.schema.runs.update().where(self.schema.runs.c.run_uuid == run_id).values(values)
                )
            if run_name:
                upsert(
                    conn,
                    self.schema.tags,
                    [{"run_uuid": run_id, "key": MLFLOW_RUN_NAME, "value": run_name}],
                    ["value"],
                )
            return load_run_infos(self.schema, conn, [run_id])[run_id]

        return write(self.engine, update)

    def _delete_run(self, run_id: str) -> None:
        """Mark a run deleted."""
        self._set_run_stage(run_id, _DELETED, now_ms())

    def _restore_run(self, run_id: str) -> None:
        """Mark a deleted run active again."""
        self._set_run_stage(run_id, _ACTIVE, None)

    def _set_run_stage(self, run_id: str, stage: str, deleted_time: int | None) -> None:

        def set_stage(conn: sa.Connection) -> None:
            result = conn.execute(
                self.schema.runs.update()
                .where(self.schema.runs.c.run_uuid == run_id)
                .values(lifecycle_stage=stage, deleted_time=deleted_time)
            )
            if result.rowcount == 0:
                raise refusals.no_such_run(run_id)

        write(self.engine, set_stage)

    def _active_run(self, conn: sa.Connection, run_id: str) -> int:
        """The run's experiment id; raises unless the run exists and is active."""
        row = conn.execute(_run_stage(self.schema), {"run_uuid": run_id}).first()
        if row is None:
            raise refusals.no_such_run(run_id)
        if row.lifecycle_stage != _ACTIVE:
            raise refusals.run_not_active(run_id, row.lifecycle_stage)
        return int(row.experiment_id)

    # -- logging -----------------------------------------------------------------------------------

    def _log_batch(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None:
        """Log metrics, params and tags in one transaction: all of them or none (a single
        metric, param or tag goes this way too)."""
        points = metric_points(metrics, self.schema.encode_value)
        param_rows = {p.key: {"run_uuid": run_id, "key": p.key, "value": str(p.value)} for p in params}
        tag_rows = {
            t.key: {"run_uuid": run_id, "key": t.key, "value": "" if t.value is None else str(t.value)}
            for t in tags
        }
        new_name = tag_rows[MLFLOW_RUN_NAME]["value"] if MLFLOW_RUN_NAME in tag_rows else None
        if self._batch_sql is not None:
            rows = _DriverBatch(
                points,
                [(run_id, p["key"], p["value"]) for p in param_rows.values()],
                [(run_id, t["key"], t["value"]) for t in tag_rows.values()],
                new_name,
            )
            driver_write(self.engine, lambda cursor: self._log_rows(cursor, run_id, rows, params))
            return

        def log(conn: sa.Connection) -> None:
            self._active_run(conn, run_id)
            if param_rows:
                insert_ignore(conn, self.schema.params, list(param_rows.values()))
                self._check_params(conn, run_id, params)
            insert_ignore_tuples(conn, self.schema.metrics, _METRIC_COLUMNS, points.history.rows(run_id))
            raise_latest(conn, self.schema.latest_metrics, points.latest.rows(run_id))
            upsert(conn, self.schema.tags, list(tag_rows.values()), ["value"])
            if new_name:
                conn.execute(
                    self.schema.runs.update()
                    .where(self.schema.runs.c.run_uuid == run_id)
                    .values(name=new_name)
                )

        write(self.engine, log)

    def _log_rows(self, cursor: Any, run_id: str, rows: _DriverBatch, params: Sequence[Param]) -> None:
        """``log_batch``'s writes on the driver's cursor (sqlite3 or psycopg: :class:`BatchSql`).

        Every statement is sent before any answer is read (on PostgreSQL in one pipeline:
        two round trips with the commit, not one per statement); the run's state and the
        stored params are checked after, and a refusal rolls all of it back. A run that
        does not exist fails the rows' foreign key first."""
        sql = self._batch_sql
        assert sql is not None
        stage, stored = cursor.connection.cursor(), cursor.connection.cursor()
        try:
            with pipeline(cursor):
                stage.execute(sql.run_stage, (run_id,))
                if rows.params:
                    _execute_rows(cursor, sql.param, rows.params)
                    keys = [p[1] for p in rows.params]
                    if sql.metric_arrays is not None:  # PostgreSQL: the keys as one array
                        stored.execute(sql.param_values, (run_id, keys))
                    else:
                        marks = ", ".join("?" * len(keys))
                        stored.execute(sql.param_values.format(keys=marks), (run_id, *keys))
                write_points(cursor, sql, run_id, rows.points)
                _execute_rows(cursor, sql.tag, rows.tags)
                if rows.new_name:
                    cursor.execute(sql.rename, (rows.new_name, run_id))
            found = stage.fetchone()
            values = dict(stored.fetchall()) if rows.params else {}
        except Exception as exc:
            if missing_parent(exc):
                raise refusals.no_such_run(run_id) from None
            raise
        finally:
            stage.close()
            stored.close()
        if found is None:
            raise refusals.no_such_run(run_id)
        if found[0] != _ACTIVE:
            raise refusals.run_not_active(run_id, found[0])
        for p in params:
            if values.get(p.key) != str(p.value):
                raise refusals.param_changed(run_id, p.key, values.get(p.key), p.value)

    def _check_params(self, conn: sa.Connection, run_id: str, params: Sequence[Param]) -> None:
        """After an insert-if-absent: every param of the call must now hold the call's value."""
        stored = dict(
            conn.execute(
                sa.select(self.schema.params.c.key, self.schema.params.c.value).where(
                    self.schema.params.c.run_uuid == run_id,
                    self.schema.params.c.key.in_({p.key for p in params}),
                )
            ).all()
        )
        for p in params:
            if stored.get(p.key) != str(p.value):
                raise refusals.param_changed(run_id, p.key, stored.get(p.key), p.value)

    def _delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag of an active run."""

        def delete(conn: sa.Connection) -> None:
            self._active_run(conn, run_id)
            result = conn.execute(
                self.schema.tags.delete().where(
                    self.schema.tags.c.run_uuid == run_id, self.schema.tags.c.key == key
                )
            )
            if result.rowcount == 0:
                raise refusals.no_run_tag(run_id, key)

        write(self.engine, delete)

    def _log_inputs(self, run_id: str, datasets: list[DatasetInput]) -> None:
        """Record datasets the run used: a dataset is stored once per experiment."""

        def log(conn: sa.Connection) -> None:
            experiment_key = self._active_run(conn, run_id)
            for item in datasets:
                self._link_dataset(conn, run_id, experiment_key, item)

        write(self.engine, log)

    def _link_dataset(
        self, conn: sa.Connection, run_id: str, experiment_key: int, item: DatasetInput
    ) -> None:
        d = item.dataset
        insert_ignore(
            conn,
            self.schema.datasets,
            [
                {
                    "dataset_uuid": uuid.uuid4().hex,
                    "experiment_id": experiment_key,
                    "name": d.name,
                    "digest": d.digest,
                    "dataset_source_type": d.source_type,
                    "dataset_source": d.source,
                    "dataset_schema": d.schema,
                    "dataset_profile": d.profile,
                }
            ],
        )
        dataset_uuid = conn.execute(
            sa.select(self.schema.datasets.c.dataset_uuid).where(
                self.schema.datasets.c.experiment_id == experiment_key,
                self.schema.datasets.c.name == d.name,
                self.schema.datasets.c.digest == d.digest,
            )
        ).scalar_one()
        link = {
            "source_type": "DATASET",
            "source_id": dataset_uuid,
            "destination_type": "RUN",
            "destination_id": run_id,
        }
        insert_ignore(conn, self.schema.inputs, [{"input_uuid": uuid.uuid4().hex, **link}])
        input_uuid = conn.execute(
            sa.select(self.schema.inputs.c.input_uuid).where(
                *(self.schema.inputs.c[k] == v for k, v in link.items())
            )
        ).scalar_one()
        tag_rows = {
            t.key: {"input_uuid": input_uuid, "name": t.key, "value": str(t.value)} for t in item.tags
        }
        insert_ignore(conn, self.schema.input_tags, list(tag_rows.values()))

    # -- metric history ------------------------------------------------------------------------------

    def _get_metric_history(
        self, run_id: str, metric_key: str, max_results: int | None, page_token: str | None
    ) -> PagedList[Metric]:
        """Every point of one metric, by step then timestamp; pages when ``max_results`` is set."""
        offset = decode_page_token(page_token)
        if max_results is None and not offset:
            with self.engine.connect() as conn:
                points = metric_history(self.schema, conn, run_id, metric_key)
                # a run with points exists; only an empty history needs the run looked up
                if not points and conn.execute(_run_stage(self.schema), {"run_uuid": run_id}).first() is None:
                    raise refusals.no_such_run(run_id)
            return PagedList(points, None)
        statement = _history(self.schema)
        if max_results is not None:
            statement = statement.limit(max_results + 1)
        if offset:
            statement = statement.offset(offset)
        with self.engine.connect() as conn:
            if conn.execute(_run_stage(self.schema), {"run_uuid": run_id}).first() is None:
                raise refusals.no_such_run(run_id)
            rows = conn.execute(statement, {"run_uuid": run_id, "key": metric_key}).all()
        token = None
        decode = self.schema.decode_value
        if max_results is not None and len(rows) > max_results:
            rows = rows[:max_results]
            token = encode_page_token(offset + max_results)
        points = Metric.from_rows(
            metric_key,
            [(decode(value, nonfinite), timestamp, step) for value, nonfinite, timestamp, step in rows],
        )
        return PagedList(points, token)

    def _get_metric_history_bulk(self, run_ids: list[str], metric_key: str) -> list[Metric]:
        """History of one metric across runs in one query, each point carrying its run id."""
        m = self.schema.metrics.c
        statement = (
            sa.select(m.run_uuid, m.value, m.nonfinite, m.timestamp, m.step)
            .where(m.run_uuid.in_(sa.bindparam("ids", expanding=True)), m.key == metric_key)
            .order_by(m.run_uuid, m.step, m.timestamp, m.value)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(statement, {"ids": list(run_ids)}).all() if run_ids else []
        decode = self.schema.decode_value
        out: list[Metric] = []
        for run_uuid, run_rows in itertools.groupby(rows, operator.itemgetter(0)):
            points = [
                (decode(value, nonfinite), timestamp, step)
                for _, value, nonfinite, timestamp, step in run_rows
            ]
            out.extend(Metric.from_rows(metric_key, points, run_uuid))
        return out

    # -- search ------------------------------------------------------------------------------------

    def _search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str,
        run_view_type: int,
        max_results: int,
        order_by: list[str],
        page_token: str | None,
    ) -> PagedList[Run]:
        """Runs of the experiments matching the filter, filtered, ordered and paged in SQL."""
        keys = _experiment_keys(experiment_ids)
        stages = LifecycleStage.view_type_to_stages(run_view_type)
        with self.engine.connect() as conn:
            runs, token = search_runs(
                conn, keys, stages, filter_string, order_by, max_results, page_token, self.schema
            )
        return PagedList(runs, token)

    def _search_datasets(self, experiment_ids: list[str]) -> list[DatasetSummary]:
        """The datasets the experiments' runs used, with their contexts, in one query."""
        keys = _experiment_keys(experiment_ids)
        d, i, t = self.schema.datasets.c, self.schema.inputs.c, self.schema.input_tags.c
        statement = (
            sa.select(d.experiment_id, d.name, d.digest, t.value)
            .select_from(self.schema.datasets)
            .join(self.schema.inputs, i.source_id == d.dataset_uuid)
            .outerjoin(
                self.schema.input_tags,
                sa.and_(t.input_uuid == i.input_uuid, t.name == MLFLOW_DATASET_CONTEXT),
            )
            .where(d.experiment_id.in_(sa.bindparam("keys", expanding=True)))
            .distinct()
            .limit(MAX_DATASET_SUMMARIES)
        )
        if not keys:
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(statement, {"keys": keys}).all()
        return [DatasetSummary(str(e), name, digest, context) for e, name, digest, context in rows]
