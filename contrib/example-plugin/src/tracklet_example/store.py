"""MemoryTrackingStore: experiments and runs in a dict, gone when the process ends.

A complete :class:`~tracklet.stores.TrackingStore` in the fewest lines, to copy when
writing a real one. It writes the ``_``-prefixed primitives only: the public methods
of :class:`~tracklet.stores.TrackingStore` have checked every argument before one of
them is called (names, keys, values, ids, limits, a new run's name and tags are all
settled). What is left to a store is what depends on its records:

1. look them up and refuse with the shared refusal of :mod:`tracklet.stores.refusals`
   (unknown id -> ``no_such_run``, deleted run -> ``run_not_active``, param logged with
   another value -> ``param_changed``…), so every backend words it the same;
2. only then change anything, so a refused call changes nothing.

Search is delegated to :func:`tracklet.search.search_runs_in_memory` and
:func:`~tracklet.search.search_experiments_in_memory`: build the candidate entities,
hand them over with the filter, order-by and page token.
"""

from __future__ import annotations

import dataclasses
import math
import threading
import time
import uuid
from collections.abc import Sequence

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
    RunInputs,
    RunTag,
)
from tracklet.search import decode_page_token, paginate, search_experiments_in_memory, search_runs_in_memory
from tracklet.stores import TrackingStore, refusals
from tracklet.stores.forking import after_fork_in_child

__all__ = ["MemoryTrackingStore"]

RUN_NAME_TAG = "mlflow.runName"  # MLflow keeps the run name in this tag as well


def _now() -> int:
    return time.time_ns() // 1_000_000


def _recency(metric: Metric) -> tuple[int, int, float]:
    """The latest value has the largest step, then timestamp, then value (NaN lowest)."""
    value = -math.inf if math.isnan(metric.value) else metric.value
    return metric.step, metric.timestamp, value


@dataclasses.dataclass
class _ExperimentRecord:
    experiment_id: str
    name: str
    artifact_location: str
    creation_time: int
    last_update_time: int
    lifecycle_stage: str = LifecycleStage.ACTIVE
    tags: dict[str, str] = dataclasses.field(default_factory=dict)

    def entity(self) -> Experiment:
        return Experiment(**dataclasses.asdict(self))  # asdict copies: callers get no references


@dataclasses.dataclass
class _RunRecord:
    run_id: str
    experiment_id: str
    user_id: str
    start_time: int
    artifact_uri: str
    run_name: str
    status: str = "RUNNING"
    end_time: int | None = None
    lifecycle_stage: str = LifecycleStage.ACTIVE
    history: dict[str, list[Metric]] = dataclasses.field(default_factory=dict)  # every point, in order
    params: dict[str, str] = dataclasses.field(default_factory=dict)
    tags: dict[str, str] = dataclasses.field(default_factory=dict)
    inputs: list[DatasetInput] = dataclasses.field(default_factory=list)

    def info(self) -> RunInfo:
        return RunInfo(
            run_id=self.run_id,
            experiment_id=self.experiment_id,
            user_id=self.user_id,
            status=self.status,
            start_time=self.start_time,
            end_time=self.end_time,
            lifecycle_stage=self.lifecycle_stage,
            artifact_uri=self.artifact_uri,
            run_name=self.run_name,
        )

    def entity(self) -> Run:
        # Entities are fresh copies: callers can never reach into the store's records.
        latest = [max(points, key=_recency) for points in self.history.values()]
        params = [Param(k, v) for k, v in self.params.items()]
        tags = [RunTag(k, v) for k, v in self.tags.items()]
        return Run(self.info(), RunData(latest, params, tags), RunInputs(list(self.inputs)))


class MemoryTrackingStore(TrackingStore):
    """Tracking store held in memory (scheme ``memory://<name>``).

    :param store_uri: ``memory://<name>``; one store per URI and process (tracklet caches
        stores by URI). A random name when None.
    :param artifact_uri: root of new experiments' artifact locations; defaults to the
        store URI, which :class:`~tracklet_example.artifacts.MemoryArtifactRepository` serves.
    """

    # Optional features this store implements (see tracklet.stores.CAPABILITIES). Not
    # "concurrent_processes": another process cannot see this process's memory.
    capabilities = frozenset({"datasets", "import"})

    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        store_uri = store_uri or f"memory://{uuid.uuid4().hex}"
        super().__init__(store_uri, artifact_uri)
        self._artifact_root = (artifact_uri or store_uri).rstrip("/")
        self._lock = threading.RLock()  # one lock: every method reads or writes both dicts
        self._experiments: dict[str, _ExperimentRecord] = {}
        self._runs: dict[str, _RunRecord] = {}
        self._last_experiment_id = -1
        self._add_experiment(Experiment.DEFAULT_EXPERIMENT_NAME, None, [])  # gets id "0"
        # A process that forks gives its child a copy of this store; the lock must not be
        # one another thread held at that moment (it would never be released there).
        after_fork_in_child(self, MemoryTrackingStore._new_lock)

    def _new_lock(self) -> None:
        self._lock = threading.RLock()

    # -- lookups shared by the methods below ---------------------------------------------------

    def _experiment(self, experiment_id: str, active: bool = False) -> _ExperimentRecord:
        record = self._experiments.get(experiment_id)
        if record is None:
            raise refusals.no_such_experiment(experiment_id)
        if active and record.lifecycle_stage != LifecycleStage.ACTIVE:
            raise refusals.experiment_not_active(experiment_id, record.lifecycle_stage)
        return record

    def _run(self, run_id: str, active: bool = False) -> _RunRecord:
        record = self._runs.get(run_id)
        if record is None:
            raise refusals.no_such_run(run_id)
        if active and record.lifecycle_stage != LifecycleStage.ACTIVE:
            raise refusals.run_not_active(run_id, record.lifecycle_stage)
        return record

    def _check_name_free(self, name: str) -> None:
        if any(record.name == name for record in self._experiments.values()):
            raise refusals.experiment_name_taken(name)

    # -- experiments -----------------------------------------------------------------------------

    def _create_experiment(
        self, name: str, artifact_location: str | None, tags: list[ExperimentTag | RunTag]
    ) -> str:
        """Create an experiment with the next integer id."""
        with self._lock:
            self._check_name_free(name)
            return self._add_experiment(name, artifact_location, tags)

    def _add_experiment(
        self, name: str, artifact_location: str | None, tags: Sequence[ExperimentTag | RunTag]
    ) -> str:
        self._last_experiment_id += 1
        experiment_id = str(self._last_experiment_id)
        now = _now()
        self._experiments[experiment_id] = _ExperimentRecord(
            experiment_id=experiment_id,
            name=name,
            artifact_location=artifact_location or f"{self._artifact_root}/{experiment_id}",
            creation_time=now,
            last_update_time=now,
            tags={t.key: str(t.value) for t in tags},
        )
        return experiment_id

    def _get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment, active or deleted."""
        with self._lock:
            return self._experiment(experiment_id).entity()

    def _search_experiments(
        self,
        view_type: int,
        max_results: int,
        filter_string: str | None,
        order_by: list[str],
        page_token: str | None,
    ) -> PagedList[Experiment]:
        """Experiments of the view type, filtered, ordered and paged by tracklet.search."""
        with self._lock:
            candidates = [
                record.entity()
                for record in self._experiments.values()
                if LifecycleStage.matches_view_type(view_type, record.lifecycle_stage)
            ]
        return search_experiments_in_memory(candidates, filter_string, order_by, max_results, page_token)

    def _delete_experiment(self, experiment_id: str) -> None:
        """Mark the experiment and all its runs deleted."""
        with self._lock:
            record = self._experiment(experiment_id)
            if record.lifecycle_stage != LifecycleStage.ACTIVE:
                raise refusals.experiment_not_deleted(experiment_id)
            self._set_experiment_stage(record, LifecycleStage.DELETED)

    def _restore_experiment(self, experiment_id: str) -> None:
        """Mark a deleted experiment and all its runs active again."""
        with self._lock:
            record = self._experiment(experiment_id)
            if record.lifecycle_stage != LifecycleStage.DELETED:
                raise refusals.experiment_not_deleted(experiment_id)
            self._set_experiment_stage(record, LifecycleStage.ACTIVE)

    def _set_experiment_stage(self, record: _ExperimentRecord, stage: str) -> None:
        # As MLflow does: an experiment's runs are deleted and restored with it.
        record.lifecycle_stage = stage
        record.last_update_time = _now()
        for run in self._runs.values():
            if run.experiment_id == record.experiment_id:
                run.lifecycle_stage = stage

    def _rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an active experiment to an unused name."""
        with self._lock:
            record = self._experiment(experiment_id)
            if record.lifecycle_stage != LifecycleStage.ACTIVE:
                raise refusals.rename_deleted_experiment(experiment_id)
            if new_name != record.name:
                self._check_name_free(new_name)
            record.name = new_name
            record.last_update_time = _now()

    def _set_experiment_tag(self, experiment_id: str, tag: ExperimentTag | RunTag) -> None:
        """Set one tag of an active experiment."""
        with self._lock:
            self._experiment(experiment_id, active=True).tags[tag.key] = str(tag.value)

    def _delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one tag of an active experiment."""
        with self._lock:
            tags = self._experiment(experiment_id, active=True).tags
            if key not in tags:
                raise refusals.no_experiment_tag(experiment_id, key)
            del tags[key]

    # -- runs ------------------------------------------------------------------------------------

    def _create_run(
        self,
        experiment_id: str,
        user_id: str | None,
        start_time: int | None,
        tags: list[RunTag],
        run_name: str,
    ) -> Run:
        """Create a RUNNING run (``tags`` already hold its ``mlflow.runName``)."""
        with self._lock:
            experiment = self._experiment(experiment_id)
            if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
                raise refusals.run_in_deleted_experiment(experiment_id)
            run_id = uuid.uuid4().hex
            record = _RunRecord(
                run_id=run_id,
                experiment_id=experiment.experiment_id,
                user_id=user_id or "",
                start_time=start_time if start_time is not None else _now(),
                # MLflow's layout: <experiment location>/<run id>/artifacts
                artifact_uri=f"{experiment.artifact_location.rstrip('/')}/{run_id}/artifacts",
                run_name=run_name,
                tags={t.key: str(t.value) for t in tags},
            )
            self._runs[run_id] = record
            return record.entity()

    def _get_run(self, run_id: str) -> Run:
        """The run, active or deleted."""
        with self._lock:
            return self._run(run_id).entity()

    def _update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        """Change status, end time and/or name; None leaves a field as it is."""
        with self._lock:
            record = self._run(run_id, active=True)
            record.status = run_status or record.status
            record.end_time = end_time if end_time is not None else record.end_time
            if run_name:
                record.run_name = record.tags[RUN_NAME_TAG] = run_name
            return record.info()

    def _delete_run(self, run_id: str) -> None:
        """Mark a run deleted; it can still be read."""
        with self._lock:
            self._run(run_id).lifecycle_stage = LifecycleStage.DELETED

    def _restore_run(self, run_id: str) -> None:
        """Mark a deleted run active again."""
        with self._lock:
            self._run(run_id).lifecycle_stage = LifecycleStage.ACTIVE

    # -- logging ---------------------------------------------------------------------------------

    def _log_batch(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None:
        """Log everything or, if anything is refused, nothing."""
        with self._lock:
            record = self._run(run_id, active=True)
            for param in params:  # params are immutable: check them all before writing any
                old = record.params.get(param.key)
                if old is not None and old != str(param.value):
                    raise refusals.param_changed(run_id, param.key, old, param.value)
            for metric in metrics:
                point = Metric(metric.key, float(metric.value), metric.timestamp, metric.step)
                record.history.setdefault(metric.key, []).append(point)
            record.params.update({p.key: str(p.value) for p in params})
            for tag in tags:
                record.tags[tag.key] = str(tag.value)
                if tag.key == RUN_NAME_TAG:
                    record.run_name = str(tag.value)

    def _delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag of an active run."""
        with self._lock:
            record = self._run(run_id, active=True)
            if key not in record.tags:
                raise refusals.no_run_tag(run_id, key)
            del record.tags[key]

    def _log_inputs(self, run_id: str, datasets: list[DatasetInput]) -> None:
        """Record datasets; a dataset already recorded (same name and digest) is skipped."""
        with self._lock:
            record = self._run(run_id, active=True)
            for dataset_input in datasets:
                identity = (dataset_input.dataset.name, dataset_input.dataset.digest)
                if all((d.dataset.name, d.dataset.digest) != identity for d in record.inputs):
                    record.inputs.append(dataset_input)

    def _get_metric_history(
        self, run_id: str, metric_key: str, max_results: int | None, page_token: str | None
    ) -> PagedList[Metric]:
        """Every logged point of one metric, in logging order; paged when ``max_results`` is set."""
        decode_page_token(page_token)  # a bad token is refused even without max_results
        with self._lock:
            points = list(self._run(run_id).history.get(metric_key, []))
        if max_results is None:
            return PagedList(points, None)
        return paginate(points, page_token, max_results)

    # -- copying from another store (capability "import") ----------------------------------------
    #
    # tracklet migrate writes through these. Each makes the record exactly what it is given,
    # so running one twice changes nothing: a copy killed half-way can simply start again.

    def _import_experiment(self, experiment: Experiment, experiment_id: str) -> None:
        """Create or overwrite the experiment with this id; its tags are set, others kept."""
        with self._lock:
            if any(
                r.name == experiment.name and r.experiment_id != experiment_id
                for r in self._experiments.values()
            ):
                raise refusals.experiment_name_taken(experiment.name)
            old = self._experiments.get(experiment_id)
            self._experiments[experiment_id] = _ExperimentRecord(
                experiment_id=experiment_id,
                name=experiment.name,
                artifact_location=experiment.artifact_location,
                creation_time=experiment.creation_time if experiment.creation_time is not None else _now(),
                last_update_time=experiment.last_update_time
                if experiment.last_update_time is not None
                else _now(),
                lifecycle_stage=experiment.lifecycle_stage,
                tags={**(old.tags if old else {}), **{k: str(v) for k, v in experiment.tags.items()}},
            )
            if experiment_id.isdigit():  # the ids this store hands out next must not collide
                self._last_experiment_id = max(self._last_experiment_id, int(experiment_id))

    def _import_run(self, run: Run) -> None:
        """Create or overwrite the run with this id; its metric histories are kept."""
        info = run.info
        with self._lock:
            experiment = self._experiment(info.experiment_id)
            old = self._runs.get(info.run_id)
            self._runs[info.run_id] = _RunRecord(
                run_id=info.run_id,
                experiment_id=experiment.experiment_id,
                user_id=info.user_id or "",
                start_time=info.start_time if info.start_time is not None else _now(),
                artifact_uri=info.artifact_uri or "",
                run_name=info.run_name or "",
                status=info.status,
                end_time=info.end_time,
                lifecycle_stage=info.lifecycle_stage,
                history=old.history if old else {},
                params={k: str(v) for k, v in run.data.params.items()},
                tags={k: str(v) for k, v in run.data.tags.items()},
                inputs=list(run.inputs.dataset_inputs) if run.inputs else [],
            )

    def _import_metric_history(self, run_id: str, key: str, metrics: list[Metric]) -> None:
        """Replace the history of one metric (the latest value is computed on reading)."""
        with self._lock:
            record = self._run(run_id)
            points = [Metric(m.key, float(m.value), m.timestamp, m.step) for m in metrics]
            if points:
                record.history[key] = points
            else:
                record.history.pop(key, None)

    # -- search ----------------------------------------------------------------------------------

    def _search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str,
        run_view_type: int,
        max_results: int,
        order_by: list[str],
        page_token: str | None,
    ) -> PagedList[Run]:
        """Runs of the experiments and view type, filtered, ordered and paged by tracklet.search."""
        wanted = set(experiment_ids)
        with self._lock:
            candidates = [
                record.entity()
                for record in self._runs.values()
                if record.experiment_id in wanted
                and LifecycleStage.matches_view_type(run_view_type, record.lifecycle_stage)
            ]
        return search_runs_in_memory(candidates, filter_string, order_by, max_results, page_token)
