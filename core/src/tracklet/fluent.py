"""The fluent API: ``start_run``, ``log_metric``, … acting on the active run.

The active run stack is per thread, as in MLflow: a run started in one thread is not
the active run of another. Runs still active when the interpreter exits are ended
(status FINISHED) by an ``atexit`` hook, in the process that started them only: a
forked child that exits leaves its parent's active run running.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from tracklet import _config
from tracklet.client import MlflowClient
from tracklet.entities import (
    DatasetInput,
    Experiment,
    InputTag,
    Metric,
    Param,
    Run,
    RunStatus,
    RunTag,
    ViewType,
)
from tracklet.exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.utils import environment
from tracklet.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT, MLFLOW_PARENT_RUN_ID, MLFLOW_RUN_NOTE
from tracklet.utils.time import now_ms

if TYPE_CHECKING:
    from tracklet.async_logging import RunOperations
    from tracklet.entities import FileInfo, PagedList

_DEFAULT_EXPERIMENT_ID = "0"
_local = threading.local()
_clients: dict[str, MlflowClient] = {}
_active_experiment_id: str | None = None
_atexit_registered = False


class ActiveRun(Run):
    """The run returned by :func:`start_run`; a context manager that ends the run on exit
    (FINISHED, or FAILED if the block raised, KeyboardInterrupt included, as in MLflow)
    unless it was ended already inside the block."""

    def __init__(self, run: Run) -> None:
        super().__init__(run.info, run.data, run.inputs)
        self._started_by = os.getpid()
        self._client: MlflowClient | None = None
        self._uri_setting: str | None = None

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> Literal[False]:
        # by id, as MLflow: a run ended (or ended and resumed) inside the block is not ended
        # twice, and an enclosing run is not ended in its place
        if any(run.info.run_id == self.info.run_id for run in _stack()):
            end_run("FINISHED" if exc_type is None else "FAILED")
        return False


def _stack() -> list[ActiveRun]:
    stack: list[ActiveRun] | None = getattr(_local, "stack", None)
    if stack is None:
        stack = _local.stack = []
    return stack


def _target(run_id: str | None = None) -> tuple[MlflowClient, str]:
    """The client and run of a fluent logging call: with no run id, the active run and
    the client it was started with, unless :func:`~tracklet.set_tracking_uri` has chosen
    another URI since (a run keeps the store it started in: the default a plugin proposes
    is not looked up again, which costs a pluggy call and a directory scan); else as
    :func:`_client`/:func:`_run_id`."""
    if run_id is None:
        stack = _stack()
        if stack:
            active = stack[-1]
            client = active._client
            if client is not None and active._uri_setting == _config._tracking_uri:
                return client, active.info.run_id
    client = _client()
    return client, _run_id(run_id)


def _client() -> MlflowClient:
    uri = _config.get_tracking_uri()
    client = _clients.get(uri)
    if client is None:
        client = _clients[uri] = MlflowClient(uri)
    return client


# -- experiments ------------------------------------------------------------------------


def set_experiment(experiment_name: str | None = None, experiment_id: str | None = None) -> Experiment:
    """Make an experiment the active one (creating it by name if needed) and return it."""
    global _active_experiment_id
    if (experiment_name is None) == (experiment_id is None):
        raise TrackletException(
            "Must specify exactly one of: `experiment_id` or `experiment_name`.", INVALID_PARAMETER_VALUE
        )
    client = _client()
    if experiment_id is not None:
        experiment = client.get_experiment(str(experiment_id))
    else:
        assert experiment_name is not None
        found = client.get_experiment_by_name(experiment_name)
        experiment = found or client.get_experiment(client.create_experiment(experiment_name))
    if experiment.lifecycle_stage != "active":
        raise TrackletException(
            f"Cannot set a deleted experiment {experiment.name!r} as the active experiment. "
            "You can restore the experiment, or permanently delete the experiment to create a new one.",
            INVALID_PARAMETER_VALUE,
        )
    _active_experiment_id = experiment.experiment_id
    return experiment


def _current_experiment_id() -> str:
    if _active_experiment_id is not None:
        return _active_experiment_id
    if os.environ.get("MLFLOW_EXPERIMENT_ID") or os.environ.get("TRACKLET_EXPERIMENT_ID"):
        return os.environ.get("TRACKLET_EXPERIMENT_ID") or os.environ["MLFLOW_EXPERIMENT_ID"]
    name = os.environ.get("TRACKLET_EXPERIMENT_NAME") or os.environ.get("MLFLOW_EXPERIMENT_NAME")
    if name:
        return set_experiment(experiment_name=name).experiment_id
    return _DEFAULT_EXPERIMENT_ID


def create_experiment(
    name: str, artifact_location: str | None = None, tags: dict[str, Any] | None = None
) -> str:
    """Create an experiment; return its id."""
    return _client().create_experiment(name, artifact_location, tags)


def get_experiment(experiment_id: str) -> Experiment:
    """The experiment with this id."""
    return _client().get_experiment(experiment_id)


def get_experiment_by_name(name: str) -> Experiment | None:
    """The experiment with this name, or None."""
    return _client().get_experiment_by_name(name)


def delete_experiment(experiment_id: str) -> None:
    """Soft-delete an experiment."""
    _client().delete_experiment(experiment_id)


def search_experiments(
    view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int | None = None,
    filter_string: str | None = None,
    order_by: list[str] | None = None,
) -> list[Experiment]:
    """All experiments matching the filter (every page), or the first ``max_results``."""
    client = _client()
    out: list[Experiment] = []
    token = None
    while True:
        page = client.search_experiments(view_type, 1000, filter_string, order_by, token)
        out.extend(page)
        token = page.token
        if not token or (max_results is not None and len(out) >= max_results):
            return out[:max_results] if max_results is not None else out


def set_experiment_tag(key: str, value: Any) -> None:
    """Set a tag on the active experiment."""
    _client().set_experiment_tag(_current_experiment_id(), key, value)


def set_experiment_tags(tags: dict[str, Any]) -> None:
    """Set several tags on the active experiment."""
    for key, value in tags.items():
        set_experiment_tag(key, value)


def delete_experiment_tag(key: str) -> None:
    """Delete a tag from the active experiment."""
    _client().delete_experiment_tag(_current_experiment_id(), key)


def restore_experiment(experiment_id: str) -> None:
    """Restore a deleted experiment (and its runs)."""
    _client().restore_experiment(experiment_id)


# -- runs ------------------------------------------------------------------------------------


def _context_tags() -> dict[str, str]:
    from tracklet import plugins

    return plugins.run_context_tags()


def start_run(
    run_id: str | None = None,
    experiment_id: str | None = None,
    run_name: str | None = None,
    nested: bool = False,
    parent_run_id: str | None = None,
    tags: dict[str, Any] | None = None,
    description: str | None = None,
    log_system_metrics: bool | None = None,
) -> ActiveRun:
    """Start a new run (or resume ``run_id``) and make it the active run.

    Use it as a context manager to end the run automatically. A run already active in
    this thread must be ended first unless ``nested=True``.
    """
    stack = _stack()
    if stack and not nested:
        raise TrackletException(  # MLflow raises a bare Exception with these words
            f"Run with UUID {stack[0].info.run_id} is already active. To start a new run, first end the "
            "current run with mlflow.end_run(). To start a nested run, call start_run with nested=True",
            INVALID_PARAMETER_VALUE,
        )
    client = _client()
    run_id = run_id or _run_id_from_environment()
    if run_id:
        run = _resume_run(client, run_id, run_name, tags)
    else:
        parent = parent_run_id or (stack[-1].info.run_id if stack and nested else None)
        all_tags = {**_context_tags(), **{k: str(v) for k, v in (tags or {}).items()}}
        if parent:
            all_tags[MLFLOW_PARENT_RUN_ID] = parent
        if description:
            all_tags[MLFLOW_RUN_NOTE] = description
        exp_id = str(experiment_id) if experiment_id is not None else _current_experiment_id()
        run = client.create_run(exp_id, tags=all_tags, run_name=run_name)
    active = ActiveRun(run)
    active._client = client
    active._uri_setting = _config._tracking_uri
    stack.append(active)
    _register_atexit()
    return active


def _run_id_from_environment() -> str | None:
    """``MLFLOW_RUN_ID`` (or ``TRACKLET_RUN_ID``): the run ``start_run()`` resumes. As in
    MLflow, the variable is removed once used, so the next ``start_run()`` starts a new run."""
    found = environment.lookup("RUN_ID")
    _forget_run_id_variables()
    return found[1] if found else None


def _forget_run_id_variables() -> None:
    for name in environment.variables("RUN_ID"):
        os.environ.pop(name, None)


def _resume_run(client: MlflowClient, run_id: str, run_name: str | None, tags: dict[str, Any] | None) -> Run:
    run = client.get_run(run_id)
    if run.info.lifecycle_stage == "deleted":
        raise TrackletException(
            f"Cannot start run with ID {run_id} because it is in the deleted state. Restore it first.",
            INVALID_PARAMETER_VALUE,
        )
    client.store.update_run_info(run_id, "RUNNING", None, run_name)
    if tags:
        client.log_batch(run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()])
    return client.get_run(run_id)


def _register_atexit() -> None:
    global _atexit_registered
    if not _atexit_registered:
        atexit.register(_end_all_runs)
        _atexit_registered = True


def _end_all_runs() -> None:
    stack = _stack()
    while stack:
        if stack[-1]._started_by == os.getpid():
            end_run()
        else:  # a forked child exiting: the run is its parent's, which may still be logging to it
            stack.pop()


def end_run(status: str = "FINISHED") -> None:
    """End the active run (if any) with ``status``."""
    stack = _stack()
    if not stack:
        return
    _forget_run_id_variables()  # as MLflow: the run it named has ended
    run = stack.pop()  # before the status is checked: MLflow drops the run even if it is bad
    _local.last_active_run_id = run.info.run_id
    RunStatus.from_string(status)
    _client().set_terminated(run.info.run_id, status)


def active_run() -> ActiveRun | None:
    """The active run of this thread, or None."""
    stack = _stack()
    return stack[-1] if stack else None


def last_active_run() -> Run | None:
    """The active run (the object :func:`active_run` returns), or else the run this thread
    ended last, fetched fresh; None if neither. As in MLflow, after nested runs the last
    run ended is the outermost one."""
    run = active_run()
    if run is not None:
        return run
    run_id: str | None = getattr(_local, "last_active_run_id", None)
    return _client().get_run(run_id) if run_id else None


def get_run(run_id: str) -> Run:
    """A run by id."""
    return _client().get_run(run_id)


def get_parent_run(run_id: str) -> Run | None:
    """The parent of a nested run, or None."""
    return _client().get_parent_run(run_id)


def delete_run(run_id: str) -> None:
    """Soft-delete a run."""
    _client().delete_run(run_id)


def restore_run(run_id: str) -> None:
    """Restore a deleted run."""
    _client().restore_run(run_id)


def flush_async_logging() -> None:
    """Wait until every logging call queued with ``synchronous=False`` (or with async
    logging turned on) in this process is stored."""
    if "tracklet.async_logging.logger" in sys.modules:
        from tracklet.async_logging import flush_async_logging as _flush

        _flush()


def flush_artifact_async_logging() -> None:
    """Nothing to flush: tracklet uploads artifacts synchronously. As MLflow's, it starts a
    run when none is active."""
    _run_id()


def _run_id(run_id: str | None = None) -> str:
    if run_id is not None:
        return run_id
    stack = _stack()
    if stack:
        return stack[-1].info.run_id
    return start_run().info.run_id


# -- logging -----------------------------------------------------------------------------------


def log_param(key: str, value: Any, synchronous: bool | None = None) -> Any:
    """Log a param on the active run (starting one if needed); return ``value``, or with
    ``synchronous=False`` a ``RunOperations`` (as MLflow)."""
    client, run_id = _target()
    return client.log_param(run_id, key, value, synchronous=synchronous)


def log_params(
    params: dict[str, Any], synchronous: bool | None = None, run_id: str | None = None
) -> RunOperations | None:
    """Log several params at once."""
    client, run_id = _target(run_id)
    return client.log_batch(
        run_id, params=[Param(k, str(v)) for k, v in params.items()], synchronous=synchronous
    )


def log_metric(
    key: str,
    value: float,
    step: int | None = None,
    synchronous: bool | None = None,
    timestamp: int | None = None,
    run_id: str | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> RunOperations | None:
    """Log a metric value on the active run (starting one if needed). With ``model_id``
    (and ``dataset``, whose name and digest are kept with it) it is also a metric of that
    logged model (with a registry plugin installed). With ``synchronous=False``, queue it
    and return a ``RunOperations``."""
    client, run_id = _target(run_id)
    if model_id is None and dataset is None:
        return client.log_metric(run_id, key, value, timestamp, step, synchronous)
    return client.log_metric(
        run_id, key, value, timestamp, step, synchronous, model_id=model_id, **_dataset_link(dataset)
    )


def _dataset_link(dataset: Any) -> dict[str, Any]:
    """``dataset_name``/``dataset_digest`` of a metric logged for a dataset (MLflow's)."""
    if dataset is None:
        return {}
    return {"dataset_name": dataset.name, "dataset_digest": dataset.digest}


def log_metrics(
    metrics: dict[str, float],
    step: int | None = None,
    synchronous: bool | None = None,
    run_id: str | None = None,
    timestamp: int | None = None,
    model_id: str | None = None,
    dataset: Any = None,
) -> RunOperations | None:
    """Log several metrics at once, with one timestamp and step (``model_id`` and ``dataset``
    as in :func:`log_metric`)."""
    ts = timestamp if timestamp is not None else now_ms()
    link = _dataset_link(dataset)
    batch = [Metric(k, v, ts, step or 0, model_id=model_id or None, **link) for k, v in metrics.items()]
    client, run_id = _target(run_id)
    return client.log_batch(run_id, metrics=batch, synchronous=synchronous)


def set_tag(key: str, value: Any, synchronous: bool | None = None) -> RunOperations | None:
    """Set a tag on the active run."""
    client, run_id = _target()
    return client.set_tag(run_id, key, value, synchronous=synchronous)


def set_tags(tags: dict[str, Any], synchronous: bool | None = None) -> RunOperations | None:
    """Set several tags on the active run."""
    client, run_id = _target()
    return client.log_batch(
        run_id, tags=[RunTag(k, str(v)) for k, v in tags.items()], synchronous=synchronous
    )


def delete_tag(key: str) -> None:
    """Delete a tag from the active run."""
    _client().delete_tag(_run_id(), key)


def log_artifact(local_path: str, artifact_path: str | None = None, run_id: str | None = None) -> None:
    """Upload a local file or directory to the active run's artifacts."""
    _client().log_artifact(_run_id(run_id), local_path, artifact_path)


def log_artifacts(local_dir: str, artifact_path: str | None = None, run_id: str | None = None) -> None:
    """Upload a directory's contents to the active run's artifacts."""
    _client().log_artifacts(_run_id(run_id), local_dir, artifact_path)


def log_text(text: str, artifact_file: str, run_id: str | None = None) -> None:
    """Save text as an artifact of the active run."""
    _client().log_text(_run_id(run_id), text, artifact_file)


def log_stream(stream: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Save a binary file-like object (``io.BytesIO``, an open file…) as an artifact."""
    _client().log_stream(_run_id(run_id), stream, artifact_file)


def log_dict(dictionary: dict[str, Any], artifact_file: str, run_id: str | None = None) -> None:
    """Save a dict as a JSON/YAML artifact of the active run."""
    _client().log_dict(_run_id(run_id), dictionary, artifact_file)


def log_image(
    image: Any,
    artifact_file: str | None = None,
    key: str | None = None,
    step: int | None = None,
    timestamp: int | None = None,
    synchronous: bool | None = False,
) -> None:
    """Log an image on the active run (see :meth:`MlflowClient.log_image`)."""
    _client().log_image(_run_id(), image, artifact_file, key, step, timestamp, synchronous)


def log_figure(figure: Any, artifact_file: str, *, save_kwargs: dict[str, Any] | None = None) -> None:
    """Log a matplotlib/plotly figure on the active run."""
    _client().log_figure(_run_id(), figure, artifact_file, save_kwargs=save_kwargs)


def log_table(data: Any, artifact_file: str, run_id: str | None = None) -> None:
    """Log a table on the active run."""
    _client().log_table(_run_id(run_id), data, artifact_file)


def load_table(
    artifact_file: str,
    run_ids: list[str] | None = None,
    extra_columns: list[str] | None = None,
) -> Any:
    """Load a table logged with :func:`log_table` across runs of the active experiment."""
    return _client().load_table(_current_experiment_id(), artifact_file, run_ids, extra_columns)


def log_input(
    dataset: Any = None, context: str | None = None, tags: dict[str, str] | None = None, model: Any = None
) -> None:
    """Record a dataset the active run used: a :mod:`tracklet.data` dataset, a
    :class:`tracklet.entities.Dataset`, or an object with MLflow's ``_to_mlflow_entity()``;
    and/or ``model``, a :class:`tracklet.entities.LoggedModelInput` (a registry plugin keeps it)."""
    dataset_input = _dataset_input(dataset, context, tags) if dataset else None  # as MLflow
    _client().log_inputs(_run_id(), [dataset_input] if dataset_input else [], [model] if model else None)


def log_inputs(
    datasets: list[Any] | None = None,
    contexts: list[str | None] | None = None,
    tags_list: list[dict[str, str] | None] | None = None,
    models: list[Any] | None = None,
) -> None:
    """Record several datasets at once; the three lists pair up and must have one length
    (entries may be None)."""
    datasets, contexts, tags_list = datasets or [], contexts or [], tags_list or []
    if not len(datasets) == len(contexts) == len(tags_list):
        raise TrackletException(
            "`mlflow.log_inputs` requires `datasets`, `contexts`, `tags_list` to be "
            "non-empty list and have the same length."
        )
    inputs = [_dataset_input(*entry) for entry in zip(datasets, contexts, tags_list, strict=True)]
    _client().log_inputs(_run_id(), [i for i in inputs if i is not None], models or None)


def _dataset_input(dataset: Any, context: str | None, tags: dict[str, str] | None) -> DatasetInput | None:
    """MLflow's order: the user's tags, then the context tag."""
    if (context or tags) and dataset is None:
        raise TrackletException(
            "`dataset` must be specified if `context` or `tags` is specified.", INVALID_PARAMETER_VALUE
        )
    if dataset is None:
        return None
    entity = dataset._to_mlflow_entity() if hasattr(dataset, "_to_mlflow_entity") else dataset
    input_tags = [InputTag(k, str(v)) for k, v in (tags or {}).items()]
    if context:
        input_tags.append(InputTag(MLFLOW_DATASET_CONTEXT, context))
    return DatasetInput(entity, input_tags)


def get_artifact_uri(artifact_path: str | None = None) -> str:
    """URI of the active run's artifact root (or of a path under it)."""
    from tracklet.uri import append_to_uri_path

    run = _client().get_run(_run_id())
    root = run.info.artifact_uri or ""
    return append_to_uri_path(root, artifact_path) if artifact_path else root


def search_runs(
    experiment_ids: Sequence[str] | None = None,
    filter_string: str = "",
    run_view_type: int = ViewType.ACTIVE_ONLY,
    max_results: int = 100000,
    order_by: Sequence[str] | None = None,
    output_format: str = "pandas",
    search_all_experiments: bool = False,
    experiment_names: Sequence[str] | None = None,
) -> Any:
    """Runs matching the filter, as a pandas DataFrame (``output_format="pandas"``, when pandas is
    installed) or a list of :class:`Run` (``output_format="list"``)."""
    client = _client()
    ids = _search_experiment_ids(client, experiment_ids, experiment_names, search_all_experiments)
    runs: list[Run] = []
    token = None
    while len(runs) < max_results:
        page: PagedList[Run] = client.search_runs(
            ids, filter_string, run_view_type, min(1000, max_results - len(runs)), order_by, token
        )
        runs.extend(page)
        token = page.token
        if not token:
            break
    if output_format == "list":
        return runs
    if output_format != "pandas":
        raise ValueError(
            f"Unsupported output format: {output_format}. Supported string values are 'pandas' or 'list'"
        )
    try:
        import pandas  # noqa: F401
    except ImportError:
        return runs
    from tracklet._dataframe import runs_to_dataframe

    return runs_to_dataframe(runs)


def _search_experiment_ids(
    client: MlflowClient,
    experiment_ids: Sequence[str] | None,
    experiment_names: Sequence[str] | None,
    search_all: bool,
) -> list[str]:
    if experiment_ids:
        return [str(e) for e in ([experiment_ids] if isinstance(experiment_ids, str) else experiment_ids)]
    if experiment_names:
        ids = []
        for name in experiment_names:
            found = client.get_experiment_by_name(name)
            if found is None:
                raise TrackletException(f"Experiment {name!r} does not exist.", RESOURCE_DOES_NOT_EXIST)
            ids.append(found.experiment_id)
        return ids
    if search_all:
        return [e.experiment_id for e in search_experiments(view_type=ViewType.ALL)]
    return [_current_experiment_id()]


def list_artifacts(run_id: str, path: str | None = None) -> list[FileInfo]:
    """Artifacts of a run directly under ``path``."""
    return _client().list_artifacts(run_id, path)
