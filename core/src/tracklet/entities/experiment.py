"""Experiment: a named group of runs with its own artifact location and tags."""

from __future__ import annotations

from typing import Any

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
        "experiment_id",
        "name",
        "artifact_location",
        "lifecycle_stage",
        "tags",
        "creation_time",
        "last_update_time",
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
