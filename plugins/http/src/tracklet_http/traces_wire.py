"""Traces on the wire: MLflow 3.17's JSON shapes, shared by the REST client store and
``tracklet server`` (so both ends of the wire read and write the same bytes).

* trace infos as MLflow's server answers them: the 3.x ``TraceInfo`` message
  (``trace_location``, ``request_time`` as an RFC 3339 timestamp, ``execution_duration``
  as ``"1.500s"``, ``trace_metadata``/``tags`` maps) and the 2.x one (``request_id``,
  ``timestamp_ms``, ``execution_time_ms``, ``status``, key/value lists);
* spans as OpenTelemetry ``Span`` messages in JSON, both spellings: protobuf's JSON
  mapping as MLflow's ``GetTrace``/``BatchGetTraces`` answer it (snake_case field names,
  base64 ids, numbers) and OTLP/JSON as collectors send it (camelCase, hex ids, int64 as
  strings). Reading accepts either. Spans are converted from and to MLflow's span
  dictionary (``Span.to_dict()``: base64 ids, attribute values JSON-encoded), so no
  OpenTelemetry package is needed here.

Nothing here imports more than the standard library at import time.
"""

from __future__ import annotations

import base64
import binascii
import datetime as _dt
import json
import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from tracklet.entities.trace_info import millis_to_duration, millis_to_rfc3339
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException

if TYPE_CHECKING:
    from tracklet.entities import TraceInfo

__all__ = [
    "duration_to_ms",
    "ms_to_duration",
    "ms_to_timestamp",
    "otel_span_to_span_dict",
    "span_dict_to_otel_span",
    "spans_from_otel_json",
    "spans_to_otel_json",
    "timestamp_to_ms",
    "trace_info_from_json",
    "trace_info_from_v2_json",
    "trace_info_to_json",
    "trace_info_to_v2_json",
]


_V2_STATUS = {"STATE_UNSPECIFIED": "TRACE_STATUS_UNSPECIFIED"}
_V3_STATE = {"TRACE_STATUS_UNSPECIFIED": "STATE_UNSPECIFIED"}


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


# -- protobuf Timestamp / Duration in JSON ------------------------------------------------------


def ms_to_timestamp(ms: int) -> str:
    """Milliseconds since the epoch as protobuf's JSON ``Timestamp`` (``…T…Z``)."""
    return millis_to_rfc3339(ms)


_TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$"
)


def timestamp_to_ms(value: Any, name: str = "request_time") -> int:
    """Protobuf's JSON ``Timestamp`` (any offset, up to 9 fraction digits) as milliseconds."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    m = _TIMESTAMP.match(value) if isinstance(value, str) else None
    if m is None:
        raise _bad(f"Invalid value {value!r} for parameter '{name}': expected an RFC 3339 timestamp.")
    year, month, day, hour, minute, second = (int(g) for g in m.groups()[:6])
    fraction, offset = m.group(7) or "", m.group(8)
    moment = _dt.datetime(year, month, day, hour, minute, second, tzinfo=_dt.timezone.utc)
    if offset not in ("Z", "z"):
        sign = 1 if offset[0] == "+" else -1
        moment -= sign * _dt.timedelta(hours=int(offset[1:3]), minutes=int(offset[4:6]))
    epoch = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)
    seconds = (moment - epoch) // _dt.timedelta(seconds=1)
    nanos = int(fraction.ljust(9, "0")) if fraction else 0
    return int(seconds) * 1000 + nanos // 1_000_000


def ms_to_duration(ms: int) -> str:
    """Milliseconds as protobuf's JSON ``Duration`` (``"1.500s"``)."""
    return millis_to_duration(ms)


_DURATION = re.compile(r"^(-)?(\d+)(?:\.(\d{1,9}))?s$")


def duration_to_ms(value: Any, name: str = "execution_duration") -> int:
    """Protobuf's JSON ``Duration`` as milliseconds."""
    m = _DURATION.match(value) if isinstance(value, str) else None
    if m is None:
        raise _bad(f"Invalid value {value!r} for parameter '{name}': expected a duration like \"1.5s\".")
    nanos = int((m.group(3) or "").ljust(9, "0") or 0)
    total = int(m.group(2)) * 1000 + nanos // 1_000_000
    return -total if m.group(1) else total


# -- trace infos ---------------------------------------------------------------------------------


def _strings(d: Mapping[str, Any] | None) -> dict[str, str]:
    # MLflow's protobuf conversion cuts metadata values to 250 characters and tag values to
    # 4,096 on the wire; tracklet sends what the store keeps (tags up to 8,000), since a
    # cut value (a trace's inputs in its metadata) is of no use to the reader.
    return {str(k): str(v) for k, v in (d or {}).items()}


def _experiment_id(info: Any) -> str:
    location = getattr(info, "trace_location", None)
    experiment = getattr(location, "mlflow_experiment", None)
    if experiment is not None and getattr(experiment, "experiment_id", None) is not None:
        return str(experiment.experiment_id)
    return str(getattr(info, "experiment_id", "") or "")


def _state_name(info: Any) -> str:
    state = getattr(info, "state", None)
    return str(getattr(state, "value", state) or "STATE_UNSPECIFIED")


def trace_info_to_json(info: Any) -> dict[str, Any]:
    """A :class:`~tracklet.entities.TraceInfo` as MLflow 3's ``TraceInfo`` message in
    JSON (what ``StartTraceV3``, ``GetTraceInfoV3`` and ``SearchTracesV3`` answer)."""
    out: dict[str, Any] = {"trace_id": info.trace_id}
    if getattr(info, "client_request_id", None) is not None:
        out["client_request_id"] = info.client_request_id
    out["trace_location"] = {
        "type": "MLFLOW_EXPERIMENT",
        "mlflow_experiment": {"experiment_id": _experiment_id(info)},
    }
    out["request_time"] = ms_to_timestamp(info.request_time or 0)
    if info.execution_duration is not None:
        out["execution_duration"] = ms_to_duration(info.execution_duration)
    out["state"] = _state_name(info)
    metadata = _strings(info.trace_metadata)
    if metadata:
        out["trace_metadata"] = metadata
    tags = _strings(info.tags)
    if tags:
        out["tags"] = tags
    if info.request_preview is not None:
        out["request_preview"] = info.request_preview
    if info.response_preview is not None:
        out["response_preview"] = info.response_preview
    return out


def _str_map(value: Any, name: str) -> dict[str, str]:
    if value is None:
        return {}
    if isinstance(value, Mapping):
        if not all(isinstance(v, str) for v in value.values()):
            raise _bad(f"Invalid value for parameter '{name}': expected a map of strings.")
        return {str(k): v for k, v in value.items()}
    if isinstance(value, list):  # the 2.x key/value lists
        out: dict[str, str] = {}
        for item in value:
            if not isinstance(item, Mapping) or "key" not in item:
                raise _bad(f"Invalid value for parameter '{name}': expected objects with 'key' and 'value'.")
            out[str(item["key"])] = str(item.get("value", ""))
        return out
    raise _bad(f"Invalid value for parameter '{name}': expected a map of strings.")


def trace_info_from_json(d: Mapping[str, Any]) -> TraceInfo:
    """MLflow 3's ``TraceInfo`` JSON (either spelling of field names) as a
    :class:`~tracklet.entities.TraceInfo`; ``INVALID_PARAMETER_VALUE`` for a malformed one."""
    try:
        return _trace_info_from_json(d)
    except TrackletException:
        raise
    except (AttributeError, TypeError, ValueError) as exc:
        raise _bad(f"Invalid value for parameter 'trace.trace_info': {exc}.") from None


def _trace_info_from_json(d: Mapping[str, Any]) -> TraceInfo:
    from tracklet.entities import TraceInfo, TraceLocation, TraceState

    def get(snake: str, camel: str) -> Any:
        return d.get(snake, d.get(camel))

    location = get("trace_location", "traceLocation") or {}
    experiment = location.get("mlflow_experiment", location.get("mlflowExperiment")) or {}
    experiment_id = str(experiment.get("experiment_id", experiment.get("experimentId", "")) or "")
    request_time = get("request_time", "requestTime")
    duration = get("execution_duration", "executionDuration")
    state = get("state", "state") or "STATE_UNSPECIFIED"
    try:
        trace_state = TraceState(_V3_STATE.get(state, state))
    except ValueError:
        raise _bad(f"Invalid value {state!r} for parameter 'state'.") from None
    return TraceInfo(
        trace_id=str(get("trace_id", "traceId") or ""),
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=timestamp_to_ms(request_time) if request_time is not None else 0,
        state=trace_state,
        request_preview=get("request_preview", "requestPreview"),
        response_preview=get("response_preview", "responsePreview"),
        client_request_id=get("client_request_id", "clientRequestId"),
        execution_duration=duration_to_ms(duration) if duration is not None else None,
        trace_metadata=_str_map(get("trace_metadata", "traceMetadata"), "trace_metadata"),
        tags=_str_map(d.get("tags"), "tags"),
    )


def trace_info_to_v2_json(info: Any) -> dict[str, Any]:
    """A trace info as MLflow 2's ``TraceInfo`` message in JSON (the 2.x endpoints)."""
    out: dict[str, Any] = {
        "request_id": info.trace_id,
        "experiment_id": _experiment_id(info),
        "timestamp_ms": info.request_time or 0,
        "execution_time_ms": info.execution_duration or 0,
        "status": _V2_STATUS.get(_state_name(info), _state_name(info)),
    }
    metadata = _strings(info.trace_metadata)
    if metadata:
        out["request_metadata"] = [{"key": k, "value": v} for k, v in metadata.items()]
    tags = _strings(info.tags)
    if tags:
        out["tags"] = [{"key": k, "value": v} for k, v in tags.items()]
    return out


def trace_info_from_v2_json(d: Mapping[str, Any]) -> TraceInfo:
    """MLflow 2's ``TraceInfo`` JSON as a :class:`~tracklet.entities.TraceInfo`."""
    from tracklet.entities import TraceInfo, TraceLocation, TraceState

    status = str(d.get("status") or "TRACE_STATUS_UNSPECIFIED")
    return TraceInfo(
        trace_id=str(d.get("request_id") or ""),
        trace_location=TraceLocation.from_experiment_id(str(d.get("experiment_id") or "")),
        request_time=int(d.get("timestamp_ms") or 0),
        state=TraceState(_V3_STATE.get(status, status)),
        execution_duration=int(d["execution_time_ms"]) if d.get("execution_time_ms") is not None else None,
        trace_metadata=_str_map(d.get("request_metadata"), "request_metadata"),
        tags=_str_map(d.get("tags"), "tags"),
    )


# -- spans ---------------------------------------------------------------------------------------

_STATUS_CODES = ("STATUS_CODE_UNSET", "STATUS_CODE_OK", "STATUS_CODE_ERROR")


def _id_bytes(value: Any, size: int, name: str) -> bytes:
    """A trace (16 bytes) or span (8 bytes) id from hex (OTLP/JSON) or base64 (protobuf JSON)."""
    if isinstance(value, (bytes, bytearray)):
        raw = bytes(value)
    elif isinstance(value, str):
        text = value.strip()
        if len(text) == 2 * size and re.fullmatch(r"[0-9a-fA-F]+", text):
            raw = bytes.fromhex(text)
        else:
            try:
                raw = base64.b64decode(text, validate=True)
            except (binascii.Error, ValueError):
                raise _bad(f"Invalid {name} {value!r}: expected {2 * size} hex digits or base64.") from None
    else:
        raise _bad(f"Invalid {name} {value!r}: expected a string.")
    if len(raw) != size:
        raise _bad(f"Invalid {name} {value!r}: expected {size} bytes, got {len(raw)}.")
    return raw


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _to_any(value: Any, otlp: bool) -> dict[str, Any]:
    """A Python value as an OpenTelemetry ``AnyValue`` in JSON (MLflow's encoding)."""
    if value is None:
        return {}
    if isinstance(value, bool):
        return {"boolValue" if otlp else "bool_value": value}
    if isinstance(value, str):
        return {"stringValue" if otlp else "string_value": value}
    if isinstance(value, int):
        return {"intValue" if otlp else "int_value": str(value) if otlp else value}
    if isinstance(value, float):
        return {"doubleValue" if otlp else "double_value": value}
    if isinstance(value, (list, tuple)):
        return {"arrayValue" if otlp else "array_value": {"values": [_to_any(v, otlp) for v in value]}}
    if isinstance(value, dict):
        values = [{"key": str(k), "value": _to_any(v, otlp)} for k, v in value.items()]
        return {"kvlistValue" if otlp else "kvlist_value": {"values": values}}
    return {"stringValue" if otlp else "string_value": str(value)}


def _from_any(value: Any) -> Any:
    """An OpenTelemetry ``AnyValue`` in JSON (either spelling) as a Python value."""
    if not isinstance(value, Mapping) or not value:
        return None
    for key, item in value.items():
        if key in ("stringValue", "string_value"):
            return str(item)
        if key in ("boolValue", "bool_value"):
            return bool(item)
        if key in ("intValue", "int_value"):
            return int(item)
        if key in ("doubleValue", "double_value"):
            if isinstance(item, str) and item in ("NaN", "Infinity", "-Infinity"):
                return float(item.replace("Infinity", "inf"))
            return float(item)
        if key in ("bytesValue", "bytes_value"):
            return base64.b64decode(item)
        if key in ("arrayValue", "array_value"):
            return [_from_any(v) for v in (item or {}).get("values") or ()]
        if key in ("kvlistValue", "kvlist_value"):
            return {
                str(kv.get("key", "")): _from_any(kv.get("value")) for kv in (item or {}).get("values") or ()
            }
    return None


def _attributes_out(attributes: Mapping[str, Any], encoded: bool, otlp: bool) -> list[dict[str, Any]]:
    out = []
    for key, raw in attributes.items():
        value = raw
        if encoded and isinstance(raw, str):
            try:
                value = json.loads(raw)
            except ValueError:
                value = raw
        out.append({"key": key, "value": _to_any(value, otlp)})
    return out


def _attributes_in(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items or ():
        if not isinstance(item, Mapping) or "key" not in item:
            raise _bad("Invalid span attribute: expected objects with 'key' and 'value'.")
        out[str(item["key"])] = _from_any(item.get("value"))
    return out


def _dump(value: Any) -> str:
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return json.dumps(repr(value), ensure_ascii=False)


def _serialized(value: Any) -> str:
    """An attribute value received over OTLP as MLflow's server stores it: JSON-encoded,
    except a string that already holds a JSON string, object or array, which is kept as
    it is (MLflow's ``sanitize_attributes``: such a value was serialized by the sender)."""
    if isinstance(value, str):
        try:
            if isinstance(json.loads(value), (str, dict, list)):
                return value
        except ValueError:
            pass
    return _dump(value)


def span_dict_to_otel_span(d: Mapping[str, Any], *, otlp: bool = False) -> dict[str, Any]:
    """MLflow's span dictionary (``Span.to_dict()``) as an OpenTelemetry ``Span`` in JSON:
    protobuf's mapping as MLflow's server answers it, or OTLP/JSON with ``otlp=True``."""

    def k(snake: str) -> str:
        if not otlp:
            return snake
        head, *rest = snake.split("_")
        return head + "".join(w.capitalize() for w in rest)

    def ident(value: Any, size: int, name: str) -> str:
        raw = _id_bytes(value, size, name)
        return raw.hex() if otlp else _b64(raw)

    def nanos(value: int) -> int | str:
        return str(value) if otlp else value

    out: dict[str, Any] = {
        k("trace_id"): ident(d["trace_id"], 16, "trace_id"),
        k("span_id"): ident(d["span_id"], 8, "span_id"),
    }
    if d.get("parent_span_id"):
        out[k("parent_span_id")] = ident(d["parent_span_id"], 8, "parent_span_id")
    out["name"] = d.get("name") or ""
    out[k("start_time_unix_nano")] = nanos(int(d.get("start_time_unix_nano") or 0))
    if d.get("end_time_unix_nano"):
        out[k("end_time_unix_nano")] = nanos(int(d["end_time_unix_nano"]))
    attributes = _attributes_out(d.get("attributes") or {}, True, otlp)
    if attributes:
        out["attributes"] = attributes
    events = []
    for event in d.get("events") or ():
        e: dict[str, Any] = {k("time_unix_nano"): nanos(int(event.get("time_unix_nano") or 0))}
        e["name"] = event.get("name") or ""
        event_attributes = _attributes_out(event.get("attributes") or {}, False, otlp)
        if event_attributes:
            e["attributes"] = event_attributes
        events.append(e)
    if events:
        out["events"] = events
    status = d.get("status") or {}
    code = status.get("code") or "STATUS_CODE_UNSET"
    status_out: dict[str, Any] = {}
    if status.get("message"):
        status_out["message"] = status["message"]
    if code != "STATUS_CODE_UNSET":
        status_out["code"] = code
    out["status"] = status_out
    return out


def otel_span_to_span_dict(o: Mapping[str, Any], *, request_id: bool = True) -> dict[str, Any]:
    """An OpenTelemetry ``Span`` in JSON (either spelling) as MLflow's span dictionary.

    With ``request_id`` (the default: spans arriving at the OTLP receiver) the span's
    ``mlflow.traceRequestId`` attribute is derived from its trace id, never taken from
    the sender, and string values that already hold serialized JSON are kept as they
    are, as MLflow's server stores them; without it (spans read back from a server)
    every value is JSON-encoded as it came."""

    def get(snake: str) -> Any:
        head, *rest = snake.split("_")
        camel = head + "".join(w.capitalize() for w in rest)
        return o.get(snake, o.get(camel))

    if not isinstance(o, Mapping):
        raise _bad("Invalid span: expected a JSON object.")
    trace_raw = get("trace_id")
    span_raw = get("span_id")
    if not trace_raw:
        raise _bad("Invalid span: trace_id is required but was empty.")
    if not span_raw:
        raise _bad("Invalid span: span_id is required but was empty.")
    trace_id = _id_bytes(trace_raw, 16, "trace_id")
    span_id = _id_bytes(span_raw, 8, "span_id")
    parent_raw = get("parent_span_id")
    parent = _id_bytes(parent_raw, 8, "parent_span_id") if parent_raw else None
    attributes = {
        key: _serialized(value) if request_id else _dump(value)
        for key, value in _attributes_in(o.get("attributes")).items()
    }
    if request_id:
        attributes["mlflow.traceRequestId"] = json.dumps("tr-" + trace_id.hex())
    status = o.get("status") or {}
    code: Any = status.get("code", "STATUS_CODE_UNSET")
    if isinstance(code, int):
        code = _STATUS_CODES[code] if 0 <= code < len(_STATUS_CODES) else "STATUS_CODE_UNSET"
    if code not in _STATUS_CODES:
        raise _bad(f"Invalid span status code {code!r}.")
    events = []
    for event in o.get("events") or ():
        events.append(
            {
                "name": event.get("name") or "",
                "time_unix_nano": int(event.get("time_unix_nano", event.get("timeUnixNano")) or 0),
                "attributes": _attributes_in(event.get("attributes")),
            }
        )
    end = get("end_time_unix_nano")
    return {
        "trace_id": _b64(trace_id),
        "span_id": _b64(span_id),
        "parent_span_id": _b64(parent) if parent else None,
        "name": str(o.get("name") or ""),
        "start_time_unix_nano": int(get("start_time_unix_nano") or 0),
        "end_time_unix_nano": int(end) if end else None,
        "events": events,
        "status": {"code": code, "message": str(status.get("message") or "")},
        "attributes": attributes,
        "links": [],
    }


def spans_to_otel_json(spans: Iterable[Any], *, otlp: bool = True) -> dict[str, Any]:
    """Spans as an OTLP ``ExportTraceServiceRequest`` in JSON (what ``POST /v1/traces`` takes)."""
    items = [span_dict_to_otel_span(s.to_dict(), otlp=otlp) for s in spans]
    resource_spans = "resourceSpans" if otlp else "resource_spans"
    scope_spans = "scopeSpans" if otlp else "scope_spans"
    return {resource_spans: [{"resource": {}, scope_spans: [{"spans": items}]}]}


def spans_from_otel_json(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every span of an OTLP ``ExportTraceServiceRequest`` in JSON, as MLflow's span dictionaries."""
    out = []
    for resource in body.get("resourceSpans", body.get("resource_spans")) or ():
        for scope in resource.get("scopeSpans", resource.get("scope_spans")) or ():
            for span in scope.get("spans") or ():
                out.append(otel_span_to_span_dict(span))
    return out
