"""LoggedModelOutput: a logged model a run produced, and the step it was logged at."""

from __future__ import annotations

from typing import Any

from tracklet.entities import _proto
from tracklet.entities._base import TrackletObject

__all__ = ["LoggedModelOutput"]


class LoggedModelOutput(TrackletObject):
    """ModelOutput object associated with a Run: the model and the step it was logged at."""

    __slots__ = ("_model_id", "_step")
    _fields = ("model_id", "step")

    def __init__(self, model_id: str, step: int) -> None:
        self._model_id = model_id
        self._step = step

    @property
    def model_id(self) -> str:
        """Model ID"""
        return self._model_id

    @property
    def step(self) -> int:
        """Step at which the model was logged"""
        return self._step

    def to_dictionary(self) -> dict[str, Any]:
        """``{"model_id": ..., "step": ...}``"""
        return {"model_id": self.model_id, "step": self.step}

    def to_proto(self) -> Any:
        """MLflow's ``mlflow.ModelOutput`` message (needs protobuf)."""
        return _proto.message("ModelOutput")(model_id=self.model_id, step=self.step)

    @classmethod
    def from_proto(cls, proto: Any) -> LoggedModelOutput:
        """The output in a wire message."""
        return cls(proto.model_id, proto.step)
