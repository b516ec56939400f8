"""Logged models (MLflow 3) on MLflow's own tables, as MLflow's tracking SQL store writes them.

Tags, params and metrics rows carry the model's (for metrics: the run's) experiment id;
a metric's NaN is stored as 0 and an infinity as the largest finite double of its sign
(MLflow keeps no flag for logged-model metrics, so they read back so); a run's model
inputs and outputs are rows of the tracking ``inputs`` table, once per model.
Mixed into :class:`tracklet_registry.sql.mlflow_store.MlflowSchemaRegistryStore`, which
provides ``engine``, ``t`` (:class:`.mlflow_schema.MlflowTables`) and ``store_uri``.
"""

from __future__ import annotations

import math
import uuid
from collections import defaultdict
from typing import Any

import sqlalchemy as sa

from tracklet.entities import (
    LifecycleStage,
    LoggedModel,
    LoggedModelInput,
    LoggedModelOutput,
    LoggedModelParameter,
    LoggedModelStatus,
    LoggedModelTag,
    Metric,
    PagedList,
)
from tracklet.stores import refusals
from tracklet.stores.registry import (
    LoggedModelStore,
    logged_model_experiment_not_active,
    no_logged_model_tag,
    no_such_logged_model,
)
from tracklet.uri import append_to_uri_path
from tracklet.utils.time import now_ms

from ._engine import write
from ._read import logged_model_from_row
from .mlflow_schema import MlflowTables

__all__ = ["MlflowLoggedModels"]

_ACTIVE, _DELETED = "active", "deleted"
_MAX_DOUBLE = 1.7976931348623157e308
_BIGINT_END = 2**63


def _stored(value: float) -> float:
    """A metric value as MLflow stores it in ``logged_model_metrics``."""
    if math.isnan(value):
        return 0.0
    if math.isinf(value):
        return _MAX_DOUBLE if value > 0 else -_MAX_DOUBLE
    return value


class MlflowLoggedModels(LoggedModelStore):
    """The :class:`LoggedModelStore` primitives on MLflow's ``logged_model*`` tables."""

    engine: sa.Engine
    t: MlflowTables
    store_uri: str | None

    def _tracking(self) -> Any:
        from tracklet.plugins import get_tracking_store

        assert self.store_uri is not None
        return get_tracking_store(self.store_uri)

    def _active_run_experiment(self, run_id: str) -> str:
        """The experiment of an active run (refusing an unknown or deleted run)."""
        run = self._tracking().get_run(run_id)
        if run.info.lifecycle_stage != LifecycleStage.ACTIVE:
            raise refusals.run_not_active(run_id, run.info.lifecycle_stage)
        return str(run.info.experiment_id)

    def _create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None,
        tags: list[LoggedModelTag],
        params: list[LoggedModelParameter],
        model_type: str | None,
    ) -> LoggedModel:
        experiment = self._tracking().get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise logged_model_experiment_not_active(experiment_id)
        model_id = f"m-{uuid.uuid4().hex}"
        location = append_to_uri_path(str(experiment.artifact_location), "models", model_id, "artifacts")
        now, t, exp = now_ms(), self.t, int(experiment_id)
        tag_values = {tag.key: tag.value for tag in tags}
        param_values = {p.key: str(p.value) for p in params}

        def create(conn: sa.Connection) -> None:
            conn.execute(
                t.logged_models.insert().values(
                    model_id=model_id,
                    experiment_id=exp,
                    name=name,
                    artifact_location=location,
                    creation_timestamp_ms=now,
                    last_updated_timestamp_ms=now,
                    status=LoggedModelStatus.PENDING.to_int(),
                    lifecycle_stage=_ACTIVE,
                    model_type=model_type,
                    source_run_id=source_run_id,
                )
            )
            rows = [
                {"model_id": model_id, "experiment_id": exp, "tag_key": k, "tag_value": v}
                for k, v in tag_values.items()
            ]
            if rows:
                conn.execute(t.logged_model_tags.insert(), rows)
            rows = [
                {"model_id": model_id, "experiment_id": exp, "param_key": k, "param_value": v}
                for k, v in param_values.items()
            ]
            if rows:
                conn.execute(t.logged_model_params.insert(), rows)

        write(self.engine, create)
        return self._get_logged_model(model_id, False)

    def _load_logged_models(self, conn: sa.Connection, where: Any) -> list[LoggedModel]:
        """The models ``where`` selects, with tags, params and metrics (four queries)."""
        t = self.t
        lm = t.logged_models
        rows = conn.execute(sa.select(lm).where(where).order_by(lm.c.creation_timestamp_ms)).all()
        ids = [row.model_id for row in rows]
        if not ids:
            return []
        tags: dict[str, dict[str, str]] = defaultdict(dict)
        for model_id, key, value in conn.execute(
            sa.select(
                t.logged_model_tags.c.model_id, t.logged_model_tags.c.tag_key, t.logged_model_tags.c.tag_value
            ).where(t.logged_model_tags.c.model_id.in_(ids))
        ):
            tags[model_id][key] = value
        params: dict[str, dict[str, str]] = defaultdict(dict)
        p = t.logged_model_params
        for model_id, key, value in conn.execute(
            sa.select(p.c.model_id, p.c.param_key, p.c.param_value).where(p.c.model_id.in_(ids))
        ):
            params[model_id][key] = value
        metrics: dict[str, list[Metric]] = defaultdict(list)
        m = t.logged_model_metrics
        for row in conn.execute(sa.select(m).where(m.c.model_id.in_(ids))):
            metrics[row.model_id].append(
                Metric(
                    key=row.metric_name,
                    value=row.metric_value,
                    timestamp=row.metric_timestamp_ms,
                    step=row.metric_step,
                    model_id=row.model_id,
                    dataset_name=row.dataset_name,
                    dataset_digest=row.dataset_digest,
                    run_id=row.run_id,
                )
            )
        return [
            logged_model_from_row(
                row, tags.get(row.model_id, {}), params.get(row.model_id, {}), metrics.get(row.model_id)
            )
            for row in rows
        ]

    def _get_logged_model(self, model_id: str, allow_deleted: bool) -> LoggedModel:
        lm = self.t.logged_models
        where = lm.c.model_id == model_id
        if not allow_deleted:
            where = sa.and_(where, sa.or_(lm.c.lifecycle_stage.is_(None), lm.c.lifecycle_stage != _DELETED))
        with self.engine.connect() as conn:
            found = self._load_logged_models(conn, where)
        if not found:
            raise no_such_logged_model(model_id)
        return found[0]

    def _model_write(self, model_id: str, fn: Any) -> None:
        """Run ``fn(conn, experiment_id)`` in one transaction once the active model is found,
        marking it updated."""
        lm = self.t.logged_models

        def run(conn: sa.Connection) -> None:
            where = [lm.c.model_id == model_id, lm.c.lifecycle_stage == _ACTIVE]
            experiment_id = conn.execute(sa.select(lm.c.experiment_id).where(*where)).scalar()
            if experiment_id is None:
                raise no_such_logged_model(model_id)
            conn.execute(lm.update().where(*where).values(last_updated_timestamp_ms=now_ms()))
            fn(conn, int(experiment_id))

        write(self.engine, run)

    def _finalize_logged_model(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        lm, number = self.t.logged_models, status.to_int()
        self._model_write(
            model_id,
            lambda conn, _: conn.execute(lm.update().where(lm.c.model_id == model_id).values(status=number)),
        )
        return self._get_logged_model(model_id, False)

    def _delete_logged_model(self, model_id: str) -> None:
        lm = self.t.logged_models
        self._model_write(
            model_id,
            lambda conn, _: conn.execute(
                lm.update().where(lm.c.model_id == model_id).values(lifecycle_stage=_DELETED)
            ),
        )

    def _replace(self, conn: sa.Connection, table: sa.Table, row: dict[str, Any]) -> None:
        """Insert ``row``, replacing the row with the same primary key."""
        keys = [table.c[c.name] == row[c.name] for c in table.primary_key.columns]
        conn.execute(table.delete().where(*keys))
        conn.execute(table.insert().values(**row))

    def _set_logged_model_tags(self, model_id: str, tags: list[LoggedModelTag]) -> None:
        values = {tag.key: tag.value for tag in tags}

        def set_tags(conn: sa.Connection, experiment_id: int) -> None:
            for key, value in values.items():
                row = {
                    "model_id": model_id,
                    "experiment_id": experiment_id,
                    "tag_key": key,
                    "tag_value": value,
                }
                self._replace(conn, self.t.logged_model_tags, row)

        self._model_write(model_id, set_tags)

    def _delete_logged_model_tag(self, model_id: str, key: str) -> None:
        table = self.t.logged_model_tags

        def delete(conn: sa.Connection, _: int) -> None:
            gone = conn.execute(table.delete().where(table.c.model_id == model_id, table.c.tag_key == key))
            if not gone.rowcount:
                raise no_logged_model_tag(model_id, key)

        self._model_write(model_id, delete)

    def _log_logged_model_params(self, model_id: str, params: list[LoggedModelParameter]) -> None:
        values = {p.key: str(p.value) for p in params}

        def log(conn: sa.Connection, experiment_id: int) -> None:
            for key, value in values.items():
                row = {
                    "model_id": model_id,
                    "experiment_id": experiment_id,
                    "param_key": key,
                    "param_value": value,
                }
                self._replace(conn, self.t.logged_model_params, row)

        self._model_write(model_id, log)

    def _search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        datasets: list[dict[str, Any]],
        max_results: int,
        order_by: list[dict[str, Any]],
        page_token: str | None,
    ) -> PagedList[LoggedModel]:
        from tracklet import search

        lm = self.t.logged_models
        numbers = [int(e) for e in experiment_ids if e.isdecimal() and int(e) < _BIGINT_END]
        active = sa.or_(lm.c.lifecycle_stage.is_(None), lm.c.lifecycle_stage != _DELETED)
        with self.engine.connect() as conn:
            models = self._load_logged_models(conn, sa.and_(lm.c.experiment_id.in_(numbers), active))
        result: PagedList[LoggedModel] = search.filter_logged_models(
            models,
            filter_string=filter_string,
            datasets=datasets,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
            experiment_ids=experiment_ids,
        )
        return result

    def _known_models(self, conn: sa.Connection, ids: list[str], *, active: bool = False) -> None:
        lm = self.t.logged_models
        query = sa.select(lm.c.model_id).where(lm.c.model_id.in_(ids))
        if active:
            query = query.where(lm.c.lifecycle_stage == _ACTIVE)
        known = set(conn.execute(query).scalars())
        for model_id in ids:
            if model_id not in known:
                raise no_such_logged_model(model_id)

    def _log_logged_model_metrics(self, run_id: str, metrics: list[Metric]) -> None:
        experiment_id = int(self._tracking().get_run(run_id).info.experiment_id)
        ids = sorted({str(m.model_id) for m in metrics})

        def record(conn: sa.Connection) -> None:
            self._known_models(conn, ids, active=True)
            for m in metrics:
                row = {
                    "model_id": str(m.model_id),
                    "metric_name": m.key,
                    "metric_timestamp_ms": int(m.timestamp),
                    "metric_step": int(m.step or 0),
                    "metric_value": _stored(float(m.value)),
                    "experiment_id": experiment_id,
                    "run_id": run_id,
                    "dataset_uuid": None,
                    "dataset_name": m.dataset_name,
                    "dataset_digest": m.dataset_digest,
                }
                self._replace(conn, self.t.logged_model_metrics, row)

        write(self.engine, record)

    def _link(
        self, run_id: str, ids: list[str], source: str, destination: str, steps: dict[str, int]
    ) -> None:
        """Rows ``source run -> destination model`` of the ``inputs`` table, once per model."""
        edges = self.t.inputs

        def record(conn: sa.Connection) -> None:
            self._known_models(conn, ids)
            where = (
                edges.c.source_type == source,
                edges.c.source_id == run_id,
                edges.c.destination_type == destination,
            )
            done = set(
                conn.execute(
                    sa.select(edges.c.destination_id).where(*where, edges.c.destination_id.in_(ids))
                ).scalars()
            )
            fresh = [
                {
                    "input_uuid": uuid.uuid4().hex,
                    "source_type": source,
                    "source_id": run_id,
                    "destination_type": destination,
                    "destination_id": model_id,
                    "step": steps.get(model_id, 0),
                }
                for model_id in ids
                if model_id not in done
            ]
            if fresh:
                conn.execute(edges.insert(), fresh)

        if ids:
            write(self.engine, record)

    def _log_model_inputs(self, run_id: str, models: list[LoggedModelInput]) -> None:
        self._active_run_experiment(run_id)
        self._link(run_id, list(dict.fromkeys(m.model_id for m in models)), "RUN_INPUT", "MODEL_INPUT", {})

    def _log_outputs(self, run_id: str, models: list[LoggedModelOutput]) -> None:
        self._active_run_experiment(run_id)
        steps = {m.model_id: int(m.step or 0) for m in models}
        self._link(run_id, list(steps), "RUN_OUTPUT", "MODEL_OUTPUT", steps)

    def _get_run_model_links(self, run_id: str) -> tuple[list[LoggedModelInput], list[LoggedModelOutput]]:
        e = self.t.inputs
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(e.c.destination_type, e.c.destination_id, e.c.step)
                .where(
                    e.c.source_id == run_id,
                    sa.or_(
                        sa.and_(e.c.source_type == "RUN_INPUT", e.c.destination_type == "MODEL_INPUT"),
                        sa.and_(e.c.source_type == "RUN_OUTPUT", e.c.destination_type == "MODEL_OUTPUT"),
                    ),
                )
                .order_by(e.c.destination_id)
            ).all()
        inputs = [LoggedModelInput(r.destination_id) for r in rows if r.destination_type == "MODEL_INPUT"]
        outputs = [
            LoggedModelOutput(r.destination_id, int(r.step))
            for r in rows
            if r.destination_type == "MODEL_OUTPUT"
        ]
        return inputs, outputs
