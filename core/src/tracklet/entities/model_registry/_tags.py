"""The key/value records of the registry: model and version tags, and aliases."""

from __future__ import annotations

from typing import Any

from tracklet.entities import _proto
from tracklet.entities._base import TrackletObject


class _RegistryKeyValue(TrackletObject):
    __slots__ = ("_key", "_value")
    _fields = ("key", "value")
    _message = ""

    def __init__(self, key: str, value: str) -> None:
        self._key = key
        self._value = value

    @property
    def key(self) -> str:
        """String name of the tag."""
        return self._key

    @property
    def value(self) -> str:
        """String value of the tag."""
        return self._value

    def to_proto(self) -> Any:
        """MLflow's wire message for the tag (needs protobuf)."""
        return _proto.message(self._message)(key=self.key, value=self.value)

    @classmethod
    def from_proto(cls, proto: Any) -> Any:
        """The tag in a wire message."""
        return cls(proto.key, proto.value)


class RegisteredModelTag(_RegistryKeyValue):
    """Tag object associated with a registered model."""

    __slots__ = ()
    _message = "RegisteredModelTag"


class ModelVersionTag(_RegistryKeyValue):
    """Tag object associated with a model version."""

    __slots__ = ()
    _message = "ModelVersionTag"


class RegisteredModelAlias(TrackletObject):
    """Alias object associated with a registered model: a name pointing at a version."""

    __slots__ = ("_alias", "_version")
    _fields = ("alias", "version")

    def __init__(self, alias: str, version: str | int) -> None:
        self._alias = alias
        self._version = version

    @property
    def alias(self) -> str:
        """String name of the alias."""
        return self._alias

    @property
    def version(self) -> str | int:
        """String model version number that the alias points to."""
        return self._version

    def to_proto(self) -> Any:
        """MLflow's ``mlflow.RegisteredModelAlias`` message (needs protobuf)."""
        return _proto.message("RegisteredModelAlias")(alias=self.alias, version=str(self.version))

    @classmethod
    def from_proto(cls, proto: Any) -> RegisteredModelAlias:
        """The alias in a wire message."""
        return cls(proto.alias, proto.version)
