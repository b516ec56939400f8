"""Experiment: a named group of runs with its own artifact location and tags."""

from __future__ import annotations

from typing import Any

from tracklet.entities import _proto
from tracklet.entities._base import TrackletObject
from tracklet.entities.enums import LifecycleStage
from tracklet.entities.metric import ExperimentTag

# MLflow 3 names the workspace of an entity "default" when workspaces are not in use;
# tracklet has none, so every experiment is in it.
DEFAULT_WORKSPACE = "default"


class Experiment(TrackletObject):
    """An experiment, with MLflow's attribute names.

    ``workspace``, ``trace_location`` and ``effective_trace_archival_retention`` are
    MLflow 3's; tracklet carries what it is given (workspace ``"default"`` otherwise).
    """

    DEFAULT_EXPERIMENT_NAME = "Default"
    DEFAULT_EXPERIMENT_ID = "0"
    ACTIVE_LIFECYCLE = LifecycleStage.ACTIVE
    DELETED_LIFECYCLE = LifecycleStage.DELETED

    __slots__ = (
        "_experiment_id",
        "_name",
        "_artifact_location",
        "_lifecycle_stage",
        "_tags",
        "_creation_time",
        "_last_update_time",
        "_workspace",
        "_trace_location",
        "_effective_trace_archival_retention",
    )
    _fields = (
        "artifact_location",
        "creation_time",
        "effective_trace_archival_retention",
        "experiment_id",
        "last_update_time",
        "lifecycle_stage",
        "name",
        "tags",
        "trace_location",
        "workspace",
    )

    def __init__(
        self,
        experiment_id: str,
        name: str,
        artifact_location: str,
        lifecycle_stage: str = LifecycleStage.ACTIVE,
        tags: dict[str, str] | list[ExperimentTag] | None = None,
        creation_time: int | None = None,
        last_update_time: int | None = None,
        workspace: str | None = None,
        trace_location: Any = None,
        effective_trace_archival_retention: str | None = None,
    ) -> None:
        self._experiment_id = str(experiment_id)
        self._name = name
        self._artifact_location = artifact_location
        self._lifecycle_stage = lifecycle_stage
        if isinstance(tags, dict):
            self._tags = dict(tags)
        else:
            self._tags = {t.key: t.value for t in tags or []}
        self._creation_time = creation_time
        self._last_update_time = last_update_time
        self._workspace = workspace or DEFAULT_WORKSPACE
        self._trace_location = trace_location
        self._effective_trace_archival_retention = effective_trace_archival_retention

    @property
    def experiment_id(self) -> str:
        """The experiment's id, a string (``"0"`` is the Default experiment)."""
        return self._experiment_id

    @property
    def name(self) -> str:
        """The unique name."""
        return self._name

    @property
    def artifact_location(self) -> str:
        """Root URI under which each run's artifacts go."""
        return self._artifact_location

    @property
    def lifecycle_stage(self) -> str:
        """``"active"`` or ``"deleted"``."""
        return self._lifecycle_stage

    @property
    def tags(self) -> dict[str, str]:
        """Experiment tags as a dict."""
        return self._tags

    @property
    def creation_time(self) -> int | None:
        """Creation time in ms since the epoch."""
        return self._creation_time

    @property
    def last_update_time(self) -> int | None:
        """Last update time in ms since the epoch."""
        return self._last_update_time

    @property
    def workspace(self) -> str:
        """The workspace (MLflow 3); always ``"default"`` unless given."""
        return self._workspace

    @property
    def trace_location(self) -> Any:
        """Where traces of the experiment go (MLflow 3, Databricks); None unless given."""
        return self._trace_location

    @property
    def effective_trace_archival_retention(self) -> str | None:
        """Trace archival retention (MLflow 3); None unless given."""
        return self._effective_trace_archival_retention

    @classmethod
    def from_dictionary(cls, the_dict: dict[str, Any]) -> Experiment:
        """Inverse of :meth:`to_dictionary`."""
        return cls(**{k: v for k, v in the_dict.items() if k in cls._fields})

    def to_proto(self) -> Any:
        """MLflow's wire message ``mlflow.Experiment`` (needs protobuf); unset times are left out."""
        proto = _proto.message("Experiment")(
            experiment_id=self.experiment_id,
            name=self.name,
            artifact_location=self.artifact_location,
            lifecycle_stage=self.lifecycle_stage,
        )
        if self.creation_time:
            proto.creation_time = self.creation_time
        if self.last_update_time:
            proto.last_update_time = self.last_update_time
        if self.effective_trace_archival_retention is not None:
            proto.effective_trace_archival_retention = self.effective_trace_archival_retention
        proto.workspace = self.workspace
        for key, value in self.tags.items():
            proto.tags.add(key=key, value=value)
        return proto

    @classmethod
    def from_proto(cls, proto: Any) -> Experiment:
        """The experiment in an ``mlflow.Experiment`` message (a time of 0 or unset is None)."""
        return cls(
            proto.experiment_id,
            proto.name,
            proto.artifact_location,
            proto.lifecycle_stage,
            [ExperimentTag(t.key, t.value) for t in proto.tags],
            creation_time=proto.creation_time or None,
            last_update_time=proto.last_update_time or None,
            workspace=proto.workspace if proto.HasField("workspace") else None,
            effective_trace_archival_retention=(
                proto.effective_trace_archival_retention
                if proto.HasField("effective_trace_archival_retention")
                else None
            ),
        )
