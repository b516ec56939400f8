"""LoggedModelParameter: a parameter of a logged model."""

from __future__ import annotations

from typing import Any

from tracklet.entities import _proto
from tracklet.entities._base import TrackletObject

__all__ = ["LoggedModelParameter"]


class LoggedModelParameter(TrackletObject):
    """A parameter of a Model. As MLflow's, two parameters are equal when their keys are."""

    __slots__ = ("_key", "_value")
    _fields = ("key", "value")

    def __init__(self, key: str, value: str) -> None:
        self._key = key
        self._value = value

    @property
    def key(self) -> str:
        """String key corresponding to the parameter name."""
        return self._key

    @property
    def value(self) -> str:
        """String value of the parameter."""
        return self._value

    def __eq__(self, other: object) -> bool:
        if isinstance(other, self.__class__):
            return self._key == other._key
        return False

    def __hash__(self) -> int:
        return hash(self._key)

    def to_proto(self) -> Any:
        """MLflow's ``mlflow.LoggedModelParameter`` message (needs protobuf)."""
        return _proto.message("LoggedModelParameter")(key=self._key, value=self._value)

    @classmethod
    def from_proto(cls, proto: Any) -> LoggedModelParameter:
        """The parameter in a wire message."""
        return cls(key=proto.key, value=proto.value)
