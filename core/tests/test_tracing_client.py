"""TracingClient through real stores (the file store in a folder, sqlite when tracklet-sql is
installed): writing ended traces, reading them back with their spans, search, paging,
tags, deletion, missing span data; and the search_traces DataFrame against MLflow's."""

from __future__ import annotations

import json
import logging
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tracklet import plugins
from tracklet.entities import Trace, TraceData, TraceInfo, TraceLocation, TraceState
from tracklet.entities.span import LiveSpan, Span
from tracklet.exceptions import TrackletException
from tracklet.plugins import Scheme, hookimpl
from tracklet.stores import TrackingStore
from tracklet.tracing._dataframe import TRACE_DATAFRAME_COLUMNS, traces_to_dataframe
from tracklet.tracing.client import TRACE_DATA_FILE_NAME, TracingClient

T0 = 1_760_000_000_000  # ms: traces get request times T0, T0 + 1000, ...


def _sql_available() -> bool:
    return "sqlite" in plugins.installed_schemes("tracking")


@pytest.fixture(
    params=[
        "file",
        pytest.param(
            "sqlite", marks=pytest.mark.skipif(not _sql_available(), reason="tracklet-sql not installed")
        ),
    ]
)
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "file":
        return str(tmp_path / "mlruns")
    return f"sqlite:///{tmp_path / 'mlflow.db'}"


@pytest.fixture
def client(uri: str) -> TracingClient:
    return TracingClient(uri)


def make_trace(
    experiment_id: str,
    name: str,
    index: int,
    *,
    error: bool = False,
    metadata: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
) -> Trace:
    """An ended trace: a root span with inputs/outputs and one child, started at T0 + index s."""
    otel_trace_id = random.getrandbits(128)
    trace_id = f"tr-{otel_trace_id:032x}"
    start_ns = (T0 + index * 1000) * 1_000_000
    root = LiveSpan(
        name, trace_id, otel_trace_id, random.getrandbits(64), start_time_ns=start_ns, span_type="CHAIN"
    )
    root.set_inputs({"question": f"q{index}", "text": "héllo ✓"})
    child = LiveSpan(
        "retrieve",
        trace_id,
        otel_trace_id,
        random.getrandbits(64),
        parent_id=root.otel_span_id,
        start_time_ns=start_ns + 1_000_000,
        span_type="RETRIEVER",
        attributes={"k": index},
    )
    child.set_inputs(f"q{index}")
    child.end(outputs=["doc-1", "doc-2"], end_time_ns=start_ns + 3_000_000)
    if error:
        root.record_exception(ValueError("boom"))
        root.end(status="ERROR", end_time_ns=start_ns + 5_000_000)
    else:
        root.end(outputs={"answer": f"a{index}"}, end_time_ns=start_ns + 5_000_000)
    info = TraceInfo(
        trace_id=trace_id,
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=T0 + index * 1000,
        state=TraceState.ERROR if error else TraceState.OK,
        request_preview=json.dumps({"question": f"q{index}"}),
        response_preview=None if error else json.dumps({"answer": f"a{index}"}),
        execution_duration=5,
        trace_metadata={"mlflow.trace_schema.version": "3", **(metadata or {})},
        tags={"mlflow.traceName": name, **(tags or {})},
    )
    return Trace(info, TraceData([root.to_immutable_span(), child.to_immutable_span()]))


def _span_dicts(trace: Trace) -> list[dict[str, Any]]:
    return sorted((span.to_dict() for span in trace.data.spans), key=lambda d: d["span_id"])


def _ids(traces: list[Trace]) -> list[str]:
    return [t.info.trace_id for t in traces]


@pytest.fixture
def logged(client: TracingClient) -> list[Trace]:
    """Three traces in experiment 0: OK, ERROR, OK (oldest first), the last under a run."""
    traces = [
        make_trace("0", "alpha", 0, tags={"env": "dev"}),
        make_trace("0", "beta", 1, error=True, tags={"env": "prod"}),
        make_trace("0", "gamma", 2, metadata={"mlflow.sourceRun": "RUNID"}),
    ]
    for trace in traces:
        client.log_trace(trace)
    return traces


def test_log_trace_then_get_trace_gives_back_every_span(client: TracingClient, logged: list[Trace]) -> None:
    for sent in logged:
        got = client.get_trace(sent.info.trace_id)
        assert got.info.trace_id == sent.info.trace_id
        assert got.info.state == sent.info.state
        assert got.info.request_time == sent.info.request_time
        assert got.info.tags["mlflow.traceName"] == sent.info.tags["mlflow.traceName"]
        assert "mlflow.artifactLocation" in got.info.tags  # chosen by the store
        # MLflow's size statistics are added once, on the way to the store
        stats = json.loads(got.info.trace_metadata["mlflow.trace.sizeStats"])
        assert stats["num_spans"] == 2 and stats["total_size_bytes"] > stats["max"] > 0
        assert _span_dicts(got) == _span_dicts(sent)
        root = next(s for s in got.data.spans if s.parent_id is None)
        assert root.inputs == sent.data.spans[0].inputs
        assert got.info.tags.get("mlflow.trace.spansLocation") == (
            "TRACKING_STORE" if client.span_storage else None
        )
    assert client.get_trace_info(logged[0].info.trace_id).trace_id == logged[0].info.trace_id
    with pytest.raises(TrackletException) as missing:
        client.get_trace("tr-" + "0" * 32)
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"


def test_spans_in_the_artifact_store_are_mlflows_traces_json(tmp_path: Path) -> None:
    client = TracingClient(str(tmp_path / "mlruns"))
    trace = make_trace("0", "alpha", 0)
    stored = client.log_trace(trace)
    location = stored.tags["mlflow.artifactLocation"]
    path = Path(location.removeprefix("file://")) / TRACE_DATA_FILE_NAME
    # MLflow's exact bytes: json.dumps(TraceData.to_dict(), ensure_ascii=False), UTF-8
    assert path.read_bytes() == json.dumps(trace.data.to_dict(), ensure_ascii=False).encode("utf-8")
    assert "héllo ✓" in path.read_text(encoding="utf-8")

    mlflow_client = pytest.importorskip("mlflow.tracing.client")
    from mlflow.entities import Trace as MlflowTrace

    # ... and what MLflow 3.17 writes for the same trace
    mlflow_trace = MlflowTrace.from_json(trace.to_json())
    from mlflow.tracing.utils import TraceJSONEncoder

    expected = json.dumps(mlflow_trace.data.to_dict(), cls=TraceJSONEncoder, ensure_ascii=False)
    assert path.read_text(encoding="utf-8") == expected
    assert mlflow_client is not None


def test_search_filters_orders_pages_and_skips_spans(client: TracingClient, logged: list[Trace]) -> None:
    everything = client.search_traces(["0"])
    assert _ids(everything) == _ids(logged)[::-1]  # newest first
    assert everything.token is None
    assert all(len(t.data.spans) == 2 for t in everything)

    assert _ids(client.search_traces(["0"], filter_string="status = 'ERROR'")) == [logged[1].info.trace_id]
    assert _ids(client.search_traces(locations=["0"], filter_string="tags.env = 'dev'")) == [
        logged[0].info.trace_id
    ]
    assert _ids(client.search_traces(["0"], order_by=["timestamp_ms ASC"])) == _ids(logged)

    first = client.search_traces(["0"], max_results=2, order_by=["timestamp_ms ASC"])
    assert _ids(first) == _ids(logged)[:2] and first.token
    rest = client.search_traces(["0"], max_results=2, order_by=["timestamp_ms ASC"], page_token=first.token)
    assert _ids(rest) == _ids(logged)[2:] and rest.token is None

    bare = client.search_traces(["0"], include_spans=False)
    assert _ids(bare) == _ids(everything) and all(t.data.spans == [] for t in bare)

    with pytest.raises(TrackletException, match="`experiment_ids` is deprecated"):
        client.search_traces(["0"], locations=["0"])
    with pytest.raises(TrackletException, match=r"Did you mean to use experiment_ids=\['0'\]\?"):
        client.search_traces("0")  # type: ignore[arg-type]
    with pytest.raises(TrackletException, match="Found invalid experiment IDs: cat.schema"):
        client.search_traces(locations=["cat.schema"])
    with pytest.raises(TrackletException, match="Cannot specify both `model_id` or `filter_string`"):
        client.search_traces(["0"], filter_string="status = 'OK'", model_id="m-1")


def test_search_by_run_id(uri: str, client: TracingClient) -> None:
    store = plugins.get_tracking_store(uri)
    experiment_id = store.create_experiment("traced", None, [])
    run = store.create_run(experiment_id=experiment_id, user_id="u", start_time=T0, tags=[], run_name="r")
    run_id = run.info.run_id
    inside = make_trace(experiment_id, "in-run", 0, metadata={"mlflow.sourceRun": run_id})
    outside = make_trace(experiment_id, "no-run", 1)
    for trace in (inside, outside):
        client.log_trace(trace)
    # no experiment given: the run's own
    assert _ids(client.search_traces(run_id=run_id)) == [inside.info.trace_id]
    assert _ids(client.search_traces([experiment_id], run_id=run_id, filter_string="status = 'OK'")) == [
        inside.info.trace_id
    ]
    with pytest.raises(TrackletException, match=f"Run {run_id} belongs to experiment {experiment_id}"):
        client.search_traces(["0"], run_id=run_id)
    with pytest.raises(TrackletException, match="You cannot filter by run_id"):
        client.search_traces([experiment_id], run_id=run_id, filter_string="metadata.mlflow.sourceRun = 'x'")


def test_tags_and_deletion(
    client: TracingClient, logged: list[Trace], caplog: pytest.LogCaptureFixture
) -> None:
    alpha, beta, gamma = (t.info.trace_id for t in logged)
    client.set_trace_tag(alpha, "reviewed", 1)
    assert client.get_trace_info(alpha).tags["reviewed"] == "1"
    with caplog.at_level(logging.WARNING, logger="tracklet.tracing.client"):
        client.set_trace_tag(alpha, "mlflow.artifactLocation", "s3://elsewhere")
    assert "is immutable and cannot be set on a trace" in caplog.text
    assert client.get_trace_info(alpha).tags["mlflow.artifactLocation"] != "s3://elsewhere"
    client.delete_trace_tag(alpha, "reviewed")
    assert "reviewed" not in client.get_trace_info(alpha).tags

    assert client.delete_traces("0", trace_ids=[beta]) == 1
    assert _ids(client.search_traces(["0"])) == [gamma, alpha]
    # by time: the oldest first, at most max_traces
    assert client.delete_traces("0", max_timestamp_millis=T0 + 10_000, max_traces=1) == 1
    assert _ids(client.search_traces(["0"])) == [gamma]
    assert client.batch_get_traces([alpha, gamma]) and _ids(client.batch_get_traces([alpha, gamma])) == [
        gamma
    ]


def test_missing_or_corrupt_span_data(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    client = TracingClient(str(tmp_path / "mlruns"))
    kept, lost, broken = (make_trace("0", name, i) for i, name in enumerate(("kept", "lost", "broken")))
    files = {}
    for trace in (kept, lost, broken):
        info = client.log_trace(trace)
        files[trace.info.trace_id] = Path(
            info.tags["mlflow.artifactLocation"].removeprefix("file://"), TRACE_DATA_FILE_NAME
        )
    os.remove(files[lost.info.trace_id])
    files[broken.info.trace_id].write_text("{not json", encoding="utf-8")

    with pytest.raises(TrackletException) as no_data:
        client.get_trace(lost.info.trace_id)
    assert no_data.value.error_code == "BAD_REQUEST"
    assert no_data.value.message == (
        f"Trace with ID {lost.info.trace_id} cannot be loaded because it is missing span data. "
        "Please try creating or loading another trace."
    )
    with pytest.raises(TrackletException, match="because its span data is corrupted"):
        client.get_trace(broken.info.trace_id)
    # search leaves out what cannot be read, with MLflow's warning, and keeps the rest
    with caplog.at_level(logging.WARNING, logger="tracklet.tracing.client"):
        found = client.search_traces(["0"])
    assert _ids(found) == [kept.info.trace_id]
    assert f"Failed to download trace data for trace {lost.info.trace_id!r}" in caplog.text


class _NoTraces(TrackingStore):
    """A tracking store that does not keep traces (its methods are never called here)."""

    def __init__(self, store_uri: str, artifact_uri: str | None = None) -> None:
        pass


_NoTraces.__abstractmethods__ = frozenset()


class _NoTracesPlugin:
    @hookimpl
    def tracklet_schemes(self) -> list[Scheme]:
        return [Scheme("tracking", "notraces", f"{__name__}:_NoTraces")]


@pytest.fixture
def no_traces_plugin() -> Iterator[None]:
    plugin = _NoTracesPlugin()
    plugins.register(plugin, name="no-traces")
    yield
    plugins.unregister(plugin)


def test_a_store_without_traces_is_refused_by_name(no_traces_plugin: None) -> None:
    with pytest.raises(TrackletException) as refused:
        TracingClient("notraces://somewhere")
    message = refused.value.message
    assert refused.value.error_code == "NOT_IMPLEMENTED"
    assert f"{__name__}._NoTraces" in message and "notraces://somewhere" in message
    assert "does not keep traces" in message and "sqlite:" in message


def _refusing_store_class(root: Path) -> Any:
    """The file store, declaring span storage that it then refuses, as ``mlflow server`` on
    a file store answers MLflow's client (501, 'REST OTLP span logging is not supported').
    (The class is taken from the store the core builds: the core's tests import no plugin.)"""
    file_store = type(plugins.get_tracking_store(str(root)))

    class _RefusesSpans(file_store):  # type: ignore[misc, valid-type]
        trace_capabilities = frozenset({"span_storage"})

        def _log_spans(self, experiment_id: str, spans: list[Span]) -> list[Span]:
            raise TrackletException("REST OTLP span logging is not supported", "NOT_IMPLEMENTED")

    return _RefusesSpans


class _RefusingPlugin:
    @hookimpl
    def tracklet_tracking_store(self, uri: str, artifact_uri: str | None) -> Any:
        if uri.startswith("refuses-spans:"):
            root = Path(uri.removeprefix("refuses-spans:"))
            return _refusing_store_class(root)(str(root), artifact_uri)
        return None


def test_spans_go_to_the_artifacts_when_the_store_refuses_them(tmp_path: Path) -> None:
    plugin = _RefusingPlugin()
    plugins.register(plugin, name="refuses-spans")
    try:
        client = TracingClient(f"refuses-spans:{tmp_path / 'mlruns'}")
        assert client.span_storage
        traces = [make_trace("0", "alpha", 0), make_trace("0", "beta", 1)]
        for trace in traces:
            stored = client.log_trace(trace)
            assert "mlflow.trace.spansLocation" not in stored.tags
            location = Path(stored.tags["mlflow.artifactLocation"].removeprefix("file://"))
            assert (location / TRACE_DATA_FILE_NAME).is_file()
        assert client._log_spans_supported is False  # asked once, not for every trace
        assert [_span_dicts(client.get_trace(t.info.trace_id)) for t in traces] == [
            _span_dicts(t) for t in traces
        ]
    finally:
        plugins.unregister(plugin)


def test_dataframe_is_mlflows(tmp_path: Path) -> None:
    """Same columns, order, dtypes and cells as MLflow 3.17.2's ``traces_to_df``."""
    pd = pytest.importorskip("pandas")
    search = pytest.importorskip("mlflow.tracing.utils.search")
    from mlflow.entities import Trace as MlflowTrace

    traces = [make_trace("0", "alpha", 0), make_trace("0", "beta", 1, error=True)]
    ours = traces_to_dataframe(traces)
    theirs = search.traces_to_df([MlflowTrace.from_json(t.to_json()) for t in traces])
    assert list(ours.columns) == list(theirs.columns) == list(TRACE_DATAFRAME_COLUMNS)
    assert list(ours.dtypes) == list(theirs.dtypes)
    for column in ours.columns:
        assert list(ours[column]) == list(theirs[column]), column
    # no traces: the columns all the same
    assert list(traces_to_dataframe([]).columns) == list(theirs.columns)
    # MLflow's deprecated extract_fields
    fields = ["alpha.inputs.question", "retrieve.outputs", "`alpha`.inputs.`text`"]
    extracted = traces_to_dataframe(traces, extract_fields=fields)
    reference = search.traces_to_df(
        [MlflowTrace.from_json(t.to_json()) for t in traces], extract_fields=fields
    )
    assert list(extracted.columns) == list(reference.columns)
    for column in ("alpha.inputs.question", "retrieve.outputs", "alpha.inputs.text"):
        assert list(extracted[column]) == list(reference[column])
    assert isinstance(ours, pd.DataFrame)
    with pytest.raises(TrackletException, match="Invalid field type: 'input'"):
        traces_to_dataframe(traces, extract_fields=["alpha.input"])


def test_spans_round_trip_as_entities() -> None:
    """The helper's spans are what the stores will see (a sanity check of the fixture)."""
    trace = make_trace("0", "alpha", 0)
    parents = {s.name: s.parent_id for s in trace.data.spans}
    root_id = next(s.span_id for s in trace.data.spans if s.name == "alpha")
    assert parents == {"alpha": None, "retrieve": root_id}
    assert all(isinstance(s, Span) for s in trace.data.spans)


def test_traces_made_by_the_fluent_api(uri: str) -> None:
    """``@tracklet.trace`` under a run, exported by the runtime through ``log_trace``, read
    back by id, by run and as the DataFrame."""
    import tracklet

    tracklet.set_tracking_uri(uri)
    try:

        @tracklet.trace(span_type="LLM")
        def answer(question: str) -> str:
            with tracklet.start_span("inner") as span:
                span.set_inputs({"question": question})
            return question.upper()

        with tracklet.start_run() as run:
            answer("hi")
        trace_id = tracklet.get_last_active_trace_id()
        assert trace_id is not None
        trace = tracklet.get_trace(trace_id, flush=True)
        assert trace is not None and sorted(s.name for s in trace.data.spans) == ["answer", "inner"]
        client = TracingClient(uri)
        found = client.search_traces(run_id=run.info.run_id)
        assert _ids(found) == [trace_id]
        frame = traces_to_dataframe(found)
        assert frame["request"][0] == {"question": "hi"} and frame["response"][0] == "HI"
        assert frame["trace_metadata"][0]["mlflow.sourceRun"] == run.info.run_id
        # a trace still in progress: its live info, and MLflow's answer for its spans
        with tracklet.start_span("open") as span:
            assert client.get_trace_info(span.trace_id).state == "IN_PROGRESS"
            with pytest.raises(TrackletException, match="because its span data is corrupted"):
                client.get_trace(span.trace_id)
    finally:
        tracklet.set_tracking_uri(None)
