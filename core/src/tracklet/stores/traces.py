"""The trace contract: MLflow's traces, kept by a tracking store.

A tracking store that keeps traces also subclasses :class:`TraceStore` (a mixin: a
third-party :class:`~tracklet.stores.TrackingStore` without it keeps working, and the
client says that its store does not keep traces). The built-in file, SQL and HTTP
stores all do.

What is stored where, as MLflow 3.17 does it:

* the **trace info** (:class:`~tracklet.entities.TraceInfo`: id, experiment, request
  time, state, duration, previews, metadata, tags) lives in the tracking store and is
  what :meth:`TraceStore.search_traces` searches;
* the **spans** live either in the artifact repository, as ``traces.json`` under the
  trace's ``mlflow.artifactLocation`` tag (the file store, and any store without the
  ``span_storage`` capability), or in the tracking store itself (stores declaring
  ``span_storage``: SQL, HTTP), which then tags the trace
  ``mlflow.trace.spansLocation = TRACKING_STORE``. The client reads whichever the tag
  says (:class:`tracklet.tracing.client.TracingClient`).

Same layering as :class:`~tracklet.stores.TrackingStore`: public methods check and
normalise their arguments once, with MLflow's messages and error codes, then call the
``_``-prefixed primitives, which receive checked arguments only and refuse what depends
on stored state with the refusals below (:func:`no_such_trace`, :func:`no_trace_tag`,
and :mod:`tracklet.stores.refusals`' ``no_such_experiment`` / ``experiment_not_active``),
so every store words them alike.

Rules every implementation follows:

* ``start_trace`` is an upsert keyed by ``trace_id``: spans may arrive (``log_spans``)
  before the trace info, and a client may send the info twice; the later call's state,
  duration, previews, metadata and tags are merged over the stored ones
  (:func:`merge_trace_info` does it);
* ``start_trace`` sets the tag ``mlflow.artifactLocation`` to
  ``<experiment artifact location>/traces/<trace_id>/artifacts``
  (:func:`artifact_location_for`) unless the trace already has one stored (never one the
  caller sent: the store chooses locations; ``set_trace_tag`` and ``delete_trace_tag``
  refuse that key);
* deleting an experiment does not delete its traces; ``delete_traces`` does, with their
  spans (and the store may leave the artifact files to the artifact GC);
* a search over experiment ids the store does not hold matches nothing there (no error);
* a rejected call changes nothing already stored.

Limits (what a store's columns must hold): trace id 1..256 of ``[A-Za-z0-9_-]`` starting
with a letter or digit (MLflow's ``tr-<32 hex>`` and 2.x's 32 hex both fit); tag and
metadata keys MLflow's tag-name rules, at most 250 characters; tag and metadata values at
most 8,000 characters (a longer tag value is cut to 8,000, as MLflow does); the trace
name (tag ``mlflow.traceName``) at most 4,096; previews at most 1,000 (longer ones are cut
to 997 characters and ``...``, as MLflow's client does); ``client_request_id`` at most 250.
"""

from __future__ import annotations

import abc
import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from tracklet.exceptions import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)

if TYPE_CHECKING:  # the entities import nothing heavy, but the contract stays light too
    from tracklet.entities import Span, TraceInfo
    from tracklet.search import TraceSearch

__all__ = [
    "ARTIFACT_LOCATION_TAG",
    "MAX_TRACE_PREVIEW_LENGTH",
    "SEARCH_TRACES_DEFAULT_MAX_RESULTS",
    "SEARCH_TRACES_MAX_RESULTS_THRESHOLD",
    "TRACE_CAPABILITIES",
    "TraceStore",
    "artifact_location_for",
    "check_trace_info",
    "merge_trace_info",
    "no_such_trace",
    "no_trace_tag",
    "trace_info_from_spans",
    "truncated_preview",
    "validate_trace_id",
    "validate_trace_tag",
]

#: Optional features a trace store may declare in :attr:`TraceStore.trace_capabilities`:
#:
#: * ``span_storage``: :meth:`TraceStore.log_spans` and :meth:`TraceStore.get_trace_spans`
#:   keep spans in the store itself (otherwise the client writes them to the artifact
#:   repository as ``traces.json``).
TRACE_CAPABILITIES = frozenset({"span_storage"})

#: MLflow's default page size for trace search (``SEARCH_TRACES_DEFAULT_MAX_RESULTS``).
SEARCH_TRACES_DEFAULT_MAX_RESULTS = 100
#: MLflow's largest page (``SEARCH_MAX_RESULTS_THRESHOLD``).
SEARCH_TRACES_MAX_RESULTS_THRESHOLD = 50000

#: The tag a store sets to where the trace's ``traces.json`` lives (MLflow's name).
ARTIFACT_LOCATION_TAG = "mlflow.artifactLocation"
_TRACE_NAME_TAG = "mlflow.traceName"
_INPUTS_ATTRIBUTE = "mlflow.spanInputs"
_OUTPUTS_ATTRIBUTE = "mlflow.spanOutputs"
_TRACE_TAG_PREFIX = "mlflow.traceTag."
_SPANS_LOCATION_TAG = "mlflow.trace.spansLocation"
_TRACKING_STORE = "TRACKING_STORE"
_TRACES_FOLDER = "traces"
_ARTIFACTS_FOLDER = "artifacts"

# MLflow's limits (mlflow/utils/validation.py, mlflow/tracing/constant.py, its SQL columns).
MAX_TRACE_TAG_KEY_LENGTH = 250
MAX_TRACE_TAG_VAL_LENGTH = 8000
MAX_TRACE_NAME_LENGTH = 4096
#: Previews are cut to this many characters (MLflow's OSS preview length and SQL column).
MAX_TRACE_PREVIEW_LENGTH = 1000
MAX_CLIENT_REQUEST_ID_LENGTH = 250
_TRACE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,255}")


# == refusals ===================================================================================


def no_such_trace(trace_id: str, *, full_stop: bool = True) -> TrackletException:
    """The refusal for a trace id the store does not hold, in the words of MLflow 3.17's
    ``get_trace_info`` (its SQL store and server: ``Trace with ID '<id>' not found.``). Its
    file store says the same without the full stop: tracklet-file passes
    ``full_stop=False`` so that a script prints what it printed under MLflow."""
    return TrackletException(
        f"Trace with ID '{trace_id}' not found{'.' if full_stop else ''}", RESOURCE_DOES_NOT_EXIST
    )


def no_trace_tag(trace_id: str, key: str) -> TrackletException:
    """``delete_trace_tag`` of a tag the trace does not have (MLflow's SQL store's words)."""
    return TrackletException(
        f"No trace tag with key '{key}' for trace with ID '{trace_id}'", RESOURCE_DOES_NOT_EXIST
    )


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


def _exceeds(path: str, limit: int) -> TrackletException:
    return _bad(f"'{path}' exceeds the maximum length of {limit} characters")


# == argument checks (also used by the HTTP server on what it receives) =========================


def validate_trace_id(trace_id: object, field: str = "trace_id") -> str:
    """A trace id: 1 to 256 of ``[A-Za-z0-9_-]``, starting with a letter or digit."""
    if isinstance(trace_id, str) and _TRACE_ID.fullmatch(trace_id):
        return trace_id
    from tracklet.validation import short_repr

    raise _bad(
        f"Invalid trace ID {short_repr(trace_id)} for parameter '{field}': trace IDs are 1 to 256 "
        "ASCII letters, digits, '_' and '-', starting with a letter or digit (e.g. 'tr-' and 32 "
        "hex characters)."
    )


def _check_key(key: object, path: str = "key") -> str:
    from tracklet.stores.registry import validate_tag_name

    name = validate_tag_name(key, path)
    if len(name) > MAX_TRACE_TAG_KEY_LENGTH:
        raise _exceeds(path, MAX_TRACE_TAG_KEY_LENGTH)
    from tracklet.validation import validate_text

    validate_text(f"{path} {name!r}", name)
    return name


def validate_trace_tag(key: object, value: object) -> tuple[str, str]:
    """A trace tag (MLflow's ``_validate_trace_tag``): tag-name rules for the key, at most
    250 characters; the value a string (None refused), cut to 8,000 characters; the trace
    name (``mlflow.traceName``) at most 4,096. Returns the normalised pair."""
    name = _check_key(key)
    if value is None:
        raise _bad("Tag value cannot be None")
    if not isinstance(value, str):
        raise _bad(f"Invalid value for trace tag '{name}': it must be a string, got {type(value).__name__}.")
    from tracklet.validation import validate_text

    validate_text(f"value of tag {name!r}", value)
    text = value[:MAX_TRACE_TAG_VAL_LENGTH]
    if name == _TRACE_NAME_TAG and len(text) > MAX_TRACE_NAME_LENGTH:
        raise _exceeds("Trace name", MAX_TRACE_NAME_LENGTH)
    return name, text


def _check_metadata(metadata: object) -> dict[str, str]:
    if not isinstance(metadata, Mapping):
        raise _bad("Invalid trace_metadata: it must be a mapping of string keys to string values.")
    checked: dict[str, str] = {}
    for key, value in metadata.items():
        name = _check_key(key)
        if not isinstance(value, str):
            raise _bad(
                f"Invalid value for trace metadata '{name}': it must be a string, got {type(value).__name__}."
            )
        from tracklet.validation import validate_text

        validate_text(f"value of metadata {name!r}", value)
        if len(value) > MAX_TRACE_TAG_VAL_LENGTH:
            raise _exceeds("value", MAX_TRACE_TAG_VAL_LENGTH)
        checked[name] = value
    return checked


def _check_tags(tags: object) -> dict[str, str]:
    if not isinstance(tags, Mapping):
        raise _bad("Invalid tags: it must be a mapping of string keys to string values.")
    return dict(validate_trace_tag(key, value) for key, value in tags.items())


def _check_millis(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        from tracklet.validation import short_repr

        raise _bad(f"Invalid {field} {short_repr(value)}: it must be a non-negative integer of milliseconds.")
    return value


def truncated_preview(text: str | None) -> str | None:
    """A request/response preview as MLflow stores it: at most 1,000 characters, a longer
    one cut to 997 and ``...``."""
    if text is None or len(text) <= MAX_TRACE_PREVIEW_LENGTH:
        return text
    return text[: MAX_TRACE_PREVIEW_LENGTH - 3] + "..."


def check_trace_info(trace_info: object) -> TraceInfo:
    """What :meth:`TraceStore.start_trace` hands its primitive: a checked *copy* of
    ``trace_info`` (the caller's object is never changed).

    Checked: it is a :class:`~tracklet.entities.TraceInfo` whose location is an MLflow
    experiment (id canonicalised: ``1`` -> ``"1"``), a valid trace id, ``request_time``
    and ``execution_duration`` non-negative integers (the latter may be None), a
    :class:`~tracklet.entities.TraceState` (a state name is accepted), string
    ``client_request_id`` (≤ 250), tags (:func:`validate_trace_tag`) and metadata (same key
    rules, values ≤ 8,000). Normalised: previews cut (:func:`truncated_preview`), the
    ``mlflow.artifactLocation`` tag dropped (the store sets it), assessments dropped
    (tracklet keeps none yet).
    """
    from tracklet.entities import TraceInfo, TraceLocation, TraceState
    from tracklet.validation import canonical_experiment_id

    if not isinstance(trace_info, TraceInfo):
        raise _bad(f"Invalid trace_info: expected a TraceInfo, got {type(trace_info).__name__}.")
    trace_id = validate_trace_id(trace_info.trace_id)
    location = trace_info.trace_location
    experiment = getattr(location, "mlflow_experiment", None)
    if experiment is None:
        raise _bad(
            f"Invalid trace location for trace {trace_id}: tracklet keeps traces in MLflow "
            "experiments only; set trace_location to TraceLocation.from_experiment_id(<id>)."
        )
    experiment_id = canonical_experiment_id(
        experiment.experiment_id, "trace_location.mlflow_experiment.experiment_id"
    )
    state = trace_info.state
    if not isinstance(state, TraceState):
        try:
            state = TraceState(state)
        except ValueError:
            raise _bad(
                f"Invalid trace state {state!r}: expected one of {', '.join(s.value for s in TraceState)}."
            ) from None
    request_time = _check_millis("request_time", trace_info.request_time)
    duration = trace_info.execution_duration
    if duration is not None:
        duration = _check_millis("execution_duration", duration)
    client_request_id = trace_info.client_request_id
    if client_request_id is not None:
        if not isinstance(client_request_id, str):
            raise _bad("Invalid client_request_id: it must be a string.")
        if len(client_request_id) > MAX_CLIENT_REQUEST_ID_LENGTH:
            raise _exceeds("client_request_id", MAX_CLIENT_REQUEST_ID_LENGTH)
    previews = []
    for name in ("request_preview", "response_preview"):
        preview = getattr(trace_info, name)
        if preview is not None and not isinstance(preview, str):
            raise _bad(f"Invalid {name}: it must be a string.")
        previews.append(truncated_preview(preview))
    tags = _check_tags(trace_info.tags)
    tags.pop(ARTIFACT_LOCATION_TAG, None)
    metadata = _check_metadata(trace_info.trace_metadata)
    return dataclasses.replace(
        trace_info,
        trace_id=trace_id,
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=request_time,
        state=state,
        execution_duration=duration,
        client_request_id=client_request_id,
        request_preview=previews[0],
        response_preview=previews[1],
        tags=tags,
        trace_metadata=metadata,
        assessments=[],
    )


def _check_ids(trace_ids: object, field: str = "trace_ids") -> list[str]:
    if isinstance(trace_ids, (str, bytes)) or not isinstance(trace_ids, Sequence):
        raise _bad(f"Invalid {field}: expected a list of trace IDs, got {type(trace_ids).__name__}.")
    return [validate_trace_id(trace_id, field) for trace_id in trace_ids]


def _check_max_results(max_results: object) -> int:
    # MLflow's SQL store's words (_validate_max_results_param).
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise _bad(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be a positive integer"
        )
    if max_results > SEARCH_TRACES_MAX_RESULTS_THRESHOLD:
        raise _bad(
            f"Invalid value {max_results} for parameter 'max_results' supplied. It must be at most "
            f"{SEARCH_TRACES_MAX_RESULTS_THRESHOLD}"
        )
    return max_results


def _check_experiment_ids(experiment_ids: object) -> list[str]:
    from tracklet.validation import canonical_experiment_id

    if isinstance(experiment_ids, (str, bytes, int)) or not isinstance(experiment_ids, Sequence):
        raise _bad(
            f"Invalid experiment_ids {experiment_ids!r}: expected a list of experiment IDs, e.g. ['0']."
        )
    # MLflow's words (_resolve_experiment_ids_and_locations).
    dotted = [str(e) for e in experiment_ids if isinstance(e, str) and "." in e]
    if dotted:
        shown = ", ".join(dotted)
        if len(shown) > 20:
            shown = shown[:20] + "..."
        raise _bad(f"Locations must be a list of experiment IDs. Found invalid experiment IDs: {shown}.")
    ids: list[str] = []
    for experiment_id in experiment_ids:
        canonical = canonical_experiment_id(experiment_id, "experiment_ids")
        if canonical not in ids:
            ids.append(canonical)
    return ids


# == helpers for stores =========================================================================


def artifact_location_for(experiment_artifact_location: str, trace_id: str) -> str:
    """Where a trace's ``traces.json`` lives: ``<experiment artifact location>/traces/
    <trace_id>/artifacts`` (MLflow's layout, for every store)."""
    from tracklet.uri import append_to_uri_path

    return append_to_uri_path(experiment_artifact_location, _TRACES_FOLDER, trace_id, _ARTIFACTS_FOLDER)


def merge_trace_info(stored: TraceInfo | None, incoming: TraceInfo, artifact_location: str) -> TraceInfo:
    """What ``_start_trace`` stores for ``incoming`` (a checked info) when ``stored`` is
    what the store already holds for that trace id (None: nothing).

    The incoming experiment, request time, state and duration replace the stored ones;
    previews and ``client_request_id`` replace them when given (not None); tags and
    metadata are merged, the incoming value winning per key. The tag
    ``mlflow.artifactLocation`` is the stored one, else ``artifact_location``.
    """
    tags = dict(stored.tags) if stored is not None else {}
    kept_location = tags.get(ARTIFACT_LOCATION_TAG)
    tags.update(incoming.tags)
    tags[ARTIFACT_LOCATION_TAG] = kept_location or artifact_location
    metadata = dict(stored.trace_metadata) if stored is not None else {}
    metadata.update(incoming.trace_metadata)
    if stored is None:
        return dataclasses.replace(incoming, tags=tags, trace_metadata=metadata)
    return dataclasses.replace(
        incoming,
        request_preview=incoming.request_preview
        if incoming.request_preview is not None
        else stored.request_preview,
        response_preview=incoming.response_preview
        if incoming.response_preview is not None
        else stored.response_preview,
        client_request_id=incoming.client_request_id
        if incoming.client_request_id is not None
        else stored.client_request_id,
        tags=tags,
        trace_metadata=metadata,
    )


def _preview_of(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return truncated_preview(text)


def _tags_carried_by(root: Span) -> dict[str, str]:
    tags: dict[str, str] = {}
    for key, raw in root.raw_attributes().items():
        if not key.startswith(_TRACE_TAG_PREFIX):
            continue
        try:
            value = json.loads(raw) if isinstance(raw, str) else raw
        except ValueError:
            value = raw
        try:
            name, text = validate_trace_tag(key[len(_TRACE_TAG_PREFIX) :], str(value))
        except TrackletException:
            continue
        if name != ARTIFACT_LOCATION_TAG:
            tags[name] = text
    return tags


def trace_info_from_spans(experiment_id: str, spans: Sequence[Span], existing: TraceInfo | None) -> TraceInfo:
    """The trace info ``log_spans`` stores for ``spans`` (all of one trace) arriving in
    ``experiment_id``, given the stored info ``existing`` (None: the trace is new).
    MLflow's SQL store's rules:

    * new trace: ``request_time`` = earliest span start (ms); ``execution_duration`` =
      latest span end - that start, None while no span has ended; state from the root
      span (the span without parent) if it is among ``spans``: ERROR if its status is
      ERROR, else OK; no root yet: IN_PROGRESS; previews from the root's inputs/outputs;
      tag ``mlflow.traceName`` = the root's name; no artifact location tag (the store adds
      it, as in ``_start_trace``: :func:`artifact_location_for`);
    * existing trace: a trace whose state is IN_PROGRESS or STATE_UNSPECIFIED (no
      ``start_trace`` has finished it) gets the earlier start and the later end; its state
      comes from the root span if it is among ``spans``; previews and the trace name are
      filled in only where missing; the rest (tags, metadata, experiment) is kept;
    * both: the tag ``mlflow.trace.spansLocation`` = ``TRACKING_STORE`` (the spans are in
      the store), and the root span's ``mlflow.traceTag.<key>`` attributes (how MLflow's
      OpenTelemetry processor carries a trace's tags over OTLP) become tags ``<key>``
      (invalid ones skipped), as MLflow's SQL store does.
    """
    from tracklet.entities import TraceInfo, TraceLocation, TraceState

    if not spans:
        raise ValueError("trace_info_from_spans needs at least one span")
    trace_id = spans[0].trace_id
    start_ms = min(span.start_time_ns for span in spans) // 1_000_000
    ends = [span.end_time_ns for span in spans if span.end_time_ns is not None]
    end_ms = max(ends) // 1_000_000 if ends else None
    root = next((span for span in spans if span.parent_id is None), None)
    root_state = None
    if root is not None:
        code = root.status.status_code
        root_state = TraceState.ERROR if getattr(code, "value", code) == "ERROR" else TraceState.OK
    # The root's inputs/outputs as stored (JSON text), as MLflow's log_spans previews them.
    request_preview = _preview_of(root.raw_attributes().get(_INPUTS_ATTRIBUTE)) if root is not None else None
    response_preview = (
        _preview_of(root.raw_attributes().get(_OUTPUTS_ATTRIBUTE)) if root is not None else None
    )
    carried = _tags_carried_by(root) if root is not None else {}
    if existing is None:
        tags: dict[str, str] = {}
        if root is not None:
            tags[_TRACE_NAME_TAG] = root.name[:MAX_TRACE_NAME_LENGTH]
        tags.update(carried)
        tags[_SPANS_LOCATION_TAG] = _TRACKING_STORE
        return TraceInfo(
            trace_id=trace_id,
            trace_location=TraceLocation.from_experiment_id(experiment_id),
            request_time=start_ms,
            state=root_state or TraceState.IN_PROGRESS,
            request_preview=request_preview,
            response_preview=response_preview,
            execution_duration=(end_ms - start_ms) if end_ms is not None else None,
            trace_metadata={},
            tags=tags,
        )
    open_states = (TraceState.IN_PROGRESS, TraceState.STATE_UNSPECIFIED)
    request_time = existing.request_time
    duration = existing.execution_duration
    state = existing.state
    if state in open_states:
        old_end = request_time + duration if duration is not None else None
        request_time = min(request_time, start_ms)
        new_end = (
            max(e for e in (old_end, end_ms) if e is not None) if (old_end, end_ms) != (None, None) else None
        )
        duration = new_end - request_time if new_end is not None else None
        if root_state is not None:
            state = root_state
    tags = dict(existing.tags)
    if root is not None and _TRACE_NAME_TAG not in tags:
        tags[_TRACE_NAME_TAG] = root.name[:MAX_TRACE_NAME_LENGTH]
    tags.update(carried)
    tags[_SPANS_LOCATION_TAG] = _TRACKING_STORE
    return dataclasses.replace(
        existing,
        request_time=request_time,
        execution_duration=duration,
        state=state,
        request_preview=existing.request_preview if existing.request_preview is not None else request_preview,
        response_preview=existing.response_preview
        if existing.response_preview is not None
        else response_preview,
        tags=tags,
        trace_metadata=dict(existing.trace_metadata),
    )


# == the contract ===============================================================================


class TraceStore(abc.ABC):
    """Traces in a tracking store. Mixed into a :class:`~tracklet.stores.TrackingStore`."""

    #: Optional features (see :data:`TRACE_CAPABILITIES`).
    trace_capabilities: ClassVar[frozenset[str]] = frozenset()

    # == public: check, then call the primitive ==========================================

    def start_trace(self, trace_info: TraceInfo) -> TraceInfo:
        """Create (or merge into) the trace ``trace_info.trace_id``; return what is stored."""
        return self._start_trace(check_trace_info(trace_info))

    def get_trace_info(self, trace_id: str) -> TraceInfo:
        """The stored trace info; ``RESOURCE_DOES_NOT_EXIST`` if there is none."""
        return self._get_trace_info(validate_trace_id(trace_id))

    def batch_get_trace_infos(self, trace_ids: Sequence[str]) -> list[TraceInfo]:
        """The infos of those of ``trace_ids`` that exist, in the order asked (each once)."""
        ids = list(dict.fromkeys(_check_ids(trace_ids)))
        if not ids:
            return []
        return self._batch_get_trace_infos(ids)

    def search_traces(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        max_results: int = SEARCH_TRACES_DEFAULT_MAX_RESULTS,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> tuple[list[TraceInfo], str | None]:
        """One page of trace infos matching the filter, and the next page's token (None
        after the last page; a store may also hand out a token that leads to an empty page,
        as MLflow's SQL store does when a page is exactly full)."""
        from tracklet.search._traces import make_trace_search

        ids = _check_experiment_ids(experiment_ids)
        size = _check_max_results(max_results)
        search = make_trace_search(ids, filter_string, size, order_by, page_token)
        if not ids:
            return [], None
        return self._search_traces(search)

    def set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        """Set a tag (MLflow's rules: :func:`validate_trace_tag`)."""
        trace_id = validate_trace_id(trace_id)
        key, value = validate_trace_tag(key, value)
        _refuse_location_tag(key)
        self._set_trace_tag(trace_id, key, value)

    def delete_trace_tag(self, trace_id: str, key: str) -> None:
        """Delete a tag; ``RESOURCE_DOES_NOT_EXIST`` if the trace or the tag is not there."""
        trace_id = validate_trace_id(trace_id)
        key = _check_key(key)
        _refuse_location_tag(key)
        self._delete_trace_tag(trace_id, key)

    def delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> int:
        """Delete by ids, or those at or before ``max_timestamp_millis`` (oldest first,
        at most ``max_traces``); return how many were deleted."""
        from tracklet.validation import canonical_experiment_id

        experiment_id = canonical_experiment_id(experiment_id)
        if max_timestamp_millis is not None:
            _check_millis("max_timestamp_millis", max_timestamp_millis)
        ids = None if trace_ids is None else _check_ids(trace_ids)
        if max_traces is not None and (isinstance(max_traces, bool) or not isinstance(max_traces, int)):
            raise _bad(f"`max_traces` must be a positive integer, received {max_traces}.")
        # MLflow's rules and words (AbstractStore.delete_traces).
        if max_timestamp_millis is None and not ids:
            raise _bad("Either `max_timestamp_millis` or `trace_ids` must be specified.")
        if max_timestamp_millis is not None and ids:
            raise _bad("Only one of `max_timestamp_millis` and `trace_ids` can be specified.")
        if ids and max_traces is not None:
            raise _bad("`max_traces` can't be specified if `trace_ids` is specified.")
        if max_traces is not None and max_traces <= 0:
            raise _bad(f"`max_traces` must be a positive integer, received {max_traces}.")
        return self._delete_traces(
            experiment_id, max_timestamp_millis, max_traces, list(dict.fromkeys(ids)) if ids else None
        )

    def log_spans(self, experiment_id: str, spans: Sequence[Span]) -> list[Span]:
        """Keep ``spans`` in the store (capability ``span_storage``), creating or updating
        their traces' infos from them; return the spans stored."""
        from tracklet.entities import Span
        from tracklet.validation import canonical_experiment_id

        self._require_span_storage("log_spans")
        experiment_id = canonical_experiment_id(experiment_id)
        if isinstance(spans, (str, bytes)) or not isinstance(spans, Sequence):
            raise _bad(f"Invalid spans: expected a list of Span, got {type(spans).__name__}.")
        for span in spans:
            if not isinstance(span, Span):
                raise _bad(f"Invalid spans: expected Span entries, got {type(span).__name__}.")
            validate_trace_id(span.trace_id, "span.trace_id")
        if not spans:
            return []
        return self._log_spans(experiment_id, list(spans))

    def get_trace_spans(self, trace_id: str) -> list[Span]:
        """The spans kept for ``trace_id`` (capability ``span_storage``)."""
        self._require_span_storage("get_trace_spans")
        return self._get_trace_spans(validate_trace_id(trace_id))

    def batch_get_trace_spans(self, trace_ids: Sequence[str]) -> dict[str, list[Span]]:
        """The spans kept for each of ``trace_ids`` (``[]`` for an unknown trace or one without
        spans), as :meth:`get_trace_spans` orders them (capability ``span_storage``).

        What a client loading a page of traces with their spans calls. This default asks
        :meth:`_get_trace_spans` once per trace; a store that can answer a page in one query
        (tracklet-sql) or one request (tracklet-http's batchGet) overrides it."""
        self._require_span_storage("batch_get_trace_spans")
        found: dict[str, list[Span]] = {}
        for trace_id in dict.fromkeys(validate_trace_id(t, "trace_ids") for t in trace_ids):
            try:
                found[trace_id] = self._get_trace_spans(trace_id)
            except TrackletException as exc:
                if exc.error_code != RESOURCE_DOES_NOT_EXIST:
                    raise
                found[trace_id] = []
        return found

    def _require_span_storage(self, method: str) -> None:
        if "span_storage" not in self.trace_capabilities:
            from tracklet.exceptions import NOT_IMPLEMENTED

            raise TrackletException(
                f"{type(self).__name__} does not keep spans ({method} needs the 'span_storage' trace "
                "capability): its spans live in the artifact repository as traces.json.",
                NOT_IMPLEMENTED,
            )

    # == primitives: checked arguments only ==============================================

    @abc.abstractmethod
    def _start_trace(self, trace_info: TraceInfo) -> TraceInfo:
        """Upsert the trace ``trace_info.trace_id`` and return the stored info.

        Receives the output of :func:`check_trace_info`: a checked copy with a canonical
        experiment id (``trace_info.experiment_id``), no ``mlflow.artifactLocation`` tag
        and no assessments. The store:

        1. refuses ``no_such_experiment(experiment_id)`` for an unknown experiment and
           ``experiment_not_active(experiment_id)`` for a deleted one
           (:mod:`tracklet.stores.refusals`);
        2. atomically (one transaction, or under the store's lock) reads the stored info
           for that id, if any, and writes
           ``merge_trace_info(stored, trace_info, artifact_location_for(<experiment
           artifact location>, trace_id))`` — the trace moves to the incoming experiment;
        3. returns what it wrote (equal to what ``get_trace_info`` returns next).
        """

    @abc.abstractmethod
    def _get_trace_info(self, trace_id: str) -> TraceInfo:
        """The stored info (with all tags and metadata) or ``raise no_such_trace(trace_id)``.
        Traces of deleted experiments are still found."""

    def _batch_get_trace_infos(self, trace_ids: list[str]) -> list[TraceInfo]:
        """The stored infos of those of ``trace_ids`` (distinct, checked, non-empty) that
        exist, in that order; unknown ids are skipped. Default: one ``_get_trace_info``
        each; override with one query."""
        infos = []
        for trace_id in trace_ids:
            try:
                infos.append(self._get_trace_info(trace_id))
            except TrackletException as exc:
                if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                    raise
        return infos

    @abc.abstractmethod
    def _search_traces(self, search: TraceSearch) -> tuple[list[TraceInfo], str | None]:
        """One page of a checked search (:class:`tracklet.search.TraceSearch`):

        * ``search.experiment_ids``: canonical ids, distinct, non-empty; ids the store does
          not hold match nothing (no error); traces of deleted experiments are searched;
        * ``search.filter``: the parsed filter (AST, see :mod:`tracklet.search._traces`), or
          None; ``search.filter_string`` is the text it came from (the HTTP store sends that);
        * ``search.order``: the complete order, caller's keys then the tie-breakers
          ``timestamp_ms DESC, trace_id ASC`` (unless named); ``search.order_by``: the text;
        * ``search.max_results``: 1..50,000; ``search.offset``: where the page starts,
          decoded from ``search.page_token`` (MLflow's base64 ``{"offset": N}``).

        Returns the page and the next page's token (``tracklet.search.encode_page_token(
        offset + max_results)``, or None when nothing follows). In memory:
        ``return tracklet.search.search_traces_in_memory(all_infos, search)``.
        """

    @abc.abstractmethod
    def _set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        """Set (or overwrite) the tag; ``raise no_such_trace(trace_id)`` if the trace is not
        there. ``key``/``value`` are checked (``validate_trace_tag``) and never
        ``mlflow.artifactLocation``."""

    @abc.abstractmethod
    def _delete_trace_tag(self, trace_id: str, key: str) -> None:
        """Remove the tag; ``raise no_such_trace(trace_id)`` if the trace is not there,
        ``raise no_trace_tag(trace_id, key)`` if it has no such tag."""

    @abc.abstractmethod
    def _delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None,
        max_traces: int | None,
        trace_ids: list[str] | None,
    ) -> int:
        """Delete traces of ``experiment_id`` (canonical; unknown -> 0 deleted) with their
        tags, metadata and stored spans, and return how many were deleted. Exactly one of:

        * ``trace_ids`` (distinct, non-empty): those of them that are in this experiment;
          others (unknown, or in another experiment) are skipped without error;
        * ``max_timestamp_millis``: those with ``request_time <= max_timestamp_millis``,
          oldest first (then by trace id), at most ``max_traces`` (None: all; else ≥ 1).
        """

    def _log_spans(self, experiment_id: str, spans: list[Span]) -> list[Span]:
        """(``span_storage`` only.) Upsert ``spans`` (non-empty; keyed by trace id and span
        id, a span sent again replaces the stored one) and, per trace id among them, write
        ``trace_info_from_spans(experiment_id, <that trace's spans in this call>, stored)``
        where ``stored`` is the stored info or None; a new trace also gets the
        ``mlflow.artifactLocation`` tag as in ``_start_trace``, and ``experiment_id`` must
        exist (``no_such_experiment``) for it. An existing trace stays in its experiment.
        Returns ``spans``. Atomic per call."""
        raise NotImplementedError(f"{type(self).__name__} declares no span_storage")

    def _get_trace_spans(self, trace_id: str) -> list[Span]:
        """(``span_storage`` only.) The stored spans of the trace, ordered by start time
        then span id; ``[]`` if the trace exists without spans; ``raise
        no_such_trace(trace_id)`` if neither the trace nor any span of it is stored."""
        raise NotImplementedError(f"{type(self).__name__} declares no span_storage")


def _refuse_location_tag(key: str) -> None:
    if key == ARTIFACT_LOCATION_TAG:
        raise _bad(
            f"Tag '{ARTIFACT_LOCATION_TAG}' is set by the store (where the trace's spans are kept) "
            "and cannot be set or deleted."
        )
