"""Trace metadata, as MLflow 3's ``mlflow.entities.trace_info`` (plus its 2.x aliases)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, cast

from tracklet.entities._trace_common import (
    PropertyIterMixin,
    duration_to_millis,
    millis_to_duration,
    millis_to_rfc3339,
    rfc3339_to_millis,
)
from tracklet.entities.trace_location import TraceLocation
from tracklet.entities.trace_state import TraceState
from tracklet.entities.trace_status import TraceStatus
from tracklet.tracing.constant import (
    MAX_CHARS_IN_TRACE_INFO_METADATA,
    MAX_CHARS_IN_TRACE_INFO_TAGS_KEY,
    MAX_CHARS_IN_TRACE_INFO_TAGS_VALUE,
    TraceMetadataKey,
)

#: protobuf's JSON forms of a trace's request time and duration (what MLflow's REST API sends),
#: public here for the plugins that read and write that wire format.
__all__ = ["TraceInfo", "duration_to_millis", "millis_to_duration", "millis_to_rfc3339", "rfc3339_to_millis"]


def _truncate_request_metadata(d: dict[str, Any]) -> dict[str, str]:
    limit = MAX_CHARS_IN_TRACE_INFO_METADATA
    return {k[:limit]: str(v)[:limit] for k, v in d.items()}


def _truncate_tags(d: dict[str, Any]) -> dict[str, str]:
    return {
        k[:MAX_CHARS_IN_TRACE_INFO_TAGS_KEY]: str(v)[:MAX_CHARS_IN_TRACE_INFO_TAGS_VALUE]
        for k, v in d.items()
    }


@dataclass
class TraceInfo(PropertyIterMixin):
    """Metadata about a trace, such as its ID, location, timestamp, etc.

    Args:
        trace_id: The primary identifier for the trace.
        trace_location: The location where the trace is stored, a :py:class:`TraceLocation`.
        request_time: Start time of the trace, in milliseconds.
        state: State of the trace, a :py:class:`TraceState`
            (`OK`, `ERROR`, `IN_PROGRESS`, `STATE_UNSPECIFIED`).
        request_preview: Request to the model/agent, equivalent to the input of the root
            span but JSON-encoded and can be truncated.
        response_preview: Response from the model/agent, equivalent to the output of the
            root span but JSON-encoded and can be truncated.
        client_request_id: Client supplied request ID associated with the trace.
        execution_duration: Duration of the trace, in milliseconds.
        trace_metadata: Key-value pairs associated with the trace (immutable values like run ID).
        tags: Tags associated with the trace (mutable values).
        assessments: Assessments associated with the trace (their MLflow dictionaries).
    """

    trace_id: str
    trace_location: TraceLocation
    request_time: int
    state: TraceState
    request_preview: str | None = None
    response_preview: str | None = None
    client_request_id: str | None = None
    execution_duration: int | None = None
    trace_metadata: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    assessments: list[Any] = field(default_factory=list)

    def _proto_dict(self) -> dict[str, Any]:
        """MessageToDict of MLflow's ``TraceInfoV3`` proto (fields in field-number order)."""
        res: dict[str, Any] = {"trace_id": self.trace_id}
        if self.client_request_id is not None:
            res["client_request_id"] = self.client_request_id
        res["trace_location"] = self.trace_location.to_dict()
        res["request_time"] = millis_to_rfc3339(self.request_time)
        if self.execution_duration is not None:
            res["execution_duration"] = millis_to_duration(self.execution_duration)
        res["state"] = TraceState(self.state).value
        if metadata := _truncate_request_metadata(self.trace_metadata):
            res["trace_metadata"] = metadata
        if self.assessments:
            res["assessments"] = [_assessment_dict(a) for a in self.assessments]
        if tags := _truncate_tags(self.tags):
            res["tags"] = tags
        if self.request_preview is not None:
            res["request_preview"] = self.request_preview
        if self.response_preview is not None:
            res["response_preview"] = self.response_preview
        return res

    def to_dict(self) -> dict[str, Any]:
        """The trace info as MLflow's ``TraceInfo.to_dict()`` (its protobuf JSON, duration in ms)."""
        res = self._proto_dict()
        if self.execution_duration is not None:
            res.pop("execution_duration", None)
            res["execution_duration_ms"] = self.execution_duration
        return res

    def to_proto_dict(self) -> dict[str, Any]:
        """The protobuf JSON of ``TraceInfoV3`` as MLflow's REST API sends it.

        Like :meth:`to_dict` but ``execution_duration`` stays a protobuf Duration (``"0.123s"``).
        """
        return self._proto_dict()

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TraceInfo:
        """Create a TraceInfo from :meth:`to_dict`'s (or the REST API's, or 2.x's) dictionary."""
        if "request_id" in d:
            from tracklet.entities.trace_info_v2 import TraceInfoV2

            return TraceInfoV2.from_dict(dict(d)).to_v3()

        d = dict(d)
        if "assessments" in d:
            d["assessments"] = list(d["assessments"] or [])
        if trace_location := d.get("trace_location"):
            d["trace_location"] = TraceLocation.from_dict(trace_location)
        if state := d.get("state"):
            d["state"] = TraceState(state)
        if request_time := d.get("request_time"):
            if isinstance(request_time, str):
                d["request_time"] = rfc3339_to_millis(request_time)
        if (execution_duration := d.pop("execution_duration_ms", None)) is not None:
            d["execution_duration"] = int(execution_duration)
        elif isinstance(d.get("execution_duration"), str):
            d["execution_duration"] = duration_to_millis(d["execution_duration"])
        known = set(cls.__dataclass_fields__)
        return cls(**{k: v for k, v in d.items() if k in known})

    @classmethod
    def from_proto_dict(cls, d: dict[str, Any]) -> TraceInfo:
        """Create a TraceInfo from the REST API's protobuf JSON (see :meth:`to_proto_dict`)."""
        return cls.from_dict(d)

    # Aliases for backward compatibility with V2 format
    @property
    def request_id(self) -> str:
        """Deprecated. Use `trace_id` instead."""
        return self.trace_id

    @property
    def experiment_id(self) -> str | None:
        """
        The experiment ID associated with the trace, if the trace is stored in an
        experiment. Otherwise, None.
        """
        location = self.trace_location.mlflow_experiment
        return location.experiment_id if location is not None else None

    @experiment_id.setter
    def experiment_id(self, value: str | None) -> None:
        assert self.trace_location.mlflow_experiment is not None
        self.trace_location.mlflow_experiment.experiment_id = cast(str, value)

    @property
    def request_metadata(self) -> dict[str, str]:
        """Deprecated. Use `trace_metadata` instead."""
        return self.trace_metadata

    @property
    def timestamp_ms(self) -> int:
        return self.request_time

    @timestamp_ms.setter
    def timestamp_ms(self, value: int) -> None:
        self.request_time = value

    @property
    def execution_time_ms(self) -> int | None:
        return self.execution_duration

    @execution_time_ms.setter
    def execution_time_ms(self, value: int | None) -> None:
        self.execution_duration = value

    @property
    def status(self) -> TraceStatus:
        """Deprecated. Use `state` instead."""
        return TraceStatus.from_state(self.state)

    @status.setter
    def status(self, value: TraceStatus) -> None:
        self.state = value.to_state()

    @property
    def token_usage(self) -> dict[str, int] | None:
        """The aggregated token usage for the trace (input_tokens, output_tokens, total_tokens)."""
        if usage_json := self.trace_metadata.get(TraceMetadataKey.TOKEN_USAGE):
            return cast("dict[str, int]", json.loads(usage_json))
        return None

    @property
    def cost(self) -> dict[str, float] | None:
        """The aggregated cost for the trace in USD (input_cost, output_cost, total_cost)."""
        if cost_json := self.trace_metadata.get(TraceMetadataKey.COST):
            return cast("dict[str, float]", json.loads(cost_json))
        return None

    def _is_v4(self) -> bool:
        return self.trace_location.uc_schema is not None or self.trace_location.uc_table_prefix is not None


def _assessment_dict(assessment: Any) -> Any:
    to_dictionary = getattr(assessment, "to_dictionary", None)
    return to_dictionary() if callable(to_dictionary) else assessment
