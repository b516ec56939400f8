"""The tracking store contract: what a backend implements to hold experiments and runs.

A plugin author subclasses :class:`TrackingStore` and writes the abstract methods
(the *primitives*). The conveniences below them (``log_metric``, ``log_param``,
``set_tag``, ``get_experiment_by_name``, …) have working defaults built on the
primitives; override one only to make it faster. The conformance suite in
:mod:`tracklet.testing` checks a store against this contract.

Rules every implementation follows:

* ids are strings; run ids are 32 lowercase hex characters (``uuid4().hex``);
* a rejected call changes nothing already stored (validate first, then write);
* unknown ids raise ``RESOURCE_DOES_NOT_EXIST``; writes to a deleted run raise
  ``INVALID_PARAMETER_VALUE`` with :func:`run_not_active`'s message (MLflow's code and
  wording); bad input raises ``INVALID_PARAMETER_VALUE`` (:mod:`tracklet.validation`
  has every rule);
* params are immutable: logging the same key with the same value again is fine,
  another value is ``INVALID_PARAMETER_VALUE``;
* ``RunData.metrics`` holds, for each key, the value with the largest step, then the
  largest timestamp, then the largest value;
* NaN and ±inf metric values are stored and returned as such.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Sequence
from typing import ClassVar

from tracklet._tags import MLFLOW_DATASET_CONTEXT
from tracklet.entities import (
    DatasetInput,
    Experiment,
    ExperimentTag,
    Metric,
    PagedList,
    Param,
    Run,
    RunInfo,
    RunTag,
    ViewType,
)
from tracklet.exceptions import (
    FEATURE_DISABLED,
    INVALID_PARAMETER_VALUE,
    NOT_IMPLEMENTED,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)
from tracklet.validation import SEARCH_MAX_RESULTS_DEFAULT

__all__ = [
    "CAPABILITIES",
    "DatasetSummary",
    "TrackingStore",
    "experiment_not_active",
    "no_experiment_tag",
    "run_not_active",
]

#: At most this many summaries come back from :meth:`TrackingStore.search_datasets`
#: (MLflow's stores stop at the same number).
MAX_DATASET_SUMMARIES = 1000

#: Optional features a store may declare in :attr:`TrackingStore.capabilities`.
#: The conformance suite skips the tests of a feature a store does not declare.
#:
#: * ``datasets``: ``log_inputs`` and ``datasets.*`` search;
#: * ``concurrent_processes``: several processes may write through their own instances;
#: * ``idempotent_metrics``: a metric point identical to a stored one (same key, value,
#:   timestamp and step) is stored once, so re-sending a batch after a timeout is
#:   harmless. Without it, every logged point is kept, repeats included (MLflow's file
#:   store behaviour; its SQL store behaves as with the capability).
CAPABILITIES = frozenset({"datasets", "concurrent_processes", "idempotent_metrics"})


@dataclasses.dataclass(frozen=True)
class DatasetSummary:
    """One dataset used in an experiment, with the context it was used in (MLflow's
    ``_DatasetSummary``: what the UI lists for a set of experiments)."""

    experiment_id: str
    name: str
    digest: str
    context: str | None = None


# -- refusals every store words the same way ------------------------------------------------


def run_not_active(run_id: str, stage: str = "deleted") -> TrackletException:
    """The refusal of a write to a run that is not active (MLflow's code and message)."""
    return TrackletException(
        f"The run {run_id} must be in the 'active' state. Current state is {stage}.",
        INVALID_PARAMETER_VALUE,
    )


def experiment_not_active(experiment_id: str, stage: str = "deleted") -> TrackletException:
    """The refusal of a change to an experiment that is not active (MLflow's code and message)."""
    return TrackletException(
        f"The experiment {experiment_id} must be in the 'active' state. Current state is {stage}.",
        INVALID_PARAMETER_VALUE,
    )


def no_experiment_tag(experiment_id: str, key: str) -> TrackletException:
    """``delete_experiment_tag`` of a tag the experiment does not have (MLflow's message)."""
    return TrackletException(
        f"No tag with name: {key} in experiment with id {experiment_id}", RESOURCE_DOES_NOT_EXIST
    )


class TrackingStore(abc.ABC):
    """Abstract tracking store. Built by a plugin from a tracking URI.

    :param store_uri: the tracking URI the store was resolved from.
    :param artifact_uri: default artifact root for new experiments, if the user gave one.
    """

    #: Features beyond the required surface (see :data:`CAPABILITIES`).
    capabilities: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        self.store_uri = store_uri
        self.artifact_uri = artifact_uri

    # -- experiments -------------------------------------------------------------

    @abc.abstractmethod
    def create_experiment(
        self,
        name: str,
        artifact_location: str | None = None,
        tags: Sequence[ExperimentTag | RunTag] | None = None,
    ) -> str:
        """Create an experiment and return its id.

        :raises: ``RESOURCE_ALREADY_EXISTS`` if an experiment (active or deleted) has the name.
        """

    @abc.abstractmethod
    def get_experiment(self, experiment_id: str) -> Experiment:
        """The experiment with this id, deleted or not; ``RESOURCE_DOES_NOT_EXIST`` if none."""

    @abc.abstractmethod
    def search_experiments(
        self,
        view_type: int = ViewType.ACTIVE_ONLY,
        max_results: int = SEARCH_MAX_RESULTS_DEFAULT,
        filter_string: str | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[Experiment]:
        """Experiments matching the filter, ordered (default: creation time desc, then id),
        one page at a time. :mod:`tracklet.search` has a ready in-memory implementation."""

    @abc.abstractmethod
    def delete_experiment(self, experiment_id: str) -> None:
        """Soft-delete: lifecycle stage becomes ``deleted``, and so do its runs' views."""

    @abc.abstractmethod
    def restore_experiment(self, experiment_id: str) -> None:
        """Undo :meth:`delete_experiment`."""

    @abc.abstractmethod
    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        """Rename; the new name must be unused (``RESOURCE_ALREADY_EXISTS``)."""

    @abc.abstractmethod
    def set_experiment_tag(self, experiment_id: str, tag: ExperimentTag | RunTag) -> None:
        """Set (or overwrite) one experiment tag."""

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        """Remove one tag of an active experiment.

        :raises: ``RESOURCE_DOES_NOT_EXIST`` (:func:`no_experiment_tag`) if the experiment
            has no such tag; ``INVALID_PARAMETER_VALUE`` (:func:`experiment_not_active`)
            if the experiment is deleted.
        """
        raise TrackletException(
            f"{type(self).__name__} cannot delete experiment tags: the store does not implement "
            "delete_experiment_tag.",
            NOT_IMPLEMENTED,
        )

    # -- runs --------------------------------------------------------------------

    @abc.abstractmethod
    def create_run(
        self,
        experiment_id: str,
        user_id: str | None,
        start_time: int | None,
        tags: Sequence[RunTag],
        run_name: str | None,
    ) -> Run:
        """Create a RUNNING run. A missing ``run_name`` gets a generated one; the name is
        also stored as the ``mlflow.runName`` tag. The experiment must be active."""

    @abc.abstractmethod
    def get_run(self, run_id: str) -> Run:
        """The run with its latest metrics, params, tags and inputs."""

    @abc.abstractmethod
    def update_run_info(
        self, run_id: str, run_status: str | None, end_time: int | None, run_name: str | None
    ) -> RunInfo:
        """Change status, end time and/or name (None leaves a field as it is)."""

    @abc.abstractmethod
    def delete_run(self, run_id: str) -> None:
        """Soft-delete a run."""

    @abc.abstractmethod
    def restore_run(self, run_id: str) -> None:
        """Undo :meth:`delete_run`."""

    @abc.abstractmethod
    def log_batch(
        self,
        run_id: str,
        metrics: Sequence[Metric],
        params: Sequence[Param],
        tags: Sequence[RunTag],
    ) -> None:
        """Log metrics, params and tags together: all of them or, on error, none."""

    @abc.abstractmethod
    def delete_tag(self, run_id: str, key: str) -> None:
        """Remove a tag; ``RESOURCE_DOES_NOT_EXIST`` if the run has no such tag."""

    @abc.abstractmethod
    def get_metric_history(
        self,
        run_id: str,
        metric_key: str,
        max_results: int | None = None,
        page_token: str | None = None,
    ) -> PagedList[Metric]:
        """Every logged value of one metric, in logging order (step, then timestamp)."""

    @abc.abstractmethod
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
        desc, then run id), one page at a time."""

    # -- optional features ---------------------------------------------------------

    def log_inputs(self, run_id: str, datasets: Sequence[DatasetInput] | None = None) -> None:
        """Record datasets a run used (capability ``datasets``)."""
        raise TrackletException(
            f"{type(self).__name__} does not record dataset inputs (capability 'datasets').",
            FEATURE_DISABLED,
        )

    # -- conveniences with defaults --------------------------------------------------

    def log_metric(self, run_id: str, metric: Metric) -> None:
        """Log one metric value (default: a one-item :meth:`log_batch`)."""
        self.log_batch(run_id, [metric], [], [])

    def log_param(self, run_id: str, param: Param) -> None:
        """Log one param (default: a one-item :meth:`log_batch`)."""
        self.log_batch(run_id, [], [param], [])

    def set_tag(self, run_id: str, tag: RunTag) -> None:
        """Set one run tag (default: a one-item :meth:`log_batch`)."""
        self.log_batch(run_id, [], [], [tag])

    def get_experiment_by_name(self, experiment_name: str) -> Experiment | None:
        """The experiment with this name (active or deleted), or None."""
        token = None
        while True:
            page = self.search_experiments(ViewType.ALL, SEARCH_MAX_RESULTS_DEFAULT, None, None, token)
            for experiment in page:
                if experiment.name == experiment_name:
                    return experiment
            token = page.token
            if not token:
                return None

    def get_metric_history_bulk(self, run_ids: Sequence[str], metric_key: str) -> list[Metric]:
        """History of one metric across runs, each :class:`Metric` carrying its ``run_id``."""
        out: list[Metric] = []
        for run_id in run_ids:
            for m in self.get_metric_history(run_id, metric_key):
                out.append(Metric(m.key, m.value, m.timestamp, m.step, run_id=run_id))
        return out

    def search_datasets(self, experiment_ids: Sequence[str]) -> list[DatasetSummary]:
        """The datasets the runs (active or deleted) of these experiments used, each
        (experiment, name, digest, context) once, at most :data:`MAX_DATASET_SUMMARIES`.
        Unknown experiments have none. The default reads every run through
        :meth:`search_runs`; a store that can answer with one query overrides it."""
        found: dict[DatasetSummary, None] = {}  # an ordered set
        for experiment_id in experiment_ids:
            token = None
            while True:
                page = self.search_runs(
                    [experiment_id], "", ViewType.ALL, SEARCH_MAX_RESULTS_DEFAULT, None, token
                )
                for run in page:
                    for item in run.inputs.dataset_inputs:
                        context = next((t.value for t in item.tags if t.key == MLFLOW_DATASET_CONTEXT), None)
                        summary = DatasetSummary(
                            str(experiment_id), item.dataset.name, item.dataset.digest, context
                        )
                        found[summary] = None
                        if len(found) == MAX_DATASET_SUMMARIES:
                            return list(found)
                token = page.token
                if not token:
                    break
        return list(found)

    def close(self) -> None:  # noqa: B027 - optional hook with a do-nothing default
        """Release connections and handles (default: nothing to release)."""
