"""The REST store's traces: the MLflow 3.17 client's REST calls, against ``tracklet
server`` and MLflow's own ``mlflow server`` alike.

=====================  ==============================================================
primitive              request
=====================  ==============================================================
``_start_trace``       ``POST /api/3.0/mlflow/traces`` (StartTraceV3)
``_get_trace_info``    ``GET /api/3.0/mlflow/traces/{trace_id}`` (GetTraceInfoV3)
``_batch_get_…``       ``POST /api/3.0/mlflow/traces/batchGetInfos``
``_search_traces``     ``POST /api/3.0/mlflow/traces/search`` (SearchTracesV3)
tags                   ``PATCH``/``DELETE /api/2.0/mlflow/traces/{trace_id}/tags``
``_delete_traces``     ``POST /api/2.0/mlflow/traces/delete-traces``
``_log_spans``         ``POST /v1/traces`` (OTLP; protobuf when ``opentelemetry-proto``
                       is installed, else OTLP/JSON), header ``x-mlflow-experiment-id``
``_get_trace_spans``   ``GET /api/3.0/mlflow/traces/get`` (GetTrace), falling back to
                       ``batchGet`` as MLflow's client does on servers without it
=====================  ==============================================================

The store declares ``span_storage``: spans go to the server, which keeps them in its
store or in the trace's ``traces.json`` (``tracklet server``), or in its database
(``mlflow server`` on SQL).
"""

from __future__ import annotations

import json
import urllib.parse
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from tracklet.exceptions import ENDPOINT_NOT_FOUND, RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.stores.traces import TraceStore, no_such_trace
from tracklet_http.traces_wire import (
    otel_span_to_span_dict,
    spans_to_otel_json,
    trace_info_from_json,
    trace_info_to_json,
)

if TYPE_CHECKING:
    from tracklet.entities import Span, TraceInfo
    from tracklet.search import TraceSearch
    from tracklet_http.transport import HttpTransport

__all__ = ["RestTraceStore"]

V2 = "/api/2.0/mlflow/traces"
V3 = "/api/3.0/mlflow/traces"
OTLP_TRACES_PATH = "/v1/traces"
EXPERIMENT_HEADER = "x-mlflow-experiment-id"
#: The largest trace search page MLflow's server answers.
MAX_PAGE = 500
#: Traces per BatchGetTraces call (MLflow's server answers at most ten).
BATCH_GET_SIZE = 10

_T = TypeVar("_T")
_R = TypeVar("_R")


def _quote(trace_id: str) -> str:
    return urllib.parse.quote(trace_id, safe="")


def _otlp_protobuf(spans: list[Span]) -> bytes | None:
    """The spans as a binary ``ExportTraceServiceRequest``; None without opentelemetry-proto."""
    try:
        from google.protobuf.json_format import ParseDict
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    except ImportError:
        return None
    request = ExportTraceServiceRequest()
    ParseDict(spans_to_otel_json(spans, otlp=False), request)
    return bytes(request.SerializeToString())


def _info_of(answer: dict[str, Any]) -> TraceInfo:
    trace: dict[str, Any] = answer.get("trace") or {}
    info: TraceInfo = trace_info_from_json(trace.get("trace_info") or {})
    return info


def _lazy_spans(trace: dict[str, Any]) -> list[Span]:
    """A GetTrace/batchGet trace's spans as LazySpans (built from their dicts when read),
    ordered by start time."""
    from tracklet.entities.span import LazySpan

    dicts = [otel_span_to_span_dict(s, request_id=False) for s in trace.get("spans") or ()]
    dicts.sort(key=lambda d: d["start_time_unix_nano"])
    return [LazySpan.from_dict_lazy(d) for d in dicts]


def _map(fn: Callable[[_T], _R], items: list[_T]) -> list[_R]:
    """``[fn(item) for item in items]``, a few at once when there are several (each waits
    on the server)."""
    if len(items) <= 1:
        return [fn(item) for item in items]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(4, len(items)), thread_name_prefix="TrackletBatchGet") as pool:
        return list(pool.map(fn, items))


class RestTraceStore(TraceStore):
    """The trace half of :class:`tracklet_http.client.RestStore`."""

    trace_capabilities: ClassVar[frozenset[str]] = frozenset({"span_storage"})
    transport: HttpTransport

    def _start_trace(self, trace_info: TraceInfo) -> TraceInfo:
        body = {"trace": {"trace_info": trace_info_to_json(trace_info)}}
        answer = self.transport.call("POST", V3, json=body, idempotent=True)
        return _info_of(answer)

    def _get_trace_info(self, trace_id: str) -> TraceInfo:
        answer = self.transport.call("GET", f"{V3}/{_quote(trace_id)}")
        return _info_of(answer)

    def _batch_get_trace_infos(self, trace_ids: list[str]) -> list[TraceInfo]:
        answer = self.transport.call("POST", f"{V3}/batchGetInfos", json={"trace_ids": trace_ids})
        infos = {i.trace_id: i for i in (trace_info_from_json(d) for d in answer.get("trace_infos") or ())}
        return [infos[t] for t in trace_ids if t in infos]

    def _search_traces(self, search: TraceSearch) -> tuple[list[TraceInfo], str | None]:
        """One page; a page larger than a server's cap (MLflow's 500) is fetched as
        several server pages, the last one's token continuing where it ends."""
        body: dict[str, Any] = {
            "locations": [
                {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": e}}
                for e in search.experiment_ids
            ],
        }
        if search.filter_string:
            body["filter"] = search.filter_string
        if search.order_by:
            body["order_by"] = list(search.order_by)
        infos: list[TraceInfo] = []
        token = search.page_token
        remaining = search.max_results
        while remaining > 0:
            size = min(remaining, MAX_PAGE)
            page_body = {**body, "max_results": size, **({"page_token": token} if token else {})}
            answer = self.transport.call("POST", f"{V3}/search", json=page_body)
            page = [trace_info_from_json(d) for d in answer.get("traces") or ()]
            infos.extend(page)
            token = answer.get("next_page_token") or None
            remaining -= len(page)
            if not token or not page:
                break
        return infos, token

    def _set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        self.transport.call("PATCH", f"{V2}/{_quote(trace_id)}/tags", json={"key": key, "value": value})

    def _delete_trace_tag(self, trace_id: str, key: str) -> None:
        self.transport.call("DELETE", f"{V2}/{_quote(trace_id)}/tags", json={"key": key})

    def _delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None,
        max_traces: int | None,
        trace_ids: list[str] | None,
    ) -> int:
        body: dict[str, Any] = {"experiment_id": experiment_id}
        if max_timestamp_millis is not None:
            body["max_timestamp_millis"] = max_timestamp_millis
        if max_traces is not None:
            body["max_traces"] = max_traces
        if trace_ids:
            body["request_ids"] = trace_ids
        answer = self.transport.call("POST", f"{V2}/delete-traces", json=body, idempotent=False)
        return int(answer.get("traces_deleted") or 0)

    def _log_spans(self, experiment_id: str, spans: list[Span]) -> list[Span]:
        payload = _otlp_protobuf(spans)
        if payload is None:
            payload = json.dumps(spans_to_otel_json(spans, otlp=True)).encode()
            content_type = "application/json"
        else:
            content_type = "application/x-protobuf"
        headers = {"Content-Type": content_type, EXPERIMENT_HEADER: experiment_id}
        response = self.transport.request(
            "POST", self.transport.url(OTLP_TRACES_PATH), payload, headers, idempotent=True
        )
        try:
            response.read()
        finally:
            from tracklet_http.transport import finish

            finish(response)
        return spans

    def batch_get_trace_spans(self, trace_ids: Sequence[str]) -> dict[str, list[Span]]:
        """The spans of each of ``trace_ids`` (``[]`` for a trace without any, or unknown),
        as :meth:`get_trace_spans` gives them: ``GET /api/3.0/mlflow/traces/batchGet``, ten
        traces a call (MLflow's server's cap; MLflow's client sends as many), a few calls
        at once; per trace through GetTrace where a server has no batchGet. What a client
        loading a page of traces with their spans wants (beyond the contract, as
        tracklet-sql's)."""
        from tracklet.stores.traces import validate_trace_id

        ids = list(dict.fromkeys(validate_trace_id(t, "trace_ids") for t in trace_ids))
        found: dict[str, list[Span]] = {t: [] for t in ids}
        chunks = [ids[i : i + BATCH_GET_SIZE] for i in range(0, len(ids), BATCH_GET_SIZE)]
        if not chunks:
            return found
        try:
            answers = _map(self._batch_get_spans, chunks)
        except TrackletException as exc:
            if exc.error_code != ENDPOINT_NOT_FOUND:
                raise
            answers = [{t: self._get_trace_spans_or_none(t) for t in chunk} for chunk in chunks]
        for answer in answers:
            for trace_id, spans in answer.items():
                if trace_id in found and spans:
                    found[trace_id] = spans
        return found

    def _batch_get_spans(self, trace_ids: list[str]) -> dict[str, list[Span]]:
        answer = self.transport.call("GET", f"{V3}/batchGet", params={"trace_ids": trace_ids})
        return {
            str((trace.get("trace_info") or {}).get("trace_id")): _lazy_spans(trace)
            for trace in answer.get("traces") or ()
        }

    def _get_trace_spans_or_none(self, trace_id: str) -> list[Span]:
        try:
            return self._get_trace_spans(trace_id)
        except TrackletException as exc:
            if exc.error_code == RESOURCE_DOES_NOT_EXIST:
                return []
            raise

    def _get_trace_spans(self, trace_id: str) -> list[Span]:
        try:
            answer = self.transport.call(
                "GET", f"{V3}/get", params={"trace_id": trace_id, "allow_partial": "true"}
            )
            trace = answer.get("trace") or {}
        except TrackletException as exc:
            # servers without GetTrace: 404, or an older route reading "get" as a trace id
            if exc.error_code != ENDPOINT_NOT_FOUND and not (
                exc.error_code == RESOURCE_DOES_NOT_EXIST and "'get'" in exc.message
            ):
                raise
            answer = self.transport.call("GET", f"{V3}/batchGet", params={"trace_ids": [trace_id]})
            traces = answer.get("traces") or []
            if not traces:
                raise no_such_trace(trace_id) from None
            trace = traces[0]
        return _lazy_spans(trace)
