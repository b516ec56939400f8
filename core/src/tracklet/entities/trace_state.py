"""Trace state, as MLflow 3's ``mlflow.entities.trace_state``."""

from __future__ import annotations

from enum import Enum
from typing import Any

__all__ = ["TraceState"]

_PROTO_NUMBERS = {"STATE_UNSPECIFIED": 0, "OK": 1, "ERROR": 2, "IN_PROGRESS": 3}


class TraceState(str, Enum):
    """Enum representing the state of a trace.

    - ``STATE_UNSPECIFIED``: Unspecified trace state.
    - ``OK``: Trace successfully completed.
    - ``ERROR``: Trace encountered an error.
    - ``IN_PROGRESS``: Trace is currently in progress.
    """

    STATE_UNSPECIFIED = "STATE_UNSPECIFIED"
    OK = "OK"
    ERROR = "ERROR"
    IN_PROGRESS = "IN_PROGRESS"

    def __str__(self) -> str:
        return self.value

    def to_proto(self) -> int:
        """The ``TraceInfoV3.State`` enum number."""
        return _PROTO_NUMBERS[self.value]

    @classmethod
    def from_proto(cls, proto: int) -> TraceState:
        for name, number in _PROTO_NUMBERS.items():
            if number == proto:
                return cls(name)
        raise ValueError(f"Unknown TraceState number: {proto}")

    @staticmethod
    def from_otel_status(otel_status: Any) -> TraceState:
        """The state for a span status (tracklet's ``SpanStatus`` or anything with ``status_code``)."""
        code = getattr(otel_status, "status_code", otel_status)
        name = getattr(code, "name", str(code))
        return {"OK": TraceState.OK, "ERROR": TraceState.ERROR}.get(name, TraceState.STATE_UNSPECIFIED)
