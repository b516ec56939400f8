"""MemoryTrackingStore: experiments and runs in a dict, gone when the process ends.

A complete :class:`~tracklet.stores.TrackingStore` in the fewest lines, to copy when
writing a real one. The pattern of every write:

1. validate *all* input with :mod:`tracklet.validation` (wrong input ->
   ``INVALID_PARAMETER_VALUE``);
2. look the records up (unknown id -> ``RESOURCE_DOES_NOT_EXIST``, deleted run ->
   :func:`~tracklet.stores.tracking.run_not_active`) and check what depends on stored data (params are immutable);
3. only then change anything, so a refused call changes nothing.

Search is delegated to :func:`tracklet.search.search_runs_in_memory` and
:func:`~tracklet.search.search_experiments_in_memory`: build the candidate entities,
hand them over with the filter, order-by and page token.
"""

from __future__ import annotations

import dataclasses
import math
import random
import threading
import time
import uuid
from collections.abc import Sequence

from tracklet.entities import (
    DatasetInput,
    Experiment,
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
    RunTag,
    ViewType,
)
from tracklet.exceptions import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)
from tracklet.search import decode_page_token, paginate, search_experiments_in_memory, search_runs_in_memory
from tracklet.stores import TrackingStore
from tracklet.stores.forking import after_fork_in_child
from tracklet.stores.tracking import experiment_not_active, no_experiment_tag, run_not_active
from tracklet.validation import (
    SEARCH_MAX_RESULTS_DEFAULT,
    validate_batch,
    validate_dataset,
    validate_experiment_name,
    validate_experiment_tag,
    validate_key,
    validate_max_results,
    validate_run_id,
    validate_run_name,
    validate_tag,
)

__all__ = ["MemoryTrackingStore"]

RUN_NAME_TAG = "mlflow.runName"  # MLflow keeps the run name in this tag as well


def _now() -> int:
    return time.time_ns() // 1_000_000


def _recency(metric: Metric) -> tuple[int, int, float]:
    """The latest value has the largest step, then timestamp, then value (NaN lowest)."""
    value = -math.inf if math.isnan(metric.value) else metric.value
    return metric.step, metric.timestamp, value


def _random_run_name() -> str:
    adjective = random.choice(["brave", "calm", "eager", "gentle", "lucky", "quiet", "swift", "witty"])
    noun = random.choice(["otter", "heron", "lynx", "panda", "robin", "shark", "tiger", "whale"])
    return f"{adjective}-{noun}-{random.randint(0, 999)}"


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
    capabilities = frozenset({"datasets"})

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

    def _experiment(self, experiment_id: str) -> _ExperimentRecord:
        record = self._experiments.get(str(experiment_id))
        if record is None:
            raise TrackletException(f"No experiment with id {experiment_id!r}.", RESOURCE_DOES_NOT_EXIST)
        return record

    def _run(self, run_id: str) -> _RunRecord:
        validate_run_id(run_id)
        record = self._runs.get(run_id)
        if record is None:
            raise TrackletException(f"Run {run_id!r} not found.", RESOURCE_DOES_NOT_EXIST)
        return record

    def _active_run(self, run_id: str) -> _RunRecord:
        record = self._run(run_id)
        if record.lifecycle_stage != LifecycleStage.ACTIVE:
            raise run_not_active(run_id, record.lifecycle_stage)
        return record

    def _check_name_free(self, name: str) -> None:
        for record in self._experiments.values():
            if record.name == name:
                state = "" if record.lifecycle_stage == LifecycleStage.ACTIVE else " (deleted; restore it)"
                raise TrackletException(
                    f"Experiment '{name}' already exists{state}.", RESOURCE_ALREADY_EXISTS
                )

    # -- experiments -----------------------------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: Sequence[RunTag] | None = None
    ) -> str:
        """Create an experiment with the next integer id."""
        validate_experiment_name(name)
        if artifact_location is not None and not isinstance(artifact_location, str):
            raise TrackletException(
                f"Invalid artifact_location {artifact_location!r}: it must be a string.",
                INVALID_PARAMETER_VALUE,
            )
        for tag in tags or []:
            validate_experiment_tag(tag.key, tag.value)
        with self._lock:
            self._check_name_free(name)
            return self._add_experiment(name, artifact_location, tags or [])

    def _add_experiment(self, name: str, artifact_location: str | None, tags: Sequence[RunTag]) -> str:
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

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment, active or deleted."""
        with self._lock:
            return self._experiment(experiment_id).entity()

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """Experiments of the view type, filtered, ordered and paged by tracklet.search."""
        with self._lock:
            candidates = [
                record.entity()
                for record in self._experiments.values()
                if LifecycleStage.matches_view_type(view_type, record.lifecycle_stage)
            ]
        return search_experiments_in_memory(candidates, filter_string, order_by, max_results, page_token)

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark the experiment and all its runs deleted."""
        with self._lock:
            record = self._experiment(experiment_id)
            if record.lifecycle_stage != LifecycleStage.ACTIVE:
                raise TrackletException(
                    f"Experiment {experiment_id} is already deleted.", RESOURCE_DOES_NOT_EXIST
                )
            self._set_experiment_stage(record, LifecycleStage.DELETED)

    def restore_experiment(self, experiment_id: str) -> None:
        """Mark a deleted experiment and all its runs active again."""
        with self._lock:
            record = self._experiment(experiment_id)
            if record.lifecycle_stage != LifecycleStage.DELETED:
                raise TrackletException(
                    f"No deleted experiment with id {experiment_id!r}.", RESOURCE_DOES_NOT_EXIST
                )
            self._set_experiment_stage(record, LifecycleStage.ACTIVE)

    def _set_experiment_stage(self, record: _ExperimentRecord, stage: str) -> None:
        # As MLflow does: an experiment's runs are deleted and restored with it.
        record.lifecycle_stage = stage
        record.last_update_time = _now()
        for run in self._runs.values():
            if run.experiment_id == record.experiment_id:
                run.lifecycle_stage = stage

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an active experiment to an unused name."""
        validate_experiment_name(new_name)
        with self._lock:
            record = self._experiment(experiment_id)
            if record.lifecycle_stage != LifecycleStage.ACTIVE:
                raise TrackletException(f"Cannot rename deleted experiment {experiment_id}.", INVALID_STATE)
            if new_name != record.name:
                self._check_name_free(new_name)
            record.name = new_name
            record.last_update_time = _now()

    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None:
        """Set one tag of an active experiment."""
        validate_experiment_tag(tag.key, tag.value)
        with self._lock:
            record = self._experiment(experiment_id)
            if record.lifecycle_stage != LifecycleStage.ACTIVE:
                raise experiment_not_active(experiment_id, record.lifecycle_stage)
            record.tags[tag.key] = str(tag.value)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one tag of an active experiment."""
        validate_key("tag", key)
        with self._lock:
            record = self._experiment(experiment_id)
            if record.lifecycle_stage != LifecycleStage.ACTIVE:
                raise experiment_not_active(experiment_id, record.lifecycle_stage)
            if key not in record.tags:
                raise no_experiment_tag(experiment_id, key)
            del record.tags[key]

    # -- runs ------------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        user_id: str | None,
        start_time: int | None,
        tags: Sequence[RunTag],
        run_name: str | None,
    ) -> Run:
        """Create a RUNNING run; its name also goes into the ``mlflow.runName`` tag."""
        validate_run_name(run_name)
        for tag in tags:
            validate_tag(tag.key, tag.value)
        tag_name = next((str(t.value) for t in tags if t.key == RUN_NAME_TAG), None)
        if run_name and tag_name and run_name != tag_name:
            raise TrackletException(
                f"Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
                f"values (run_name='{run_name}', mlflow.runName='{tag_name}').",
                INVALID_PARAMETER_VALUE,
            )
        with self._lock:
            experiment = self._experiment(experiment_id)
            if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
                raise TrackletException(
                    f"Could not create run under deleted experiment {experiment_id}.", INVALID_STATE
                )
            run_id = uuid.uuid4().hex
            name = run_name or tag_name or _random_run_name()
            record = _RunRecord(
                run_id=run_id,
                experiment_id=experiment.experiment_id,
                user_id=user_id or "",
                start_time=start_time if start_time is not None else _now(),
                # MLflow's layout: <experiment location>/<run id>/artifacts
                artifact_uri=f"{experiment.artifact_location.rstrip('/')}/{run_id}/artifacts",
                run_name=name,
                tags={**{t.key: str(t.value) for t in tags}, RUN_NAME_TAG: name},
            )
            self._runs[run_id] = record
            return record.entity()

    def get_run(self, run_id: str) -> Run:
        """The run, active or deleted."""
        with self._lock:
            return self._run(run_id).entity()

    def update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        """Change status, end time and/or name; None leaves a field as it is."""
        if run_status is not None:
            RunStatus.from_string(run_status)  # an unknown status -> INVALID_PARAMETER_VALUE
        if end_time is not None and (isinstance(end_time, bool) or not isinstance(end_time, int)):
            raise TrackletException(
                f"Invalid end_time {end_time!r}: it must be an integer.", INVALID_PARAMETER_VALUE
            )
        validate_run_name(run_name)
        with self._lock:
            record = self._active_run(run_id)
            record.status = run_status or record.status
            record.end_time = end_time if end_time is not None else record.end_time
            if run_name:
                record.run_name = record.tags[RUN_NAME_TAG] = run_name
            return record.info()

    def delete_run(self, run_id: str) -> None:
        """Mark a run deleted; it can still be read."""
        with self._lock:
            self._run(run_id).lifecycle_stage = LifecycleStage.DELETED

    def restore_run(self, run_id: str) -> None:
        """Mark a deleted run active again."""
        with self._lock:
            self._run(run_id).lifecycle_stage = LifecycleStage.ACTIVE

    # -- logging ---------------------------------------------------------------------------------

    def log_batch(
        self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
    ) -> None:
        """Log everything or, if anything is refused, nothing."""
        validate_batch(metrics, params, tags)
        with self._lock:
            record = self._active_run(run_id)
            for param in params:  # params are immutable: check them all before writing any
                old = record.params.get(param.key)
                if old is not None and old != str(param.value):
                    raise TrackletException(
                        f"Changing param values is not allowed. Param '{param.key}' was already logged "
                        f"with value '{old}' for run {run_id}; attempted value '{param.value}'.",
                        INVALID_PARAMETER_VALUE,
                    )
            for metric in metrics:
                point = Metric(metric.key, float(metric.value), metric.timestamp, metric.step)
                record.history.setdefault(metric.key, []).append(point)
            record.params.update({p.key: str(p.value) for p in params})
            for tag in tags:
                record.tags[tag.key] = str(tag.value)
                if tag.key == RUN_NAME_TAG:
                    record.run_name = str(tag.value)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag of an active run."""
        validate_key("tag", key)
        with self._lock:
            record = self._active_run(run_id)
            if key not in record.tags:
                raise TrackletException(
                    f"No tag with name: {key} in run with id {run_id}", RESOURCE_DOES_NOT_EXIST
                )
            del record.tags[key]

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput] | None = None) -> None:
        """Record datasets; a dataset already recorded (same name and digest) is skipped."""
        for dataset_input in datasets or []:
            validate_dataset(dataset_input.dataset.name, dataset_input.dataset.digest)
            for tag in dataset_input.tags:
                validate_key("input tag", tag.key)
        with self._lock:
            record = self._active_run(run_id)
            for dataset_input in datasets or []:
                identity = (dataset_input.dataset.name, dataset_input.dataset.digest)
                if all((d.dataset.name, d.dataset.digest) != identity for d in record.inputs):
                    record.inputs.append(dataset_input)

    def get_metric_history(
        self,
        run_id: str,
        metric_key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        """Every logged point of one metric, in logging order; paged when ``max_results`` is set."""
        decode_page_token(page_token)  # a bad token is refused even without max_results
        if max_results is not None:
            validate_max_results(max_results, limit=2**31)
        with self._lock:
            points = list(self._run(run_id).history.get(metric_key, []))
        if max_results is None:
            return PagedList(points, None)
        return paginate(points, page_token, max_results)

    # -- search ----------------------------------------------------------------------------------

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """Runs of the experiments and view type, filtered, ordered and paged by tracklet.search."""
        wanted = {str(e) for e in experiment_ids}
        with self._lock:
            candidates = [
                record.entity()
                for record in self._runs.values()
                if record.experiment_id in wanted
                and LifecycleStage.matches_view_type(run_view_type, record.lifecycle_stage)
            ]
        return search_runs_in_memory(candidates, filter_string, order_by, max_results, page_token)
