"""RegisteredModel: a named model in the registry, with its tags, aliases and latest versions."""

from __future__ import annotations

from typing import Any

from tracklet.entities import _proto
from tracklet.entities._base import TrackletObject
from tracklet.entities.model_registry._tags import RegisteredModelAlias, RegisteredModelTag
from tracklet.entities.model_registry.model_version import IS_PROMPT_TAG_KEY, ModelVersion

__all__ = ["RegisteredModel"]

_DEFAULT_WORKSPACE = "default"

# MLflow's DeploymentJobConnection.State (a Databricks feature; stored and passed along only).
_DEPLOYMENT_JOB_STATES = {
    "DEPLOYMENT_JOB_CONNECTION_STATE_UNSPECIFIED": 0,
    "NOT_SET_UP": 1,
    "CONNECTED": 2,
    "NOT_FOUND": 3,
    "REQUIRED_PARAMETERS_CHANGED": 4,
}
_DEPLOYMENT_JOB_STATE_NAMES = {number: name for name, number in _DEPLOYMENT_JOB_STATES.items()}


class RegisteredModel(TrackletObject):
    """A registered model, with MLflow's constructor, properties and printed form.

    ``tags`` is a dict (MLflow's prompt marker tag hidden), ``aliases`` a dict alias ->
    version, ``latest_versions`` the latest version per stage (a list of
    :class:`ModelVersion`).
    """

    __slots__ = (
        "_name",
        "_creation_time",
        "_last_updated_timestamp",
        "_description",
        "_latest_version",
        "_tags",
        "_aliases",
        "_deployment_job_id",
        "_deployment_job_state",
        "_workspace",
    )
    _fields = (
        "aliases",
        "creation_timestamp",
        "deployment_job_id",
        "deployment_job_state",
        "description",
        "last_updated_timestamp",
        "latest_versions",
        "name",
        "tags",
        "workspace",
    )

    def __init__(
        self,
        name: str,
        creation_timestamp: int | None = None,
        last_updated_timestamp: int | None = None,
        description: str | None = None,
        latest_versions: list[ModelVersion] | None = None,
        tags: list[RegisteredModelTag] | None = None,
        aliases: list[RegisteredModelAlias] | None = None,
        deployment_job_id: str | None = None,
        deployment_job_state: str | None = None,
        workspace: str | None = None,
    ) -> None:
        self._name = name
        self._creation_time = creation_timestamp
        self._last_updated_timestamp = last_updated_timestamp
        self._description = description
        self._latest_version = latest_versions
        self._tags: dict[str, str] = {tag.key: tag.value for tag in (tags or [])}
        self._aliases: dict[str, str | int] = {alias.alias: alias.version for alias in (aliases or [])}
        self._deployment_job_id = deployment_job_id
        self._deployment_job_state = deployment_job_state
        self._workspace = (workspace or "").strip() or _DEFAULT_WORKSPACE

    @property
    def name(self) -> str:
        """String. Registered model name."""
        return self._name

    @name.setter
    def name(self, new_name: str) -> None:
        self._name = new_name

    @property
    def creation_timestamp(self) -> int | None:
        """Integer. Model creation timestamp (milliseconds since the Unix epoch)."""
        return self._creation_time

    @property
    def last_updated_timestamp(self) -> int | None:
        """Integer. Timestamp of last update for this model (milliseconds since the Unix epoch)."""
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
    def latest_versions(self) -> list[ModelVersion] | None:
        """List of the latest :class:`ModelVersion` instances for each stage."""
        return self._latest_version

    @latest_versions.setter
    def latest_versions(self, latest_versions: list[ModelVersion] | None) -> None:
        self._latest_version = latest_versions

    @property
    def tags(self) -> dict[str, str]:
        """Dictionary of tag key (string) -> tag value for the current registered model."""
        return {k: v for k, v in self._tags.items() if k != IS_PROMPT_TAG_KEY}

    @property
    def aliases(self) -> dict[str, str | int]:
        """Dictionary of aliases (string) -> version for the current registered model."""
        return self._aliases

    @property
    def deployment_job_id(self) -> str | None:
        """Deployment job ID for the current registered model (Databricks only)."""
        return self._deployment_job_id

    @deployment_job_id.setter
    def deployment_job_id(self, deployment_job_id: str | None) -> None:
        self._deployment_job_id = deployment_job_id

    @property
    def deployment_job_state(self) -> str | None:
        """Deployment job state for the current registered model (Databricks only)."""
        return self._deployment_job_state

    @property
    def workspace(self) -> str:
        """Workspace name for the registered model (always ``"default"``)."""
        return self._workspace

    def _is_prompt(self) -> bool:
        return self._tags.get(IS_PROMPT_TAG_KEY, "false").lower() == "true"

    def _add_tag(self, tag: RegisteredModelTag) -> None:
        self._tags[tag.key] = tag.value

    def _add_alias(self, alias: RegisteredModelAlias) -> None:
        self._aliases[alias.alias] = alias.version

    def to_proto(self) -> Any:
        """MLflow's wire message ``mlflow.RegisteredModel`` (needs protobuf)."""
        proto = _proto.message("RegisteredModel")(name=self.name)
        if self.creation_timestamp is not None:
            proto.creation_timestamp = self.creation_timestamp
        if self.last_updated_timestamp:
            proto.last_updated_timestamp = self.last_updated_timestamp
        if self.description:
            proto.description = self.description
        if self.latest_versions is not None:
            proto.latest_versions.extend([v.to_proto() for v in self.latest_versions])
        if self.deployment_job_id:
            proto.deployment_job_id = self.deployment_job_id
        if self.deployment_job_state:
            proto.deployment_job_state = _DEPLOYMENT_JOB_STATES[self.deployment_job_state]
        tag_class = _proto.message("RegisteredModelTag")
        proto.tags.extend([tag_class(key=k, value=v) for k, v in self._tags.items()])
        alias_class = _proto.message("RegisteredModelAlias")
        proto.aliases.extend([alias_class(alias=a, version=str(v)) for a, v in self._aliases.items()])
        return proto

    @classmethod
    def from_proto(cls, proto: Any) -> RegisteredModel:
        """The model in an ``mlflow.RegisteredModel`` message (as MLflow reads it)."""
        model = cls(
            proto.name,
            proto.creation_timestamp,
            proto.last_updated_timestamp,
            proto.description,
            [ModelVersion.from_proto(v) for v in proto.latest_versions],
        )
        for tag in proto.tags:
            model._add_tag(RegisteredModelTag(tag.key, tag.value))
        for alias in proto.aliases:
            model._add_alias(RegisteredModelAlias(alias.alias, alias.version))
        model._deployment_job_id = proto.deployment_job_id
        model._deployment_job_state = _DEPLOYMENT_JOB_STATE_NAMES.get(proto.deployment_job_state)
        return model
