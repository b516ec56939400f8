"""OTLP/JSON for spans, without protobuf or the OpenTelemetry SDK; and the OTLP exporter.

Encoding and decoding (also used by tracklet-http's ``/v1/traces`` receiver):

``spans_to_otlp_json(spans, resource_attributes=None) -> dict``
    An OTLP ``ExportTraceServiceRequest`` in the OTLP/JSON encoding:
    ``{"resourceSpans": [{"resource": {"attributes": [...]}, "scopeSpans": [{"scope":
    {"name": "tracklet"}, "spans": [...]}]}]}``. Ids are lowercase hex (32 digits for the
    trace id, 16 for span ids, as the OTLP/JSON spec requires, not base64); times are
    nanosecond strings; status codes are the enum's integers (0 UNSET, 1 OK, 2 ERROR);
    attributes are ``KeyValue`` lists whose values are ``AnyValue`` objects
    (``stringValue``, ``boolValue``, ``intValue`` as a string, ``doubleValue``,
    ``arrayValue``, ``kvlistValue``). MLflow's span attributes (``mlflow.spanInputs``,
    ``mlflow.spanType``, ``mlflow.traceRequestId``…) are sent with their decoded values,
    as MLflow 3.17's ``Span.to_otel_proto`` does; events carry their attributes likewise.

``spans_from_otlp_json(payload: dict) -> list[Span]``
    The reverse, for any OTLP/JSON payload (from tracklet, MLflow or any OpenTelemetry
    SDK): every span of every resource/scope, attribute values stored JSON-encoded as
    MLflow stores them. The MLflow trace id is ``"tr-" + <32 hex of the OTLP trace id>``
    unless the span carries ``mlflow.traceRequestId`` (then that is kept). Both integer
    and name forms of enums (``"STATUS_CODE_ERROR"``) and both hex and base64 ids are
    accepted; a span without a trace id or span id is refused with ``ValueError``.

The exporter (used by :mod:`tracklet.tracing.export`'s background thread):

``TRACKLET_TRACES_OTLP_ENDPOINT``
    Where to POST (``application/json``) each batch of ended traces' spans, e.g.
    ``http://collector:4318/v1/traces``; an endpoint without a path gets ``/v1/traces``.
``TRACKLET_TRACES_OTLP_HEADERS``
    Extra request headers, ``key=value,key2=value2`` (values URL-decoded, as
    OpenTelemetry's ``OTEL_EXPORTER_OTLP_HEADERS``). The trace's experiment id is sent in
    ``x-mlflow-experiment-id`` (MLflow's header) unless set here.
``TRACKLET_TRACES_DESTINATION``
    ``store`` (default): the tracking store, plus the OTLP endpoint when one is set;
    ``otlp``: the OTLP endpoint only.
"""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

if TYPE_CHECKING:
    from tracklet.entities import Span, Trace

__all__ = [
    "any_value_from_otlp",
    "any_value_to_otlp",
    "destination",
    "endpoint",
    "send_traces",
    "span_from_otlp_json",
    "span_to_otlp_json",
    "spans_from_otlp_json",
    "spans_to_otlp_json",
]

_REQUEST_ID_KEY = "mlflow.traceRequestId"
_STATUS_CODES = {"STATUS_CODE_UNSET": 0, "STATUS_CODE_OK": 1, "STATUS_CODE_ERROR": 2}
_STATUS_NAMES = {v: k for k, v in _STATUS_CODES.items()}
_SPAN_KIND_INTERNAL = 1
SEND_TIMEOUT_SECONDS = 10.0


# -- AnyValue ----------------------------------------------------------------------------


def any_value_to_otlp(value: Any) -> dict[str, Any]:
    """A Python value as an OTLP/JSON ``AnyValue`` (None -> ``{}``)."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, str):
        return {"stringValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, bytes):
        return {"bytesValue": base64.b64encode(value).decode("ascii")}
    if isinstance(value, (list, tuple)):
        return {"arrayValue": {"values": [any_value_to_otlp(v) for v in value]}}
    if isinstance(value, dict):
        return {"kvlistValue": {"values": _key_values(value)}}
    return {"stringValue": str(value)}


def any_value_from_otlp(any_value: dict[str, Any] | None) -> Any:
    """The Python value of an OTLP/JSON ``AnyValue`` (``{}`` -> None)."""
    if not any_value:
        return None
    if "stringValue" in any_value:
        return any_value["stringValue"]
    if "boolValue" in any_value:
        return bool(any_value["boolValue"])
    if "intValue" in any_value:
        return int(any_value["intValue"])
    if "doubleValue" in any_value:
        return float(any_value["doubleValue"])
    if "bytesValue" in any_value:
        return base64.b64decode(any_value["bytesValue"])
    if "arrayValue" in any_value:
        return [any_value_from_otlp(v) for v in (any_value["arrayValue"] or {}).get("values", [])]
    if "kvlistValue" in any_value:
        return {
            kv["key"]: any_value_from_otlp(kv.get("value"))
            for kv in (any_value["kvlistValue"] or {}).get("values", [])
        }
    return None


def _key_values(mapping: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": str(k), "value": any_value_to_otlp(v)} for k, v in mapping.items()]


def _attributes_from(key_values: Iterable[dict[str, Any]] | None) -> dict[str, Any]:
    return {kv["key"]: any_value_from_otlp(kv.get("value")) for kv in key_values or []}


# -- ids ---------------------------------------------------------------------------------


def _b64_to_hex(text: str) -> str:
    return base64.b64decode(text).hex()


def _id_to_hex(text: str, size: int) -> str:
    """An OTLP id as lowercase hex: hex as the OTLP/JSON spec says, or base64 (proto3 JSON)."""
    text = text.strip()
    if len(text) == size * 2:
        try:
            bytes.fromhex(text)
            return text.lower()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError as e:
        raise ValueError(f"{text!r} is neither a hex nor a base64 id") from e
    if len(raw) != size:
        raise ValueError(f"id {text!r} has {len(raw)} bytes, expected {size}")
    return raw.hex()


def _hex_to_b64(hex_id: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_id)).decode("ascii")


# -- spans -------------------------------------------------------------------------------


def span_to_otlp_json(span: Span) -> dict[str, Any]:
    """One span as an OTLP/JSON ``Span`` object (see the module documentation)."""
    d = span.to_dict()
    attributes: dict[str, Any] = {}
    for key, raw in (d.get("attributes") or {}).items():
        try:
            attributes[key] = json.loads(raw) if isinstance(raw, str) else raw
        except json.JSONDecodeError:
            attributes[key] = raw
    status = d.get("status") or {}
    code = status.get("code", "STATUS_CODE_UNSET")
    out: dict[str, Any] = {
        "traceId": _b64_to_hex(d["trace_id"]),
        "spanId": _b64_to_hex(d["span_id"]),
        "name": d.get("name") or "",
        "kind": _SPAN_KIND_INTERNAL,
        "startTimeUnixNano": str(d.get("start_time_unix_nano") or 0),
        "endTimeUnixNano": str(d.get("end_time_unix_nano") or 0),
        "attributes": _key_values(attributes),
        "events": [
            {
                "timeUnixNano": str(event.get("time_unix_nano") or 0),
                "name": event.get("name") or "",
                "attributes": _key_values(event.get("attributes") or {}),
            }
            for event in d.get("events") or []
        ],
        "status": {"code": _STATUS_CODES.get(code, 0)},
    }
    if d.get("parent_span_id"):
        out["parentSpanId"] = _b64_to_hex(d["parent_span_id"])
    if status.get("message"):
        out["status"]["message"] = status["message"]
    return out


def spans_to_otlp_json(
    spans: Sequence[Span], resource_attributes: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Spans as an OTLP/JSON ``ExportTraceServiceRequest`` (one resource, one scope)."""
    resource = {"service.name": "tracklet", **(resource_attributes or {})}
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _key_values(resource)},
                "scopeSpans": [
                    {"scope": {"name": "tracklet"}, "spans": [span_to_otlp_json(s) for s in spans]}
                ],
            }
        ]
    }


def _status_code(value: Any) -> str:
    if isinstance(value, str) and value in _STATUS_CODES:
        return value
    try:
        return _STATUS_NAMES.get(int(value), "STATUS_CODE_UNSET")
    except (TypeError, ValueError):
        return "STATUS_CODE_UNSET"


def span_from_otlp_json(otlp_span: dict[str, Any]) -> Span:
    """One OTLP/JSON ``Span`` object as a tracklet :class:`~tracklet.entities.Span`."""
    from tracklet.entities import Span

    if not otlp_span.get("traceId"):
        raise ValueError("trace_id is required but was empty")
    if not otlp_span.get("spanId"):
        raise ValueError("span_id is required but was empty")
    trace_hex = _id_to_hex(otlp_span["traceId"], 16)
    span_hex = _id_to_hex(otlp_span["spanId"], 8)
    parent = otlp_span.get("parentSpanId")
    parent_hex = _id_to_hex(parent, 8) if parent else None
    attributes = {
        key: json.dumps(value) for key, value in _attributes_from(otlp_span.get("attributes")).items()
    }
    attributes.setdefault(_REQUEST_ID_KEY, json.dumps(f"tr-{trace_hex}"))
    status = otlp_span.get("status") or {}
    end = int(otlp_span.get("endTimeUnixNano") or 0)
    d = {
        "trace_id": _hex_to_b64(trace_hex),
        "span_id": _hex_to_b64(span_hex),
        "parent_span_id": _hex_to_b64(parent_hex) if parent_hex else None,
        "name": otlp_span.get("name") or "",
        "start_time_unix_nano": int(otlp_span.get("startTimeUnixNano") or 0),
        "end_time_unix_nano": end or None,
        "events": [
            {
                "name": event.get("name") or "",
                "time_unix_nano": int(event.get("timeUnixNano") or 0),
                "attributes": _attributes_from(event.get("attributes")),
            }
            for event in otlp_span.get("events") or []
        ],
        "status": {"code": _status_code(status.get("code", 0)), "message": status.get("message") or ""},
        "attributes": attributes,
    }
    return Span.from_dict(d)


def spans_from_otlp_json(payload: dict[str, Any]) -> list[Span]:
    """Every span of an OTLP/JSON ``ExportTraceServiceRequest`` (see the module doc)."""
    if not isinstance(payload, dict):
        raise ValueError("an OTLP/JSON payload must be a JSON object with 'resourceSpans'")
    spans: list[Span] = []
    for resource_spans in payload.get("resourceSpans") or []:
        for scope_spans in resource_spans.get("scopeSpans") or []:
            for otlp_span in scope_spans.get("spans") or []:
                spans.append(span_from_otlp_json(otlp_span))
    return spans


# -- exporter ----------------------------------------------------------------------------


def endpoint() -> str | None:
    """The OTLP/HTTP traces URL from ``TRACKLET_TRACES_OTLP_ENDPOINT``, or None."""
    url = os.environ.get("TRACKLET_TRACES_OTLP_ENDPOINT", "").strip()
    if not url:
        return None
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise TrackletException(
            f"TRACKLET_TRACES_OTLP_ENDPOINT={url!r} is not valid: it must be an http(s) URL such as "
            "http://localhost:4318/v1/traces. Fix or unset the variable.",
            INVALID_PARAMETER_VALUE,
        )
    if parsed.path in ("", "/"):
        url = url.rstrip("/") + "/v1/traces"
    return url


def destination() -> str:
    """``"store"`` or ``"otlp"`` (``TRACKLET_TRACES_DESTINATION``)."""
    value = os.environ.get("TRACKLET_TRACES_DESTINATION", "").strip().lower() or "store"
    if value not in ("store", "otlp"):
        raise TrackletException(
            f"TRACKLET_TRACES_DESTINATION={value!r} is not valid: it must be 'store' or 'otlp'. "
            "Fix or unset the variable.",
            INVALID_PARAMETER_VALUE,
        )
    if value == "otlp" and endpoint() is None:
        raise TrackletException(
            "TRACKLET_TRACES_DESTINATION='otlp' needs TRACKLET_TRACES_OTLP_ENDPOINT: set it to the "
            "collector's URL, or unset TRACKLET_TRACES_DESTINATION to write traces to the store.",
            INVALID_PARAMETER_VALUE,
        )
    return value


def headers() -> dict[str, str]:
    """The extra headers of ``TRACKLET_TRACES_OTLP_HEADERS`` (``k=v,k2=v2``)."""
    out: dict[str, str] = {}
    for item in os.environ.get("TRACKLET_TRACES_OTLP_HEADERS", "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise TrackletException(
                f"TRACKLET_TRACES_OTLP_HEADERS: {item.strip()!r} is not valid: each header must be "
                "key=value, headers separated by commas. Fix or unset the variable.",
                INVALID_PARAMETER_VALUE,
            )
        out[urllib.parse.unquote(key.strip())] = urllib.parse.unquote(value.strip())
    return out


def send_traces(traces: Sequence[Trace]) -> None:
    """POST the traces' spans to the OTLP endpoint, one request per experiment.

    Raises on a failed request (the exporter catches, counts and logs it)."""
    import urllib.request

    url = endpoint()
    if url is None or not traces:
        return
    extra = headers()
    by_experiment: dict[str, list[Span]] = {}
    for trace in traces:
        experiment_id = _experiment_id(trace)
        by_experiment.setdefault(experiment_id, []).extend(trace.data.spans)
    for experiment_id, spans in by_experiment.items():
        body = json.dumps(spans_to_otlp_json(spans)).encode("utf-8")
        request_headers = {"Content-Type": "application/json"}
        if experiment_id and not any(k.lower() == "x-mlflow-experiment-id" for k in extra):
            request_headers["x-mlflow-experiment-id"] = experiment_id
        request_headers.update(extra)
        request = urllib.request.Request(url, data=body, headers=request_headers, method="POST")
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS) as response:
            response.read()


def _experiment_id(trace: Trace) -> str:
    try:
        return str(trace.info.experiment_id or "")
    except Exception:
        return ""
