"""Span status, as MLflow's ``mlflow.entities.span_status`` (OpenTelemetry's codes)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

__all__ = ["SpanStatus", "SpanStatusCode"]

_PROTO_NAMES = {
    "UNSET": "STATUS_CODE_UNSET",
    "OK": "STATUS_CODE_OK",
    "ERROR": "STATUS_CODE_ERROR",
}


class SpanStatusCode(str, Enum):
    """Enum for status code of a span"""

    # Uses the same set of status codes as OpenTelemetry
    UNSET = "UNSET"
    OK = "OK"
    ERROR = "ERROR"

    def to_otel_proto_status_code_name(self) -> str:
        """The OpenTelemetry protobuf enum name (``STATUS_CODE_OK`` ...)."""
        return _PROTO_NAMES[self.value]

    def to_otel_proto_status_code(self) -> int:
        """The OpenTelemetry protobuf enum number (UNSET 0, OK 1, ERROR 2)."""
        return {"UNSET": 0, "OK": 1, "ERROR": 2}[self.value]

    @staticmethod
    def from_otel_proto_status_code_name(status_code_name: str) -> SpanStatusCode:
        """The code for an OpenTelemetry protobuf enum name (``STATUS_CODE_ERROR`` ...)."""
        for code, name in _PROTO_NAMES.items():
            if name == status_code_name:
                return SpanStatusCode(code)
        raise TrackletException(
            f"Invalid status code name: {status_code_name}. "
            f"Valid values are: {', '.join(_PROTO_NAMES.values())}",
            INVALID_PARAMETER_VALUE,
        )

    @staticmethod
    def from_otel_proto_status_code(code: int) -> SpanStatusCode:
        """The code for an OpenTelemetry protobuf enum number (unknown numbers read as UNSET)."""
        return {1: SpanStatusCode.OK, 2: SpanStatusCode.ERROR}.get(int(code), SpanStatusCode.UNSET)


@dataclass
class SpanStatus:
    """
    Status of the span or the trace.

    Args:
        status_code: The status code of the span or the trace. This must be one of the
            values of the :py:class:`SpanStatusCode` enum or a string
            representation of it like "OK", "ERROR".
        description: Description of the status. This should be only set when the status
            is ERROR, otherwise it will be ignored.
    """

    status_code: SpanStatusCode
    description: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.status_code, str) and not isinstance(self.status_code, SpanStatusCode):
            try:
                self.status_code = SpanStatusCode(self.status_code)
            except ValueError:
                raise TrackletException(
                    f"{self.status_code} is not a valid SpanStatusCode value. "
                    f"Please use one of {[status_code.value for status_code in SpanStatusCode]}",
                    INVALID_PARAMETER_VALUE,
                ) from None
