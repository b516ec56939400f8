"""Spans, as MLflow 3.17's ``mlflow.entities.span`` — without an OpenTelemetry SDK underneath.

MLflow's :class:`Span` wraps an OpenTelemetry ``ReadableSpan``; tracklet's keeps the same
data in plain fields (OpenTelemetry-compatible integer ids, nanosecond times, a status,
events, links and the attributes *as MLflow stores them*: every value JSON-encoded, e.g.
``{"mlflow.spanInputs": '{"x": 1}'}``). Public properties, ``to_dict``/``from_dict`` and
``repr`` read exactly as MLflow's.

Data accessors for encoders (the OTLP encoder, the stores): :attr:`Span.start_time_ns`,
:attr:`Span.end_time_ns`, :attr:`Span.span_id` / :attr:`Span.parent_id` (hex),
:attr:`Span.otel_span_id` / :attr:`Span.otel_parent_id` / :attr:`Span.otel_trace_id` (ints),
:attr:`Span._trace_id` (hex OpenTelemetry trace id), :attr:`Span.status`, :attr:`Span.events`,
:attr:`Span.attributes` (decoded) and :meth:`Span.raw_attributes` (JSON-encoded, as stored).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from enum import IntEnum
from typing import Any, NoReturn

from tracklet.entities._trace_common import (
    TRACE_REQUEST_ID_PREFIX,
    TraceJSONEncoder,
    decode_id,
    dump_span_attribute_value,
    encode_span_id,
    encode_trace_id,
    load_span_attribute_value,
    parse_trace_id_v4,
)
from tracklet.entities.span_event import SpanEvent
from tracklet.entities.span_status import SpanStatus, SpanStatusCode
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.tracing.constant import SpanAttributeKey

__all__ = [
    "NO_OP_SPAN_TRACE_ID",
    "LazySpan",
    "LiveSpan",
    "NoOpSpan",
    "Span",
    "SpanLogLevel",
    "SpanType",
    "TraceJSONEncoder",
    "decode_id",
    "dump_span_attribute_value",
    "encode_span_id",
    "encode_trace_id",
]

_logger = logging.getLogger(__name__)

NO_OP_SPAN_TRACE_ID = "MLFLOW_NO_OP_SPAN_TRACE_ID"


# Not using enum as we want to allow custom span type string.
class SpanType:
    """
    Predefined set of span types.
    """

    LLM = "LLM"
    CHAIN = "CHAIN"
    AGENT = "AGENT"
    TOOL = "TOOL"
    CHAT_MODEL = "CHAT_MODEL"
    RETRIEVER = "RETRIEVER"
    PARSER = "PARSER"
    EMBEDDING = "EMBEDDING"
    RERANKER = "RERANKER"
    MEMORY = "MEMORY"
    UNKNOWN = "UNKNOWN"
    WORKFLOW = "WORKFLOW"
    TASK = "TASK"
    GUARDRAIL = "GUARDRAIL"
    EVALUATOR = "EVALUATOR"


class SpanLogLevel(IntEnum):
    """
    Log level (severity) for a trace span.

    The public tracing API accepts a :class:`SpanLogLevel` member or its
    string name (e.g. ``"INFO"``).
    """

    DEBUG = 10
    INFO = 20
    WARNING = 30
    ERROR = 40
    CRITICAL = 50

    @classmethod
    def from_value(cls, value: SpanLogLevel | str) -> SpanLogLevel:
        if isinstance(value, cls):
            return value
        if isinstance(value, str):
            try:
                return cls[value.strip().upper()]
            except KeyError:
                raise TrackletException(
                    f"Invalid SpanLogLevel name {value!r}. Expected one of {[m.name for m in cls]}.",
                    INVALID_PARAMETER_VALUE,
                ) from None
        raise TrackletException(
            f"SpanLogLevel must be a SpanLogLevel or str, got {type(value).__name__}.",
            INVALID_PARAMETER_VALUE,
        )


_INFO_SPAN_TYPES = frozenset({"LLM", "CHAT_MODEL", "TOOL", "RETRIEVER", "AGENT", "EMBEDDING"})


def default_log_level_for_span_type(span_type: str | None) -> SpanLogLevel:
    """MLflow's default level: INFO for model/tool/retriever/agent/embedding spans, else DEBUG."""
    return SpanLogLevel.INFO if span_type in _INFO_SPAN_TYPES else SpanLogLevel.DEBUG


def _b64_id(value: int, length: int) -> str:
    return base64.b64encode(value.to_bytes(length=length, byteorder="big", signed=False)).decode("utf-8")


def _decode_id_from_byte(trace_or_span_id_b64: str) -> int:
    return int.from_bytes(base64.b64decode(trace_or_span_id_b64), byteorder="big", signed=False)


def _is_base64_encoded(trace_or_span_id: str) -> bool:
    try:
        base64.b64decode(trace_or_span_id, validate=True)
        return True
    except Exception:
        return False


def _clean_attribute_value(value: Any) -> Any:
    """OpenTelemetry's attribute cleaning (SDK 1.3x): scalars kept, sequences as tuples,
    mappings as dicts, anything else as ``str`` when its type defines one, else None."""
    if value is None or isinstance(value, (bool, int, float, bytes, str)):
        return value
    if isinstance(value, Sequence):
        return tuple(_clean_attribute_value(v) for v in value)
    if isinstance(value, Mapping):
        cleaned: dict[str, Any] = {}
        for key, val in value.items():
            if not key:
                _logger.warning(
                    "invalid attribute key `%s`. must be non-empty string. Dropping key from attributes.", key
                )
                continue
            if not isinstance(key, str):
                if not _has_custom_str(key):
                    continue
                key = str(key)
            cleaned[key] = _clean_attribute_value(val)
        return cleaned
    _logger.warning(
        "Invalid type `%s` for attribute value. Expected one of bool, str, None, bytes, int, float or a "
        "Mapping or Sequence of those types. Value's __str__ method will be called if it exists, otherwise "
        "the value will be replaced with None.",
        type(value),
    )
    return str(value) if _has_custom_str(value) else None


def _has_custom_str(value: Any) -> bool:
    cls: Any = type(value)
    return bool(cls.__str__ is not object.__str__ or cls.__repr__ is not object.__repr__)


def _clean_event_attributes(attributes: dict[str, Any] | None) -> dict[str, Any]:
    """An event's attributes as an OpenTelemetry span keeps them."""
    cleaned = _clean_attribute_value(dict(attributes or {}))
    return cleaned if isinstance(cleaned, dict) else {}


class Span:
    """
    A span object. A span represents a unit of work or operation and is the building
    block of Traces.

    This Span class represents immutable span data that is already finished and persisted.
    The "live" span that is being created and updated during the application runtime is
    represented by the :py:class:`LiveSpan` subclass.

    tracklet's constructor takes the span's data directly (MLflow's takes an OpenTelemetry
    span): ``Span(name=, otel_trace_id=, span_id=, parent_id=, start_time_ns=, end_time_ns=,
    status=, attributes=, events=, links=)`` with integer ids and ``attributes`` already
    JSON-encoded as MLflow stores them (use :func:`dump_span_attribute_value` on plain
    values). Most code builds spans with :meth:`from_dict` instead.
    """

    def __init__(
        self,
        *,
        name: str,
        otel_trace_id: int,
        span_id: int,
        parent_id: int | None = None,
        start_time_ns: int,
        end_time_ns: int | None = None,
        status: SpanStatus | None = None,
        attributes: dict[str, Any] | None = None,
        events: list[SpanEvent] | None = None,
        links: list[dict[str, Any]] | None = None,
    ) -> None:
        self._name = name
        self._otel_trace_id = int(otel_trace_id)
        self._span_id = int(span_id)
        self._parent_id = int(parent_id) if parent_id else None
        self._start_time_ns = int(start_time_ns)
        self._end_time_ns = int(end_time_ns) if end_time_ns is not None else None
        self._status = status if status is not None else SpanStatus(SpanStatusCode.UNSET)
        self._raw_attributes: dict[str, Any] = dict(attributes or {})
        self._events: list[SpanEvent] = list(events or [])
        self._links: list[dict[str, Any]] = [dict(link) for link in links or []]
        self._cache: dict[str, Any] = {}

    # --- identity -------------------------------------------------------------------------------

    @property
    def trace_id(self) -> str:
        """The trace ID of the span, a unique identifier for the trace it belongs to."""
        value = self.get_attribute(SpanAttributeKey.REQUEST_ID)
        if value is None:
            return TRACE_REQUEST_ID_PREFIX + encode_trace_id(self._otel_trace_id)
        return str(value)

    @property
    def request_id(self) -> str:
        """Deprecated. Use `trace_id` instead."""
        return self.trace_id

    @property
    def span_id(self) -> str:
        """The ID of the span. This is only unique within a trace."""
        return encode_span_id(self._span_id)

    @property
    def name(self) -> str:
        """The name of the span."""
        return self._name

    @property
    def start_time_ns(self) -> int:
        """The start time of the span in nanosecond."""
        return self._start_time_ns

    @property
    def end_time_ns(self) -> int | None:
        """The end time of the span in nanosecond."""
        return self._end_time_ns

    @property
    def parent_id(self) -> str | None:
        """The span ID of the parent span."""
        if self._parent_id is None:
            return None
        return encode_span_id(self._parent_id)

    @property
    def status(self) -> SpanStatus:
        """The status of the span."""
        return SpanStatus(self._status.status_code, self._status.description)

    @property
    def inputs(self) -> Any:
        """The input values of the span."""
        return self.get_attribute(SpanAttributeKey.INPUTS)

    @property
    def outputs(self) -> Any:
        """The output values of the span."""
        return self.get_attribute(SpanAttributeKey.OUTPUTS)

    @property
    def span_type(self) -> str:
        """The type of the span."""
        return self.get_attribute(SpanAttributeKey.SPAN_TYPE)  # type: ignore[return-value]

    @property
    def log_level(self) -> SpanLogLevel | None:
        """The severity level of the span, or ``None`` if it was not classified."""
        raw = self.get_attribute(SpanAttributeKey.LOG_LEVEL)
        if raw is None:
            return None
        return SpanLogLevel(raw)

    @property
    def description(self) -> str | None:
        """The description of the span."""
        return self.get_attribute(SpanAttributeKey.DESCRIPTION)

    @property
    def model_name(self) -> str | None:
        """The model name used in the span."""
        return self.get_attribute(SpanAttributeKey.MODEL)

    @property
    def llm_cost(self) -> dict[str, float] | None:
        """The cost information for the span in USD, or None."""
        return self.get_attribute(SpanAttributeKey.LLM_COST)

    @property
    def _trace_id(self) -> str:
        """
        The OpenTelemetry trace ID of the span (32 hex). Note that this should not be exposed to
        the user, instead, use trace_id property as an unique identifier for a trace.
        """
        return encode_trace_id(self._otel_trace_id)

    # integer ids for encoders (OTLP, stores)
    @property
    def otel_trace_id(self) -> int:
        """The OpenTelemetry trace id as an integer (128 bits)."""
        return self._otel_trace_id

    @property
    def otel_span_id(self) -> int:
        """The span id as an integer (64 bits)."""
        return self._span_id

    @property
    def otel_parent_id(self) -> int | None:
        """The parent span id as an integer, or None for a root span."""
        return self._parent_id

    @property
    def attributes(self) -> dict[str, Any]:
        """
        Get all attributes of the span.

        Returns:
            A dictionary of all attributes of the span.
        """
        return {key: self.get_attribute(key) for key in self._raw_attributes}

    def raw_attributes(self) -> dict[str, Any]:
        """The attributes as stored: each value JSON-encoded text (a copy)."""
        return dict(self._raw_attributes)

    @property
    def events(self) -> list[SpanEvent]:
        """
        Get all events of the span.

        Returns:
            A list of all events of the span.
        """
        return [
            SpanEvent(name=event.name, timestamp=event.timestamp, attributes=dict(event.attributes))
            for event in self._events
        ]

    @property
    def links(self) -> list[dict[str, Any]]:
        """The span's links as MLflow writes them: ``{"trace_id", "span_id", "attributes"}``."""
        return [dict(link) for link in self._links]

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, trace_id={self.trace_id!r}, "
            f"span_id={self.span_id!r}, parent_id={self.parent_id!r})"
        )

    # `__getitem__` alone would enable the legacy sequence protocol.
    __iter__ = None

    def __getitem__(self, item: Any) -> NoReturn:
        """Span objects do not support indexing via subscript syntax."""
        hint = ""
        if isinstance(item, str):
            if item.isidentifier() and not item.startswith("_") and item in dir(self):
                hint = f" Use attribute access instead, e.g. `span.{item}`."
            else:
                try:
                    attrs = getattr(self, "attributes", None)
                    if isinstance(attrs, dict) and item in attrs:
                        hint = (
                            f" To access span attributes, use `span.get_attribute({item!r})` "
                            f"or `span.attributes[{item!r}]`."
                        )
                except Exception:
                    pass
        if not hint:
            hint = " Use attribute access instead, e.g. `span.inputs`, `span.outputs`, or `span.attributes`."
        raise TypeError(f"'{type(self).__name__}' object is not subscriptable.{hint}")

    def __getattr__(self, name: str) -> NoReturn:
        if name == "get":
            raise AttributeError(
                f"'{type(self).__name__}' object has no attribute 'get'; a span is not a dict. "
                "Use attribute access such as `span.name`, `span.inputs`, `span.outputs`, "
                "or `span.attributes`, or `span.get_attribute(key)` for a span attribute."
            )
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def get_attribute(self, key: str) -> Any | None:
        """
        Get a single attribute value from the span.

        Args:
            key: The key of the attribute to get.

        Returns:
            The value of the attribute if it exists, otherwise None.
        """
        if key not in self._cache:
            self._cache[key] = load_span_attribute_value(self._raw_attributes.get(key))
        return self._cache[key]

    def to_dict(self) -> dict[str, Any]:
        return {
            "trace_id": _b64_id(self._otel_trace_id, 16),
            "span_id": _b64_id(self._span_id, 8),
            "parent_span_id": _b64_id(self._parent_id, 8) if self._parent_id is not None else None,
            "name": self.name,
            "start_time_unix_nano": self.start_time_ns,
            "end_time_unix_nano": self.end_time_ns,
            "events": [
                {"name": event.name, "time_unix_nano": event.timestamp, "attributes": event.attributes}
                for event in self.events
            ],
            "status": {
                "code": self._status.status_code.to_otel_proto_status_code_name(),
                "message": self._status.description,
            },
            "attributes": dict(self._raw_attributes),
            "links": self.links,
        }

    def __reduce__(self) -> tuple[Any, ...]:
        return (_reconstruct_span, (self.to_dict(),))

    def __copy__(self) -> Span:
        new_span = type(self).__new__(type(self))
        new_span.__dict__.update(self.__dict__)
        return new_span

    def __deepcopy__(self, memo: dict[int, Any]) -> Span:
        new_span = Span.from_dict(json.loads(json.dumps(self.to_dict())))
        memo[id(self)] = new_span
        return new_span

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Span:
        """Create a Span object from the given dictionary (MLflow 3's shape, 3.5's, or 2.x's)."""
        try:
            request_id = data.get("attributes", {}).get(SpanAttributeKey.REQUEST_ID)
            if not request_id:
                raise TrackletException(
                    f"The {SpanAttributeKey.REQUEST_ID} attribute is empty or missing.",
                    INVALID_PARAMETER_VALUE,
                )

            if Span._is_span_v2_schema(data):
                return cls.from_dict_v2(data)

            if _is_base64_encoded(data["trace_id"]):
                otel_trace_id = _decode_id_from_byte(data["trace_id"])
                span_id = _decode_id_from_byte(data["span_id"])
                parent_id = _decode_id_from_byte(data["parent_span_id"]) if data["parent_span_id"] else None
            else:
                # MLflow 3.5.0 wrote the ids in the properties' hex format.
                trace_hex = str(parse_trace_id_v4(data["trace_id"])[1])
                otel_trace_id = decode_id(trace_hex.removeprefix(TRACE_REQUEST_ID_PREFIX))
                span_id = decode_id(data["span_id"])
                parent_id = decode_id(data["parent_span_id"]) if data["parent_span_id"] else None

            status_code_str = data["status"]["code"]
            try:
                status_code = SpanStatusCode.from_otel_proto_status_code_name(status_code_str)
            except TrackletException:
                status_code = SpanStatusCode(status_code_str)
            status = _otel_status(status_code, data["status"].get("message", ""))

            end_time_ns = data.get("end_time_unix_nano")
            return cls(
                name=data["name"],
                otel_trace_id=otel_trace_id,
                span_id=span_id,
                parent_id=parent_id,
                start_time_ns=int(data["start_time_unix_nano"]),
                end_time_ns=int(end_time_ns) if end_time_ns else None,
                status=status,
                attributes=data["attributes"],
                events=[
                    SpanEvent(
                        name=event["name"],
                        timestamp=int(event["time_unix_nano"]),
                        attributes=dict(event.get("attributes") or {}),
                    )
                    for event in data.get("events", [])
                ],
                links=[
                    {"trace_id": d["trace_id"], "span_id": d["span_id"], "attributes": d.get("attributes")}
                    for d in data.get("links") or []
                ],
            )
        except Exception as e:
            raise TrackletException(
                "Failed to create a Span object from the given dictionary", INVALID_PARAMETER_VALUE
            ) from e

    @staticmethod
    def _is_span_v2_schema(data: dict[str, Any]) -> bool:
        return "context" in data

    @classmethod
    def from_dict_v2(cls, data: dict[str, Any]) -> Span:
        """Create a Span object from the given dictionary in MLflow 2.x's schema."""
        trace_id = decode_id(data["context"]["trace_id"])
        span_id = decode_id(data["context"]["span_id"])
        parent_id = decode_id(data["parent_id"]) if data["parent_id"] else None
        return cls(
            name=data["name"],
            otel_trace_id=trace_id,
            span_id=span_id,
            parent_id=parent_id,
            start_time_ns=data["start_time"],
            end_time_ns=data["end_time"],
            status=_otel_status(SpanStatusCode(data["status_code"]), data["status_message"]),
            attributes=data["attributes"],
            events=[
                SpanEvent(
                    name=event["name"],
                    timestamp=event["timestamp"],
                    attributes=dict(event["attributes"] or {}),
                )
                for event in data["events"]
            ],
            links=[
                {"trace_id": d["trace_id"], "span_id": d["span_id"], "attributes": d.get("attributes")}
                for d in data.get("links", [])
            ],
        )


def _otel_status(code: SpanStatusCode, description: str | None) -> SpanStatus:
    """A status as OpenTelemetry keeps it: the description only for ERROR."""
    if code != SpanStatusCode.ERROR:
        return SpanStatus(code, "")
    return SpanStatus(code, description or "")


def _reconstruct_span(span_dict: dict[str, Any]) -> Span:
    return Span.from_dict(span_dict)


_SPAN_KEYS = (
    "trace_id",
    "span_id",
    "parent_span_id",
    "name",
    "start_time_unix_nano",
    "end_time_unix_nano",
    "events",
    "status",
    "attributes",
    "links",
)
_EVENT_KEYS = ("name", "time_unix_nano", "attributes")
_LINK_KEYS = ("trace_id", "span_id", "attributes")
_STATUS_KEYS = ("code", "message")
_PROTO_STATUS_NAMES = frozenset({"STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR"})
#: Canonical base64 of 16 (trace) and 8 (span) bytes, as ``_b64_id`` writes them (the unused
#: low bits of the last character zero, so decoding and encoding again gives the same text).
_B64_TRACE_ID = re.compile(r"[A-Za-z0-9+/]{21}[AQgw]==")
_B64_SPAN_ID = re.compile(r"[A-Za-z0-9+/]{10}[AEIMQUYcgkosw048]=")
_ZERO_SPAN_ID = "AAAAAAAAAAA="


def _is_canonical_span_dict(d: Any) -> bool:
    """Whether ``Span.from_dict(d).to_dict() == d`` (and from_dict does not raise), checked
    without building the span: MLflow 3's shape, keys in ``to_dict``'s order, base64 ids in
    their canonical form, int times (a 0 end time reads as None), a status message only
    with ERROR, event and link dicts as ``to_dict`` writes them, the trace id attribute."""
    if type(d) is not dict or tuple(d) != _SPAN_KEYS:
        return False
    trace_id, span_id, parent = d["trace_id"], d["span_id"], d["parent_span_id"]
    if not (isinstance(trace_id, str) and _B64_TRACE_ID.fullmatch(trace_id)):
        return False
    if not (isinstance(span_id, str) and _B64_SPAN_ID.fullmatch(span_id)):
        return False
    if parent is not None and not (
        isinstance(parent, str) and parent != _ZERO_SPAN_ID and _B64_SPAN_ID.fullmatch(parent)
    ):
        return False
    end = d["end_time_unix_nano"]
    if type(d["start_time_unix_nano"]) is not int or not (end is None or (type(end) is int and end)):
        return False
    status, attributes = d["status"], d["attributes"]
    if type(status) is not dict or tuple(status) != _STATUS_KEYS:
        return False
    code, message = status["code"], status["message"]
    if code not in _PROTO_STATUS_NAMES or not isinstance(message, str):
        return False
    if message and code != "STATUS_CODE_ERROR":
        return False
    if type(attributes) is not dict or not attributes.get(SpanAttributeKey.REQUEST_ID):
        return False
    events, links = d["events"], d["links"]
    if type(events) is not list or type(links) is not list:
        return False
    for event in events:
        if type(event) is not dict or tuple(event) != _EVENT_KEYS:
            return False
        if type(event["time_unix_nano"]) is not int or type(event["attributes"]) is not dict:
            return False
    for link in links:
        if type(link) is not dict or tuple(link) != _LINK_KEYS:
            return False
    return True


def _copy_span_dict(d: dict[str, Any]) -> dict[str, Any]:
    """A copy of a canonical span dict sharing no container a caller may change with ``d``
    (as deep as ``Span.to_dict()`` copies)."""
    return {
        **d,
        "events": [{**event, "attributes": dict(event["attributes"])} for event in d["events"]],
        "status": dict(d["status"]),
        "attributes": dict(d["attributes"]),
        "links": [dict(link) for link in d["links"]],
    }


class LazySpan(Span):
    """
    A span that keeps its stored form (JSON text or MLflow's span dict) and only builds the
    :class:`Span` when a property or method that needs one is first used (MLflow 3.17's
    ``LazySpan``). Stores return these: a page of traces costs one object per span until
    its spans are read.

    * :meth:`to_dict` of a span whose stored dict is what ``Span.from_dict(d).to_dict()``
      gives (checked without building the span) is a fresh copy of it: no materialisation.
    * :meth:`Trace.to_json <tracklet.entities.Trace.to_json>` splices the stored JSON text
      of such a span without parsing or dumping it again when the text is what
      ``json.dumps`` would write there (text from tracklet's SQL store: ``json_dumps=True``).
    * Anything else materialises: the span's fields are filled in from ``Span.from_dict``
      (idempotent: two threads doing it at once fill in equal values), after which it
      behaves exactly as that Span. A dict that ``Span.from_dict`` rejects raises its
      error then, not when the LazySpan is built.

    Equality (identity), ``repr``, copying and pickling are a Span's; a pickled LazySpan
    comes back lazy.
    """

    def __init__(
        self,
        span_dict: dict[str, Any] | None = None,
        *,
        raw_json: str | None = None,
        json_dumps: bool = False,
    ) -> None:
        # Span.__init__ is skipped: its fields are filled in on materialisation.
        if span_dict is None and raw_json is None:
            raise TrackletException("LazySpan needs a span dict or its JSON text.", INVALID_PARAMETER_VALUE)
        state = self.__dict__
        state["_lazy_dict"] = span_dict
        state["_lazy_json"] = raw_json
        # raw_json was written by json.dumps with its default separators (from a dict)
        state["_lazy_dumps"] = bool(json_dumps and raw_json is not None)
        state["_lazy_canonical"] = None  # unknown until the dict is checked
        state["_materialized"] = False

    @classmethod
    def from_stored_content(cls, content: str, *, json_dumps: bool = False) -> LazySpan:
        """A LazySpan of a stored ``Span.to_dict()`` JSON text (e.g. a ``spans.content``
        value); parsed when first needed. ``json_dumps``: the text is what Python's
        ``json.dumps`` (default separators) wrote, so it may be spliced into
        :meth:`Trace.to_json <tracklet.entities.Trace.to_json>` as it is."""
        return cls(raw_json=content, json_dumps=json_dumps)

    @classmethod
    def many_from_stored_content(cls, contents: Iterable[str], *, json_dumps: bool = False) -> list[LazySpan]:
        """``[from_stored_content(c, json_dumps=json_dumps) for c in contents]``, at half the
        cost per span (what a store reading a page of spans wants)."""
        state = {
            "_lazy_dict": None,
            "_lazy_json": None,
            "_lazy_dumps": bool(json_dumps),
            "_lazy_canonical": None,
            "_materialized": False,
        }
        new = object.__new__
        spans = []
        for content in contents:
            if content is None:
                raise TrackletException(
                    "LazySpan needs a span dict or its JSON text.", INVALID_PARAMETER_VALUE
                )
            span = new(cls)
            fields = span.__dict__
            fields.update(state)
            fields["_lazy_json"] = content
            spans.append(span)
        return spans

    @classmethod
    def from_dict_lazy(cls, d: dict[str, Any]) -> LazySpan:
        """A LazySpan of MLflow's span dict (kept, not copied: the caller hands it over)."""
        return cls(span_dict=d)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Span:
        """A Span of the dict, built now (as :meth:`Span.from_dict`)."""
        return Span.from_dict(data)

    # --- the stored form ------------------------------------------------------------------

    def _stored_dict(self) -> dict[str, Any]:
        state = self.__dict__
        d: dict[str, Any] | None = state.get("_lazy_dict")
        if d is None:
            d = json.loads(state["_lazy_json"])
            state["_lazy_dict"] = d
        return d

    def _is_canonical(self) -> bool:
        state = self.__dict__
        canonical: bool | None = state["_lazy_canonical"]
        if canonical is None:
            canonical = _is_canonical_span_dict(self._stored_dict())
            state["_lazy_canonical"] = canonical
        return canonical

    def _json_for_trace(self) -> str | None:
        """The stored text when it is exactly what ``json.dumps(self.to_dict())`` (default
        separators, ``ensure_ascii``) gives; else None."""
        state = self.__dict__
        if state["_materialized"] or not state["_lazy_dumps"]:
            return None
        raw: str = state["_lazy_json"]
        if not raw.isascii() or not self._is_canonical():
            return None
        return raw

    def _materialize(self) -> None:
        state = self.__dict__
        if state["_materialized"]:
            return
        span = Span.from_dict(self._stored_dict())
        state.update(span.__dict__)
        state["_materialized"] = True

    def __getattr__(self, name: str) -> Any:
        # Reached only for what the instance lacks: the Span fields before materialisation.
        state = self.__dict__
        if name.startswith("_") and not name.startswith("__") and not state.get("_materialized", True):
            self._materialize()
            try:
                return state[name]
            except KeyError:
                pass
        return Span.__getattr__(self, name)

    # --- what works without materialising ------------------------------------------------
    # (from a canonical stored dict, whose values are the built span's)

    def _canonical_dict(self) -> dict[str, Any] | None:
        if self.__dict__["_materialized"] or not self._is_canonical():
            return None
        return self._stored_dict()

    @property
    def name(self) -> str:
        """The name of the span."""
        d = self._canonical_dict()
        return d["name"] if d is not None else Span.name.fget(self)  # type: ignore[attr-defined,no-any-return]

    @property
    def span_id(self) -> str:
        """The ID of the span. This is only unique within a trace."""
        d = self._canonical_dict()
        if d is None:
            return Span.span_id.fget(self)  # type: ignore[attr-defined,no-any-return]
        return encode_span_id(_decode_id_from_byte(d["span_id"]))

    @property
    def parent_id(self) -> str | None:
        """The span ID of the parent span."""
        d = self._canonical_dict()
        if d is None:
            return Span.parent_id.fget(self)  # type: ignore[attr-defined,no-any-return]
        parent = d["parent_span_id"]
        return None if parent is None else encode_span_id(_decode_id_from_byte(parent))

    @property
    def start_time_ns(self) -> int:
        """The start time of the span in nanosecond."""
        d = self._canonical_dict()
        return d["start_time_unix_nano"] if d is not None else Span.start_time_ns.fget(self)  # type: ignore[attr-defined,no-any-return]

    @property
    def end_time_ns(self) -> int | None:
        """The end time of the span in nanosecond."""
        d = self._canonical_dict()
        return d["end_time_unix_nano"] if d is not None else Span.end_time_ns.fget(self)  # type: ignore[attr-defined,no-any-return]

    def raw_attributes(self) -> dict[str, Any]:
        """The attributes as stored: each value JSON-encoded text (a copy)."""
        d = self._canonical_dict()
        return dict(d["attributes"]) if d is not None else super().raw_attributes()

    def to_dict(self) -> dict[str, Any]:
        state = self.__dict__
        if not state["_materialized"] and self._is_canonical():
            if state["_lazy_json"] is not None:
                # hand the parsed dict over (the text parses again if needed); pop: two
                # threads never get the same dict
                d = state.pop("_lazy_dict", None)
                state["_lazy_dict"] = None
                if d is None:
                    d = json.loads(state["_lazy_json"])
                return d  # type: ignore[no-any-return]
            return _copy_span_dict(self._stored_dict())
        self._materialize()
        return super().to_dict()

    def __reduce__(self) -> tuple[Any, ...]:
        state = self.__dict__
        if not state["_materialized"] and state["_lazy_json"] is not None:
            return (_reconstruct_lazy_span, (state["_lazy_json"], None, state["_lazy_dumps"]))
        return (_reconstruct_lazy_span, (None, self.to_dict(), False))

    def __deepcopy__(self, memo: dict[int, Any]) -> LazySpan:
        state = self.__dict__
        if not state["_materialized"] and state["_lazy_json"] is not None:
            new_span = LazySpan(raw_json=state["_lazy_json"], json_dumps=state["_lazy_dumps"])
        else:
            new_span = LazySpan(span_dict=json.loads(json.dumps(self.to_dict())))
        memo[id(self)] = new_span
        return new_span


def _reconstruct_lazy_span(
    raw_json: str | None, span_dict: dict[str, Any] | None, json_dumps: bool
) -> LazySpan:
    return LazySpan(span_dict, raw_json=raw_json, json_dumps=json_dumps)


class LiveSpan(Span):
    """
    A "live" version of the :py:class:`Span` class.

    The live spans are those being created and updated during the application runtime.
    When users start a new span using the tracing APIs within their code, this live span
    object is returned to get and set the span attributes, status, events, and etc.

    Built by tracklet's runtime (MLflow's wraps an OpenTelemetry span; tracklet's does not)::

        LiveSpan(
            name="predict",
            trace_id="tr-<32 hex>",       # MLflow trace id, stored as mlflow.traceRequestId
            otel_trace_id=0x…,            # 128-bit int
            span_id=0x…,                  # 64-bit int
            parent_id=None,               # parent's 64-bit int, None for the root span
            start_time_ns=time.time_ns(), # defaults to now
            span_type=SpanType.UNKNOWN,   # stored as mlflow.spanType
            attributes={"k": "v"},        # plain values, JSON-encoded like set_attribute
            first_attributes={SpanAttributeKey.START_TIME_NS: start},  # plain values, see below
        )

    The attributes are set in MLflow's order: ``first_attributes`` (what MLflow passes as
    the OpenTelemetry span's start attributes: ``mlflow.spanStartTimeNs`` when a start time
    was given, ``mlflow.experimentId``), then ``mlflow.traceRequestId``, ``mlflow.spanType``,
    then ``attributes``. :meth:`end` ends it (OK unless ERROR was set, default log level,
    end time); after that the setters are ignored as OpenTelemetry's are.
    """

    def __init__(
        self,
        name: str,
        trace_id: str,
        otel_trace_id: int,
        span_id: int,
        parent_id: int | None = None,
        start_time_ns: int | None = None,
        span_type: str = SpanType.UNKNOWN,
        attributes: dict[str, Any] | None = None,
        first_attributes: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            name=name,
            otel_trace_id=otel_trace_id,
            span_id=span_id,
            parent_id=parent_id,
            start_time_ns=start_time_ns if start_time_ns is not None else time.time_ns(),
        )
        for key, value in (first_attributes or {}).items():
            self._set_raw(key, value)
        self._set_raw(SpanAttributeKey.REQUEST_ID, trace_id)
        self._set_raw(SpanAttributeKey.SPAN_TYPE, span_type)
        for key, value in (attributes or {}).items():
            self._set_raw(key, value)
        # The name before any de-duplication suffix the exporter may add.
        self._original_name = name

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            f"'{type(self).__name__}' cannot be pickled while active. "
            "Call `span.to_immutable_span()` to serialize finished span data."
        )

    def __deepcopy__(self, memo: dict[int, Any]) -> NoReturn:
        raise TypeError(
            f"'{type(self).__name__}' cannot be deepcopied while active. "
            "Call `span.to_immutable_span()` to copy finished span data."
        )

    def get_attribute(self, key: str) -> Any | None:
        # Live attributes change: no cache.
        return load_span_attribute_value(self._raw_attributes.get(key))

    def _is_recording(self) -> bool:
        return self._end_time_ns is None

    def _set_raw(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            _logger.warning(f"Attribute key must be a string, but got {type(key)}. Skipping.")
            return
        if not self._is_recording():
            _logger.warning("Setting attribute on ended span.")
            return
        self._raw_attributes[key] = dump_span_attribute_value(value)

    def set_span_type(self, span_type: str) -> None:
        """Set the type of the span."""
        self.set_attribute(SpanAttributeKey.SPAN_TYPE, span_type)

    def set_description(self, description: str) -> None:
        """Set the description of the span."""
        self.set_attribute(SpanAttributeKey.DESCRIPTION, description)

    def set_log_level(self, level: SpanLogLevel | str) -> None:
        """Set the severity level of the span (a :class:`SpanLogLevel` or its name)."""
        self.set_attribute(SpanAttributeKey.LOG_LEVEL, int(SpanLogLevel.from_value(level)))

    def set_inputs(self, inputs: Any) -> None:
        """Set the input values to the span."""
        self.set_attribute(SpanAttributeKey.INPUTS, inputs)

    def set_outputs(self, outputs: Any) -> None:
        """Set the output values to the span."""
        self.set_attribute(SpanAttributeKey.OUTPUTS, outputs)

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        """
        Set the attributes to the span. The attributes must be a dictionary of key-value pairs.
        This method is additive, i.e. it will add new attributes to the existing ones. If an
        attribute with the same key already exists, it will be overwritten.
        """
        if not isinstance(attributes, dict):
            _logger.warning(f"Attributes must be a dictionary, but got {type(attributes)}. Skipping.")
            return
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_attribute(self, key: str, value: Any) -> None:
        """Set a single attribute to the span."""
        self._set_raw(key, value)

    def set_status(self, status: SpanStatus | SpanStatusCode | str) -> None:
        """
        Set the status of the span.

        Args:
            status: The status of the span. This can be a :py:class:`SpanStatus` object,
                a :py:class:`SpanStatusCode` or a string representing a status code
                e.g. ``"OK"``, ``"ERROR"``.
        """
        if isinstance(status, str):
            status = SpanStatus(status)  # type: ignore[arg-type]
        if not isinstance(status, SpanStatus):
            raise TrackletException(
                f"Invalid status: {status!r}. Use a SpanStatus, a SpanStatusCode or one of "
                f"{[c.value for c in SpanStatusCode]}.",
                INVALID_PARAMETER_VALUE,
            )
        # OpenTelemetry's rules: OK is final; UNSET is ignored; a description only with ERROR.
        if self._status.status_code == SpanStatusCode.OK or status.status_code == SpanStatusCode.UNSET:
            return
        if status.description and status.status_code != SpanStatusCode.ERROR:
            _logger.warning("description should only be set when status_code is set to StatusCode.ERROR")
        self._status = _otel_status(status.status_code, status.description)

    def add_event(self, event: SpanEvent) -> None:
        """
        Add an event to the span.

        Args:
            event: The event to add to the span. This should be a :py:class:`SpanEvent` object.
        """
        if not self._is_recording():
            _logger.warning("Calling add_event() on an ended span.")
            return
        self._events.append(
            SpanEvent(
                name=event.name,
                timestamp=event.timestamp if event.timestamp is not None else time.time_ns(),
                attributes=_clean_event_attributes(event.attributes),
            )
        )
        if event.name == "exception":
            current = self.get_attribute(SpanAttributeKey.LOG_LEVEL)
            if current is None or int(current) < SpanLogLevel.ERROR:
                self._set_raw(SpanAttributeKey.LOG_LEVEL, int(SpanLogLevel.ERROR))

    def add_link(self, link: Any) -> None:
        """
        Add a link to this span: an object or dict with ``trace_id`` (an MLflow trace id or
        hex), ``span_id`` (hex) and optional ``attributes``, as MLflow's ``Link``.
        """
        if not self._is_recording():
            _logger.debug("Skipping link addition because the span is no longer recording.")
            return
        fields: dict[str, Any] = (
            dict(link)
            if isinstance(link, dict)
            else {k: getattr(link, k, None) for k in ("trace_id", "span_id", "attributes")}
        )
        trace_id, span_id, attributes = (
            fields.get("trace_id"),
            fields.get("span_id"),
            fields.get("attributes"),
        )
        try:
            hex_id = str(parse_trace_id_v4(trace_id)[1]).removeprefix(TRACE_REQUEST_ID_PREFIX)
            decode_id(hex_id).to_bytes(16, "big")
            decode_id(str(span_id)).to_bytes(8, "big")
        except (ValueError, OverflowError, AttributeError, TypeError) as e:
            raise TrackletException(
                f"Invalid link: trace_id={trace_id!r}, span_id={span_id!r}. "
                "trace_id must be a valid MLflow trace ID or hex string, and "
                "span_id must be a hex string.",
                INVALID_PARAMETER_VALUE,
            ) from e
        self._links.append(
            {"trace_id": trace_id, "span_id": span_id, "attributes": dict(attributes) if attributes else None}
        )

    def record_exception(self, exception: str | BaseException) -> None:
        """
        Record an exception on the span, adding an exception event and setting span status to ERROR.

        Args:
            exception: The exception to record. Can be an Exception instance or a string
                describing the exception.
        """
        if isinstance(exception, str):
            exception = Exception(exception)
        if isinstance(exception, BaseException):
            self.add_event(SpanEvent.from_exception(exception))
        else:
            raise TrackletException(
                "The `exception` parameter must be an Exception instance or a string.",
                INVALID_PARAMETER_VALUE,
            )
        self.set_status(
            SpanStatus(
                status_code=SpanStatusCode.ERROR,
                description=f"{type(exception).__name__}: {exception}",
            )
        )

    def end(
        self,
        outputs: Any | None = None,
        attributes: dict[str, Any] | None = None,
        status: SpanStatus | SpanStatusCode | str | None = None,
        end_time_ns: int | None = None,
    ) -> None:
        """
        End the span.

        outputs: Outputs to set on the span.
        attributes: A dictionary of attributes to merge into the span's attributes.
        status: The status of the span (SpanStatus, SpanStatusCode or e.g. ``"OK"``, ``"ERROR"``).
            The default status is OK.
        end_time_ns: The end time of the span in nano seconds since the UNIX epoch.
            If not provided, the current time will be used.
        """
        try:
            if not self._is_recording():
                _logger.warning("Calling end() on an ended span.")
                return
            self.set_attributes(attributes or {})
            if outputs is not None:
                self.set_outputs(outputs)
            if status is not None:
                self.set_status(status)
            # As MLflow: a span not explicitly failed ends OK.
            if self._status.status_code != SpanStatusCode.ERROR:
                self.set_status(SpanStatus(SpanStatusCode.OK))
            if self.get_attribute(SpanAttributeKey.LOG_LEVEL) is None:
                self._set_raw(
                    SpanAttributeKey.LOG_LEVEL, int(default_log_level_for_span_type(self.span_type))
                )
            self._end_time_ns = int(end_time_ns) if end_time_ns is not None else time.time_ns()
        except Exception as e:
            _logger.warning(
                f"Failed to end span {self.span_id}: {e}. For full traceback, set logging level to debug.",
                exc_info=_logger.isEnabledFor(logging.DEBUG),
            )

    def to_immutable_span(self) -> Span:
        """Downcast the live span object to the immutable span (a snapshot of its data)."""
        return Span(
            name=self._name,
            otel_trace_id=self._otel_trace_id,
            span_id=self._span_id,
            parent_id=self._parent_id,
            start_time_ns=self._start_time_ns,
            end_time_ns=self._end_time_ns,
            status=self.status,
            attributes=dict(self._raw_attributes),
            events=self.events,
            links=self.links,
        )

    def from_dict(cls, data: dict[str, Any]) -> Span:  # type: ignore[override]  # noqa: N805
        raise NotImplementedError("The `from_dict` method is not supported for the LiveSpan class.")


class NoOpSpan(Span):
    """
    No-op implementation of the Span interface.

    Returned when span creation fails, tracing is disabled or the span is not recorded.
    Every setter does nothing, so code like this keeps working::

        with tracklet.start_span("span_name") as span:
            span.set_inputs({"x": 1})
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._raw_attributes = {}
        self._events = []
        self._links = []
        self._cache = {}

    def __reduce__(self) -> tuple[Any, ...]:
        return (NoOpSpan, ())

    def __deepcopy__(self, memo: dict[int, Any]) -> NoOpSpan:
        new_noop = NoOpSpan()
        memo[id(self)] = new_noop
        return new_noop

    @property
    def trace_id(self) -> str:
        """No-op span returns a special trace ID to distinguish it from the real spans."""
        return NO_OP_SPAN_TRACE_ID

    @property
    def span_id(self) -> Any:
        return None

    @property
    def name(self) -> Any:
        return None

    @property
    def start_time_ns(self) -> Any:
        return None

    @property
    def end_time_ns(self) -> Any:
        return None

    @property
    def context(self) -> Any:
        return None

    @property
    def parent_id(self) -> Any:
        return None

    @property
    def status(self) -> Any:
        return None

    @property
    def _trace_id(self) -> Any:
        return None

    @property
    def attributes(self) -> dict[str, Any]:
        return {}

    @property
    def events(self) -> list[SpanEvent]:
        return []

    def set_inputs(self, inputs: Any) -> None:
        pass

    def set_outputs(self, outputs: Any) -> None:
        pass

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        pass

    def set_attribute(self, key: str, value: Any) -> None:
        pass

    def set_description(self, description: str) -> None:
        pass

    def set_log_level(self, level: Any) -> None:
        pass

    def set_span_type(self, span_type: str) -> None:
        pass

    def set_status(self, status: Any) -> None:
        pass

    def add_event(self, event: SpanEvent) -> None:
        pass

    def add_link(self, link: Any) -> None:
        pass

    def record_exception(self, exception: str | BaseException) -> None:
        pass

    def end(
        self,
        outputs: Any | None = None,
        attributes: dict[str, Any] | None = None,
        status: SpanStatus | str | None = None,
        end_time_ns: int | None = None,
    ) -> None:
        pass
