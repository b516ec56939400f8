"""``MlflowClient``: the low-level client over a tracking store and artifact repositories.

Method names, arguments and return values follow MLflow's ``MlflowClient`` so that
code written for MLflow runs unchanged. Each call goes to the store a plugin builds
for the tracking URI; artifacts go to the repository a plugin builds for the run's
artifact URI.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import posixpath
import tempfile
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from tracklet import _config, plugins
from tracklet._async_client import AsyncClientMixin
from tracklet._media import MediaMixin
from tracklet._model_registry import RegistryClientMixin
from tracklet._tracing_client import TracingClientMixin
from tracklet.async_logging import is_offline
from tracklet.entities import (
    DatasetInput,
    Experiment,
    ExperimentTag,
    FileInfo,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from tracklet.entities.wire import any_model_id
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID, MLFLOW_USER
from tracklet.utils.time import now_ms
from tracklet.validation import (
    MAX_METRICS_PER_BATCH,
    MAX_PARAMS_TAGS_PER_BATCH,
    SEARCH_MAX_RESULTS_DEFAULT,
    validate_artifact_path,
)

if TYPE_CHECKING:
    from tracklet.async_logging import RunOperations
    from tracklet.stores import ArtifactRepository, TrackingStore

__all__ = ["MlflowClient"]

_logger = logging.getLogger(__name__)


class MlflowClient(AsyncClientMixin, MediaMixin, RegistryClientMixin, TracingClientMixin):
    """Client of a tracking backend: experiments, runs, metrics, params, tags, artifacts.

    :param tracking_uri: where to track (a path, ``file:``, ``sqlite:``, ``http(s):``…);
        default: :func:`tracklet.get_tracking_uri`.
    :param registry_uri: where the model registry is; default, as MLflow:
        :func:`tracklet.set_registry_uri`, ``TRACKLET_REGISTRY_URI``/``MLFLOW_REGISTRY_URI``,
        else this client's tracking URI.
    """

    def __init__(self, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        self._tracking_uri = str(tracking_uri) if tracking_uri else _config.get_tracking_uri()
        self._registry_uri = _config.resolve_registry_uri(
            str(registry_uri) if registry_uri else None, self._tracking_uri
        )
        self._store: TrackingStore = plugins.get_tracking_store(self._tracking_uri)
        self._artifact_uris: dict[str, str] = {}

    @property
    def tracking_uri(self) -> str:
        """The tracking URI this client talks to."""
        return self._tracking_uri

    @property
    def store(self) -> TrackingStore:
        """The tracking store behind this client."""
        return self._store

    # -- experiments ------------------------------------------------------------------

    def create_experiment(
        self, name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
    ) -> str:
        """Create an experiment; return its id (the store checks the artifact location)."""
        tag_list = [ExperimentTag(k, str(v)) for k, v in (tags or {}).items()]
        return self._store.create_experiment(name, artifact_location, tag_list)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id (``RESOURCE_DOES_NOT_EXIST`` if none)."""
        return self._store.get_experiment(str(experiment_id))

    def get_experiment_by_name(self, name: str) -> Experiment | None:
        """The experiment with this name, or None."""
        return self._store.get_experiment_by_name(name)

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: list[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """Experiments matching ``filter_string``, one page at a time."""
        return self._store.search_experiments(
            view_type, max_results or SEARCH_MAX_RESULTS_DEFAULT, filter_string, order_by, page_token
        )

    def list_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """Older name for :meth:`search_experiments` without a filter (MLflow 1.x)."""
        if max_results is None:
            return PagedList(self._all_experiments(view_type), None)
        return self.search_experiments(view_type, max_results, None, None, page_token)

    def _all_experiments(self, view_type: int) -> list[Experiment]:
        out: list[Experiment] = []
        token = None
        while True:
            page = self.search_experiments(view_type, SEARCH_MAX_RESULTS_DEFAULT, None, None, token)
            out.extend(page)
            token = page.token
            if not token:
                return out

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete an experiment (restorable)."""
        self._store.delete_experiment(str(experiment_id))

    def restore_experiment(self, experiment_id: str) -> None:
        """Restore a deleted experiment."""
        self._store.restore_experiment(str(experiment_id))

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an experiment; the new name must be unused."""
        self._store.rename_experiment(str(experiment_id), new_name)

    def set_experiment_tag(self, experiment_id: str, key: str, value: Any) -> None:
        """Set a tag on an experiment."""
        self._store.set_experiment_tag(str(experiment_id), ExperimentTag(key, str(value)))

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove a tag from an experiment (``RESOURCE_DOES_NOT_EXIST`` if it has none)."""
        self._store.delete_experiment_tag(str(experiment_id), key)

    # -- runs ---------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        start_time: int | None = None,
        tags: dict[str, Any] | None = None,
        run_name: str | None = None,
        user_id: str | None = None,
    ) -> Run:
        """Create a RUNNING run in an experiment (does not make it the active run).

        ``user_id`` is the older API's argument (MLflow 1.x); by default the ``mlflow.user``
        tag, else ``"unknown"`` as in MLflow (the fluent ``start_run`` adds the
        ``mlflow.user`` tag of the current user; this lower-level call does not).
        """
        tags = dict(tags or {})
        user_id = str(user_id or tags.get(MLFLOW_USER) or "unknown")
        start_time = start_time if start_time is not None else now_ms()
        if is_offline():
            str_tags = {k: str(v) for k, v in tags.items()}
            return self._create_run_offline(
                str(experiment_id), start_time, str_tags, run_name, "TRACKLET_OFFLINE"
            )
        try:
            return self._store.create_run(
                experiment_id=str(experiment_id),
                user_id=user_id,
                start_time=start_time,
                tags=[RunTag(k, str(v)) for k, v in tags.items()],
                run_name=run_name,
            )
        except TrackletException as exc:
            str_tags = {k: str(v) for k, v in tags.items()}
            run = self._maybe_create_run_offline(exc, str(experiment_id), start_time, str_tags, run_name)
            if run is None:
                raise
            return run

    def get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params, tags and inputs; with a registry plugin,
        also the logged models it used (``inputs.model_inputs``) and produced (``outputs``)."""
        run = self._store.get_run(run_id)
        if run.outputs is None:  # a tracking server already answers with them
            links = self._model_links_store()
            if links is not None:
                run = links.with_run_model_links(run)
        return run

    def _model_links_store(self) -> Any:
        """The logged-model store keeping runs' links to logged models, or None when no
        installed plugin serves one for the tracking URI (the links are then not kept)."""
        if getattr(self, "_no_model_links", False):
            return None
        from tracklet.exceptions import FEATURE_DISABLED

        try:
            return self._logged_model_store
        except TrackletException as error:
            if error.error_code != FEATURE_DISABLED:
                raise
            self._no_model_links = True
            return None

    def _check_model_metrics(self, metrics: Sequence[Metric]) -> Any:
        """The store keeping logged models if a metric names one (None otherwise), after
        checking every named model exists: a metric for an unknown model is refused before
        anything is written."""
        if not any_model_id(metrics):
            return None
        links = self._model_links_store()
        if links is not None:
            links.require_logged_models(metrics)
        return links

    def _log_model_metrics(self, links: Any, run_id: str, metrics: Sequence[Metric]) -> None:
        """Metrics logged with a ``model_id`` are also that logged model's (MLflow 3)."""
        if links is not None:
            links.log_logged_model_metrics(run_id, [m for m in metrics if m.model_id])

    def get_parent_run(self, run_id: str) -> Run | None:
        """The parent of a nested run, or None."""
        parent_id = self._store.get_run(run_id).data.tags.get(MLFLOW_PARENT_RUN_ID)
        return None if parent_id is None else self._store.get_run(parent_id)

    def update_run(self, run_id: str, status: str | None = None, name: str | None = None) -> None:
        """Change a run's status and/or name."""
        if status is not None:
            RunStatus.from_string(status)
        end_time = now_ms() if status is not None and RunStatus.is_terminated(status) else None
        self._store.update_run_info(run_id, status, end_time, name)

    def set_terminated(self, run_id: str, status: str | None = None, end_time: int | None = None) -> None:
        """End a run: status FINISHED (or the one given), end time now (or the one given)."""
        status = status or "FINISHED"
        RunStatus.from_string(status)
        end_time = end_time if end_time is not None else now_ms()
        if self._terminate_via_logger(run_id, status, end_time):
            return
        try:
            self._store.update_run_info(run_id, status, end_time, None)
        except TrackletException as exc:
            if not self._terminate_after_error(exc, run_id, status, end_time):
                raise

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run."""
        self._store.delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        """Restore a deleted run."""
        self._store.restore_run(run_id)

    def search_runs(
        self,
        experiment_ids: str | Sequence[str],
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """Runs of the experiments matching ``filter_string``, one page at a time."""
        if isinstance(experiment_ids, (str, int)):
            experiment_ids = [str(experiment_ids)]
        return self._store.search_runs(
            [str(e) for e in experiment_ids],
            filter_string or "",
            run_view_type,
            max_results,
            order_by,
            page_token,
        )

    def list_run_infos(
        self,
        experiment_id: str,
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[RunInfo]:
        """Older API (MLflow 1.x): the :class:`RunInfo` of an experiment's runs."""
        runs = self.search_runs([experiment_id], "", run_view_type, max_results, order_by, page_token)
        return PagedList([r.info for r in runs], runs.token)

    # -- metrics, params, tags ------------------------------------------------------------

    def log_metric(
        self,
        run_id: str,
        key: str,
        value: float,
        timestamp: int | None = None,
        step: int | None = None,
        synchronous: bool | None = None,
        dataset_name: str | None = None,
        dataset_digest: str | None = None,
        model_id: str | None = None,
        **_: Any,
    ) -> RunOperations | None:
        """Log one metric value (timestamp defaults to now, step to 0); with ``model_id``, also
        a metric of that logged model (for ``dataset_name``/``dataset_digest`` if given).

        ``synchronous=False`` (or async logging turned on, see :mod:`tracklet.async_logging`)
        checks the value, queues it and returns a ``RunOperations`` to ``wait()`` on."""
        if (synchronous is False or self._wants_async(synchronous, run_id)) and not (
            model_id or dataset_name
        ):
            ops = self._log_metric_async(run_id, key, value, timestamp, step)
            return None if synchronous is True else ops
        metric = Metric(
            key,
            value,
            timestamp if timestamp is not None else now_ms(),
            step or 0,
            model_id=model_id or None,
            dataset_name=dataset_name,
            dataset_digest=dataset_digest,
        )
        links = self._check_model_metrics([metric])
        self._store.log_metric(run_id, metric)
        self._log_model_metrics(links, run_id, [metric])
        if synchronous is False:  # a model's metric: written now, nothing left to wait for
            from tracklet.async_logging import RunOperations

            return RunOperations()
        return None

    def log_param(self, run_id: str, key: str, value: Any, synchronous: bool | None = None) -> Any:
        """Log a param (stored as a string); return ``value`` (asynchronously, the
        ``RunOperations``, as MLflow)."""
        if self._wants_async(synchronous, run_id):
            ops = self._log_param_async(run_id, key, value)
            return value if synchronous is True else ops
        self._store.log_param(run_id, Param(key, str(value)))
        return value

    def set_tag(
        self, run_id: str, key: str, value: Any, synchronous: bool | None = None
    ) -> RunOperations | None:
        """Set a tag on a run (stored as a string); asynchronously, return the
        ``RunOperations``."""
        if self._wants_async(synchronous, run_id):
            ops = self._set_tag_async(run_id, key, value)
            return None if synchronous is True else ops
        self._store.set_tag(run_id, RunTag(key, str(value)))
        return None

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag from a run."""
        self._store.delete_tag(run_id, key)

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric] = (),
        params: Sequence[Param] = (),
        tags: Sequence[RunTag] = (),
        synchronous: bool | None = None,
    ) -> RunOperations | None:
        """Log metrics, params and tags together. As in MLflow, a batch larger than a store
        accepts at once (1000 metrics, 100 params and tags) is sent in several parts.
        Asynchronously, return the ``RunOperations``."""
        if not (metrics or params or tags):
            return None  # as MLflow: nothing to log, nothing to wait for
        if self._wants_async(synchronous, run_id) and not any_model_id(metrics):
            ops = self._log_batch_async(run_id, metrics, params, tags)
            return None if synchronous is True else ops
        self._log_batch_now(run_id, metrics, params, tags)
        if synchronous is False:
            from tracklet.async_logging import RunOperations

            return RunOperations()
        return None

    def _log_batch_now(
        self, run_id: str, metrics: Sequence[Metric], params: Sequence[Param], tags: Sequence[RunTag]
    ) -> None:
        params = [Param(p.key, str(p.value)) for p in params]
        tags = [RunTag(t.key, str(t.value)) for t in tags]
        metrics = list(metrics)
        links = self._check_model_metrics(metrics)
        if len(metrics) <= MAX_METRICS_PER_BATCH and len(params) + len(tags) <= MAX_PARAMS_TAGS_PER_BATCH:
            self._store.log_batch(run_id, metrics, params, tags)
            self._log_model_metrics(links, run_id, metrics)
            return
        for start in range(0, len(params), MAX_PARAMS_TAGS_PER_BATCH):
            self._store.log_batch(run_id, [], params[start : start + MAX_PARAMS_TAGS_PER_BATCH], [])
        for start in range(0, len(tags), MAX_PARAMS_TAGS_PER_BATCH):
            self._store.log_batch(run_id, [], [], tags[start : start + MAX_PARAMS_TAGS_PER_BATCH])
        for start in range(0, len(metrics), MAX_METRICS_PER_BATCH):
            self._store.log_batch(run_id, metrics[start : start + MAX_METRICS_PER_BATCH], [], [])
        self._log_model_metrics(links, run_id, metrics)

    def get_metric_history(self, run_id: str, key: str) -> list[Metric]:
        """Every value logged for one metric, all pages."""
        page = self._store.get_metric_history(run_id, key, None, None)
        token = getattr(page, "token", None)
        if not token:
            return page  # the whole history (as MLflow, the store's PagedList): no copy
        out: list[Metric] = list(page)
        while token:
            page = self._store.get_metric_history(run_id, key, None, token)
            out.extend(page)
            token = getattr(page, "token", None)
        return out

    def log_inputs(
        self, run_id: str, datasets: Sequence[DatasetInput] | None = None, models: Any = None
    ) -> None:
        """Record datasets the run used, and with a registry plugin the logged models
        (``LoggedModelInput``) it used."""
        for model in models or ():
            if not isinstance(getattr(model, "model_id", None), str) or not model.model_id:
                raise TrackletException(
                    "Missing value for required parameter 'model_id'. Pass LoggedModelInput(model_id) "
                    "objects as models.",
                    INVALID_PARAMETER_VALUE,
                )
        self._store.log_inputs(run_id, list(datasets or []))
        if models:
            self._logged_model_store.log_model_inputs(run_id, list(models))

    def log_outputs(self, run_id: str, models: Sequence[Any]) -> None:
        """Record the logged models (``LoggedModelOutput``: model id and step) a run produced."""
        self._logged_model_store.log_outputs(run_id, list(models))

    # -- artifacts --------------------------------------------------------------------------

    def _artifact_repo(self, run_id: str) -> ArtifactRepository:
        uri = self._artifact_uris.get(run_id)
        if uri is None:
            uri = self._store.get_run(run_id).info.artifact_uri or ""
            self._artifact_uris[run_id] = uri
        return plugins.get_artifact_repository(uri, self._tracking_uri)

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> None:
        """Upload a local file (or a directory, as a subdirectory) into the run's artifacts."""
        artifact_path = validate_artifact_path(artifact_path) or None
        repo = self._artifact_repo(run_id)
        local_path = os.fspath(local_path)
        if os.path.isdir(local_path):
            name = os.path.basename(os.path.normpath(local_path))
            repo.log_artifacts(local_path, posixpath.join(artifact_path, name) if artifact_path else name)
        else:
            repo.log_artifact(local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> None:
        """Upload a directory's contents into the run's artifacts."""
        self._artifact_repo(run_id).log_artifacts(
            os.fspath(local_dir), validate_artifact_path(artifact_path) or None
        )

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Artifacts directly under ``path`` (the root when None)."""
        return self._artifact_repo(run_id).list_artifacts(validate_artifact_path(path) or None)

    def download_artifacts(self, run_id: str, path: str, dst_path: str | None = None) -> str:
        """Download a file or directory of the run's artifacts; return its local path."""
        return self._artifact_repo(run_id).download_artifacts(path or "", dst_path)

    @contextlib.contextmanager
    def _log_artifact_helper(self, run_id: str, artifact_file: str) -> Iterator[str]:
        """Yield a temp path named like ``artifact_file``; upload it on exit."""
        artifact_file = validate_artifact_path(artifact_file)
        directory, name = posixpath.split(artifact_file)
        with tempfile.TemporaryDirectory(prefix="tracklet-") as tmp:
            path = os.path.join(tmp, name)
            yield path
            self.log_artifact(run_id, path, directory or None)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> None:
        """Save text as an artifact file (UTF-8)."""
        with self._log_artifact_helper(run_id, artifact_file) as path:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)

    def log_dict(self, run_id: str, dictionary: dict[str, Any], artifact_file: str) -> None:
        """Save a dict as JSON (or YAML for ``.yaml``/``.yml``) artifact file."""
        with self._log_artifact_helper(run_id, artifact_file) as path:
            with open(path, "w", encoding="utf-8") as f:
                if artifact_file.endswith((".yaml", ".yml")):
                    import yaml

                    yaml.dump(dictionary, f, indent=2, default_flow_style=False)  # as MLflow
                else:
                    json.dump(dictionary, f, indent=2, default=str)  # MLflow: str() what JSON can't
