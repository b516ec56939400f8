"""RunOutputs: what a run produced (MLflow 3's logged-model outputs)."""

from __future__ import annotations

from typing import Any

from tracklet.entities import _proto
from tracklet.entities._base import TrackletObject
from tracklet.entities.logged_model_output import LoggedModelOutput

__all__ = ["RunOutputs"]


class RunOutputs(TrackletObject):
    """The logged models a run produced (MLflow's ``mlflow.entities.RunOutputs``)."""

    __slots__ = ("_model_outputs",)
    _fields = ("model_outputs",)

    def __init__(self, model_outputs: list[LoggedModelOutput] | None = None) -> None:
        self._model_outputs = list(model_outputs or [])

    @property
    def model_outputs(self) -> list[LoggedModelOutput]:
        """The logged models, each with the step it was logged at."""
        return self._model_outputs

    def to_dictionary(self) -> dict[str, Any]:
        """``{"model_outputs": [{"model_id", "step"}, ...]}``"""
        return {"model_outputs": [o.to_dictionary() for o in self.model_outputs]}

    def to_proto(self) -> Any:
        """MLflow's wire message ``mlflow.RunOutputs`` (needs protobuf)."""
        return _proto.message("RunOutputs")(model_outputs=[o.to_proto() for o in self.model_outputs])

    @classmethod
    def from_proto(cls, proto: Any) -> RunOutputs:
        """The outputs in an ``mlflow.RunOutputs`` message."""
        return cls([LoggedModelOutput.from_proto(o) for o in proto.model_outputs])
