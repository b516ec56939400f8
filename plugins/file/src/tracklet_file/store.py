"""FileStore: a tracking store on a local folder, in MLflow's ``mlruns`` layout.

MLflow opens what this store writes and this store opens what MLflow writes (see
:mod:`tracklet_file._layout` for the layout). Every call validates all of its input
before writing anything; whole files are replaced atomically and metric points are
single appends, so several processes can log to one folder at once (see
:mod:`tracklet_file._fsio`). Reads are served from stat-validated caches
(:mod:`tracklet_file._cache`), so repeated ``get_run`` and ``search_runs`` calls only
re-read what changed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Sequence
from typing import Any

from tracklet.entities import (
    DatasetInput,
    Experiment,
    ExperimentTag,
    LifecycleStage,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
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
from tracklet.search import search_experiments_in_memory, search_runs_in_memory
from tracklet.stores import TrackingStore
from tracklet.stores.forking import after_fork_in_child
from tracklet.stores.helpers import resolve_run_name, status_number
from tracklet.stores.tracking import experiment_not_active, no_experiment_tag, run_not_active
from tracklet.uri import append_to_uri_path, local_path_from_uri, resolve_local_uri
from tracklet.utils.mlflow_tags import MLFLOW_RUN_NAME
from tracklet.utils.time import now_ms
from tracklet.validation import (
    SEARCH_MAX_RESULTS_DEFAULT,
    validate_batch,
    validate_dataset_inputs,
    validate_experiment_id,
    validate_experiment_name,
    validate_experiment_tag,
    validate_key,
    validate_max_results,
    validate_metric,
    validate_run_id,
    validate_run_name,
    validate_tag,
    validate_user_id,
)

from . import _logging
from ._experiments import DEFAULT_ID, ExperimentFiles
from ._fsio import Appender
from ._layout import ARTIFACTS, METRICS, PARAMS, TAGS, TRASH, run_meta
from ._metrics import format_line
from ._runs import RunIndex, RunState

__all__ = ["FileStore"]


class FileStore(TrackingStore):
    """Tracking store on a folder (a plain path or a ``file:`` URI), MLflow-compatible.

    :param store_uri: the folder; ``./mlruns`` when None. Created, with the Default
        experiment ``0``, if it does not exist or is empty.
    :param artifact_uri: root under which new experiments keep artifacts; defaults to the
        folder itself, as MLflow's client does (``<root>/<experiment_id>``).
    """

    capabilities = frozenset({"datasets", "concurrent_processes"})

    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        super().__init__(store_uri, artifact_uri)
        self.root = local_path_from_uri(store_uri or "mlruns")
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise TrackletException(
                f"Tracking folder '{self.root}' exists and is not a directory.", INVALID_PARAMETER_VALUE
            )
        self.artifact_root_uri = resolve_local_uri(artifact_uri or store_uri or self.root)
        self._experiments = ExperimentFiles(self.root, self.artifact_root_uri)
        self._runs = RunIndex(self.root)
        self._appender = Appender()
        self._experiments.ensure_default()
        after_fork_in_child(self, FileStore._after_fork)

    def _after_fork(self) -> None:
        # In a forked child: another thread of the parent may have been inside a cache,
        # holding its lock or halfway through refreshing it. Start both afresh.
        self._experiments = ExperimentFiles(self.root, self.artifact_root_uri)
        self._runs = RunIndex(self.root)

    def close(self) -> None:
        """Close the cached append descriptors."""
        self._appender.close()

    # -- experiments ---------------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Sequence[ExperimentTag | RunTag] | None = None,
    ) -> str:
        """Create an experiment with the next free integer id."""
        validate_experiment_name(name)
        if artifact_location is not None and not isinstance(artifact_location, str):
            raise TrackletException(
                f"Invalid artifact_location {artifact_location!r}: it must be a string.",
                INVALID_PARAMETER_VALUE,
            )
        tags = list(tags or [])
        for tag in tags:
            validate_experiment_tag(tag.key, tag.value)
        with self._experiments.lock():
            self._experiments.check_name_free(name)
            return self._experiments.create(name, artifact_location, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment, active or deleted."""
        experiment_id = DEFAULT_ID if experiment_id is None else str(experiment_id)
        validate_experiment_id(experiment_id)
        return self._experiments.get(experiment_id)

    def get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        """The experiment with this name (active or deleted), or None."""
        return next((e for e in self._experiments.all() if e.name == experiment_name), None)

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """Experiments matching the filter, one page at a time."""
        validate_max_results(max_results)
        experiments: list[Experiment] = []
        if view_type in (ViewType.ACTIVE_ONLY, ViewType.ALL):
            experiments += self._experiments.scan(deleted=False)
        if view_type in (ViewType.DELETED_ONLY, ViewType.ALL):
            experiments += self._experiments.scan(deleted=True)
        return search_experiments_in_memory(experiments, filter_string, order_by, max_results, page_token)

    def delete_experiment(self, experiment_id: str) -> None:
        """Mark the experiment and its runs deleted and move it into ``.trash``."""
        validate_experiment_id(experiment_id)
        if experiment_id == DEFAULT_ID:
            raise TrackletException(
                "Cannot delete the Default experiment '0': it is reserved.", INVALID_PARAMETER_VALUE
            )
        with self._experiments.lock():
            path = self._active_experiment_dir(experiment_id)
            now = now_ms()
            for state in self._runs.runs_in(path):
                if state.data.get("lifecycle_stage") != LifecycleStage.DELETED:
                    self._write_run_meta(state, lifecycle_stage=LifecycleStage.DELETED, deleted_time=now)
            self._experiments.update_meta(path, lifecycle_stage=LifecycleStage.DELETED)
            self._move_experiment(path, os.path.join(self.root, TRASH, experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        """Move a deleted experiment back and mark it and its deleted runs active."""
        validate_experiment_id(experiment_id)
        with self._experiments.lock():
            path = self._experiments.find(experiment_id)
            if path is None or os.path.dirname(path) != self._experiments.trash:
                raise TrackletException(
                    f"Could not find deleted experiment with ID {experiment_id}", RESOURCE_DOES_NOT_EXIST
                )
            target = os.path.join(self.root, experiment_id)
            if os.path.exists(target):
                raise TrackletException(
                    f"Cannot restore experiment {experiment_id}: an experiment with this ID exists.",
                    RESOURCE_ALREADY_EXISTS,
                )
            self._move_experiment(path, target)
            for state in self._runs.runs_in(target):
                if state.data.get("lifecycle_stage") == LifecycleStage.DELETED:
                    self._write_run_meta(state, lifecycle_stage=LifecycleStage.ACTIVE, deleted_time=None)
            self._experiments.update_meta(target, lifecycle_stage=LifecycleStage.ACTIVE)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an active experiment; the new name must be unused."""
        validate_experiment_id(experiment_id)
        validate_experiment_name(new_name)
        with self._experiments.lock():
            path = self._active_experiment_dir(experiment_id, INVALID_STATE)
            self._experiments.check_name_free(new_name, ignore_id=experiment_id)
            self._experiments.update_meta(path, name=new_name)

    def set_experiment_tag(self, experiment_id: str, tag: ExperimentTag | RunTag) -> None:
        """Set one tag of an active experiment."""
        validate_experiment_id(experiment_id)
        validate_experiment_tag(tag.key, tag.value)
        path = self._active_experiment_dir(experiment_id, INVALID_PARAMETER_VALUE)
        self._experiments.write_tag(path, tag.key, tag.value)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one tag of an active experiment."""
        validate_experiment_id(experiment_id)
        validate_key("tag", key)
        path = self._active_experiment_dir(experiment_id, INVALID_PARAMETER_VALUE)
        tag_path = os.path.join(path, TAGS, *key.split("/"))
        if not os.path.isfile(tag_path):
            raise no_experiment_tag(experiment_id, key)
        os.unlink(tag_path)

    def _active_experiment_dir(self, experiment_id: str, deleted_code: str | None = None) -> str:
        """The folder of an active experiment; a deleted one raises ``deleted_code``
        (``RESOURCE_DOES_NOT_EXIST`` when None), an unknown one ``RESOURCE_DOES_NOT_EXIST``."""
        experiment = self._experiments.get(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            if deleted_code == INVALID_PARAMETER_VALUE:
                raise experiment_not_active(experiment_id, experiment.lifecycle_stage)
            raise TrackletException(
                f"Experiment {experiment_id} is deleted; restore it first.",
                deleted_code or RESOURCE_DOES_NOT_EXIST,
            )
        return os.path.join(self.root, experiment_id)

    def _move_experiment(self, source: str, target: str) -> None:
        self._appender.forget(source + os.sep)
        self._runs.forget(source + os.sep)
        self._experiments.forget(source)
        os.rename(source, target)

    # -- runs ------------------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        user_id: str | None,
        start_time: int | None,
        tags: Sequence[RunTag],
        run_name: str | None,
    ) -> Run:
        """Create a RUNNING run: folders and tags first, ``meta.yaml`` last."""
        experiment_id = DEFAULT_ID if experiment_id is None else str(experiment_id)
        validate_experiment_id(experiment_id)
        validate_run_name(run_name)
        validate_user_id(user_id)
        tags = list(tags or [])
        for tag in tags:
            validate_tag(tag.key, tag.value)
        run_name, tags = resolve_run_name(run_name, tags)
        experiment = self._experiments.get(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise TrackletException(
                f"Could not create run under non-active experiment with ID {experiment_id}.", INVALID_STATE
            )
        run_id = uuid.uuid4().hex
        info = RunInfo(
            run_id=run_id,
            experiment_id=experiment_id,
            user_id=user_id or "",
            status="RUNNING",
            start_time=start_time if start_time is not None else now_ms(),
            end_time=None,
            lifecycle_stage=LifecycleStage.ACTIVE,
            artifact_uri=append_to_uri_path(experiment.artifact_location, run_id, ARTIFACTS),
            run_name=run_name,
        )
        _logging.create_run_dir(os.path.join(self.root, experiment_id, run_id), run_meta(info, None), tags)
        return self.get_run(run_id)

    def get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params, tags and dataset inputs."""
        validate_run_id(run_id)
        state = self._runs.meta(run_id)
        state.refresh(thorough=True)
        return state.run()

    def update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        """Change status, end time and/or name of an active run."""
        validate_run_id(run_id)
        status = status_number(run_status)
        if end_time is not None and (isinstance(end_time, bool) or not isinstance(end_time, int)):
            raise TrackletException(
                f"Invalid end_time {end_time!r}: it must be an integer (ms since the epoch).",
                INVALID_PARAMETER_VALUE,
            )
        validate_run_name(run_name)
        state = self._active_run(run_id)
        changes: dict[str, Any] = {}
        if status is not None:
            changes["status"] = status
        if end_time is not None:
            changes["end_time"] = end_time
        if run_name:
            changes["run_name"] = run_name
            _logging.write_tag(state.run_dir, MLFLOW_RUN_NAME, run_name)
        self._write_run_meta(state, **changes)
        return state.info()

    def delete_run(self, run_id: str) -> None:
        """Mark a run deleted (its files stay until garbage collection)."""
        validate_run_id(run_id)
        state = self._runs.meta(run_id)
        self._write_run_meta(state, lifecycle_stage=LifecycleStage.DELETED, deleted_time=now_ms())

    def restore_run(self, run_id: str) -> None:
        """Mark a deleted run active again."""
        validate_run_id(run_id)
        state = self._runs.meta(run_id)
        self._write_run_meta(state, lifecycle_stage=LifecycleStage.ACTIVE, deleted_time=None)

    def _active_run(self, run_id: str) -> RunState:
        state = self._runs.meta(run_id)
        stage = state.data.get("lifecycle_stage", LifecycleStage.ACTIVE)
        if stage != LifecycleStage.ACTIVE:
            raise run_not_active(run_id, stage)
        return state

    def _write_run_meta(self, state: RunState, **changes: Any) -> None:
        _logging.write_run_meta(state.run_dir, {**state.data, **changes})
        state.refresh_meta()

    # -- logging -----------------------------------------------------------------------------------

    def log_metric(self, run_id: str, metric: Metric) -> None:
        """Append one point: after the first call, one stat and one write."""
        validate_run_id(run_id)
        validate_metric(metric.key, metric.value, metric.timestamp, metric.step)
        state = self._active_run(run_id)
        path = os.path.join(state.run_dir, METRICS, *metric.key.split("/"))
        if not self._appender.knows(path):
            _logging.check_key_paths(state.run_dir, METRICS, [metric.key])
        self._appender.append(path, format_line(metric).encode("ascii"))
        _logging.signal_metrics(state.run_dir)

    def log_batch(
        self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
    ) -> None:
        """Log metrics, params and tags; every check passes before the first write."""
        validate_run_id(run_id)
        validate_batch(metrics, params, tags)
        state = self._active_run(run_id)
        lines = _logging.metric_lines(self._appender, state.run_dir, metrics)
        for folder, items in ((PARAMS, params), (TAGS, tags)):
            _logging.check_key_paths(state.run_dir, folder, (item.key for item in items))
        _logging.check_params_unchanged(state.run_dir, run_id, params)
        _logging.write_params(state.run_dir, run_id, params)
        if lines:
            _logging.append_metrics(self._appender, state.run_dir, lines)
        for tag in tags:
            _logging.write_tag(state.run_dir, tag.key, tag.value)
            if tag.key == MLFLOW_RUN_NAME and tag.value:
                self._write_run_meta(state, run_name=str(tag.value))

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag of an active run."""
        validate_run_id(run_id)
        validate_key("tag", key)
        state = self._active_run(run_id)
        path = os.path.join(state.run_dir, TAGS, *key.split("/"))
        if not os.path.isfile(path):
            raise TrackletException(
                f"No tag with name: {key} in run with id {run_id}", RESOURCE_DOES_NOT_EXIST
            )
        os.unlink(path)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput] | None = None) -> None:
        """Record datasets the run used (``datasets/`` of the experiment, ``inputs/`` of the run)."""
        validate_run_id(run_id)
        datasets = list(datasets or [])
        validate_dataset_inputs(datasets)
        state = self._active_run(run_id)
        _logging.write_inputs(state.run_dir, run_id, datasets)

    def get_metric_history(
        self,
        run_id: str,
        metric_key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        """Every point of one metric in logging order; pages when ``max_results`` is set."""
        validate_run_id(run_id)
        validate_key("metric", metric_key)
        if max_results is not None:
            validate_max_results(max_results, limit=2**62)
        state = self._runs.meta(run_id)
        points = _logging.read_history(state.run_dir, run_id, metric_key)
        return _logging.page(points, max_results, page_token)

    # -- search ------------------------------------------------------------------------------------

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """Runs of the experiments matching the filter; unknown experiments have no runs."""
        validate_max_results(max_results)
        stages = LifecycleStage.view_type_to_stages(run_view_type)
        # Filter and sort cached snapshots; only the page returned is copied for the caller.
        snapshots: list[Run] = []
        states: dict[str, RunState] = {}
        for experiment_id in experiment_ids:
            validate_experiment_id(str(experiment_id))
            path = self._experiments.find(str(experiment_id))
            if path is None:
                continue
            for state in self._runs.runs_in(path):
                if state.data.get("lifecycle_stage", LifecycleStage.ACTIVE) in stages:
                    snapshot = state.snapshot()
                    snapshots.append(snapshot)
                    states[snapshot.info.run_id] = state
        page = search_runs_in_memory(snapshots, filter_string, order_by, max_results, page_token)
        return PagedList([states[run.info.run_id].run() for run in page], page.token)
