"""FileStore: a tracking store on a local folder, in MLflow's ``mlruns`` layout.

MLflow opens what this store writes and this store opens what MLflow writes (see
:mod:`tracklet_file._layout` for the layout). It writes the primitives of
:class:`~tracklet.stores.TrackingStore`, which has checked every argument; each
checks what depends on the folder before writing anything; whole files are replaced atomically and metric points are
single appends, so several processes can log to one folder at once (see
:mod:`tracklet_file._fsio`). Reads are served from stat-validated caches
(:mod:`tracklet_file._cache`), so repeated ``get_run`` and ``search_runs`` calls only
re-read what changed.
"""

from __future__ import annotations

import os
import shutil
import uuid
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
from tracklet.search import search_experiments_in_memory, search_runs_in_memory
from tracklet.stores import TrackingStore, refusals
from tracklet.stores.forking import after_fork_in_child
from tracklet.uri import append_to_uri_path, local_path_from_uri, resolve_local_uri
from tracklet.utils.mlflow_tags import MLFLOW_RUN_NAME
from tracklet.utils.time import now_ms

from . import _imports, _logging
from ._experiments import ExperimentFiles
from ._fsio import Appender
from ._layout import (
    ARTIFACTS,
    META,
    METRICS,
    NOT_EXPERIMENTS,
    PARAMS,
    RUN_FOLDERS,
    TAGS,
    TRASH,
    experiment_meta,
    load_yaml,
    run_meta,
)
from ._metrics import format_line
from ._runs import RunIndex, RunState
from ._traces import FileTraces

__all__ = ["FileStore"]


class FileStore(TrackingStore, FileTraces):
    """Tracking store on a folder (a plain path or a ``file:`` URI), MLflow-compatible.

    :param store_uri: the folder; ``./mlruns`` when None. Created, with the Default
        experiment ``0``, if it does not exist or is empty.
    :param artifact_uri: root under which new experiments keep artifacts; defaults to the
        folder itself, as MLflow's client does (``<root>/<experiment_id>``).
    """

    capabilities = frozenset({"datasets", "concurrent_processes", "import"})

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

    def _create_experiment(
        self, name: str, artifact_location: str | None, tags: list[ExperimentTag | RunTag]
    ) -> str:
        """Create an experiment with the next free integer id."""
        with self._experiments.lock():
            self._experiments.check_name_free(name)
            return self._experiments.create(name, artifact_location, tags)

    def _get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment, active or deleted."""
        return self._experiments.get(experiment_id)

    def _get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        """The experiment with this name (active or deleted), or None."""
        return next((e for e in self._experiments.all() if e.name == experiment_name), None)

    def _search_experiments(
        self,
        view_type: int,
        max_results: int,
        filter_string: str | None,
        order_by: list[str],
        page_token: str | None,
    ) -> PagedList[Experiment]:
        """Experiments matching the filter, one page at a time."""
        experiments: list[Experiment] = []
        if view_type in (ViewType.ACTIVE_ONLY, ViewType.ALL):
            experiments += self._experiments.scan(deleted=False)
        if view_type in (ViewType.DELETED_ONLY, ViewType.ALL):
            experiments += self._experiments.scan(deleted=True)
        return search_experiments_in_memory(experiments, filter_string, order_by, max_results, page_token)

    def _delete_experiment(self, experiment_id: str) -> None:
        """Mark the experiment and its runs deleted and move it into ``.trash``."""
        with self._experiments.lock():
            path = self._active_experiment_dir(experiment_id)
            now = now_ms()
            for state in self._runs.runs_in(path):
                if state.data.get("lifecycle_stage") != LifecycleStage.DELETED:
                    self._write_run_meta(state, lifecycle_stage=LifecycleStage.DELETED, deleted_time=now)
            self._experiments.update_meta(path, lifecycle_stage=LifecycleStage.DELETED)
            self._move_experiment(path, os.path.join(self.root, TRASH, experiment_id))

    def _restore_experiment(self, experiment_id: str) -> None:
        """Move a deleted experiment back and mark it and its deleted runs active."""
        with self._experiments.lock():
            path = self._experiments.find(experiment_id)
            if path is None:
                raise refusals.no_such_experiment(experiment_id)
            if os.path.dirname(path) != self._experiments.trash:
                raise refusals.experiment_not_deleted(experiment_id)
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

    def _rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an active experiment; the new name must be unused."""
        with self._experiments.lock():
            path = self._active_experiment_dir(
                experiment_id, refusals.rename_deleted_experiment(experiment_id)
            )
            self._experiments.check_name_free(new_name, ignore_id=experiment_id)
            self._experiments.update_meta(path, name=new_name)

    def _set_experiment_tag(self, experiment_id: str, tag: ExperimentTag | RunTag) -> None:
        """Set one tag of an active experiment."""
        path = self._active_experiment_dir(experiment_id, refusals.experiment_not_active(experiment_id))
        self._experiments.write_tag(path, tag.key, tag.value)

    def _delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one tag of an active experiment."""
        path = self._active_experiment_dir(experiment_id, refusals.experiment_not_active(experiment_id))
        tag_path = os.path.join(path, TAGS, *key.split("/"))
        if not os.path.isfile(tag_path):
            raise refusals.no_experiment_tag(experiment_id, key)
        os.unlink(tag_path)

    def _active_experiment_dir(self, experiment_id: str, if_deleted: TrackletException | None = None) -> str:
        """The folder of an active experiment; a deleted one raises ``if_deleted``
        (:func:`~tracklet.stores.refusals.experiment_not_deleted` when None), an unknown one
        ``RESOURCE_DOES_NOT_EXIST``."""
        experiment = self._experiments.get(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise if_deleted or refusals.experiment_not_deleted(experiment_id)
        return os.path.join(self.root, experiment_id)

    def _move_experiment(self, source: str, target: str) -> None:
        self._appender.forget(source + os.sep)
        self._runs.forget(source + os.sep)
        self._experiments.forget(source)
        os.rename(source, target)

    # -- runs ------------------------------------------------------------------------------------

    def _create_run(
        self,
        experiment_id: str,
        user_id: str | None,
        start_time: int | None,
        tags: list[RunTag],
        run_name: str,
    ) -> Run:
        """Create a RUNNING run: folders and tags first, ``meta.yaml`` last."""
        experiment = self._experiments.get(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise refusals.run_in_deleted_experiment(experiment_id)
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
        return self._get_run(run_id)

    def _get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params, tags and dataset inputs."""
        state = self._run_state(run_id)
        state.refresh(thorough=True)
        return state.run()

    def _update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        """Change status, end time and/or name of an active run."""
        state = self._active_run(run_id)
        changes: dict[str, Any] = {}
        if run_status is not None:
            changes["status"] = RunStatus.from_string(run_status)
        if end_time is not None:
            changes["end_time"] = end_time
        if run_name:
            changes["run_name"] = run_name
            _logging.write_tag(state.run_dir, MLFLOW_RUN_NAME, run_name)
        self._write_run_meta(state, **changes)
        return state.info()

    def _delete_run(self, run_id: str) -> None:
        """Mark a run deleted (its files stay until garbage collection)."""
        state = self._run_state(run_id)
        self._write_run_meta(state, lifecycle_stage=LifecycleStage.DELETED, deleted_time=now_ms())

    def _restore_run(self, run_id: str) -> None:
        """Mark a deleted run active again."""
        state = self._run_state(run_id)
        self._write_run_meta(state, lifecycle_stage=LifecycleStage.ACTIVE, deleted_time=None)

    def _run_state(self, run_id: str) -> RunState:
        """The run's cached state; an unknown run is :func:`~tracklet.stores.refusals.no_such_run`."""
        try:
            return self._runs.meta(run_id)
        except TrackletException as exc:
            if exc.error_code == RESOURCE_DOES_NOT_EXIST:
                raise refusals.no_such_run(run_id) from None
            raise

    def _active_run(self, run_id: str) -> RunState:
        state = self._run_state(run_id)
        stage = state.data.get("lifecycle_stage", LifecycleStage.ACTIVE)
        if stage != LifecycleStage.ACTIVE:
            raise refusals.run_not_active(run_id, stage)
        return state

    def _write_run_meta(self, state: RunState, **changes: Any) -> None:
        _logging.write_run_meta(state.run_dir, {**state.data, **changes})
        state.refresh_meta()

    # -- logging -----------------------------------------------------------------------------------

    def _log_metric(self, run_id: str, metric: Metric) -> None:
        """Append one point: after the first call, one stat and one write."""
        state = self._active_run(run_id)
        path = os.path.join(state.run_dir, METRICS, *metric.key.split("/"))
        if not self._appender.knows(path):
            _logging.check_key_paths(state.run_dir, METRICS, [metric.key])
        self._appender.append(path, format_line(metric).encode("ascii"))
        _logging.signal_metrics(state.run_dir)

    def _log_batch(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None:
        """Log metrics, params and tags; every check passes before the first write."""
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

    def _delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag of an active run."""
        state = self._active_run(run_id)
        path = os.path.join(state.run_dir, TAGS, *key.split("/"))
        if not os.path.isfile(path):
            raise refusals.no_run_tag(run_id, key)
        os.unlink(path)

    def _log_inputs(self, run_id: str, datasets: list[DatasetInput]) -> None:
        """Record datasets the run used (``datasets/`` of the experiment, ``inputs/`` of the run)."""
        state = self._active_run(run_id)
        _logging.write_inputs(state.run_dir, run_id, datasets)

    def _get_metric_history(
        self, run_id: str, metric_key: str, max_results: int | None, page_token: str | None
    ) -> PagedList[Metric]:
        """Every point of one metric in logging order; pages when ``max_results`` is set."""
        state = self._run_state(run_id)
        points = _logging.read_history(state.run_dir, run_id, metric_key)
        return _logging.page(points, max_results, page_token)

    def _get_metric_histories(self, run_id: str) -> dict[str, list[Metric]]:
        """Every history of the run from one walk of its ``metrics/`` folder."""
        return _imports.read_histories(self._run_state(run_id).run_dir, run_id)

    # -- copying in (capability ``import``; see :mod:`tracklet_file._imports`) -------------------

    def _import_experiment(self, experiment: Experiment, experiment_id: str) -> None:
        """Write the experiment where MLflow keeps it (``<root>/<id>``, or ``.trash/<id>``
        when deleted), moving its folder if its stage changed: tags first, ``meta.yaml``
        (every field as given) last."""
        if experiment_id in NOT_EXPERIMENTS:
            raise TrackletException(
                f"Cannot import experiment {experiment_id!r} into a folder store: the folder name "
                f"is reserved ({', '.join(sorted(NOT_EXPERIMENTS))}).",
                INVALID_PARAMETER_VALUE,
            )
        deleted = experiment.lifecycle_stage == LifecycleStage.DELETED
        _imports.check_nesting(TAGS, list(experiment.tags))
        with self._experiments.lock():
            for other in self._experiments.all():
                if other.name == experiment.name and other.experiment_id != experiment_id:
                    raise refusals.experiment_name_taken(experiment.name)
            target = os.path.join(self._experiments.trash if deleted else self.root, experiment_id)
            elsewhere = os.path.join(self.root if deleted else self._experiments.trash, experiment_id)
            if os.path.isdir(elsewhere):
                if os.path.exists(target):
                    raise TrackletException(
                        f"Experiment {experiment_id} has two folders, {elsewhere} and {target}: "
                        "remove the one left by an interrupted delete or restore, then import again.",
                        INVALID_STATE,
                    )
                self._move_experiment(elsewhere, target)
            # tags not given stay, so one may clash with a given one ('a' and 'a/b')
            _logging.check_key_paths(target, TAGS, experiment.tags)
            os.makedirs(target, exist_ok=True)
            for key, value in experiment.tags.items():
                self._experiments.write_tag(target, key, value)
            self._experiments.write_meta(
                target, {**experiment_meta(experiment), "experiment_id": experiment_id}
            )

    def _import_run(self, run: Run) -> None:
        """Write the run into its experiment's folder (moving it there from another
        experiment): params, tags and inputs replaced, ``meta.yaml`` written last."""
        info = run.info
        params = {k: "" if v is None else str(v) for k, v in run.data.params.items()}
        tags = {k: "" if v is None else str(v) for k, v in run.data.tags.items()}
        _imports.check_nesting(PARAMS, list(params))
        _imports.check_nesting(TAGS, list(tags))
        experiment_dir = self._experiments.find(info.experiment_id)
        if experiment_dir is None:
            raise refusals.no_such_experiment(info.experiment_id)
        run_dir = os.path.join(experiment_dir, info.run_id)
        old = self._existing_run(info.run_id)
        if old is not None and old.run_dir != run_dir:
            self._move_run(old.run_dir, run_dir)
        old_meta = _current_meta(run_dir)
        for folder in (*RUN_FOLDERS, TAGS):
            os.makedirs(os.path.join(run_dir, folder), exist_ok=True)
        _imports.replace_tree(run_dir, PARAMS, params)
        _imports.replace_tree(run_dir, TAGS, tags)
        _imports.replace_inputs(run_dir, info.run_id, list(run.inputs.dataset_inputs) if run.inputs else [])
        deleted_time = None
        if info.lifecycle_stage == LifecycleStage.DELETED:
            # when the run was deleted is kept over re-imports (MLflow's gc reads it)
            deleted_time = (old_meta or {}).get("deleted_time") or now_ms()
        _logging.write_run_meta(run_dir, run_meta(info, deleted_time))
        self._runs.state(run_dir).refresh_meta()

    def _existing_run(self, run_id: str) -> RunState | None:
        try:
            return self._runs.meta(run_id)
        except TrackletException as exc:
            if exc.error_code == RESOURCE_DOES_NOT_EXIST:
                return None
            raise

    def _move_run(self, source: str, target: str) -> None:
        """Move a run folder to another experiment's (a run imported with a new
        ``experiment_id``); a half-written folder in the way is removed first."""
        self._appender.forget(source + os.sep)
        self._runs.forget(source + os.sep)
        if os.path.isdir(target) and not os.path.isfile(os.path.join(target, META)):
            shutil.rmtree(target)
        os.rename(source, target)

    def _import_metric_history(self, run_id: str, key: str, metrics: list[Metric]) -> None:
        """Replace the metric's file whole (written aside, then renamed over it)."""
        state = self._run_state(run_id)
        _logging.check_key_paths(state.run_dir, METRICS, [key])
        _imports.replace_history(self._appender, state.run_dir, key, metrics)

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
        """Runs of the experiments matching the filter; unknown experiments have no runs."""
        stages = LifecycleStage.view_type_to_stages(run_view_type)
        # Filter and sort cached snapshots; only the page returned is copied for the caller.
        snapshots: list[Run] = []
        states: dict[str, RunState] = {}
        for experiment_id in experiment_ids:
            path = self._experiments.find(experiment_id)
            if path is None:
                continue
            for state in self._runs.runs_in(path):
                if state.data.get("lifecycle_stage", LifecycleStage.ACTIVE) in stages:
                    snapshot = state.snapshot()
                    snapshots.append(snapshot)
                    states[snapshot.info.run_id] = state
        page = search_runs_in_memory(snapshots, filter_string, order_by, max_results, page_token)
        return PagedList([states[run.info.run_id].run() for run in page], page.token)


def _current_meta(run_dir: str) -> dict[str, Any] | None:
    """The run's ``meta.yaml`` as it is now, or None."""
    try:
        with open(os.path.join(run_dir, META), "rb") as f:
            return load_yaml(f.read())
    except (FileNotFoundError, NotADirectoryError):
        return None
