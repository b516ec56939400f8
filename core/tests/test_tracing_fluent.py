"""The fluent tracing API and MlflowClient's trace methods, through a real store (sqlite when
tracklet-sql is installed, else the file store): decorator variants, nesting, exceptions,
threads, async, generators, disable/enable, update_current_trace, runs, client API."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import tracklet
from tracklet import _config, plugins, tracing
from tracklet.entities import MlflowExperimentLocation, SpanStatusCode, Trace, TraceState
from tracklet.exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.testing import raises_code
from tracklet.tracing import fluent


def _sql_available() -> bool:
    return "sqlite" in plugins.installed_schemes("tracking")


@pytest.fixture(
    params=[
        pytest.param(
            "sqlite", marks=pytest.mark.skipif(not _sql_available(), reason="tracklet-sql not installed")
        ),
        "file",
    ]
)
def uri(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}" if request.param == "sqlite" else str(tmp_path / "mlruns")
    for name in (
        "MLFLOW_EXPERIMENT_ID",
        "MLFLOW_EXPERIMENT_NAME",
        "TRACKLET_EXPERIMENT_ID",
        "TRACKLET_EXPERIMENT_NAME",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(tracklet.fluent, "_active_experiment_id", None)
    _config.set_tracking_uri(uri)
    tracing.reset()
    try:
        yield uri
    finally:
        tracing.reset()
        _config.set_tracking_uri(None)


def stored(trace_id: str | None) -> Trace:
    assert trace_id is not None
    trace = tracklet.get_trace(trace_id, flush=True)
    assert trace is not None, trace_id
    return trace


def spans_by_name(trace: Trace) -> dict[str, Any]:
    return {span.name: span for span in trace.data.spans}


class Model:
    @tracklet.trace(span_type="LLM", attributes={"temperature": 0.5})
    def predict(self, question: str, k: int = 2) -> dict[str, Any]:
        return {"answer": self.lookup(question) * k}

    @tracklet.trace
    def lookup(self, question: str) -> str:
        with tracklet.start_span("format", span_type="PARSER") as span:
            span.set_inputs({"q": question})
            span.set_outputs(question.upper())
        return question.upper()

    @tracklet.trace(name="make")
    @classmethod
    def make(cls, size: int) -> int:
        return size

    @tracklet.trace
    @staticmethod
    def helper(x: int) -> int:
        return x + 1


def test_nested_decorators_and_context_spans_make_one_stored_trace(uri: str) -> None:
    with tracklet.start_run() as run:
        assert Model().predict("hi") == {"answer": "HIHI"}
    trace = stored(tracklet.get_last_active_trace_id())
    info = trace.info
    assert info.trace_id.startswith("tr-") and len(info.trace_id) == 35
    assert info.state == TraceState.OK and info.experiment_id == run.info.experiment_id
    assert info.trace_metadata["mlflow.sourceRun"] == run.info.run_id
    assert info.trace_metadata["mlflow.trace_schema.version"] == "3"
    assert json.loads(info.trace_metadata["mlflow.traceInputs"]) == {"question": "hi", "k": 2}
    assert json.loads(info.trace_metadata["mlflow.traceOutputs"]) == {"answer": "HIHI"}
    assert info.tags["mlflow.traceName"] == "predict"
    assert info.request_preview == '{"question": "hi", "k": 2}'
    spans = spans_by_name(trace)
    assert set(spans) == {"predict", "lookup", "format"}
    predict, lookup, fmt = spans["predict"], spans["lookup"], spans["format"]
    assert (
        predict.parent_id is None and lookup.parent_id == predict.span_id and fmt.parent_id == lookup.span_id
    )
    assert {s.trace_id for s in trace.data.spans} == {info.trace_id}
    assert predict.span_type == "LLM" and fmt.span_type == "PARSER" and lookup.span_type == "UNKNOWN"
    assert predict.inputs == {"question": "hi", "k": 2}  # self left out, defaults applied
    assert predict.attributes["temperature"] == 0.5
    assert predict.attributes["mlflow.spanFunctionName"] == "predict"
    assert fmt.inputs == {"q": "hi"} and fmt.outputs == "HI"
    assert all(s.status.status_code == SpanStatusCode.OK for s in trace.data.spans)
    assert predict.start_time_ns <= lookup.start_time_ns <= fmt.start_time_ns
    assert fmt.end_time_ns is not None and fmt.end_time_ns <= lookup.end_time_ns <= predict.end_time_ns
    # classmethod / staticmethod keep working, cls is left out of the inputs
    assert Model.make(3) == 3
    assert stored(tracklet.get_last_active_trace_id()).data.spans[0].inputs == {"size": 3}
    assert Model().helper(1) == 2
    assert stored(tracklet.get_last_active_trace_id()).data.spans[0].inputs == {"x": 1}
    # a trace made outside any run has no source run
    Model().lookup("x")
    assert "mlflow.sourceRun" not in stored(tracklet.get_last_active_trace_id()).info.trace_metadata


def test_an_exception_is_recorded_and_reraised_unchanged(uri: str) -> None:
    class Boom(ValueError):
        pass

    error = Boom("no way")

    @tracklet.trace
    def inner() -> None:
        raise error

    @tracklet.trace
    def outer() -> None:
        inner()

    with pytest.raises(Boom) as caught:
        outer()
    assert caught.value is error
    trace = stored(tracklet.get_last_active_trace_id())
    assert trace.info.state == TraceState.ERROR
    for span in trace.data.spans:
        assert span.status.status_code == SpanStatusCode.ERROR
        assert span.status.description == "Boom: no way"
        (event,) = span.events
        assert event.name == "exception"
        assert event.attributes["exception.type"] == "Boom"
        assert event.attributes["exception.message"] == "no way"
        assert "raise error" in event.attributes["exception.stacktrace"]
    # start_span records it too; the block's exception propagates
    with pytest.raises(KeyError):
        with tracklet.start_span("block"):
            raise KeyError("k")
    (span,) = stored(tracklet.get_last_active_trace_id()).data.spans
    assert span.status.status_code == SpanStatusCode.ERROR and span.events[0].name == "exception"


def test_async_and_generator_functions(uri: str) -> None:
    @tracklet.trace
    async def fetch(n: int) -> int:
        await asyncio.sleep(0)
        return await double(n)

    @tracklet.trace
    async def double(n: int) -> int:
        return n * 2

    assert asyncio.run(fetch(4)) == 8
    trace = stored(tracklet.get_last_active_trace_id())
    spans = spans_by_name(trace)
    assert spans["double"].parent_id == spans["fetch"].span_id and spans["fetch"].outputs == 8

    @tracklet.trace
    def count(n: int) -> Iterator[int]:
        for i in range(n):
            yield child(i)

    @tracklet.trace
    def child(i: int) -> int:
        return i * 10

    assert list(count(3)) == [0, 10, 20]
    trace = stored(tracklet.get_last_active_trace_id())
    root = next(s for s in trace.data.spans if s.parent_id is None)
    assert root.name == "count" and root.outputs == [0, 10, 20] and root.inputs == {"n": 3}
    assert [e.name for e in root.events] == [
        "mlflow.chunk.item.0",
        "mlflow.chunk.item.1",
        "mlflow.chunk.item.2",
    ]
    assert root.events[1].attributes == {"mlflow.chunk.value": "10"}
    assert sorted(s.name for s in trace.data.spans if s.parent_id == root.span_id) == ["child"] * 3

    @tracklet.trace(output_reducer=lambda items: "".join(items))
    async def stream() -> AsyncIterator[str]:
        for part in ("a", "b"):
            yield part

    async def consume() -> list[str]:
        return [part async for part in stream()]

    assert asyncio.run(consume()) == ["a", "b"]
    (span,) = stored(tracklet.get_last_active_trace_id()).data.spans
    assert span.outputs == "ab"

    @tracklet.trace
    def failing() -> Iterator[int]:
        yield 1
        raise RuntimeError("mid-stream")

    with pytest.raises(RuntimeError, match="mid-stream"):
        list(failing())
    (span,) = stored(tracklet.get_last_active_trace_id()).data.spans
    assert span.status.status_code == SpanStatusCode.ERROR and span.events[-1].name == "exception"
    with raises_code(INVALID_PARAMETER_VALUE):
        tracklet.trace(lambda: 1, output_reducer=list)


def test_threads_start_their_own_traces_and_contexts_follow_tasks(uri: str) -> None:
    ids: dict[str, str | None] = {}

    @tracklet.trace
    def work(tag: str) -> str:
        ids[tag] = fluent.get_active_trace_id()
        return tag

    with tracklet.start_span("main") as main:
        thread = threading.Thread(target=work, args=("thread",))
        thread.start()
        thread.join()
        work("same")
    assert ids["same"] == main.trace_id
    assert ids["thread"] is not None and ids["thread"] != main.trace_id
    assert [s.name for s in stored(ids["thread"]).data.spans] == ["work"]
    assert tracklet.get_current_active_span() is None and fluent.get_active_trace_id() is None


def test_disable_and_enable(uri: str) -> None:
    @tracklet.trace
    def f(x: int) -> int:
        assert tracklet.get_current_active_span() is None
        return x

    tracing.disable()
    try:
        assert not tracing.is_tracing_enabled()
        before = tracklet.get_last_active_trace_id()
        assert f(1) == 1
        with tracklet.start_span("nothing") as span:
            span.set_inputs({"ignored": True})
        assert tracklet.get_last_active_trace_id() == before
    finally:
        tracing.enable()
    assert tracing.is_tracing_enabled()
    with tracklet.start_span("recorded"):
        pass
    assert stored(tracklet.get_last_active_trace_id()).data.spans[0].name == "recorded"


def test_update_current_trace(uri: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="tracklet.tracing"):
        tracklet.update_current_trace(tags={"a": "b"})
    assert "No active trace found" in caplog.text
    with tracklet.start_span("s"):
        tracklet.update_current_trace(
            tags={"team": "x"},
            metadata={"m": "1"},
            client_request_id="req-7",
            request_preview="Q",
            session_id="sess",
            user="ana",
            state="ERROR",
        )
        with raises_code(INVALID_PARAMETER_VALUE):
            tracklet.update_current_trace(state="RUNNING")
    info = stored(tracklet.get_last_active_trace_id()).info
    assert info.tags["team"] == "x" and info.trace_metadata["m"] == "1"
    assert (
        info.trace_metadata["mlflow.trace.session"] == "sess"
        and info.trace_metadata["mlflow.trace.user"] == "ana"
    )
    assert info.client_request_id == "req-7" and info.request_preview == "Q"
    assert info.state == TraceState.ERROR  # the user's state wins over the root span's OK
    found = tracklet.search_traces(filter_string="tags.team = 'x'", return_type="list")
    assert [t.info.trace_id for t in found] == [info.trace_id]


def test_experiment_resolution(uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    with tracklet.start_span("default"):
        pass
    assert stored(tracklet.get_last_active_trace_id()).info.experiment_id == "0"
    exp = tracklet.set_experiment("traces-here")
    with tracklet.start_span("active"):
        pass
    assert stored(tracklet.get_last_active_trace_id()).info.experiment_id == exp.experiment_id
    monkeypatch.setattr(tracklet.fluent, "_active_experiment_id", None)
    monkeypatch.setenv("MLFLOW_EXPERIMENT_ID", exp.experiment_id)
    tracklet.log_trace(
        "logged", request={"q": 1}, response="r", start_time_ms=1_700_000_000_000, execution_time_ms=5
    )
    trace = stored(tracklet.get_last_active_trace_id())
    assert trace.info.experiment_id == exp.experiment_id and trace.info.request_time == 1_700_000_000_000
    assert trace.info.execution_duration == 5 and trace.data.spans[0].outputs == "r"
    # set_destination wins over the active run's experiment, until reset
    other = tracklet.create_experiment("elsewhere")
    tracing.set_destination(MlflowExperimentLocation(experiment_id=other))
    with tracklet.start_run(experiment_id=exp.experiment_id):
        with tracklet.start_span("routed"):
            pass
    assert stored(tracklet.get_last_active_trace_id()).info.experiment_id == other
    with raises_code(INVALID_PARAMETER_VALUE):
        tracing.set_destination("0")
    tracing.reset()
    with tracklet.start_span("back"):
        pass
    assert stored(tracklet.get_last_active_trace_id()).info.experiment_id == exp.experiment_id


def test_client_imperative_api(uri: str, caplog: pytest.LogCaptureFixture) -> None:
    client = tracklet.MlflowClient()
    root = client.start_trace("root", inputs={"x": 1}, tags={"k": "v"}, attributes={"a": 1})
    child = client.start_span(
        "child", trace_id=root.trace_id, parent_id=root.span_id, span_type="TOOL", inputs=[1]
    )
    assert tracklet.get_current_active_span() is None  # the client does not touch the context
    client.set_trace_tag(root.trace_id, "live", "yes")
    client.end_span(root.trace_id, child.span_id, outputs={"y": 2}, attributes={"b": 2})
    with pytest.warns(FutureWarning, match="request_id"):
        client.end_trace(request_id=root.trace_id, outputs="done")  # seed 003's spelling
    trace = client.get_trace(root.trace_id, flush=True)
    assert trace.info.tags["k"] == "v" and trace.info.tags["live"] == "yes"
    spans = spans_by_name(trace)
    assert spans["child"].outputs == {"y": 2} and spans["child"].attributes["b"] == 2
    assert spans["child"].span_type == "TOOL" and spans["root"].outputs == "done"
    with raises_code(INVALID_PARAMETER_VALUE) as info:
        client.end_trace(root.trace_id)
    assert info.value.message == f"Trace with ID {root.trace_id} already finished."
    with raises_code(RESOURCE_DOES_NOT_EXIST):
        client.start_span("orphan", trace_id=root.trace_id, parent_id=root.span_id)
    with raises_code(INVALID_PARAMETER_VALUE) as info:
        client.start_span("orphan", trace_id=root.trace_id, parent_id="")
    assert info.value.message.startswith("start_span() must be called with an explicit parent_id.")
    with tracklet.start_span("fluent"):
        with raises_code("BAD_REQUEST") as info:
            client.start_trace("second")
    assert info.value.message.startswith("Another trace is already set in the global context with ID tr-")
    # _log_trace records a stored trace again: a new trace id, the same span ids and data
    copy_id = client._log_trace(trace)
    copy = client.get_trace(copy_id, flush=True)
    assert copy_id != root.trace_id and copy.info.tags["k"] == "v"
    assert [(s.span_id, s.parent_id, s.name, s.outputs) for s in copy.data.spans] == [
        (s.span_id, s.parent_id, s.name, s.outputs) for s in trace.data.spans
    ]
    client.delete_traces("0", trace_ids=[copy_id])
    # add_trace: a finished trace joins the active span, or a "Remote Trace <name>" root
    with tracklet.start_span("local") as local:
        tracklet.add_trace(trace.to_dict())
    merged = stored(tracklet.get_last_active_trace_id())
    assert merged.info.trace_id == local.trace_id and merged.info.tags["k"] == "v"
    assert {s.name: s.parent_id for s in merged.data.spans} == {
        "local": None,
        "root": local.span_id,
        "child": spans["root"].span_id,
    }
    tracklet.add_trace(trace)
    remote = stored(tracklet.get_last_active_trace_id())
    names = {s.name: s for s in remote.data.spans}
    assert set(names) == {"Remote Trace <root>", "root", "child"}
    assert names["root"].parent_id == names["Remote Trace <root>"].span_id
    assert names["Remote Trace <root>"].outputs == "done"
    with raises_code(INVALID_PARAMETER_VALUE):
        tracklet.add_trace("not a trace")  # type: ignore[arg-type]
    client.delete_traces("0", trace_ids=[merged.info.trace_id, remote.info.trace_id])
    # stored traces: tags, search, delete
    client.set_trace_tag(root.trace_id, "later", "1")
    client.delete_trace_tag(root.trace_id, "k")
    tags = client.get_trace(root.trace_id).info.tags
    assert tags["later"] == "1" and "k" not in tags
    page = client.search_traces(locations=["0"], max_results=1, flush=True)
    assert len(page) == 1 and page.token
    with pytest.warns(FutureWarning, match="request_ids"):
        assert client.delete_traces("0", request_ids=[root.trace_id]) == 1
    with raises_code(INVALID_PARAMETER_VALUE):
        client.search_traces(locations="0")  # type: ignore[arg-type]
    with pytest.warns(FutureWarning, match="experiment_ids"):
        assert len(client.search_traces(experiment_ids=["0"])) == 1  # the "fluent" trace


def test_a_failing_span_runtime_never_breaks_the_traced_function(
    uri: str, caplog: pytest.LogCaptureFixture
) -> None:
    class Unserialisable:
        def __repr__(self) -> str:
            raise RuntimeError("no repr")

        def __str__(self) -> str:
            raise RuntimeError("no str")

    thing = Unserialisable()

    @tracklet.trace
    def identity(x: Any) -> Any:
        return x

    assert identity(thing) is thing  # inputs and outputs could not be recorded: the call is unaffected
    trace = stored(tracklet.get_last_active_trace_id())
    assert trace.data.spans[0].name == "identity" and trace.info.state == TraceState.OK
    with pytest.raises(TrackletException):
        tracklet.trace(lambda: 1, sampling_ratio_override=2.0)
