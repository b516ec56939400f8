"""Trace status of MLflow 2.x (deprecated in MLflow 3 for :class:`TraceState`)."""

from __future__ import annotations

from enum import Enum
from typing import Any

from tracklet.entities.trace_state import TraceState

__all__ = ["TraceStatus"]

_PROTO_NUMBERS = {"TRACE_STATUS_UNSPECIFIED": 0, "OK": 1, "ERROR": 2, "IN_PROGRESS": 3}


class TraceStatus(str, Enum):
    """Enum for status of an :py:class:`TraceInfo`."""

    UNSPECIFIED = "TRACE_STATUS_UNSPECIFIED"
    OK = "OK"
    ERROR = "ERROR"
    IN_PROGRESS = "IN_PROGRESS"

    def to_state(self) -> TraceState:
        if self == TraceStatus.UNSPECIFIED:
            return TraceState.STATE_UNSPECIFIED
        return TraceState(self.value)

    @classmethod
    def from_state(cls, state: TraceState) -> TraceStatus:
        if state == TraceState.STATE_UNSPECIFIED:
            return cls.UNSPECIFIED
        if state in (TraceState.OK, TraceState.ERROR, TraceState.IN_PROGRESS):
            return cls(TraceState(state).value)
        raise ValueError(f"Unknown TraceState: {state}")

    def to_proto(self) -> int:
        return _PROTO_NUMBERS[self.value]

    @staticmethod
    def from_proto(proto_status: int) -> TraceStatus:
        for name, number in _PROTO_NUMBERS.items():
            if number == proto_status:
                return TraceStatus(name)
        raise ValueError(f"Unknown TraceStatus number: {proto_status}")

    @staticmethod
    def from_otel_status(otel_status: Any) -> TraceStatus:
        return TraceStatus.from_state(TraceState.from_otel_status(otel_status))

    @classmethod
    def pending_statuses(cls) -> set[TraceStatus]:
        """Traces in pending statuses can be updated to any statuses."""
        return {cls.IN_PROGRESS}

    @classmethod
    def end_statuses(cls) -> set[TraceStatus]:
        """Traces in end statuses cannot be updated to any statuses."""
        return {cls.UNSPECIFIED, cls.OK, cls.ERROR}
