"""The spans of a trace, as MLflow's ``mlflow.entities.trace_data``."""

from __future__ import annotations

import json
import warnings
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from tracklet.entities._trace_common import TraceJSONEncoder
from tracklet.entities.span import LazySpan, Span, _is_canonical_span_dict
from tracklet.tracing.constant import SpanAttributeKey

__all__ = ["TraceData"]


@dataclass
class TraceData:
    """A container object that holds the spans data of a trace.

    Args:
        spans: List of spans that are part of the trace.
    """

    spans: list[Span] = field(default_factory=list)

    # As MLflow: extra keyword arguments are accepted (and ignored) for backward compatibility.
    def __init__(self, spans: list[Span] | None = None, **kwargs: Any):
        self.spans = spans or []

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TraceData:
        if not isinstance(d, dict):
            raise TypeError(f"TraceData.from_dict() expects a dictionary. Got: {type(d).__name__}")
        return cls(spans=[Span.from_dict(span) for span in d.get("spans", [])])

    @classmethod
    def from_dict_lazy(cls, d: dict[str, Any]) -> TraceData:
        """As :meth:`from_dict`, with :class:`~tracklet.entities.span.LazySpan` for each span
        dict that ``Span.from_dict`` reads back as it is (such a dict cannot fail to build),
        built later; any other dict is built now, raising what ``from_dict`` raises. For
        span data read in bulk (``traces.json`` files): the same errors, at a fraction of
        the cost when the spans are not all read."""
        if not isinstance(d, dict):
            raise TypeError(f"TraceData.from_dict() expects a dictionary. Got: {type(d).__name__}")
        spans: list[Span] = []
        for span in d.get("spans", []):
            if _is_canonical_span_dict(span):
                spans.append(LazySpan.from_dict_lazy(span))
            else:
                spans.append(Span.from_dict(span))
        return cls(spans=spans)

    def to_dict(self) -> dict[str, Any]:
        return {"spans": [span.to_dict() for span in self.spans]}

    def _to_json(self) -> str | None:
        """``json.dumps(self.to_dict(), cls=TraceJSONEncoder)`` with the stored text of the
        lazy spans that have it spliced in as it is (same text, without parsing and dumping
        it again); None when no span has such text (then dump as usual)."""
        texts = [span._json_for_trace() if isinstance(span, LazySpan) else None for span in self.spans]
        if not any(texts):
            return None
        encoder = TraceJSONEncoder()
        parts = [
            text if text is not None else encoder.encode(span.to_dict())
            for span, text in zip(self.spans, texts, strict=True)
        ]
        return '{"spans": [' + ", ".join(parts) + "]}"

    def to_json_bytes(self) -> bytes:
        """``{"spans": [...]}`` as compact JSON bytes (what MLflow writes as ``traces.json``)."""
        return json.dumps(self.to_dict(), separators=(",", ":")).encode("utf-8")

    @property
    def intermediate_outputs(self) -> dict[str, Any] | None:
        """
        .. deprecated:: 3.6.0
            Use `trace.search_spans(name=...)` to search for spans and get the outputs.

        Intermediate outputs produced while handling the request: the root span's
        ``mlflow.trace.intermediate_outputs`` attribute if set, else the outputs of the
        non-root spans by (de-duplicated) span name.
        """
        warnings.warn(
            "``tracklet.entities.trace_data.TraceData.intermediate_outputs`` is deprecated since 3.6.0. "
            "This method will be removed in a future release. "
            "Use ``trace.search_spans(name=...)`` instead.",
            FutureWarning,
            stacklevel=2,
        )
        root_span = self._get_root_span()
        if root_span and root_span.get_attribute(SpanAttributeKey.INTERMEDIATE_OUTPUTS):
            return root_span.get_attribute(SpanAttributeKey.INTERMEDIATE_OUTPUTS)

        if len(self.spans) > 1:
            result: dict[str, Any] = {}
            span_name_counter: dict[str, int] = Counter(span.name for span in self.spans)
            span_name_counter = {name: 1 for name, count in span_name_counter.items() if count > 1}
            for span in self.spans:
                span_name = span.name
                if count := span_name_counter.get(span_name):
                    span_name_counter[span_name] += 1
                    span_name = f"{span_name}_{count}"
                if span.parent_id and span.outputs is not None:
                    result[span_name] = span.outputs
            return result
        return None

    def _get_root_span(self) -> Span | None:
        for span in self.spans:
            if span.parent_id is None:
                return span
        return None

    # `request` and `response` are preserved for backward compatibility with v2
    @property
    def request(self) -> str | None:
        """The root span's inputs as stored (JSON text), or None."""
        if span := self._get_root_span():
            value = span.raw_attributes().get(SpanAttributeKey.INPUTS)
            return value
        return None

    @property
    def response(self) -> str | None:
        """The root span's outputs as stored (JSON text), or None."""
        if span := self._get_root_span():
            value = span.raw_attributes().get(SpanAttributeKey.OUTPUTS)
            return value
        return None
