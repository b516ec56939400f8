"""MLflow 2.x's trace metadata (``TraceInfoV2``): the 2.x REST and file-store shape."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, cast

from tracklet.entities._trace_common import PropertyIterMixin
from tracklet.entities.trace_info import TraceInfo, _truncate_request_metadata, _truncate_tags
from tracklet.entities.trace_location import TraceLocation
from tracklet.entities.trace_status import TraceStatus

__all__ = ["TraceInfoV2"]


@dataclass
class TraceInfoV2(PropertyIterMixin):
    """Metadata about a trace (MLflow 2.x).

    Args:
        request_id: id of the trace.
        experiment_id: id of the experiment.
        timestamp_ms: start time of the trace, in milliseconds.
        execution_time_ms: duration of the trace, in milliseconds.
        status: status of the trace.
        request_metadata: Key-value pairs associated with the trace (immutable values).
        tags: Tags associated with the trace (mutable values).
    """

    request_id: str
    experiment_id: str
    timestamp_ms: int
    execution_time_ms: int | None
    status: TraceStatus
    request_metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    assessments: list[Any] = field(default_factory=list)

    def __eq__(self, other: object) -> bool:
        if type(other) is type(self):
            return self.__dict__ == other.__dict__
        return False

    @property
    def trace_id(self) -> str:
        """Returns the trace ID of the trace info."""
        return self.request_id

    def to_dict(self) -> dict[str, Any]:
        """The trace info as a dictionary for persistence (MLflow 2.x's ``to_dict``)."""
        trace_info_dict = asdict(self)
        trace_info_dict["status"] = self.status.value
        trace_info_dict.pop("client_request_id", None)
        return trace_info_dict

    @classmethod
    def from_dict(cls, trace_info_dict: dict[str, Any]) -> TraceInfoV2:
        """Convert trace info dictionary to TraceInfoV2 object."""
        if "status" not in trace_info_dict:
            raise ValueError("status is required in trace info dictionary.")
        trace_info_dict["status"] = TraceStatus(trace_info_dict["status"])
        return cls(**trace_info_dict)

    def to_proto_dict(self) -> dict[str, Any]:
        """The 2.x REST shape (protobuf ``TraceInfo`` as MLflow's server writes it).

        ``request_metadata`` and ``tags`` are ``[{"key", "value"}]`` lists (left out when
        empty), ``execution_time_ms`` is 0 when unknown, int64 fields stay numbers.
        """
        res: dict[str, Any] = {
            "request_id": self.request_id,
            "experiment_id": self.experiment_id,
            "timestamp_ms": self.timestamp_ms,
            "execution_time_ms": self.execution_time_ms or 0,
            "status": self.status.value,
        }
        if metadata := _truncate_request_metadata(self.request_metadata):
            res["request_metadata"] = [{"key": k, "value": v} for k, v in metadata.items()]
        if tags := _truncate_tags(self.tags):
            res["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
        return res

    @classmethod
    def from_proto_dict(cls, d: dict[str, Any]) -> TraceInfoV2:
        """Read :meth:`to_proto_dict`'s shape (int64 fields as numbers or strings)."""
        return cls(
            request_id=d.get("request_id", ""),
            experiment_id=d.get("experiment_id", ""),
            timestamp_ms=int(d.get("timestamp_ms", 0)),
            execution_time_ms=int(d.get("execution_time_ms", 0)),
            status=TraceStatus(d.get("status", TraceStatus.UNSPECIFIED.value)),
            request_metadata={m["key"]: m.get("value", "") for m in d.get("request_metadata", [])},
            tags={t["key"]: t.get("value", "") for t in d.get("tags", [])},
        )

    def to_v3(self, request: str | None = None, response: str | None = None) -> TraceInfo:
        return TraceInfo(
            trace_id=self.request_id,
            trace_location=TraceLocation.from_experiment_id(self.experiment_id),
            request_preview=request,
            response_preview=response,
            request_time=self.timestamp_ms,
            execution_duration=self.execution_time_ms,
            state=self.status.to_state(),
            trace_metadata=self.request_metadata.copy(),
            tags=self.tags,
            assessments=self.assessments,
        )

    @classmethod
    def from_v3(cls, trace_info: TraceInfo) -> TraceInfoV2:
        return cls(
            request_id=trace_info.trace_id,
            experiment_id=cast(str, trace_info.experiment_id),
            timestamp_ms=trace_info.request_time,
            execution_time_ms=trace_info.execution_duration,
            status=TraceStatus.from_state(trace_info.state),
            request_metadata=trace_info.trace_metadata.copy(),
            tags=trace_info.tags,
        )
