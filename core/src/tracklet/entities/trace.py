"""A trace (info + spans), as MLflow 3's ``mlflow.entities.trace``."""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass
from typing import Any

from tracklet.entities._trace_common import TraceJSONEncoder
from tracklet.entities.span import Span
from tracklet.entities.trace_data import TraceData
from tracklet.entities.trace_info import TraceInfo, _assessment_dict
from tracklet.entities.trace_info_v2 import TraceInfoV2
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

__all__ = ["Trace"]

_logger = logging.getLogger(__name__)


@dataclass
class Trace:
    """A trace object.

    Args:
        info: A lightweight object that contains the metadata of a trace.
        data: A container object that holds the spans data of a trace.
    """

    info: TraceInfo
    data: TraceData

    def __post_init__(self) -> None:
        if isinstance(self.info, TraceInfoV2):
            self.info = self.info.to_v3(request=self.data.request, response=self.data.response)

    def __repr__(self) -> str:
        trace_id = getattr(self.info, "trace_id", None) if self.info else None
        return f"Trace(trace_id={trace_id!r})"

    def __iter__(self) -> Any:
        yield "trace_id", self.trace_id

    @property
    def trace_id(self) -> str:
        """The primary identifier for the trace."""
        return self.info.trace_id

    def to_dict(self) -> dict[str, Any]:
        return {"info": self.info.to_dict(), "data": self.data.to_dict()}

    def to_json(self, pretty: bool = False) -> str:
        if not pretty:
            # Spans read from a store keep their JSON text: spliced in, not dumped again.
            data = self.data._to_json()
            if data is not None:
                info = json.dumps(self.info.to_dict(), cls=TraceJSONEncoder)
                return '{"info": ' + info + ', "data": ' + data + "}"
        return json.dumps(self.to_dict(), cls=TraceJSONEncoder, indent=2 if pretty else None)

    @classmethod
    def from_dict(cls, trace_dict: dict[str, Any]) -> Trace:
        info = trace_dict.get("info")
        data = trace_dict.get("data")
        if info is None or data is None:
            raise TrackletException(
                "Unable to parse Trace from dictionary. Expected keys: 'info' and 'data'. "
                f"Received keys: {list(trace_dict.keys())}",
                INVALID_PARAMETER_VALUE,
            )
        return cls(info=TraceInfo.from_dict(info), data=TraceData.from_dict(data))

    @classmethod
    def from_json(cls, trace_json: str) -> Trace:
        try:
            trace_dict = json.loads(trace_json)
        except json.JSONDecodeError as e:
            raise TrackletException(
                f"Unable to parse trace JSON: {trace_json}. Error: {e}", INVALID_PARAMETER_VALUE
            ) from None
        return cls.from_dict(trace_dict)

    def to_pandas_dataframe_row(self) -> dict[str, Any]:
        return {
            "trace_id": self.info.trace_id,
            "trace": self.to_json(),
            "client_request_id": self.info.client_request_id,
            "state": self.info.state,
            "request_time": self.info.request_time,
            "execution_duration": self.info.execution_duration,
            "request": self._deserialize_json_attr(self.data.request),
            "response": self._deserialize_json_attr(self.data.response),
            "trace_metadata": self.info.trace_metadata,
            "tags": self.info.tags,
            "spans": [span.to_dict() for span in self.data.spans],
            "assessments": [_assessment_dict(a) for a in self.info.assessments],
        }

    def _deserialize_json_attr(self, value: Any) -> Any:
        try:
            return json.loads(value)
        except Exception:
            _logger.debug(f"Failed to deserialize JSON attribute: {value}", exc_info=True)
            return value

    def search_spans(
        self,
        span_type: str | None = None,
        name: str | re.Pattern[str] | None = None,
        span_id: str | None = None,
    ) -> list[Span]:
        """
        Search for spans that match the given criteria within the trace.

        Args:
            span_type: The type of the span to search for (e.g. ``SpanType.TOOL``).
            name: The name of the span to search for. This can be a string or a regular expression.
            span_id: The ID of the span to search for.

        Returns:
            A list of spans that match the given criteria.
            If there is no match, an empty list is returned.
        """

        def _match_name(span: Span) -> bool:
            if isinstance(name, str):
                return span.name == name
            elif isinstance(name, re.Pattern):
                return name.search(span.name) is not None
            elif name is None:
                return True
            else:
                raise TrackletException(
                    f"Invalid type for 'name'. Expected str or re.Pattern. Got: {type(name)}",
                    INVALID_PARAMETER_VALUE,
                )

        def _match_type(span: Span) -> bool:
            if isinstance(span_type, str):
                return span.span_type == span_type
            elif span_type is None:
                return True
            else:
                raise TrackletException(
                    "Invalid type for 'span_type'. Expected str or mlflow.entities.SpanType. "
                    f"Got: {type(span_type)}",
                    INVALID_PARAMETER_VALUE,
                )

        def _match_id(span: Span) -> bool:
            return span_id is None or span.span_id == span_id

        return [
            span for span in self.data.spans if _match_name(span) and _match_type(span) and _match_id(span)
        ]

    def search_assessments(
        self,
        name: str | None = None,
        *,
        span_id: str | None = None,
        all: bool = False,
        type: str | None = None,
    ) -> list[Any]:
        """
        Assessments for a given name / span ID, as MLflow's ``search_assessments``.

        tracklet keeps assessments as MLflow's dictionaries (``assessment_name``, ``span_id``,
        ``valid``, ``feedback`` / ``expectation``). By default only valid ones (not overridden)
        are returned; ``all=True`` returns every one; ``type`` is "feedback" or "expectation".
        """

        def _get(assessment: Any, key: str) -> Any:
            if isinstance(assessment, dict):
                return assessment.get(key)
            return getattr(assessment, "name" if key == "assessment_name" else key, None)

        def _type_ok(assessment: Any) -> bool:
            return type is None or _get(assessment, type) is not None

        return [
            assessment
            for assessment in self.info.assessments
            if (name is None or _get(assessment, "assessment_name") == name)
            and (span_id is None or _get(assessment, "span_id") == span_id)
            and (all or _get(assessment, "valid") in (True, None))
            and _type_ok(assessment)
        ]

    @staticmethod
    def pandas_dataframe_columns() -> list[str]:
        return [
            "trace_id",
            "trace",
            "client_request_id",
            "state",
            "request_time",
            "execution_duration",
            "request",
            "response",
            "trace_metadata",
            "tags",
            "spans",
            "assessments",
        ]
