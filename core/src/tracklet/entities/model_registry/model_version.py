"""ModelVersion: one numbered version of a registered model."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tracklet.entities import _proto
from tracklet.entities._base import TrackletObject
from tracklet.entities.model_registry._tags import ModelVersionTag
from tracklet.entities.model_registry.model_version_status import ModelVersionStatus

if TYPE_CHECKING:
    from tracklet.entities.logged_model_parameter import LoggedModelParameter
    from tracklet.entities.metric import Metric

__all__ = ["IS_PROMPT_TAG_KEY", "ModelVersion"]

#: The tag MLflow puts on registered models and versions that are prompts.
IS_PROMPT_TAG_KEY = "mlflow.prompt.is_prompt"

# tracklet has no workspaces; MLflow 3 names the one workspace "default".
_DEFAULT_WORKSPACE = "default"


class ModelVersion(TrackletObject):
    """A model version, with MLflow's constructor, properties and printed form.

    ``version`` is a string (``"1"``, ``"2"``…), ``tags`` a dict, ``aliases`` a list of
    the aliases pointing at this version, ``status`` a string (``"READY"``).
    """

    __slots__ = (
        "_name",
        "_version",
        "_creation_time",
        "_last_updated_timestamp",
        "_description",
        "_user_id",
        "_current_stage",
        "_source",
        "_run_id",
        "_run_link",
        "_status",
        "_status_message",
        "_tags",
        "_aliases",
        "_model_id",
        "_params",
        "_metrics",
        "_deployment_job_state",
        "_workspace",
    )
    _fields = (
        "aliases",
        "creation_timestamp",
        "current_stage",
        "deployment_job_state",
        "description",
        "last_updated_timestamp",
        "metrics",
        "model_id",
        "name",
        "params",
        "run_id",
        "run_link",
        "source",
        "status",
        "status_message",
        "tags",
        "user_id",
        "version",
        "workspace",
    )

    def __init__(
        self,
        name: str,
        version: str | int,
        creation_timestamp: int,
        last_updated_timestamp: int | None = None,
        description: str | None = None,
        user_id: str | None = None,
        current_stage: str | None = None,
        source: str | None = None,
        run_id: str | None = None,
        status: str = "READY",
        status_message: str | None = None,
        tags: list[ModelVersionTag] | None = None,
        run_link: str | None = None,
        aliases: list[str] | None = None,
        model_id: str | None = None,
        params: list[LoggedModelParameter] | None = None,
        metrics: list[Metric] | None = None,
        deployment_job_state: Any = None,
        workspace: str | None = None,
    ) -> None:
        self._name = name
        self._version = version
        self._creation_time = creation_timestamp
        self._last_updated_timestamp = last_updated_timestamp
        self._description = description
        self._user_id = user_id
        self._current_stage = current_stage
        self._source = source
        self._run_id = run_id
        self._run_link = run_link
        self._status = status
        self._status_message = status_message
        self._tags: dict[str, str] = {tag.key: tag.value for tag in (tags or [])}
        self._aliases: list[str] = list(aliases) if aliases else []
        self._model_id = model_id
        self._params = params
        self._metrics = metrics
        self._deployment_job_state = deployment_job_state
        self._workspace = (workspace or "").strip() or _DEFAULT_WORKSPACE

    @property
    def name(self) -> str:
        """String. Unique name within Model Registry."""
        return self._name

    @name.setter
    def name(self, new_name: str) -> None:
        self._name = new_name

    @property
    def version(self) -> str | int:
        """Version"""
        return self._version

    @property
    def creation_timestamp(self) -> int:
        """Integer. Model version creation timestamp (milliseconds since the Unix epoch)."""
        return self._creation_time

    @property
    def last_updated_timestamp(self) -> int | None:
        """Integer. Timestamp of last update for this model version (ms since the Unix epoch)."""
        return self._last_updated_timestamp

    @last_updated_timestamp.setter
    def last_updated_timestamp(self, updated_timestamp: int) -> None:
        self._last_updated_timestamp = updated_timestamp

    @property
    def description(self) -> str | None:
        """String. Description"""
        return self._description

    @description.setter
    def description(self, description: str) -> None:
        self._description = description

    @property
    def user_id(self) -> str | None:
        """String. User ID that created this model version."""
        return self._user_id

    @property
    def current_stage(self) -> str | None:
        """String. Current stage of this model version."""
        return self._current_stage

    @current_stage.setter
    def current_stage(self, stage: str) -> None:
        self._current_stage = stage

    @property
    def source(self) -> str | None:
        """String. Source path for the model."""
        return self._source

    @property
    def run_id(self) -> str | None:
        """String. MLflow run ID that generated this model."""
        return self._run_id

    @property
    def run_link(self) -> str | None:
        """String. MLflow run link referring to the exact run that generated this model version."""
        return self._run_link

    @property
    def status(self) -> str:
        """String. Current Model Registry status for this model."""
        return self._status

    @property
    def status_message(self) -> str | None:
        """String. Descriptive message for error status conditions."""
        return self._status_message

    @property
    def tags(self) -> dict[str, str]:
        """Dictionary of tag key (string) -> tag value for the current model version."""
        return self._tags

    @property
    def aliases(self) -> list[str]:
        """List of aliases (string) for the current model version."""
        return self._aliases

    @aliases.setter
    def aliases(self, aliases: list[str]) -> None:
        self._aliases = aliases

    @property
    def model_id(self) -> str | None:
        """String. ID of the logged model associated with this version."""
        return self._model_id

    @property
    def params(self) -> list[LoggedModelParameter] | None:
        """List of parameters associated with this model version."""
        return self._params

    @property
    def metrics(self) -> list[Metric] | None:
        """List of metrics associated with this model version."""
        return self._metrics

    @property
    def deployment_job_state(self) -> Any:
        """Deployment job state for the current model version (Databricks only; None here)."""
        return self._deployment_job_state

    @property
    def workspace(self) -> str:
        """The workspace (always ``"default"``: tracklet has no workspaces)."""
        return self._workspace

    def _is_prompt(self) -> bool:
        return self._tags.get(IS_PROMPT_TAG_KEY, "false").lower() == "true"

    def _add_tag(self, tag: ModelVersionTag) -> None:
        self._tags[tag.key] = tag.value

    def to_proto(self) -> Any:
        """MLflow's wire message ``mlflow.ModelVersion`` (needs protobuf).

        Unlike MLflow, ``model_id`` is sent too (field 15 of MLflow's message; MLflow's
        own reader ignores it).
        """
        proto = _proto.message("ModelVersion")(name=self.name, version=str(self.version))
        proto.creation_timestamp = self.creation_timestamp
        if self.last_updated_timestamp is not None:
            proto.last_updated_timestamp = self.last_updated_timestamp
        if self.description is not None:
            proto.description = self.description
        if self.user_id is not None:
            proto.user_id = self.user_id
        if self.current_stage is not None:
            proto.current_stage = self.current_stage
        if self.source is not None:
            proto.source = str(self.source)
        if self.run_id is not None:
            proto.run_id = str(self.run_id)
        if self.run_link is not None:
            proto.run_link = str(self.run_link)
        if self.status is not None:
            proto.status = ModelVersionStatus.from_string(self.status)
        if self.status_message:
            proto.status_message = self.status_message
        if self.model_id is not None:
            proto.model_id = self.model_id
        tag_class = _proto.message("ModelVersionTag")
        proto.tags.extend([tag_class(key=k, value=v) for k, v in self._tags.items()])
        proto.aliases.extend(self.aliases)
        return proto

    @classmethod
    def from_proto(cls, proto: Any) -> ModelVersion:
        """The version in an ``mlflow.ModelVersion`` message (as MLflow reads it)."""
        version = cls(
            proto.name,
            proto.version,
            proto.creation_timestamp,
            proto.last_updated_timestamp,
            proto.description if proto.HasField("description") else None,
            proto.user_id,
            proto.current_stage,
            proto.source,
            proto.run_id if proto.HasField("run_id") else None,
            ModelVersionStatus.to_string(proto.status),
            proto.status_message if proto.HasField("status_message") else None,
            run_link=proto.run_link,
            aliases=list(proto.aliases),
            model_id=proto.model_id if proto.HasField("model_id") else None,
        )
        for tag in proto.tags:
            version._add_tag(ModelVersionTag(tag.key, tag.value))
        return version
