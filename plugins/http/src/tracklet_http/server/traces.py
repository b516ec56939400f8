"""The trace endpoints of MLflow 3.17's server, served by ``tracklet server``.

Same paths, methods, request and response JSON and error codes as MLflow's handlers
(``mlflow/server/handlers.py``): the 3.x API the MLflow 3 client calls
(``/api/3.0/mlflow/traces…``: StartTraceV3, GetTraceInfoV3, SearchTracesV3,
DeleteTracesV3, SetTraceTagV3/DeleteTraceTagV3, BatchGetTraces, BatchGetTraceInfos,
GetTrace) and the 2.x one of MLflow 2 clients (``/api/2.0/mlflow/traces…``: StartTrace,
EndTrace, GetTraceInfo, SearchTraces, DeleteTraces, SetTraceTag, DeleteTraceTag), each
also under MLflow's UI prefix ``/ajax-api/…``.

They are :class:`tracklet.routes.Route` objects served like the routes plugins
contribute (:mod:`tracklet_http.server.contributed`): path parameters, fields checked
with MLflow's words, handler and store call in the store thread pool, never on the event
loop. The OTLP receiver ``POST /v1/traces`` is :mod:`tracklet_http.server.otlp`.

Where spans live: a store with the ``span_storage`` capability keeps them
(``get_trace_spans``); otherwise they are the trace's ``traces.json`` in the artifact
repository at its ``mlflow.artifactLocation`` tag, which the store chose (the server
never reads or writes a location a client chose: see :func:`trace_repository`).

Authorization (``--auth``), experiment-level as for runs: reading a trace needs READ on
its experiment, writing one (start, end, tags, spans) EDIT, deleting MANAGE.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tracklet.exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.routes import Field, Route
from tracklet.uri import append_to_uri_path
from tracklet_http.traces_wire import (
    span_dict_to_otel_span,
    trace_info_from_json,
    trace_info_to_json,
    trace_info_to_v2_json,
)

__all__ = [
    "ARTIFACT_LOCATION_TAG",
    "SPANS_LOCATION_TAG",
    "authorize_experiment",
    "merge_trace_data",
    "read_trace_spans",
    "trace_repository",
    "trace_routes",
]

V2 = "/api/2.0/mlflow/traces"
V3 = "/api/3.0/mlflow/traces"
ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
TRACE_DATA_FILE = "traces.json"
#: MLflow's cap on one trace search page.
MAX_SEARCH_RESULTS = 500
SEARCH_DEFAULT = 100

_READ, _EDIT, _DELETE = "can_read", "can_update", "can_delete"


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


def _schema_error(param: str, value: Any) -> TrackletException:
    """MLflow's words for a request field its schema refuses."""
    formatted = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return _bad(
        f"Invalid value {formatted} for parameter '{param}' supplied:  Hint: Value was of type "
        f"'{type(value).__name__}'. See the API docs for more information about request parameters."
    )


# -- authorization --------------------------------------------------------------------------------


def authorize_experiment(request: Any, experiment_id: str, capability: str, what: str) -> None:
    """With ``--auth``, refuse (403) a caller lacking ``capability`` on the experiment."""
    authorizer = getattr(request, "authorizer", None)
    username = getattr(request, "username", None)
    if authorizer is None or username is None:
        return
    authorizer.authorize_experiment(username, str(experiment_id), capability, what)


def _experiment_of(info: Any) -> str:
    location = getattr(info, "trace_location", None)
    experiment = getattr(location, "mlflow_experiment", None)
    if experiment is not None:
        return str(experiment.experiment_id)
    return str(getattr(info, "experiment_id", ""))


def _authorized_info(request: Any, trace_id: str, capability: str, what: str) -> Any:
    """The trace's info, once the caller may act on its experiment."""
    info = request.tracking_store.get_trace_info(trace_id)
    authorize_experiment(request, _experiment_of(info), capability, what)
    return info


def _trace_store(request: Any) -> Any:
    from tracklet.stores.traces import TraceStore

    store = request.tracking_store
    if not isinstance(store, TraceStore):
        raise TrackletException(
            f"The server's tracking store ({type(store).__name__}) does not keep traces: start "
            "`tracklet server` on a backend store that does (a folder, sqlite, PostgreSQL, MySQL).",
            "NOT_IMPLEMENTED",
        )
    return store


# -- where spans live -----------------------------------------------------------------------------


def trace_repository(settings: Any, location: str) -> Any:
    """The artifact repository of a trace's ``mlflow.artifactLocation``, which its store
    chose under the experiment's location: through the proxy's destination for a
    proxied ``mlflow-artifacts:`` URI, else only inside the server's default artifact
    root (never a location outside the roots the operator configured)."""
    from tracklet.plugins import get_artifact_repository
    from tracklet_http.server.handlers import proxied_artifact_path
    from tracklet_http.server.locations import check_readable_location

    proxied = proxied_artifact_path(location) if settings.serve_artifacts else None
    if proxied is not None:
        destination = settings.artifacts_destination
        return get_artifact_repository(append_to_uri_path(destination, proxied) if proxied else destination)
    check_readable_location(location, (settings.default_artifact_root,))
    return get_artifact_repository(location)


def _read_trace_data(settings: Any, info: Any) -> list[dict[str, Any]] | None:
    """The span dictionaries of the trace's ``traces.json``; None when there is none."""
    location = (info.tags or {}).get(ARTIFACT_LOCATION_TAG)
    if not location:
        return None
    repo = trace_repository(settings, location)
    with tempfile.TemporaryDirectory(prefix="tracklet-trace-") as tmp:
        try:
            path = repo.download_artifacts(TRACE_DATA_FILE, tmp)
        except (TrackletException, OSError):
            return None
        with open(path, encoding="utf-8") as f:
            try:
                data = json.load(f)
            except ValueError:
                raise TrackletException(
                    f"Trace with ID {info.trace_id} cannot be loaded because its span data is corrupted.",
                    "BAD_REQUEST",
                ) from None
    spans = data.get("spans") if isinstance(data, dict) else None
    return [s for s in spans or () if isinstance(s, dict)]


def _write_trace_data(settings: Any, info: Any, spans: Sequence[dict[str, Any]]) -> None:
    location = (info.tags or {}).get(ARTIFACT_LOCATION_TAG)
    if not location:
        raise TrackletException(
            f"Trace {info.trace_id} has no {ARTIFACT_LOCATION_TAG} tag: the store did not choose where "
            "its spans go.",
            "INTERNAL_ERROR",
        )
    repo = trace_repository(settings, location)
    with tempfile.TemporaryDirectory(prefix="tracklet-trace-") as tmp:
        path = os.path.join(tmp, TRACE_DATA_FILE)
        with open(path, "w", encoding="utf-8") as f:
            json.dump({"spans": list(spans)}, f, ensure_ascii=False)
        repo.log_artifact(path)


def _has_span_storage(store: Any) -> bool:
    return "span_storage" in (getattr(store, "trace_capabilities", None) or ())


def read_trace_spans(store: Any, settings: Any, info: Any) -> list[dict[str, Any]]:
    """A trace's spans as MLflow's span dictionaries, from the store (``span_storage``)
    or the trace's ``traces.json``; [] when it has none yet."""
    if _has_span_storage(store):
        spans = store.get_trace_spans(info.trace_id)
        if spans or (info.tags or {}).get(SPANS_LOCATION_TAG) == "TRACKING_STORE":
            return [s.to_dict() for s in spans]
    return _read_trace_data(settings, info) or []


_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _thread_lock(trace_id: str) -> threading.Lock:
    with _locks_guard:
        lock = _locks.get(trace_id)
        if lock is None:
            if len(_locks) > 10_000:  # forget idle ones
                for key in [k for k, v in _locks.items() if not v.locked()]:
                    del _locks[key]
            lock = _locks[trace_id] = threading.Lock()
        return lock


@contextlib.contextmanager
def _trace_lock(trace_id: str) -> Iterator[None]:
    """The trace's lock: a thread lock within this worker and, where the platform has
    ``flock``, a lock file shared by the host's workers (``--workers N``)."""
    with _thread_lock(trace_id):
        try:
            import fcntl
        except ImportError:  # Windows: one worker's threads only
            yield
            return
        folder = os.path.join(tempfile.gettempdir(), "tracklet-trace-locks")
        os.makedirs(folder, exist_ok=True)
        name = hashlib.sha256(trace_id.encode()).hexdigest()[:32] + ".lock"
        with open(os.path.join(folder, name), "a+b") as handle:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def merge_trace_data(
    store: Any, settings: Any, experiment_id: str, span_dicts: Sequence[dict[str, Any]]
) -> None:
    """Spans for a store without ``span_storage``: per trace, under a lock, the trace
    info is created or updated from the spans (:func:`tracklet.stores.traces.trace_info_from_spans`)
    and the spans are merged (by span id, the newer winning) into its ``traces.json`` at
    the location the store chose. (The lock spans one host's workers; replicas on several
    hosts sending one trace's spans at once should use a store with span storage.)"""
    from tracklet.entities import Span
    from tracklet.stores.traces import trace_info_from_spans

    by_trace: dict[str, list[dict[str, Any]]] = {}
    for d in span_dicts:
        by_trace.setdefault(json.loads(d["attributes"]["mlflow.traceRequestId"]), []).append(d)
    for trace_id, new in by_trace.items():
        with _trace_lock(trace_id):
            try:
                existing = store.get_trace_info(trace_id)
            except TrackletException as exc:
                if exc.error_code != RESOURCE_DOES_NOT_EXIST:
                    raise
                existing = None
            if existing is not None and _experiment_of(existing) != str(experiment_id):
                raise _bad(
                    f"Trace {trace_id} belongs to experiment {_experiment_of(existing)}, not "
                    f"{experiment_id}: send its spans with x-mlflow-experiment-id: {_experiment_of(existing)}."
                )
            old = (_read_trace_data(settings, existing) or []) if existing is not None else []
            merged: dict[str, dict[str, Any]] = {str(s.get("span_id")): s for s in old}
            merged.update({s["span_id"]: s for s in new})
            spans = [Span.from_dict(s) for s in merged.values()]
            info = trace_info_from_spans(str(experiment_id), spans, existing)
            stored = store.start_trace(info)
            _write_trace_data(settings, stored, list(merged.values()))


# -- handlers -------------------------------------------------------------------------------------


def _experiment_ids_of(locations: Any) -> list[str]:
    ids = []
    for location in locations or ():
        if not isinstance(location, dict):
            raise _schema_error("locations", locations)
        experiment = location.get("mlflow_experiment", location.get("mlflowExperiment"))
        if isinstance(experiment, dict):
            value = experiment.get("experiment_id", experiment.get("experimentId"))
            if value is not None:
                ids.append(str(value))
    return ids


def _max_results(params: dict[str, Any]) -> int:
    value = params.get("max_results", SEARCH_DEFAULT)
    if value > MAX_SEARCH_RESULTS:
        raise _schema_error("max_results", value)
    return int(value)


def _search(request: Any, experiment_ids: list[str], what: str) -> tuple[list[Any], str | None]:
    params = request.params
    for experiment_id in dict.fromkeys(experiment_ids):
        authorize_experiment(request, experiment_id, _READ, what)
    max_results = _max_results(params)
    return _trace_store(request).search_traces(  # type: ignore[no-any-return]
        experiment_ids,
        params.get("filter") or None,
        max_results,
        params.get("order_by") or None,
        params.get("page_token") or None,
    )


def _page(key: str, items: list[dict[str, Any]], token: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if items:
        out[key] = items
    if token:
        out["next_page_token"] = token
    return out


def _without_location(tags: dict[str, str]) -> dict[str, str]:
    """The caller's tags minus the artifact location (the store chooses it)."""
    return {k: v for k, v in tags.items() if k != ARTIFACT_LOCATION_TAG}


def start_trace_v3(request: Any) -> dict[str, Any]:
    trace = request.params["trace"]
    info_json = trace.get("trace_info", trace.get("traceInfo")) if isinstance(trace, dict) else None
    if not isinstance(info_json, dict):
        raise _schema_error("trace", trace)
    info = trace_info_from_json(info_json)
    if not info.trace_id:
        raise _bad("Missing value for required parameter 'trace.trace_info.trace_id'.")
    info.tags = _without_location(dict(info.tags))
    authorize_experiment(request, _experiment_of(info), _EDIT, "StartTraceV3")
    store = _trace_store(request)
    if not _has_span_storage(store) and info.tags.get(SPANS_LOCATION_TAG) == "TRACKING_STORE":
        # the client sent its spans to the receiver, which kept them in traces.json: a
        # reader of this store (MLflow's file store included) finds them there, untagged
        del info.tags[SPANS_LOCATION_TAG]
    stored = store.start_trace(info)
    return {"trace": {"trace_info": trace_info_to_json(stored)}}


def get_trace_info_v3(request: Any) -> dict[str, Any]:
    _trace_store(request)
    info = _authorized_info(request, request.params["trace_id"], _READ, "GetTraceInfoV3")
    return {"trace": {"trace_info": trace_info_to_json(info)}}


def search_traces_v3(request: Any) -> dict[str, Any]:
    infos, token = _search(request, _experiment_ids_of(request.params.get("locations")), "SearchTracesV3")
    return _page("traces", [trace_info_to_json(i) for i in infos], token)


def _trace_json(request: Any, info: Any) -> dict[str, Any]:
    spans = read_trace_spans(request.tracking_store, request.settings, info)
    out: dict[str, Any] = {"trace_info": trace_info_to_json(info)}
    if spans:
        out["spans"] = [span_dict_to_otel_span(s) for s in spans]
    return out


def _readable_infos(request: Any, trace_ids: list[str], what: str) -> list[Any]:
    infos = _trace_store(request).batch_get_trace_infos(trace_ids)
    for experiment_id in dict.fromkeys(_experiment_of(i) for i in infos):
        authorize_experiment(request, experiment_id, _READ, what)
    wanted = request.params.get("experiment_ids")
    if wanted is not None:
        infos = [i for i in infos if _experiment_of(i) in set(wanted)]
    return list(infos)


def batch_get_traces(request: Any) -> dict[str, Any]:
    infos = _readable_infos(request, request.params["trace_ids"], "BatchGetTraces")
    return _page("traces", [_trace_json(request, i) for i in infos], None)


def batch_get_trace_infos(request: Any) -> dict[str, Any]:
    infos = _readable_infos(request, request.params["trace_ids"], "BatchGetTraceInfos")
    return _page("trace_infos", [trace_info_to_json(i) for i in infos], None)


def get_trace(request: Any) -> dict[str, Any]:
    _trace_store(request)
    info = _authorized_info(request, request.params["trace_id"], _READ, "GetTrace")
    return {"trace": _trace_json(request, info)}


def delete_traces(request: Any) -> dict[str, Any]:
    params = request.params
    experiment_id = params["experiment_id"]
    authorize_experiment(request, experiment_id, _DELETE, "DeleteTraces")
    deleted = _trace_store(request).delete_traces(
        experiment_id,
        max_timestamp_millis=params.get("max_timestamp_millis"),
        max_traces=params.get("max_traces"),
        trace_ids=params.get("request_ids") or None,
    )
    return {"traces_deleted": int(deleted)}


def _tag_target(request: Any) -> str:
    return str(request.params.get("trace_id") or request.params.get("request_id"))


def set_trace_tag(request: Any) -> dict[str, Any]:
    trace_id = _tag_target(request)
    _trace_store(request)
    _authorized_info(request, trace_id, _EDIT, "SetTraceTag")
    request.tracking_store.set_trace_tag(trace_id, request.params["key"], request.params.get("value", ""))
    return {}


def delete_trace_tag(request: Any) -> dict[str, Any]:
    trace_id = _tag_target(request)
    _trace_store(request)
    _authorized_info(request, trace_id, _EDIT, "DeleteTraceTag")
    request.tracking_store.delete_trace_tag(trace_id, request.params["key"])
    return {}


# -- the 2.x API ----------------------------------------------------------------------------------


def _kv(params: dict[str, Any], name: str) -> dict[str, str]:
    return {str(k): str(v) for k, v in params.get(name) or ()}


def start_trace_v2(request: Any) -> dict[str, Any]:
    from tracklet.entities import TraceInfo, TraceLocation, TraceState

    params = request.params
    experiment_id = params.get("experiment_id") or "0"
    authorize_experiment(request, experiment_id, _EDIT, "StartTrace")
    info = TraceInfo(
        trace_id=uuid.uuid4().hex,  # MLflow's 2.x ids: 32 hex digits, no "tr-"
        trace_location=TraceLocation.from_experiment_id(str(experiment_id)),
        request_time=int(params.get("timestamp_ms") or 0),
        state=TraceState.IN_PROGRESS,
        trace_metadata=_kv(params, "request_metadata"),
        tags=_without_location(_kv(params, "tags")),
    )
    stored = _trace_store(request).start_trace(info)
    return {"trace_info": trace_info_to_v2_json(stored)}


_V2_STATES = {
    "OK": "OK",
    "ERROR": "ERROR",
    "IN_PROGRESS": "IN_PROGRESS",
    "TRACE_STATUS_UNSPECIFIED": "STATE_UNSPECIFIED",
}


def end_trace_v2(request: Any) -> dict[str, Any]:
    import dataclasses

    from tracklet.entities import TraceState

    params = request.params
    trace_id = params["request_id"]
    _trace_store(request)
    info = _authorized_info(request, trace_id, _EDIT, "EndTrace")
    status = params.get("status") or "TRACE_STATUS_UNSPECIFIED"
    if status not in _V2_STATES:
        raise _schema_error("status", status)
    end = params.get("timestamp_ms")
    changes: dict[str, Any] = {
        "state": TraceState(_V2_STATES[status]),
        "trace_metadata": {**info.trace_metadata, **_kv(params, "request_metadata")},
        "tags": {**info.tags, **_without_location(_kv(params, "tags"))},
    }
    if end is not None:
        changes["execution_duration"] = int(end) - int(info.request_time)
    stored = request.tracking_store.start_trace(dataclasses.replace(info, **changes))
    return {"trace_info": trace_info_to_v2_json(stored)}


def get_trace_info_v2(request: Any) -> dict[str, Any]:
    _trace_store(request)
    info = _authorized_info(request, request.params["request_id"], _READ, "GetTraceInfo")
    return {"trace_info": trace_info_to_v2_json(info)}


def search_traces_v2(request: Any) -> dict[str, Any]:
    infos, token = _search(request, list(request.params["experiment_ids"]), "SearchTraces")
    return _page("traces", [trace_info_to_v2_json(i) for i in infos], token)


#: MLflow's cap on one LinkTracesToRun call.
MAX_TRACE_LINKS_PER_REQUEST = 100
SOURCE_RUN_METADATA = "mlflow.sourceRun"


def link_to_run(store: Any, trace_ids: Sequence[str], run_id: str) -> None:
    """Link traces to a run: tracklet records the link as the traces' ``mlflow.sourceRun``
    metadata (what ``run_id`` filters read), where a trace has none yet; unknown trace ids
    are skipped, as MLflow does."""
    import dataclasses

    for info in store.batch_get_trace_infos(list(trace_ids)):
        if not info.trace_metadata.get(SOURCE_RUN_METADATA):
            metadata = {**info.trace_metadata, SOURCE_RUN_METADATA: run_id}
            store.start_trace(dataclasses.replace(info, trace_metadata=metadata))


def link_traces_to_run(request: Any) -> dict[str, Any]:
    trace_ids = list(dict.fromkeys(request.params["trace_ids"]))
    run_id = request.params["run_id"]
    if len(trace_ids) > MAX_TRACE_LINKS_PER_REQUEST:
        raise _bad(
            f"Cannot link more than {MAX_TRACE_LINKS_PER_REQUEST} traces to a run in "
            f"a single request. Provided {len(trace_ids)} traces."
        )
    store = _trace_store(request)
    try:
        run = store.get_run(run_id)
    except TrackletException as exc:
        if exc.error_code != RESOURCE_DOES_NOT_EXIST:
            raise
        return {}  # MLflow 3.17.2 answers 200 for a run it does not hold; nothing is linked
    authorize_experiment(request, run.info.experiment_id, _EDIT, "LinkTracesToRun")
    for experiment_id in dict.fromkeys(_experiment_of(i) for i in store.batch_get_trace_infos(trace_ids)):
        authorize_experiment(request, experiment_id, _EDIT, "LinkTracesToRun")
    link_to_run(store, trace_ids, run_id)
    return {}


def get_trace_artifact(request: Any) -> dict[str, Any]:
    """MLflow's UI route ``/ajax-api/{2,3}.0/mlflow/get-trace-artifact``: a trace's data
    (``{"spans": [...]}``, as its ``traces.json``). Attachments (``path``) are not kept."""
    params = request.params
    if params.get("path"):
        # tracklet keeps no trace attachments, so no path names one: not found (a 4xx, not
        # a server error), saying why.
        raise TrackletException(
            f"Trace {params.get('request_id')!r} has no attachment {params['path']!r}: tracklet does "
            "not keep trace attachments; ask without 'path' for the trace data.",
            "RESOURCE_DOES_NOT_EXIST",
        )
    _trace_store(request)
    info = _authorized_info(request, params["request_id"], _READ, "get-trace-artifact")
    spans = read_trace_spans(request.tracking_store, request.settings, info)
    # As MLflow's server: the trace data as a download named traces.json.
    import json
    import os
    import tempfile

    from tracklet.routes import FileAnswer

    fd, local = tempfile.mkstemp(prefix="tracklet-trace-", suffix=".json")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump({"spans": spans}, f)
    return FileAnswer(local, "traces.json", lambda: os.unlink(local))


def query_trace_metrics(request: Any) -> dict[str, Any]:
    """QueryTraceMetrics (``POST …/traces/metrics``): see :mod:`tracklet_http.server.trace_metrics`."""
    from tracklet_http.server.trace_metrics import query_trace_metrics as compute

    experiment_ids = [str(e) for e in request.params["experiment_ids"]]
    for experiment_id in dict.fromkeys(experiment_ids):
        authorize_experiment(request, experiment_id, _READ, "QueryTraceMetrics")
    store = _trace_store(request)

    def search(ids: list[str], token: str | None) -> tuple[list[Any], str | None]:
        return store.search_traces(ids, None, MAX_SEARCH_RESULTS, None, token)  # type: ignore[no-any-return]

    def spans_of(info: Any) -> list[dict[str, Any]]:
        return read_trace_spans(store, request.settings, info)

    answer: dict[str, Any] = compute(request, search, spans_of)
    return answer


# -- the route table ------------------------------------------------------------------------------

_SEARCH_FIELDS = (
    Field("filter", doc="a trace filter, e.g. tags.k = 'v' AND timestamp_ms > 0"),
    Field("max_results", "int32", doc="page size (at most 500; default 100)"),
    Field("order_by", repeated=True, doc="e.g. timestamp_ms DESC"),
    Field("page_token", doc="token from a previous page's next_page_token"),
)
_DELETE_FIELDS = (
    Field("experiment_id", "ExperimentId", required=True),
    Field("max_timestamp_millis", "int64", doc="delete traces started at or before this time"),
    Field("max_traces", "int32", doc="delete at most this many (oldest first)"),
    Field("request_ids", repeated=True, doc="delete these traces"),
)
_KV_FIELDS = (
    Field("request_metadata", "KeyValue", repeated=True),
    Field("tags", "KeyValue", repeated=True),
)


def trace_routes() -> list[Route]:
    """Every trace route, at ``/api/…`` and MLflow's UI alias ``/ajax-api/…``."""
    spec: list[tuple[str, str, str, Callable[[Any], dict[str, Any]], tuple[Field, ...], str]] = [
        # 3.x
        (
            "start_trace_v3",
            "POST",
            V3,
            start_trace_v3,
            (Field("trace", "object", required=True),),
            "StartTraceV3: create or update a trace's info.",
        ),
        (
            "search_traces_v3",
            "POST",
            V3 + "/search",
            search_traces_v3,
            (Field("locations", "object", repeated=True, required=True), *_SEARCH_FIELDS),
            "SearchTracesV3: one page of trace infos.",
        ),
        (
            "delete_traces_v3",
            "POST",
            V3 + "/delete-traces",
            delete_traces,
            _DELETE_FIELDS,
            "DeleteTracesV3: delete traces by id or by age.",
        ),
        (
            "batch_get_traces",
            "GET",
            V3 + "/batchGet",
            batch_get_traces,
            (Field("trace_ids", repeated=True, required=True), Field("experiment_ids", repeated=True)),
            "BatchGetTraces: traces with their spans.",
        ),
        (
            "batch_get_trace_infos",
            "POST",
            V3 + "/batchGetInfos",
            batch_get_trace_infos,
            (Field("trace_ids", repeated=True, required=True), Field("experiment_ids", repeated=True)),
            "BatchGetTraceInfos: trace infos by id.",
        ),
        (
            "get_trace",
            "GET",
            V3 + "/get",
            get_trace,
            (Field("trace_id", required=True), Field("allow_partial", "bool")),
            "GetTrace: a trace with its spans.",
        ),
        (
            # before "{trace_id}" below, which would take "metrics" for a trace id (405)
            "query_trace_metrics",
            "POST",
            V3 + "/metrics",
            query_trace_metrics,
            (
                Field("experiment_ids", repeated=True, required=True),
                Field("view_type", required=True, doc="TRACES, SPANS or ASSESSMENTS"),
                Field("metric_name", required=True, doc="e.g. trace_count, latency, total_tokens"),
                Field("aggregations", "object", repeated=True, required=True),
                Field("dimensions", repeated=True, doc="e.g. trace_name, trace_status"),
                Field("filters", repeated=True, doc='e.g. trace.status = "OK"'),
                Field("time_interval_seconds", "int64"),
                Field("start_time_ms", "int64"),
                Field("end_time_ms", "int64"),
                Field("max_results", "int32"),
                Field("page_token"),
            ),
            "QueryTraceMetrics: trace counts, latency and token aggregates, by name, status, time bucket.",
        ),
        (
            "get_trace_info_v3",
            "GET",
            V3 + "/{trace_id}",
            get_trace_info_v3,
            (Field("trace_id", required=True),),
            "GetTraceInfoV3: a trace's info.",
        ),
        (
            "set_trace_tag_v3",
            "PATCH",
            V3 + "/{trace_id}/tags",
            set_trace_tag,
            (Field("trace_id", required=True), Field("key", required=True), Field("value")),
            "SetTraceTagV3.",
        ),
        (
            "delete_trace_tag_v3",
            "DELETE",
            V3 + "/{trace_id}/tags",
            delete_trace_tag,
            (Field("trace_id", required=True), Field("key", required=True)),
            "DeleteTraceTagV3.",
        ),
        (
            "link_traces_to_run",
            "POST",
            V2 + "/link-to-run",
            link_traces_to_run,
            (Field("trace_ids", repeated=True, required=True), Field("run_id", "RunId", required=True)),
            "LinkTracesToRun: record the traces as the run's (their mlflow.sourceRun).",
        ),
        # 2.x
        (
            "start_trace",
            "POST",
            V2,
            start_trace_v2,
            (Field("experiment_id", "ExperimentId"), Field("timestamp_ms", "int64"), *_KV_FIELDS),
            "StartTrace (2.x): start a trace.",
        ),
        (
            "search_traces",
            "GET",
            V2,
            search_traces_v2,
            (Field("experiment_ids", repeated=True, required=True), *_SEARCH_FIELDS),
            "SearchTraces (2.x).",
        ),
        (
            "delete_traces",
            "POST",
            V2 + "/delete-traces",
            delete_traces,
            _DELETE_FIELDS,
            "DeleteTraces (2.x).",
        ),
        (
            "end_trace",
            "PATCH",
            V2 + "/{request_id}",
            end_trace_v2,
            (
                Field("request_id", required=True),
                Field("timestamp_ms", "int64"),
                Field("status"),
                *_KV_FIELDS,
            ),
            "EndTrace (2.x): end a trace.",
        ),
        (
            "get_trace_info",
            "GET",
            V2 + "/{request_id}/info",
            get_trace_info_v2,
            (Field("request_id", required=True),),
            "GetTraceInfo (2.x).",
        ),
        (
            "set_trace_tag",
            "PATCH",
            V2 + "/{request_id}/tags",
            set_trace_tag,
            (Field("request_id", required=True), Field("key", required=True), Field("value")),
            "SetTraceTag (2.x).",
        ),
        (
            "delete_trace_tag",
            "DELETE",
            V2 + "/{request_id}/tags",
            delete_trace_tag,
            (Field("request_id", required=True), Field("key", required=True)),
            "DeleteTraceTag (2.x).",
        ),
    ]
    for version in ("2.0", "3.0"):
        spec.append(
            (
                f"get_trace_artifact_{version[0]}",
                "GET",
                f"/ajax-api/{version}/mlflow/get-trace-artifact",
                get_trace_artifact,
                (Field("request_id", required=True), Field("path")),
                "MLflow's UI: a trace's data (traces.json).",
            )
        )
    routes = []
    for name, method, path, handler, fields, summary in spec:
        routes.append(Route(name, method, path, handler, fields, summary=summary))
    return routes
