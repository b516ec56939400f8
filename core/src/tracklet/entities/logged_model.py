"""LoggedModel: a model logged to an experiment (MLflow 3), with its tags, params and metrics."""

from __future__ import annotations

from typing import Any

from tracklet.entities import _proto
from tracklet.entities._base import TrackletObject
from tracklet.entities.logged_model_parameter import LoggedModelParameter
from tracklet.entities.logged_model_status import LoggedModelStatus
from tracklet.entities.logged_model_tag import LoggedModelTag
from tracklet.entities.metric import Metric

__all__ = ["LoggedModel"]

# Left out of the repr, as MLflow does: they can be large.
_NOT_PRINTED = ("tags", "params", "metrics")


class LoggedModel(TrackletObject):
    """A model logged to an experiment, with MLflow's constructor and properties.

    ``model_uri`` is ``models:/<model_id>``; ``status`` a :class:`LoggedModelStatus`
    (an int is converted); ``tags`` and ``params`` dicts (lists of entities are accepted).
    """

    __slots__ = (
        "_experiment_id",
        "_model_id",
        "_name",
        "_artifact_location",
        "_creation_time",
        "_last_updated_timestamp",
        "_model_type",
        "_source_run_id",
        "_status",
        "_status_message",
        "_tags",
        "_params",
        "_metrics",
        "_model_uri",
    )
    _fields = (
        "artifact_location",
        "creation_timestamp",
        "experiment_id",
        "last_updated_timestamp",
        "metrics",
        "model_id",
        "model_type",
        "model_uri",
        "name",
        "params",
        "source_run_id",
        "status",
        "status_message",
        "tags",
    )

    def __init__(
        self,
        experiment_id: str,
        model_id: str,
        name: str,
        artifact_location: str,
        creation_timestamp: int,
        last_updated_timestamp: int,
        model_type: str | None = None,
        source_run_id: str | None = None,
        status: LoggedModelStatus | int = LoggedModelStatus.READY,
        status_message: str | None = None,
        tags: list[LoggedModelTag] | dict[str, str] | None = None,
        params: list[LoggedModelParameter] | dict[str, str] | None = None,
        metrics: list[Metric] | None = None,
    ) -> None:
        self._experiment_id = experiment_id
        self._model_id = model_id
        self._name = name
        self._artifact_location = artifact_location
        self._creation_time = creation_timestamp
        self._last_updated_timestamp = last_updated_timestamp
        self._model_type = model_type
        self._source_run_id = source_run_id
        self._status = status if isinstance(status, LoggedModelStatus) else LoggedModelStatus.from_int(status)
        self._status_message = status_message
        self._tags: dict[str, str] = (
            {tag.key: tag.value for tag in tags} if isinstance(tags, list) else dict(tags or {})
        )
        self._params: dict[str, str] = (
            {p.key: p.value for p in params} if isinstance(params, list) else dict(params or {})
        )
        self._metrics = metrics
        self._model_uri = f"models:/{model_id}"

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self if k not in _NOT_PRINTED)
        return f"LoggedModel({shown})"

    @property
    def experiment_id(self) -> str:
        """String. Experiment ID associated with this Model."""
        return self._experiment_id

    @experiment_id.setter
    def experiment_id(self, new_experiment_id: str) -> None:
        self._experiment_id = new_experiment_id

    @property
    def model_id(self) -> str:
        """String. Unique ID for this Model."""
        return self._model_id

    @model_id.setter
    def model_id(self, new_model_id: str) -> None:
        self._model_id = new_model_id

    @property
    def name(self) -> str:
        """String. Name for this Model."""
        return self._name

    @name.setter
    def name(self, new_name: str) -> None:
        self._name = new_name

    @property
    def artifact_location(self) -> str:
        """String. Location of the model artifacts."""
        return self._artifact_location

    @artifact_location.setter
    def artifact_location(self, new_artifact_location: str) -> None:
        self._artifact_location = new_artifact_location

    @property
    def creation_timestamp(self) -> int:
        """Integer. Model creation timestamp (milliseconds since the Unix epoch)."""
        return self._creation_time

    @property
    def last_updated_timestamp(self) -> int:
        """Integer. Timestamp of last update for this Model (milliseconds since the Unix epoch)."""
        return self._last_updated_timestamp

    @last_updated_timestamp.setter
    def last_updated_timestamp(self, updated_timestamp: int) -> None:
        self._last_updated_timestamp = updated_timestamp

    @property
    def model_type(self) -> str | None:
        """String. Type of the model."""
        return self._model_type

    @model_type.setter
    def model_type(self, new_model_type: str | None) -> None:
        self._model_type = new_model_type

    @property
    def source_run_id(self) -> str | None:
        """String. MLflow run ID that generated this model."""
        return self._source_run_id

    @property
    def status(self) -> LoggedModelStatus:
        """Current status of this Model."""
        return self._status

    @status.setter
    def status(self, updated_status: LoggedModelStatus) -> None:
        self._status = updated_status

    @property
    def status_message(self) -> str | None:
        """String. Descriptive message for error status conditions."""
        return self._status_message

    @property
    def tags(self) -> dict[str, str]:
        """Dictionary of tag key (string) -> tag value for this Model."""
        return self._tags

    @property
    def params(self) -> dict[str, str]:
        """Model parameters."""
        return self._params

    @property
    def metrics(self) -> list[Metric] | None:
        """List of metrics associated with this Model."""
        return self._metrics

    @metrics.setter
    def metrics(self, new_metrics: list[Metric] | None) -> None:
        self._metrics = new_metrics

    @property
    def model_uri(self) -> str:
        """URI of the model (``models:/<model_id>``)."""
        return self._model_uri

    def _add_tag(self, tag: LoggedModelTag) -> None:
        self._tags[tag.key] = tag.value

    def to_dictionary(self) -> dict[str, Any]:
        """MLflow's dictionary form: ``status`` as its number, no ``model_uri``, metrics as given."""
        model_dict = dict(self)
        model_dict["status"] = self.status.to_int()
        del model_dict["model_uri"]
        return model_dict

    @classmethod
    def from_dictionary(cls, the_dict: dict[str, Any]) -> LoggedModel:
        """Inverse of :meth:`to_dictionary` (unknown keys ignored)."""
        return cls(**{k: v for k, v in the_dict.items() if k in cls._fields and k != "model_uri"})

    def to_proto(self) -> Any:
        """MLflow's wire message ``mlflow.LoggedModel`` (needs protobuf)."""
        info = _proto.message("LoggedModelInfo")(
            experiment_id=self.experiment_id,
            model_id=self.model_id,
            name=self.name,
            artifact_uri=self.artifact_location,
            creation_timestamp_ms=self.creation_timestamp,
            last_updated_timestamp_ms=self.last_updated_timestamp,
            model_type=self.model_type,
            source_run_id=self.source_run_id,
            status=self.status.to_proto(),
            status_message=self.status_message,
            tags=[LoggedModelTag(k, v).to_proto() for k, v in self.tags.items()],
        )
        data = _proto.message("LoggedModelData")(
            params=[LoggedModelParameter(k, v).to_proto() for k, v in self.params.items()],
            metrics=[m.to_proto() for m in self.metrics] if self.metrics else [],
        )
        return _proto.message("LoggedModel")(info=info, data=data)

    @classmethod
    def from_proto(cls, proto: Any) -> LoggedModel:
        """The model in an ``mlflow.LoggedModel`` message (as MLflow reads it)."""
        info = proto.info
        return cls(
            experiment_id=info.experiment_id,
            model_id=info.model_id,
            name=info.name,
            artifact_location=info.artifact_uri,
            creation_timestamp=info.creation_timestamp_ms,
            last_updated_timestamp=info.last_updated_timestamp_ms,
            model_type=info.model_type,
            source_run_id=info.source_run_id,
            status=LoggedModelStatus.from_proto(info.status),
            status_message=info.status_message,
            tags=[LoggedModelTag.from_proto(t) for t in info.tags],
            params=[LoggedModelParameter.from_proto(p) for p in proto.data.params],
            metrics=[Metric.from_proto(m) for m in proto.data.metrics],
        )
