"""Span events, as MLflow's ``mlflow.entities.span_event`` (OpenTelemetry compatible)."""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from tracklet.entities._trace_common import CustomEncoder, PropertyIterMixin

__all__ = ["SpanEvent"]


def _now_ns() -> int:
    return int(time.time() * 1e9)


@dataclass
class SpanEvent(PropertyIterMixin):
    """
    An event that records a specific occurrences or moments in time
    during a span, such as an exception being thrown. Compatible with OpenTelemetry.

    Args:
        name: Name of the event.
        timestamp:  The exact time the event occurred, measured in nanoseconds.
            If not provided, the current time will be used.
        attributes: A collection of key-value pairs representing detailed
            attributes of the event, such as the exception stack trace.
            Attributes value must be one of ``[str, int, float, bool, bytes]``
            or a sequence of these types.
    """

    name: str
    timestamp: int = field(default_factory=_now_ns)
    attributes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_exception(cls, exception: BaseException) -> SpanEvent:
        "Create a span event from an exception."
        stack_trace = cls._get_stacktrace(exception)
        return cls(
            name="exception",
            attributes={
                "exception.message": str(exception),
                "exception.type": exception.__class__.__name__,
                "exception.stacktrace": stack_trace,
            },
        )

    @staticmethod
    def _get_stacktrace(error: BaseException) -> str:
        """Get the stacktrace of the parent error."""
        msg = repr(error)
        try:
            tb = traceback.format_exception(type(error), error, error.__traceback__)
            return "".join(tb).strip()
        except Exception:
            return msg

    def json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "timestamp": self.timestamp,
            "attributes": json.dumps(self.attributes, cls=CustomEncoder) if self.attributes else None,
        }
