"""LoggedModelTag: a key/value tag on a logged model."""

from __future__ import annotations

from typing import Any

from tracklet.entities import _proto
from tracklet.entities._base import TrackletObject

__all__ = ["LoggedModelTag"]


class LoggedModelTag(TrackletObject):
    """Tag object associated with a Model."""

    __slots__ = ("_key", "_value")
    _fields = ("key", "value")

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
        """MLflow's ``mlflow.LoggedModelTag`` message (needs protobuf)."""
        return _proto.message("LoggedModelTag")(key=self._key, value=self._value)

    @classmethod
    def from_proto(cls, proto: Any) -> LoggedModelTag:
        """The tag in a wire message."""
        return cls(key=proto.key, value=proto.value)
