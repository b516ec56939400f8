"""The tracking store contract: what a backend implements to hold experiments and runs.

Three layers, kept apart (as :class:`~tracklet.stores.ObjectStoreRepository` does for
artifacts):

* **What users call** — the public methods (``create_experiment``, ``log_batch``,
  ``search_runs``…), which ``MlflowClient``, the fluent API and the tracking server
  call. They check and normalise every argument once, here, with
  :mod:`tracklet.validation`: ids canonicalised (``None`` is the Default experiment
  ``"0"``, an integer id becomes its string), names, keys, values, statuses,
  timestamps, view types, ``max_results``, page tokens, batch limits, dataset inputs;
  a new run's name is resolved against its ``mlflow.runName`` tag. A refused argument
  reads the same on every backend and never reaches the store.
* **What a store writes** — the protected *primitives* (``_create_experiment``,
  ``_log_batch``, ``_search_runs``…, abstract below), called with checked arguments
  only. A primitive refuses what depends on stored state (unknown id, deleted run,
  param already logged with another value, name taken) by raising the shared
  refusal from :mod:`tracklet.stores.refusals`, so that, too, reads the same
  everywhere.
* **What has a default** — the protected conveniences (``_log_metric``,
  ``_get_experiment_by_name``, ``_get_metric_history_bulk``, ``_search_datasets``…)
  built on the primitives; override one only to make it faster.

Stores written against the former contract, which overrode the public methods and
validated themselves, keep working: for each public method a class overrides without
writing its primitive, the primitive forwards to that method (see
:meth:`TrackingStore.__init_subclass__`). The conformance suite in
:mod:`tracklet.testing` checks a store against this contract.

Rules every implementation follows:

* ids are strings; run ids are 32 lowercase hex characters (``uuid4().hex``);
* a rejected call changes nothing already stored (check first, then write);
* unknown ids raise ``RESOURCE_DOES_NOT_EXIST``; writes to a deleted run raise
  ``INVALID_PARAMETER_VALUE`` with :func:`~tracklet.stores.refusals.run_not_active`'s
  message (MLflow's code and wording); bad input raises ``INVALID_PARAMETER_VALUE``;
* params are immutable: logging the same key with the same value again is fine,
  another value is :func:`~tracklet.stores.refusals.param_changed`;
* ``RunData.metrics`` holds, for each key, the value with the largest step, then the
  largest timestamp, then the largest value;
* NaN and ±inf metric values are stored and returned as such.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Sequence
from typing import Any, ClassVar

from tracklet.entities import (
    DatasetInput,
    Experiment,
    ExperimentTag,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunStatus,
    RunTag,
    ViewType,
)
from tracklet.exceptions import FEATURE_DISABLED, INVALID_PARAMETER_VALUE, NOT_IMPLEMENTED, TrackletException
from tracklet.stores.helpers import resolve_run_name, status_number
from tracklet.stores.refusals import (
    default_experiment_reserved,
    experiment_not_active,
    no_experiment_tag,
    run_not_active,
)
from tracklet.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT
from tracklet.validation import (
    SEARCH_MAX_RESULTS_DEFAULT,
    MetricBatch,
    canonical_experiment_id,
    canonical_view_type,
    validate_artifact_location,
    validate_batch,
    validate_dataset_inputs,
    validate_experiment_name,
    validate_experiment_tag,
    validate_key,
    validate_max_results,
    validate_metric,
    validate_page_token,
    validate_param,
    validate_run_id,
    validate_run_name,
    validate_tag,
    validate_timestamp,
    validate_user_id,
)

__all__ = [
    "CAPABILITIES",
    "DatasetSummary",
    "MAX_DATASET_SUMMARIES",
    "TrackingStore",
    # re-exported from tracklet.stores.refusals, where they were first published
    "experiment_not_active",
    "no_experiment_tag",
    "run_not_active",
]

#: At most this many summaries come back from :meth:`TrackingStore.search_datasets`
#: (MLflow's stores stop at the same number).
MAX_DATASET_SUMMARIES = 1000

#: The longest metric history page a caller may ask for.
MAX_HISTORY_PAGE = 2**62

#: Optional features a store may declare in :attr:`TrackingStore.capabilities`.
#: The conformance suite skips the tests of a feature a store does not declare.
#:
#: * ``datasets``: ``log_inputs`` and ``datasets.*`` search;
#: * ``concurrent_processes``: several processes may write through their own instances;
#: * ``idempotent_metrics``: a metric point identical to a stored one (same key, value,
#:   timestamp and step) is stored once, so re-sending a batch after a timeout is
#:   harmless. Without it, every logged point is kept, repeats included (MLflow's file
#:   store behaviour; its SQL store behaves as with the capability).
#: * ``import``: the copy primitives (:meth:`TrackingStore.import_experiment`,
#:   :meth:`~TrackingStore.import_run`, :meth:`~TrackingStore.import_metric_history`) that
#:   ``tracklet migrate`` writes through: objects created with the ids, times and lifecycle
#:   stages they had in another store, idempotently.
CAPABILITIES = frozenset({"datasets", "concurrent_processes", "idempotent_metrics", "import"})

#: Public method -> the primitive it calls, for every abstract primitive.
_PRIMITIVES = {
    name: f"_{name}"
    for name in (
        "create_experiment",
        "get_experiment",
        "search_experiments",
        "delete_experiment",
        "restore_experiment",
        "rename_experiment",
        "set_experiment_tag",
        "create_run",
        "get_run",
        "update_run_info",
        "delete_run",
        "restore_run",
        "log_batch",
        "delete_tag",
        "get_metric_history",
        "search_runs",
    )
}


@dataclasses.dataclass(frozen=True)
class DatasetSummary:
    """One dataset used in an experiment, with the context it was used in (MLflow's
    ``_DatasetSummary``: what the UI lists for a set of experiments)."""

    experiment_id: str
    name: str
    digest: str
    context: str | None = None


def _experiment_id(value: object) -> str:
    """An experiment id as stores receive it: None is the Default experiment ``"0"``."""
    return canonical_experiment_id("0" if value is None else value)


def _experiment_ids(values: Sequence[object]) -> list[str]:
    if isinstance(values, (str, bytes)):  # one id where a list belongs: say so, do not split it
        raise TrackletException(
            f"Invalid experiment_ids {values!r}: pass a list of ids, e.g. [{values!r}].",
            INVALID_PARAMETER_VALUE,
        )
    return [canonical_experiment_id(str(v)) for v in values]


def _forward(public: str) -> Callable[..., Any]:
    """A primitive that calls a former-contract store's own public method."""

    def primitive(self: TrackingStore, *args: Any, **kwargs: Any) -> Any:
        return getattr(self, public)(*args, **kwargs)

    primitive.__name__ = f"_{public}"
    primitive.__doc__ = f"Forwards to this class's own ``{public}`` (a store of the former contract)."
    return primitive


def _sample_m4(
    points: list[Metric], max_points: int, x_axis: str, min_x: float | None, max_x: float | None
) -> tuple[int, list[Metric]]:
    """:meth:`TrackingStore.sample_metric_history` over a history held in memory."""
    by_time = x_axis == "time"

    def order(m: Metric) -> tuple[int, int, float]:
        x, other = (m.timestamp, m.step) if by_time else (m.step, m.timestamp)
        return x, other, 0.0 if m.value != m.value else m.value  # NaN sorts as stored (0)

    window = sorted(
        (
            m
            for m in points
            if (min_x is None or order(m)[0] >= min_x) and (max_x is None or order(m)[0] <= max_x)
        ),
        key=order,
    )
    if len(window) <= max_points:
        return len(window), window
    lo, hi = order(window[0])[0], order(window[-1])[0]
    buckets, span = max_points // 4, hi - lo + 1
    kept: dict[int, Metric] = {}  # index in window -> point, each once
    start = 0
    while start < len(window):
        bucket = (order(window[start])[0] - lo) * buckets // span
        end = start
        while end < len(window) and (order(window[end])[0] - lo) * buckets // span == bucket:
            end += 1
        compared = [i for i in range(start, end) if window[i].value == window[i].value]
        picks = [start, end - 1]
        if compared:
            picks.append(min(compared, key=lambda i: window[i].value))  # first of equal lows
            picks.append(min(compared, key=lambda i: -window[i].value))
        for i in picks:
            kept[i] = window[i]
        start = end
    return len(window), [kept[i] for i in sorted(kept)]


class TrackingStore(abc.ABC):
    """Abstract tracking store. Built by a plugin from a tracking URI.

    A store implements the abstract ``_``-prefixed primitives; callers use the public
    methods, which check the arguments and then call them (see the module docstring).

    :param store_uri: the tracking URI the store was resolved from.
    :param artifact_uri: default artifact root for new experiments, if the user gave one.
    """

    #: Features beyond the required surface (see :data:`CAPABILITIES`).
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        self.store_uri = store_uri
        self.artifact_uri = artifact_uri

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Let a store of the former contract (public methods overridden, primitives not
        written) keep working: each missing primitive forwards to the class's own public
        method, which does its own checks."""
        super().__init_subclass__(**kwargs)
        own = [k for k in cls.__mro__ if k is not TrackingStore and issubclass(k, TrackingStore)]
        for public, primitive in _PRIMITIVES.items():
            overrides_public = any(public in k.__dict__ for k in own)
            writes_primitive = any(primitive in k.__dict__ for k in own)
            if overrides_public and not writes_primitive:
                setattr(cls, primitive, _forward(public))

    # == what users call: check the arguments, then call the primitive ===========================

    # -- experiments ---------------------------------------------------------------------

    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Sequence[ExperimentTag | RunTag] | None = None,
    ) -> str:
        """Create an experiment and return its id.

        :raises: ``RESOURCE_ALREADY_EXISTS`` if an experiment (active or deleted) has the name.
        """
        validate_experiment_name(name)
        validate_artifact_location(artifact_location)
        tags = list(tags or [])
        for tag in tags:
            validate_experiment_tag(tag.key, tag.value)
        return self._create_experiment(name, artifact_location, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id, deleted or not; ``RESOURCE_DOES_NOT_EXIST`` if none."""
        return self._get_experiment(_experiment_id(experiment_id))

    def get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        """The experiment with this name (active or deleted), or None."""
        if not isinstance(experiment_name, str):
            return None  # no experiment has a name that is not a string
        return self._get_experiment_by_name(experiment_name)

    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """Experiments matching the filter, ordered (default: creation time desc, then id),
        one page at a time."""
        view_type = canonical_view_type(view_type)
        validate_max_results(max_results)
        validate_page_token(page_token)
        size = SEARCH_MAX_RESULTS_DEFAULT if max_results is None else max_results
        return self._search_experiments(
            view_type, size, filter_string or None, list(order_by or []), page_token
        )

    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete: lifecycle stage becomes ``deleted``, and so do its runs'. The
        Default experiment ``"0"`` cannot be deleted."""
        experiment_id = _experiment_id(experiment_id)
        if experiment_id == Experiment.DEFAULT_EXPERIMENT_ID:
            raise default_experiment_reserved()
        self._delete_experiment(experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        """Undo :meth:`delete_experiment`."""
        self._restore_experiment(_experiment_id(experiment_id))

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename; the new name must be unused (``RESOURCE_ALREADY_EXISTS``)."""
        experiment_id = _experiment_id(experiment_id)
        validate_experiment_name(new_name)
        self._rename_experiment(experiment_id, new_name)

    def set_experiment_tag(self, experiment_id: str, tag: ExperimentTag | RunTag) -> None:
        """Set (or overwrite) one tag of an active experiment."""
        experiment_id = _experiment_id(experiment_id)
        validate_experiment_tag(tag.key, tag.value)
        self._set_experiment_tag(experiment_id, tag)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one tag of an active experiment.

        :raises: ``RESOURCE_DOES_NOT_EXIST`` (:func:`~tracklet.stores.refusals.no_experiment_tag`)
            if the experiment has no such tag; ``INVALID_PARAMETER_VALUE``
            (:func:`~tracklet.stores.refusals.experiment_not_active`) if it is deleted.
        """
        experiment_id = _experiment_id(experiment_id)
        validate_key("tag", key)
        self._delete_experiment_tag(experiment_id, key)

    # -- runs ----------------------------------------------------------------------------

    def create_run(
        self,
        experiment_id: str,
        user_id: str | None,
        start_time: int | None,
        tags: Sequence[RunTag],
        run_name: str | None,
    ) -> Run:
        """Create a RUNNING run in an active experiment. A missing ``run_name`` comes from the
        ``mlflow.runName`` tag or is generated; the name is also stored as that tag."""
        experiment_id = _experiment_id(experiment_id)
        validate_run_name(run_name)
        validate_user_id(user_id)
        validate_timestamp("start_time", start_time)
        tags = list(tags or [])
        for tag in tags:
            validate_tag(tag.key, tag.value)
        run_name, tags = resolve_run_name(run_name, tags)
        return self._create_run(experiment_id, user_id, start_time, tags, run_name)

    def get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params, tags and inputs."""
        validate_run_id(run_id)
        return self._get_run(run_id)

    def update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        """Change status, end time and/or name of an active run (None leaves a field as it is)."""
        validate_run_id(run_id)
        status = status_number(run_status)
        validate_timestamp("end_time", end_time)
        validate_run_name(run_name)
        text = None if status is None else RunStatus.to_string(status)
        return self._update_run_info(run_id, text, end_time, run_name or None)

    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run."""
        validate_run_id(run_id)
        self._delete_run(run_id)

    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`."""
        validate_run_id(run_id)
        self._restore_run(run_id)

    # -- logging -------------------------------------------------------------------------

    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[RunTag],
    ) -> None:
        """Log metrics, params and tags together: all of them or, on error, none.

        The metrics reach :meth:`_log_batch` as a :class:`~tracklet.validation.MetricBatch`,
        a list whose columns validation has read: a store that writes columns takes them
        with :func:`~tracklet.validation.metric_columns` instead of reading each metric again."""
        validate_run_id(run_id)
        batch, params, tags = MetricBatch(metrics or []), list(params or []), list(tags or [])
        validate_batch(batch, params, tags)
        self._log_batch(run_id, batch, params, tags)

    def log_metric(self, run_id: str, metric: Metric) -> None:
        """Log one metric value."""
        validate_run_id(run_id)
        validate_metric(metric.key, metric.value, metric.timestamp, metric.step)
        self._log_metric(run_id, metric)

    def log_param(self, run_id: str, param: Param) -> None:
        """Log one param."""
        validate_run_id(run_id)
        validate_param(param.key, param.value)
        self._log_param(run_id, param)

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        """Set one run tag (``mlflow.runName`` also renames the run)."""
        validate_run_id(run_id)
        validate_tag(tag.key, tag.value)
        self._set_tag(run_id, tag)

    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag; ``RESOURCE_DOES_NOT_EXIST`` if the run has no such tag."""
        validate_run_id(run_id)
        validate_key("tag", key)
        self._delete_tag(run_id, key)

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput] | None = None) -> None:
        """Record datasets a run used (capability ``datasets``)."""
        validate_run_id(run_id)
        datasets = list(datasets or [])
        validate_dataset_inputs(datasets)
        self._log_inputs(run_id, datasets)

    # -- reading -------------------------------------------------------------------------

    def get_metric_history(
        self,
        run_id: str,
        metric_key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        """Every logged value of one metric, in logging order (step, then timestamp); one
        page of ``max_results`` when it is given."""
        validate_run_id(run_id)
        validate_key("metric", metric_key)
        validate_max_results(max_results, limit=MAX_HISTORY_PAGE)
        validate_page_token(page_token)
        return self._get_metric_history(run_id, metric_key, max_results, page_token)

    def get_metric_history_bulk(self, run_ids: Sequence[str], metric_key: str) -> list[Metric]:
        """History of one metric across runs, each :class:`Metric` carrying its ``run_id``."""
        run_ids = list(run_ids)
        for run_id in run_ids:
            validate_run_id(run_id)
        validate_key("metric", metric_key)
        return self._get_metric_history_bulk(run_ids, metric_key)

    def search_runs(
        self,
        experiment_ids: Sequence[str],
        filter_string: str = "",
        run_view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Run]:
        """Runs of the given experiments matching the filter, ordered (default: start time
        desc, then run id), one page at a time. Unknown experiments have no runs."""
        ids = _experiment_ids(experiment_ids)
        view_type = canonical_view_type(run_view_type)
        validate_max_results(max_results)
        validate_page_token(page_token)
        size = SEARCH_MAX_RESULTS_DEFAULT if max_results is None else max_results
        return self._search_runs(ids, filter_string or "", view_type, size, list(order_by or []), page_token)

    def search_datasets(self, experiment_ids: Sequence[str]) -> list[DatasetSummary]:
        """The datasets the runs (active or deleted) of these experiments used, each
        (experiment, name, digest, context) once, at most :data:`MAX_DATASET_SUMMARIES`.
        Unknown experiments have none."""
        return self._search_datasets(_experiment_ids(experiment_ids))

    def get_metric_histories(self, run_id: str) -> dict[str, list[Metric]]:
        """Every metric history of one run, by key, each in logging order (step, then
        timestamp): what a copy reads. Keys are those of ``RunData.metrics``."""
        validate_run_id(run_id)
        return self._get_metric_histories(run_id)

    def sample_metric_history(
        self,
        run_id: str,
        metric_key: str,
        max_points: int,
        x_axis: str = "step",
        min_x: float | None = None,
        max_x: float | None = None,
    ) -> tuple[int, list[Metric]]:
        """At most ``max_points`` points of one metric that draw like the whole history
        (what a chart asks for): ``(points in the window, the points kept)``.

        The window holds the points whose x (``x_axis``: ``"step"`` or ``"time"``, the
        timestamp) lies within ``[min_x, max_x]`` (either bound may be None). When it holds
        more than ``max_points``, its x range ``[lo, hi]`` (of the points in it) is cut
        into ``max_points // 4`` buckets, the point at x falling in bucket
        ``(x - lo) * buckets // (hi - lo + 1)``, and each bucket keeps its first and last
        point (in x order, then the other of step and timestamp, then value), and its
        lowest and highest value (NaN is not compared; ties go to the earliest point):
        M4 sampling, which keeps every peak of a line chart. The points come back in x
        order. The default reads the whole history; a store overrides
        :meth:`_sample_metric_history` to sample in its database, with the same result.
        """
        validate_run_id(run_id)
        validate_key("metric", metric_key)
        if isinstance(max_points, bool) or not isinstance(max_points, int) or max_points < 4:
            raise TrackletException(
                f"Invalid value {max_points!r} for parameter 'max_points': an integer of at least 4.",
                INVALID_PARAMETER_VALUE,
            )
        if x_axis not in ("step", "time"):
            raise TrackletException(
                f"Invalid value {x_axis!r} for parameter 'x_axis': one of 'step', 'time'.",
                INVALID_PARAMETER_VALUE,
            )
        for name, bound in (("min_x", min_x), ("max_x", max_x)):
            if bound is not None and bound != bound:
                raise TrackletException(
                    f"Invalid value for parameter '{name}': a number, not NaN.", INVALID_PARAMETER_VALUE
                )
        return self._sample_metric_history(run_id, metric_key, max_points, x_axis, min_x, max_x)

    # -- copying between stores (capability ``import``) ----------------------------------
    #
    # ``tracklet migrate`` copies through these three calls. Each makes the destination hold
    # exactly what it is given, whatever was there before, so a copy that was killed and is
    # started again ends with nothing missing and nothing twice. They write what the
    # ordinary calls refuse (a given id, a deleted object, an ended run's times); a store
    # without capability ``import`` refuses them with ``NOT_IMPLEMENTED``.

    def import_experiment(self, experiment: Experiment) -> None:
        """Create or overwrite the experiment with ``experiment.experiment_id``: its name,
        artifact location, lifecycle stage, creation and last-update times, and its tags
        (set; tags not given are left). ``RESOURCE_ALREADY_EXISTS`` if another experiment
        holds the name (:func:`~tracklet.stores.refusals.experiment_name_taken`)."""
        experiment_id = canonical_experiment_id(experiment.experiment_id)
        validate_experiment_name(experiment.name)
        validate_artifact_location(experiment.artifact_location)
        if experiment.lifecycle_stage not in ("active", "deleted"):
            raise TrackletException(
                f"Invalid lifecycle_stage {experiment.lifecycle_stage!r} for experiment "
                f"{experiment_id}: it must be 'active' or 'deleted'.",
                INVALID_PARAMETER_VALUE,
            )
        for key, value in experiment.tags.items():
            validate_experiment_tag(key, value)
        validate_timestamp("creation_time", experiment.creation_time)
        validate_timestamp("last_update_time", experiment.last_update_time)
        self._import_experiment(experiment, experiment_id)

    def import_run(self, run: Run) -> None:
        """Create or overwrite the run with ``run.info.run_id`` in its (existing) experiment:
        name, user, status, start and end times, lifecycle stage and artifact URI as given,
        its params, tags and dataset inputs replaced by ``run.data`` / ``run.inputs``. Its
        metrics are not written here (:meth:`import_metric_history` copies histories).
        ``RESOURCE_DOES_NOT_EXIST`` if the experiment does not exist."""
        info = run.info
        validate_run_id(info.run_id)
        canonical_experiment_id(info.experiment_id)
        validate_run_name(info.run_name)
        validate_user_id(info.user_id)
        status_number(info.status)
        validate_timestamp("start_time", info.start_time)
        validate_timestamp("end_time", info.end_time)
        if info.lifecycle_stage not in ("active", "deleted"):
            raise TrackletException(
                f"Invalid lifecycle_stage {info.lifecycle_stage!r} for run {info.run_id}: it "
                "must be 'active' or 'deleted'.",
                INVALID_PARAMETER_VALUE,
            )
        for key, value in run.data.params.items():
            validate_param(key, value)
        for key, value in run.data.tags.items():
            validate_tag(key, value)
        validate_dataset_inputs(list(run.inputs.dataset_inputs) if run.inputs else [])
        self._import_run(run)

    def import_metric_history(self, run_id: str, key: str, metrics: Sequence[Metric]) -> None:
        """Make the stored history of metric ``key`` of run ``run_id`` exactly ``metrics``
        (stored points not given removed), and the run's latest value of ``key`` follow.
        Repeated points are kept as given, except by a store declaring
        ``idempotent_metrics``, which keeps an exact repeat (same step, timestamp and value)
        once, as its ``log_batch`` does. ``RESOURCE_DOES_NOT_EXIST`` if the run does not exist; the run may
        be deleted or ended (a copy writes what the ordinary calls refuse)."""
        validate_run_id(run_id)
        validate_key("metric", key)
        points = list(metrics)
        for m in points:
            if m.key != key:
                raise TrackletException(
                    f"import_metric_history({key!r}) got a point of metric {m.key!r}: every point "
                    "must carry the key being imported.",
                    INVALID_PARAMETER_VALUE,
                )
            validate_metric(m.key, m.value, m.timestamp, m.step)
        self._import_metric_history(run_id, key, points)

    def close(self) -> None:  # noqa: B027 - optional hook with a do-nothing default
        """Release connections and handles (default: nothing to release)."""

    # == what a store writes: primitives, called with checked arguments ========================

    @abc.abstractmethod
    def _create_experiment(
        self, name: str, artifact_location: str | None, tags: list[ExperimentTag | RunTag]
    ) -> str:
        """Store a new experiment; ``RESOURCE_ALREADY_EXISTS``
        (:func:`~tracklet.stores.refusals.experiment_name_taken`) if the name is used."""

    @abc.abstractmethod
    def _get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment, active or deleted (:func:`~tracklet.stores.refusals.no_such_experiment`)."""

    @abc.abstractmethod
    def _search_experiments(
        self,
        view_type: int,
        max_results: int,
        filter_string: str | None,
        order_by: list[str],
        page_token: str | None,
    ) -> PagedList[Experiment]:
        """One page of experiments. :func:`tracklet.search.search_experiments_in_memory`
        is a ready implementation over a list of candidates."""

    @abc.abstractmethod
    def _delete_experiment(self, experiment_id: str) -> None:
        """Mark an active experiment and its active runs deleted (a deleted or unknown one is
        ``RESOURCE_DOES_NOT_EXIST``)."""

    @abc.abstractmethod
    def _restore_experiment(self, experiment_id: str) -> None:
        """Mark a deleted experiment and its deleted runs active (an active or unknown one is
        ``RESOURCE_DOES_NOT_EXIST``)."""

    @abc.abstractmethod
    def _rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename an active experiment to an unused name."""

    @abc.abstractmethod
    def _set_experiment_tag(self, experiment_id: str, tag: ExperimentTag | RunTag) -> None:
        """Set one tag of an active experiment (:func:`~tracklet.stores.refusals.experiment_not_active`)."""

    @abc.abstractmethod
    def _create_run(
        self,
        experiment_id: str,
        user_id: str | None,
        start_time: int | None,
        tags: list[RunTag],
        run_name: str,
    ) -> Run:
        """Store a RUNNING run; ``tags`` already hold ``mlflow.runName`` = ``run_name``. A
        missing ``start_time`` is now."""

    @abc.abstractmethod
    def _get_run(self, run_id: str) -> Run:
        """The run, active or deleted (:func:`~tracklet.stores.refusals.no_such_run`)."""

    @abc.abstractmethod
    def _update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        """Change an active run; ``run_status`` is a :class:`RunStatus` name, a new
        ``run_name`` also sets the ``mlflow.runName`` tag."""

    @abc.abstractmethod
    def _delete_run(self, run_id: str) -> None:
        """Mark a run deleted."""

    @abc.abstractmethod
    def _restore_run(self, run_id: str) -> None:
        """Mark a run active."""

    @abc.abstractmethod
    def _log_batch(self, run_id: str, metrics: list[Metric], params: list[Param], tags: list[RunTag]) -> None:
        """Write all of it to an active run, or nothing (params are immutable:
        :func:`~tracklet.stores.refusals.param_changed`)."""

    @abc.abstractmethod
    def _delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag of an active run (:func:`~tracklet.stores.refusals.no_run_tag`)."""

    @abc.abstractmethod
    def _get_metric_history(
        self, run_id: str, metric_key: str, max_results: int | None, page_token: str | None
    ) -> PagedList[Metric]:
        """Every point of one metric in logging order; one page when ``max_results`` is set."""

    @abc.abstractmethod
    def _search_runs(
        self,
        experiment_ids: list[str],
        filter_string: str,
        run_view_type: int,
        max_results: int,
        order_by: list[str],
        page_token: str | None,
    ) -> PagedList[Run]:
        """One page of runs. :func:`tracklet.search.search_runs_in_memory` is a ready
        implementation over a list of candidates."""

    # == what has a default: override to be faster, or to offer an optional feature =============

    def _log_metric(self, run_id: str, metric: Metric) -> None:
        """Default: a one-item :meth:`_log_batch`."""
        self._log_batch(run_id, [metric], [], [])

    def _log_param(self, run_id: str, param: Param) -> None:
        """Default: a one-item :meth:`_log_batch`."""
        self._log_batch(run_id, [], [param], [])

    def _set_tag(self, run_id: str, tag: RunTag) -> None:
        """Default: a one-item :meth:`_log_batch`."""
        self._log_batch(run_id, [], [], [tag])

    def _log_inputs(self, run_id: str, datasets: list[DatasetInput]) -> None:
        """Record datasets (capability ``datasets``); the default refuses."""
        raise TrackletException(
            f"{type(self).__name__} does not record dataset inputs (capability 'datasets').",
            FEATURE_DISABLED,
        )

    def _delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one experiment tag; the default refuses (``NOT_IMPLEMENTED``)."""
        raise TrackletException(
            f"{type(self).__name__} cannot delete experiment tags: the store does not implement "
            "delete_experiment_tag.",
            NOT_IMPLEMENTED,
        )

    def _get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        """Default: pages through :meth:`_search_experiments`."""
        token = None
        while True:
            page = self._search_experiments(ViewType.ALL, SEARCH_MAX_RESULTS_DEFAULT, None, [], token)
            for experiment in page:
                if experiment.name == experiment_name:
                    return experiment
            token = page.token
            if not token:
                return None

    def _get_metric_history_bulk(self, run_ids: list[str], metric_key: str) -> list[Metric]:
        """Default: one :meth:`_get_metric_history` per run."""
        out: list[Metric] = []
        for run_id in run_ids:
            history = self._get_metric_history(run_id, metric_key, None, None)
            out.extend(
                Metric.from_rows(metric_key, [(m.value, m.timestamp, m.step) for m in history], run_id)
            )
        return out

    def _get_metric_histories(self, run_id: str) -> dict[str, list[Metric]]:
        """Default: one :meth:`_get_metric_history` per key of the run's latest metrics."""
        run = self._get_run(run_id)
        return {
            key: list(self._get_metric_history(run_id, key, None, None)) for key in sorted(run.data.metrics)
        }

    def _sample_metric_history(
        self,
        run_id: str,
        metric_key: str,
        max_points: int,
        x_axis: str,
        min_x: float | None,
        max_x: float | None,
    ) -> tuple[int, list[Metric]]:
        """Default: reads the whole history with :meth:`_get_metric_history` and samples it
        in Python (see :meth:`sample_metric_history` for what to keep)."""
        history = self._get_metric_history(run_id, metric_key, None, None)
        return _sample_m4(list(history), max_points, x_axis, min_x, max_x)

    def _refuse_import(self, what: str) -> Any:
        raise TrackletException(
            f"{type(self).__name__} cannot {what}: it does not declare capability 'import' "
            "(tracklet migrate writes only into stores that do; see docs/migrate.md).",
            NOT_IMPLEMENTED,
        )

    def _import_experiment(self, experiment: Experiment, experiment_id: str) -> None:
        """Upsert an experiment with its given id (capability ``import``); the default refuses."""
        self._refuse_import("import experiments")

    def _import_run(self, run: Run) -> None:
        """Upsert a run with its given id, params, tags and inputs (capability ``import``);
        the default refuses."""
        self._refuse_import("import runs")

    def _import_metric_history(self, run_id: str, key: str, metrics: list[Metric]) -> None:
        """Replace one metric history and its latest value (capability ``import``); the
        default refuses."""
        self._refuse_import("import metric histories")

    def _search_datasets(self, experiment_ids: list[str]) -> list[DatasetSummary]:
        """Default: reads every run of the experiments through :meth:`_search_runs`."""
        found: dict[DatasetSummary, None] = {}  # an ordered set
        for experiment_id in experiment_ids:
            token = None
            while True:
                page = self._search_runs(
                    [experiment_id], "", ViewType.ALL, SEARCH_MAX_RESULTS_DEFAULT, [], token
                )
                for run in page:
                    for item in run.inputs.dataset_inputs:
                        context = next((t.value for t in item.tags if t.key == MLFLOW_DATASET_CONTEXT), None)
                        found[
                            DatasetSummary(experiment_id, item.dataset.name, item.dataset.digest, context)
                        ] = None
                        if len(found) == MAX_DATASET_SUMMARIES:
                            return list(found)
                token = page.token
                if not token:
                    break
        return list(found)
