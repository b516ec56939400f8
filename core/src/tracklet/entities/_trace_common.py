"""Helpers shared by the trace entities: MLflow's attribute encoding, ids, proto-JSON times.

Standard library only, so importing the entities stays cheap.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pprint
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

_logger = logging.getLogger(__name__)

TRACE_REQUEST_ID_PREFIX = "tr-"
TRACE_ID_V4_PREFIX = "trace:/"


def encode_span_id(span_id: int) -> str:
    """A 64-bit span id as MLflow prints it: 16 lowercase hex digits, no ``0x``."""
    return f"{span_id:016x}"


def encode_trace_id(trace_id: int) -> str:
    """A 128-bit OpenTelemetry trace id as 32 lowercase hex digits."""
    return f"{trace_id:032x}"


def decode_id(span_or_trace_id: str) -> int:
    """A hex span or trace id (``0x`` prefix allowed) as an integer."""
    return int(span_or_trace_id, 16)


def generate_mlflow_trace_id_from_otel_trace_id(otel_trace_id: int) -> str:
    """MLflow's trace id for an OpenTelemetry trace id: ``"tr-" + 32 hex``."""
    return TRACE_REQUEST_ID_PREFIX + encode_trace_id(otel_trace_id)


def parse_trace_id_v4(trace_id: str | None) -> tuple[str | None, str | None]:
    """``trace:/<location>/<id>`` -> (location, id); any other id -> (None, id)."""
    if trace_id is None:
        return None, None
    if trace_id.startswith(TRACE_ID_V4_PREFIX):
        rest = trace_id[len(TRACE_ID_V4_PREFIX) :]
        location, sep, ident = rest.rpartition("/")
        if sep and location and ident:
            return location, ident
        raise ValueError(f"Invalid trace ID format: {trace_id}.")
    return None, trace_id


def _is_pydantic_model(obj: object) -> bool:
    return any(cls.__module__.split(".")[0] == "pydantic" for cls in type(obj).__mro__[:-1]) and hasattr(
        obj, "model_dump"
    )


class TraceJSONEncoder(json.JSONEncoder):
    """MLflow's ``TraceJSONEncoder``: pydantic models and dataclasses as dicts, else ``str``."""

    def default(self, o: Any) -> Any:
        if _is_pydantic_model(o):
            return o.model_dump()
        if dataclasses.is_dataclass(o) and not isinstance(o, type):
            try:
                return {f.name: getattr(o, f.name) for f in dataclasses.fields(o)}
            except Exception:
                pass
        try:
            return super().default(o)
        except TypeError:
            return str(o)


class CustomEncoder(json.JSONEncoder):
    """MLflow's span event encoder: datetimes in ISO format, anything else via ``str``."""

    def default(self, o: Any) -> Any:
        try:
            return super().default(o)
        except TypeError:
            if isinstance(o, datetime):
                return o.isoformat()
            return str(o)


_ATTRIBUTE_ENCODER = TraceJSONEncoder(ensure_ascii=False)


def dump_span_attribute_value(value: Any) -> str:
    """A span attribute value as MLflow stores it: JSON text (``repr`` if it cannot be)."""
    try:
        return _ATTRIBUTE_ENCODER.encode(value)
    except (ValueError, TypeError):
        _logger.debug("Failed to serialize span attribute value; falling back to repr.", exc_info=True)
        return json.dumps(repr(value), ensure_ascii=False)


def load_span_attribute_value(serialized: Any) -> Any:
    """The inverse of :func:`dump_span_attribute_value`, as MLflow reads attributes.

    Empty values read as ``None``; text that is not JSON (set raw by another producer) and
    non-text values are returned as they are.
    """
    if not serialized:
        return None
    try:
        return json.loads(serialized)
    except Exception:
        return serialized


# --- protobuf JSON times (google.protobuf Timestamp / Duration) ---------------------------------


def _fraction(nanos: int) -> str:
    if nanos == 0:
        return ""
    if nanos % 1_000_000 == 0:
        return f".{nanos // 1_000_000:03d}"
    if nanos % 1_000 == 0:
        return f".{nanos // 1_000:06d}"
    return f".{nanos:09d}"


def millis_to_rfc3339(millis: int) -> str:
    """Epoch milliseconds as protobuf's Timestamp JSON (``2024-01-02T03:04:05.123Z``)."""
    seconds, ms = divmod(int(millis), 1000)
    text = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return text + _fraction(ms * 1_000_000) + "Z"


def rfc3339_to_millis(text: str) -> int:
    """Protobuf's Timestamp JSON (``Z`` or ``+hh:mm`` offsets, 0-9 fraction digits) as epoch ms."""
    value = text.strip()
    offset_seconds = 0
    if value.endswith(("Z", "z")):
        value = value[:-1]
    else:
        sign_pos = max(value.rfind("+"), value.rfind("-"))
        if sign_pos > value.find("T") >= 0:
            sign = 1 if value[sign_pos] == "+" else -1
            hours, _, minutes = value[sign_pos + 1 :].partition(":")
            offset_seconds = sign * (int(hours) * 3600 + int(minutes or 0) * 60)
            value = value[:sign_pos]
        else:
            raise ValueError(f"Failed to parse timestamp: missing valid timezone offset in {text!r}.")
    base, _, frac = value.partition(".")
    parsed = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    seconds = int(parsed.timestamp()) - offset_seconds
    nanos = int((frac + "000000000")[:9]) if frac else 0
    return seconds * 1000 + nanos // 1_000_000


def millis_to_duration(millis: int) -> str:
    """Milliseconds as protobuf's Duration JSON (``"1.234s"``, ``"0.005s"``, ``"2s"``)."""
    sign = "-" if millis < 0 else ""
    seconds, ms = divmod(abs(int(millis)), 1000)
    return f"{sign}{seconds}{_fraction(ms * 1_000_000)}s"


def duration_to_millis(text: str) -> int:
    """Protobuf's Duration JSON (``"1.234s"``) as whole milliseconds."""
    value = text.strip()
    if not value.endswith("s"):
        raise ValueError(f"Duration must end with letter 's': {text}.")
    body = value[:-1]
    negative = body.startswith("-")
    body = body.lstrip("-")
    whole, _, frac = body.partition(".")
    nanos = int(whole or "0") * 1_000_000_000 + (int((frac + "000000000")[:9]) if frac else 0)
    millis = nanos // 1_000_000
    return -millis if negative else millis


# --- MLflow's _MlflowObject iteration for the dataclass entities --------------------------------


class PropertyIterMixin:
    """As ``_MlflowObject.__iter__``: yields ``(property, value)`` for the class's own properties."""

    def __iter__(self) -> Iterator[tuple[str, Any]]:
        cls = type(self)
        names = sorted(p for p in cls.__dict__ if isinstance(cls.__dict__[p], property))
        for name in names:
            yield name, getattr(self, name)


def pformat(value: Any) -> str:
    return pprint.PrettyPrinter().pformat(value)
