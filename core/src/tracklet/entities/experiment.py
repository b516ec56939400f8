"""Experiment: a named group of runs with its own artifact location and tags."""

from __future__ import annotations

from typing import Any

from tracklet.entities import _proto
from tracklet.entities._base import TrackletObject
from tracklet.entities.enums import LifecycleStage
from tracklet.entities.metric import ExperimentTag


class Experiment(TrackletObject):
    """An experiment, with MLflow's attribute names."""

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
    )
    _fields = (
        "artifact_location",
        "creation_time",
        "experiment_id",
        "last_update_time",
        "lifecycle_stage",
        "name",
        "tags",
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
        )
