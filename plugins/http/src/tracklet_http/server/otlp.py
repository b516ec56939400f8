"""``POST /v1/traces``: the OTLP/HTTP trace receiver, as MLflow 3.17's server has it
(``mlflow/server/otel_api.py``).

Any OpenTelemetry SDK or collector can export spans into an experiment, named by the
``x-mlflow-experiment-id`` header: the body is an ``ExportTraceServiceRequest``, binary
(``application/x-protobuf``, parsed with ``opentelemetry-proto``) or JSON
(``application/json``: OTLP/JSON with hex ids, or protobuf's JSON mapping), optionally
``Content-Encoding: gzip`` or ``deflate``. Each span becomes an MLflow span whose
``mlflow.traceRequestId`` is derived from its OpenTelemetry trace id (``tr-<hex>``),
never taken from the sender.

Where they go: a store with the ``span_storage`` capability keeps them
(``store.log_spans``, which creates or updates the traces' infos); any other trace store
gets the trace info created or updated from the spans and the spans merged into the
trace's ``traces.json`` at the artifact location the store chose, under a per-trace lock
(:func:`tracklet_http.server.traces.merge_trace_data`). All of it runs in the store
thread pool, never on the event loop.

Answers are MLflow's: an empty ``ExportTraceServiceResponse`` (protobuf) on success;
FastAPI-style ``{"detail": ...}`` refusals (422 without the experiment header, 400 for a
bad content type, encoding or body, 422 for a span that cannot be converted, 501 when the
store keeps no traces); a store's refusal as ``{"error_code", "message"}`` with its
status. With ``--auth`` the caller needs EDIT on the experiment.
"""

from __future__ import annotations

import base64
import json
import logging
import zlib
from typing import Any

from tracklet.exceptions import TrackletException
from tracklet_http.server.errors import exception_answer
from tracklet_http.traces_wire import spans_from_otel_json

__all__ = ["EXPERIMENT_HEADER", "RUN_HEADER", "receive"]

logger = logging.getLogger("tracklet_http.server")

EXPERIMENT_HEADER = "x-mlflow-experiment-id"
RUN_HEADER = "x-mlflow-run-id"
PROTOBUF = "application/x-protobuf"
JSON = "application/json"
_Answer = tuple[int, bytes, bytes]


class _Refusal(Exception):
    def __init__(self, status: int, detail: Any) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _detail(status: int, detail: Any) -> _Answer:
    return status, json.dumps({"detail": detail}).encode(), JSON.encode()


def _decompress(body: bytes, encoding: str, limit: int) -> bytes:
    def inflate(wbits: int) -> bytes:
        d = zlib.decompressobj(wbits)
        out = d.decompress(body, limit + 1)
        if len(out) > limit:
            raise _Refusal(400, f"Decompressed payload too large: the limit is {limit} bytes.")
        if not d.eof:
            raise zlib.error("truncated stream")
        return out

    if encoding == "gzip":
        try:
            return inflate(16 + zlib.MAX_WBITS)
        except zlib.error:
            raise _Refusal(400, "Failed to decompress gzip payload") from None
    if encoding == "deflate":
        try:
            return inflate(zlib.MAX_WBITS)
        except zlib.error:
            try:
                return inflate(-zlib.MAX_WBITS)
            except zlib.error:
                raise _Refusal(400, "Failed to decompress deflate payload") from None
    raise _Refusal(400, f"Unsupported Content-Encoding: {encoding}")


def _hex_ids_to_base64(data: Any) -> Any:
    for resource in data.get("resourceSpans", []) if isinstance(data, dict) else ():
        for scope in resource.get("scopeSpans", []):
            for span in scope.get("spans", []):
                for field in ("traceId", "spanId", "parentSpanId"):
                    if hex_value := span.get(field):
                        span[field] = base64.b64encode(bytes.fromhex(hex_value)).decode("ascii")
    return data


def _parse(body: bytes, media_type: str) -> dict[str, Any]:
    """The request as protobuf-JSON (snake_case) via opentelemetry-proto, with MLflow's checks."""
    from google.protobuf.json_format import MessageToDict, ParseDict
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    try:
        if media_type == JSON:
            ParseDict(_hex_ids_to_base64(json.loads(body)), request, ignore_unknown_fields=True)
        else:
            request.ParseFromString(body)
        if not request.resource_spans:
            raise _Refusal(400, "Invalid OpenTelemetry format - no spans found")
    except _Refusal:
        raise
    except (DecodeError, ValueError, TypeError, AttributeError, RecursionError, Exception):  # noqa: BLE001
        raise _Refusal(400, "Invalid OpenTelemetry format") from None
    parsed: dict[str, Any] = MessageToDict(request, preserving_proto_field_name=True)
    return parsed


def receive(state: Any, headers: dict[str, str], body: bytes, user: str | None) -> _Answer:
    """One ``POST /v1/traces`` call, blocking (the app runs it in the store pool)."""
    try:
        return _receive(state, headers, body, user)
    except _Refusal as refusal:
        return _detail(refusal.status, refusal.detail)
    except Exception as exc:  # noqa: BLE001 - every failure becomes an answer
        status, payload = exception_answer(exc, "POST /v1/traces")
        return status, payload, JSON.encode()


def _receive(state: Any, headers: dict[str, str], body: bytes, user: str | None) -> _Answer:
    experiment_id = headers.get(EXPERIMENT_HEADER)
    if experiment_id is None:
        raise _Refusal(
            422,
            [
                {
                    "type": "missing",
                    "loc": ["header", EXPERIMENT_HEADER],
                    "msg": "Field required",
                    "input": None,
                }
            ],
        )
    content_type = headers.get("content-type")
    media_type = content_type.split(";")[0].strip() if content_type else None
    if media_type not in (PROTOBUF, JSON):
        raise _Refusal(
            400, f"Invalid Content-Type: {content_type}. Expected: application/x-protobuf or application/json"
        )
    encoding = headers.get("content-encoding")
    if encoding:
        body = _decompress(body, encoding.lower(), state.settings.max_body_bytes)
    parsed = _parse(body, media_type)
    try:
        span_dicts = spans_from_otel_json(parsed)
    except Exception:  # noqa: BLE001
        raise _Refusal(422, "Cannot convert OpenTelemetry span to MLflow span") from None
    if state.authorizer is not None and user is not None:
        state.authorizer.authorize_experiment(user, experiment_id, "can_update", "the OTLP receiver")
    if span_dicts:
        _store_spans(state, experiment_id, span_dicts)
        _resource_tags(state.store, parsed)
        run_id = headers.get(RUN_HEADER)
        if run_id:
            _link_roots(state, user, run_id, span_dicts)
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

    return 200, ExportTraceServiceResponse().SerializeToString(), PROTOBUF.encode()


def _link_roots(state: Any, user: str | None, run_id: str, span_dicts: list[dict[str, Any]]) -> None:
    """``x-mlflow-run-id``: the traces whose root span arrived are linked to the run (their
    ``mlflow.sourceRun``), as MLflow's receiver does: best effort, the spans are stored
    whatever happens here (an unknown run, or one the caller may not edit, is logged)."""
    from tracklet_http.server.traces import link_to_run

    roots = sorted(
        {json.loads(d["attributes"]["mlflow.traceRequestId"]) for d in span_dicts if not d["parent_span_id"]}
    )
    if not roots:
        return
    try:
        run = state.store.get_run(run_id)
        if state.authorizer is not None and user is not None:
            state.authorizer.authorize_experiment(
                user, run.info.experiment_id, "can_update", "linking traces"
            )
        link_to_run(state.store, roots, run_id)
    except Exception:  # noqa: BLE001
        logger.warning("Failed to link OpenTelemetry traces to run %s", run_id, exc_info=True)


def _resource_tags(store: Any, parsed: dict[str, Any]) -> None:
    """The OpenTelemetry resource's attributes (``service.name``…) as tags of the traces
    of its spans, as MLflow's SQL store keeps them; never over a tag the trace has, and
    never ``mlflow.*`` or ``telemetry.sdk.*`` ones."""
    from tracklet_http.traces_wire import _from_any, _id_bytes

    wanted: dict[str, dict[str, str]] = {}
    for resource in parsed.get("resource_spans") or ():
        attributes = {}
        for item in (resource.get("resource") or {}).get("attributes") or ():
            key = str(item.get("key", ""))
            if not key or key.startswith(("telemetry.sdk.", "mlflow.")):
                continue
            value = _from_any(item.get("value"))
            attributes[key] = value if isinstance(value, str) else json.dumps(value)
        if not attributes:
            continue
        for scope in resource.get("scope_spans") or ():
            for span in scope.get("spans") or ():
                trace_id = "tr-" + _id_bytes(span.get("trace_id"), 16, "trace_id").hex()
                wanted.setdefault(trace_id, {}).update(attributes)
    for trace_id, attributes in sorted(wanted.items()):
        tags = store.get_trace_info(trace_id).tags
        for key, value in attributes.items():
            if key not in tags:
                try:
                    store.set_trace_tag(trace_id, key, value)
                except TrackletException:
                    logger.debug("Skipping resource attribute %r of trace %s", key, trace_id)


def _store_spans(state: Any, experiment_id: str, span_dicts: list[dict[str, Any]]) -> None:
    from tracklet.entities import Span
    from tracklet.stores.traces import TraceStore
    from tracklet_http.server.traces import merge_trace_data

    store = state.store
    if not isinstance(store, TraceStore):
        raise _Refusal(501, f"REST OTLP span logging is not supported by {type(store).__name__}")
    if "span_storage" in (getattr(store, "trace_capabilities", None) or ()):
        try:
            spans = [Span.from_dict(d) for d in span_dicts]
        except Exception:  # noqa: BLE001
            raise _Refusal(422, "Cannot convert OpenTelemetry span to MLflow span") from None
        try:
            store.log_spans(experiment_id, spans)  # tags the traces spansLocation=TRACKING_STORE
        except NotImplementedError:
            raise _Refusal(
                501, f"REST OTLP span logging is not supported by {type(store).__name__}"
            ) from None
        except TrackletException:
            raise
        except Exception:
            logger.exception("Failed to log OpenTelemetry spans")
            raise _Refusal(422, "Failed to log OpenTelemetry spans") from None
        return
    merge_trace_data(store, state.settings, experiment_id, span_dicts)
