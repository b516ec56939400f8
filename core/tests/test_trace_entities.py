"""tracklet's trace entities against MLflow 3.17.2's, on MLflow's own output.

One subprocess runs real MLflow (file store in a temporary directory): a traced function
with nested, failing and manual spans, plus scripted live spans. tracklet must read MLflow's
trace JSON and write it back byte for byte, print the same reprs, and its LiveSpan must end
up with the same span dictionary as MLflow's after the same calls. Trace infos (3.x and 2.x
shapes) are compared with MLflow's entities in this process.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import subprocess
import sys
import textwrap
from types import ModuleType
from typing import Any

import pytest

from tracklet.entities import (
    LiveSpan,
    MlflowExperimentLocation,
    NoOpSpan,
    Span,
    SpanEvent,
    SpanStatus,
    SpanStatusCode,
    SpanType,
    Trace,
    TraceData,
    TraceInfo,
    TraceInfoV2,
    TraceLocation,
    TraceLocationType,
    TraceState,
    TraceStatus,
)
from tracklet.entities.span import NO_OP_SPAN_TRACE_ID, decode_id
from tracklet.exceptions import TrackletException
from tracklet.tracing.constant import SpanAttributeKey, SpansLocation, TraceMetadataKey, TraceTagKey

MLFLOW_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import mlflow
    from mlflow.entities import SpanEvent, SpanStatus, SpanStatusCode

    mlflow.set_tracking_uri(sys.argv[1])
    mlflow.set_experiment("entities")

    @mlflow.trace(span_type="LLM")
    def child(x):
        return {"y": x * 2, "s": "é"}

    @mlflow.trace
    def root(x, z=None):
        with mlflow.start_span("manual") as s:
            s.set_attribute("k", [1, 2])
            s.add_event(SpanEvent("ev", attributes={"a": 1, "b": "x"}))
        try:
            with mlflow.start_span("bad", span_type="TOOL") as b:
                raise ValueError("boom")
        except ValueError:
            pass
        child(x)
        return child(x + 1)

    root(3)
    mlflow.flush_trace_async_logging()
    trace = mlflow.get_trace(mlflow.get_last_active_trace_id())
    out = {
        "json": trace.to_json(),
        "pretty": trace.to_json(pretty=True),
        "repr": repr(trace),
        "info_repr": repr(trace.info),
        "data_repr": repr(trace.data),
        "span_reprs": [repr(s) for s in trace.data.spans],
        "status_reprs": [repr(s.status) for s in trace.data.spans],
        "event_reprs": [repr(s.events) for s in trace.data.spans],
        "request": trace.data.request,
        "response": trace.data.response,
        "attributes": [s.attributes for s in trace.data.spans],
        "by_type": [s.name for s in trace.search_spans(span_type="LLM")],
        "by_regex": [s.name for s in trace.search_spans(name=__import__("re").compile("^ch"))],
    }
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["intermediate"] = trace.data.intermediate_outputs

    span = mlflow.start_span_no_context("work", span_type="CHAIN", start_time_ns=1_000_000_000)
    span.set_inputs({"q": "é", "n": [1, 2.5, None]})
    span.set_attribute("obj", object)
    span.set_attributes({"a": 1, "b": {"c": True}})
    span.set_status("ERROR")
    span.set_status(SpanStatusCode.OK)
    span.add_event(SpanEvent("ev", timestamp=5, attributes={"x": 1, "l": [1, 2], "m": {"d": 1}}))
    span.set_span_type("TOOL")
    span.end(outputs={"r": 1}, attributes={"z": "zz"}, end_time_ns=2_000_000_000)
    span.set_attribute("late", 1)
    out["live_ok"] = span.to_dict()

    s2 = mlflow.start_span_no_context("fail", start_time_ns=1_000_000_000)
    try:
        raise KeyError("nope")
    except KeyError as e:
        s2.record_exception(e)
    s2.end(end_time_ns=3_000_000_000)
    out["live_failed"] = s2.to_dict()

    s3 = mlflow.start_span_no_context("ok_first", start_time_ns=1)
    s3.set_status(SpanStatus("OK", "ignored"))
    s3.end(status="ERROR", end_time_ns=2)
    out["live_ok_first"] = s3.to_dict()
    print("RESULT" + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def mlflow_out(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("mlflow-traces")
    script = root / "gen.py"
    script.write_text(MLFLOW_SCRIPT)
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true", "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run(
        [sys.executable, str(script), (root / "mlruns").as_uri()],
        capture_output=True,
        text=True,
        env=env,
        cwd=root,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT"))
    return json.loads(line[len("RESULT") :])  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def me() -> ModuleType:
    import mlflow.entities

    return mlflow.entities


def test_mlflow_trace_json_round_trips_byte_for_byte(mlflow_out: dict[str, Any]) -> None:
    trace = Trace.from_json(mlflow_out["json"])
    assert trace.to_json() == mlflow_out["json"]
    assert trace.to_json(pretty=True) == mlflow_out["pretty"]
    assert Trace.from_dict(json.loads(mlflow_out["pretty"])).to_dict() == json.loads(mlflow_out["json"])
    assert repr(trace) == mlflow_out["repr"]
    assert repr(trace.data) == mlflow_out["data_repr"]
    assert [repr(s) for s in trace.data.spans] == mlflow_out["span_reprs"]
    assert [repr(s.status) for s in trace.data.spans] == mlflow_out["status_reprs"]
    assert [repr(s.events) for s in trace.data.spans] == mlflow_out["event_reprs"]
    # TraceInfo's repr: equal but for the order of the metadata/tags maps (protobuf's map order).
    ours = repr(trace.info)
    assert ours.split("trace_metadata=")[0] == mlflow_out["info_repr"].split("trace_metadata=")[0]
    assert repr(TraceInfo.from_dict(trace.info.to_dict())) == ours
    assert trace.data.request == mlflow_out["request"] and trace.data.response == mlflow_out["response"]
    assert [s.attributes for s in trace.data.spans] == mlflow_out["attributes"]
    with pytest.warns(FutureWarning):
        assert trace.data.intermediate_outputs == mlflow_out["intermediate"]
    assert [s.name for s in trace.search_spans(span_type=SpanType.LLM)] == mlflow_out["by_type"]
    assert [s.name for s in trace.search_spans(name=re.compile("^ch"))] == mlflow_out["by_regex"]
    root = trace.data.spans[0]
    assert trace.search_spans(span_id=root.span_id) == [root] and trace.search_spans(name="nope") == []
    with pytest.raises(TrackletException, match="Invalid type for 'name'"):
        trace.search_spans(name=3)  # type: ignore[arg-type]
    # the accessors the encoders use
    assert root._trace_id == trace.trace_id.removeprefix("tr-") and root.parent_id is None
    assert root.otel_trace_id == decode_id(root._trace_id) and root.otel_span_id == decode_id(root.span_id)
    assert json.loads(root.raw_attributes()[SpanAttributeKey.INPUTS]) == root.inputs == {"x": 3, "z": None}
    bad = trace.search_spans(name="bad")[0]
    assert bad.status == SpanStatus(SpanStatusCode.ERROR, "ValueError: boom")
    assert bad.events[0].name == "exception" and bad.span_type == SpanType.TOOL
    # pickling keeps the data
    assert pickle.loads(pickle.dumps(root)).to_dict() == root.to_dict()
    assert trace.info.state == TraceState.OK and trace.info.status == TraceStatus.OK
    assert trace.info.tags[TraceTagKey.TRACE_NAME] == "root"
    assert trace.info.trace_metadata[TraceMetadataKey.INPUTS] == '{"x": 3, "z": null}'


def _ids(span_dict: dict[str, Any]) -> dict[str, Any]:
    attrs = span_dict["attributes"]
    trace_id = json.loads(attrs[SpanAttributeKey.REQUEST_ID])
    return {
        "trace_id": trace_id,
        "otel_trace_id": decode_id(trace_id.removeprefix("tr-")),
        "span_id": Span.from_dict(span_dict).otel_span_id,
    }


def test_live_span_matches_mlflow_after_the_same_calls(
    mlflow_out: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    theirs = mlflow_out["live_ok"]
    span = LiveSpan(
        "work",
        **_ids(theirs),
        start_time_ns=1_000_000_000,
        span_type="CHAIN",
        first_attributes={SpanAttributeKey.START_TIME_NS: 1_000_000_000},
    )
    span.set_inputs({"q": "é", "n": [1, 2.5, None]})
    span.set_attribute("obj", object)
    span.set_attributes({"a": 1, "b": {"c": True}})
    span.set_status("ERROR")
    span.set_status(SpanStatusCode.OK)
    span.add_event(SpanEvent("ev", timestamp=5, attributes={"x": 1, "l": [1, 2], "m": {"d": 1}}))
    span.set_span_type("TOOL")
    span.end(outputs={"r": 1}, attributes={"z": "zz"}, end_time_ns=2_000_000_000)
    span.set_attribute("late", 1)
    assert json.loads(json.dumps(span.to_dict())) == theirs
    assert span.to_immutable_span().to_dict() == span.to_dict()
    assert repr(span).startswith("LiveSpan(name='work'")
    with pytest.raises(TypeError, match="cannot be pickled while active"):
        pickle.dumps(span)

    theirs = mlflow_out["live_failed"]
    failed = LiveSpan(
        "fail",
        **_ids(theirs),
        start_time_ns=1_000_000_000,
        first_attributes={SpanAttributeKey.START_TIME_NS: 1_000_000_000},
    )
    try:
        raise KeyError("nope")
    except KeyError as e:
        failed.record_exception(e)
    failed.end(end_time_ns=3_000_000_000)
    ours = json.loads(json.dumps(failed.to_dict()))
    for d in (ours, theirs):  # the event's time and the traceback's file differ by nature
        d["events"][0]["time_unix_nano"] = 0
        d["events"][0]["attributes"]["exception.stacktrace"] = d["events"][0]["attributes"][
            "exception.stacktrace"
        ].splitlines()[-1]
    assert ours == theirs
    assert failed.status.status_code == SpanStatusCode.ERROR

    theirs = mlflow_out["live_ok_first"]
    with caplog.at_level("WARNING"):
        first = LiveSpan(
            "ok_first", **_ids(theirs), start_time_ns=1, first_attributes={SpanAttributeKey.START_TIME_NS: 1}
        )
        first.set_status(SpanStatus("OK", "ignored"))
        first.end(status="ERROR", end_time_ns=2)
    assert first.to_dict() == theirs


def test_trace_info_dicts_equal_mlflow(me: ModuleType) -> None:
    from mlflow.utils.proto_json_utils import message_to_json

    cases: list[dict[str, Any]] = [
        {"request_time": 1700000000123, "state": "OK", "execution_duration": 1234, "request_preview": ""},
        {"request_time": 1700000000000, "state": "IN_PROGRESS", "client_request_id": "c"},
        {
            "request_time": 5,
            "state": "ERROR",
            "execution_duration": 0,
            "trace_metadata": {"k" * 300: "v" * 300, "run": "r1"},
            "tags": {"t": "x" * 5000},
            "response_preview": "out",
        },
        {"request_time": 1, "state": "STATE_UNSPECIFIED", "execution_duration": 2000},
    ]
    for case in cases:
        ours = TraceInfo(
            trace_id="tr-0123",
            trace_location=TraceLocation.from_experiment_id("7"),
            **{**case, "state": TraceState(case["state"])},
        )
        theirs = me.TraceInfo(
            trace_id="tr-0123",
            trace_location=me.TraceLocation.from_experiment_id("7"),
            **{**case, "state": me.TraceState(case["state"])},
        )
        assert ours.to_dict() == theirs.to_dict()
        assert list(ours.to_dict()) == list(theirs.to_dict())
        assert ours.to_proto_dict() == json.loads(message_to_json(theirs.to_proto()))
        assert repr(ours) == repr(theirs)
        assert TraceInfo.from_dict(theirs.to_dict()).to_dict() == ours.to_dict()
        assert (
            TraceInfo.from_proto_dict(json.loads(message_to_json(theirs.to_proto()))).to_dict()
            == ours.to_dict()
        )
        assert dict(ours) == {k: (v.value if hasattr(v, "value") else v) for k, v in theirs} | {
            "status": ours.status
        }
        # 2.x
        v2, their_v2 = TraceInfoV2.from_v3(ours), me.trace_info_v2.TraceInfoV2.from_v3(theirs)
        assert repr(v2) == repr(their_v2) and v2.to_dict() == their_v2.to_dict()
        assert v2.to_proto_dict() == json.loads(message_to_json(their_v2.to_proto()))
        assert TraceInfoV2.from_proto_dict(v2.to_proto_dict()).to_v3().to_dict() == (
            their_v2.to_v3().to_dict() | {"execution_duration_ms": case.get("execution_duration") or 0}
        )
        assert (
            TraceInfo.from_dict(v2.to_dict()).to_dict()
            == me.TraceInfo.from_dict(their_v2.to_dict()).to_dict()
        )
        assert ours.request_id == "tr-0123" and ours.experiment_id == "7"
        assert ours.timestamp_ms == case["request_time"] and ours.execution_time_ms == case.get(
            "execution_duration"
        )
        assert ours.request_metadata is ours.trace_metadata
    info = TraceInfo("tr-1", TraceLocation.from_experiment_id("0"), 1, TraceState.OK)
    info.status = TraceStatus.ERROR
    info.timestamp_ms, info.execution_time_ms, info.experiment_id = 9, 8, "3"
    assert (info.state, info.request_time, info.execution_duration, info.experiment_id) == (
        TraceState.ERROR,
        9,
        8,
        "3",
    )
    assert (
        TraceInfo.from_dict({**info.to_dict(), "request_time": "1970-01-01T01:00:00.5+01:00"}).request_time
        == 500
    )


def test_span_from_mlflow_2x_dict(me: ModuleType) -> None:
    v2 = {
        "name": "predict",
        "context": {"span_id": "0x00000000000000aa", "trace_id": "0x000000000000000000000000000000bb"},
        "parent_id": "0x0000000000000001",
        "start_time": 10,
        "end_time": 20,
        "status_code": "ERROR",
        "status_message": "bad",
        "attributes": {"mlflow.traceRequestId": '"tr-1"', "mlflow.spanType": '"LLM"', "x": "[1, 2]"},
        "events": [{"name": "e", "timestamp": 15, "attributes": {"a": "b", "l": [1, 2]}}],
    }
    ours, theirs = Span.from_dict(v2), me.Span.from_dict(v2)
    assert ours.to_dict() == theirs.to_dict()
    assert (ours.span_id, ours.parent_id, ours.trace_id, ours._trace_id) == (
        theirs.span_id,
        theirs.parent_id,
        theirs.trace_id,
        theirs._trace_id,
    )
    assert repr(ours) == repr(theirs) and ours.attributes == theirs.attributes
    # 3.5's hex ids and value-named status codes
    hexed = {**theirs.to_dict(), "trace_id": "tr-" + "b" * 32, "span_id": "aa", "parent_span_id": None}
    hexed["status"] = {"code": "OK", "message": ""}
    assert Span.from_dict(hexed).to_dict() == me.Span.from_dict(hexed).to_dict()
    with pytest.raises(TrackletException, match="Failed to create a Span object"):
        Span.from_dict({"attributes": {}})


def test_small_entities_and_conversions(me: ModuleType) -> None:
    assert repr(SpanEvent("e", 1, {"a": 1})) == repr(me.SpanEvent("e", 1, {"a": 1}))
    assert SpanEvent("e", 1, {"a": 1}).json() == me.SpanEvent("e", 1, {"a": 1}).json()
    err = SpanEvent.from_exception(ValueError("x"))
    assert err.attributes["exception.type"] == "ValueError" and err.attributes["exception.message"] == "x"
    assert repr(SpanStatus("ERROR", "d")) == repr(me.SpanStatus("ERROR", "d"))
    with pytest.raises(TrackletException, match="is not a valid SpanStatusCode value") as info:
        SpanStatus("NOPE")  # type: ignore[arg-type]
    assert info.value.error_code == "INVALID_PARAMETER_VALUE"
    for code in SpanStatusCode:
        name = code.to_otel_proto_status_code_name()
        assert name == me.SpanStatusCode(code.value).to_otel_proto_status_code_name()
        assert SpanStatusCode.from_otel_proto_status_code_name(name) == code
    for state in TraceState:
        assert TraceStatus.from_state(state).to_state() == state
        assert (
            TraceStatus.from_state(state).value
            == me.trace_status.TraceStatus.from_state(me.TraceState(state.value)).value
        )
        assert state.to_proto() == me.TraceState(state.value).to_proto() and str(state) == state.value
    assert TraceStatus.pending_statuses() == {TraceStatus.IN_PROGRESS}
    loc = TraceLocation.from_experiment_id("5")
    assert repr(loc) == repr(me.TraceLocation.from_experiment_id("5")) and loc.to_dict() == {
        "type": "MLFLOW_EXPERIMENT",
        "mlflow_experiment": {"experiment_id": "5"},
    }
    assert TraceLocation.from_dict(loc.to_dict()) == loc
    assert loc.mlflow_experiment == MlflowExperimentLocation("5")
    with pytest.raises(TrackletException, match="does not match the provided location"):
        TraceLocation(TraceLocationType.INFERENCE_TABLE, mlflow_experiment=MlflowExperimentLocation("1"))
    for name in (
        "LLM",
        "CHAIN",
        "AGENT",
        "TOOL",
        "CHAT_MODEL",
        "RETRIEVER",
        "PARSER",
        "EMBEDDING",
        "UNKNOWN",
    ):
        assert getattr(SpanType, name) == getattr(me.SpanType, name)
    assert SpansLocation.TRACKING_STORE.value == "TRACKING_STORE"
    import mlflow.tracing.constant as mc

    from tracklet.tracing import constant as tc

    for cls_name in ("SpanAttributeKey", "TraceMetadataKey", "TraceTagKey", "TokenUsageKey", "CostKey"):
        theirs = {k: v for k, v in vars(getattr(mc, cls_name)).items() if k.isupper()}
        assert {k: v for k, v in vars(getattr(tc, cls_name)).items() if k.isupper()} == theirs
    assert tc.TRACE_SCHEMA_VERSION_KEY == mc.TRACE_SCHEMA_VERSION_KEY
    assert tc.MAX_CHARS_IN_TRACE_INFO_TAGS_VALUE == mc.MAX_CHARS_IN_TRACE_INFO_TAGS_VALUE


def test_no_op_span_and_trace_data() -> None:
    span = NoOpSpan()
    span.set_inputs({"a": 1})
    span.set_outputs(1)
    span.set_attribute("k", "v")
    span.set_attributes({"k": "v"})
    span.set_status("ERROR")
    span.add_event(SpanEvent("e"))
    span.record_exception("x")
    span.set_span_type("LLM")
    span.end()
    assert span.trace_id == span.request_id == NO_OP_SPAN_TRACE_ID == "MLFLOW_NO_OP_SPAN_TRACE_ID"
    assert (span.span_id, span.name, span.parent_id, span.status, span.start_time_ns, span._trace_id) == (
        None,
    ) * 6
    assert span.attributes == {} and span.inputs is None and span.events == []
    assert TraceData().spans == [] and TraceData(extra=1).to_dict() == {"spans": []}
    assert TraceData().request is None
    with pytest.raises(TrackletException, match="Expected keys: 'info' and 'data'"):
        Trace.from_dict({"info": {}})
    with pytest.raises(TrackletException, match="Unable to parse trace JSON"):
        Trace.from_json("{")
    # a live span after end: setters are ignored, end is idempotent
    live = LiveSpan("s", "tr-" + "1" * 32, int("1" * 32, 16), 7, None, 100)
    live.add_link({"trace_id": "tr-" + "2" * 32, "span_id": "00000000000000aa"})
    with pytest.raises(TrackletException, match="Invalid link"):
        live.add_link({"trace_id": "nothex", "span_id": "aa"})
    live.end(end_time_ns=200)
    live.set_outputs(5)
    live.end(end_time_ns=300)
    assert live.outputs is None and live.end_time_ns == 200 and live.status.status_code == SpanStatusCode.OK
    assert live.get_attribute(SpanAttributeKey.LOG_LEVEL) == 10
    with pytest.raises(TypeError, match="not subscriptable"):
        live["inputs"]
    with pytest.raises(AttributeError, match="a span is not a dict"):
        live.get  # noqa: B018
    trace = Trace(TraceInfoV2("tr-1", "0", 1, 2, TraceStatus.OK), TraceData([live.to_immutable_span()]))  # type: ignore[arg-type]
    assert isinstance(trace.info, TraceInfo) and trace.info.execution_duration == 2
    assert trace.to_pandas_dataframe_row()["spans"] == [live.to_dict()]
    assert live.to_dict()["links"] == [
        {"trace_id": "tr-" + "2" * 32, "span_id": "00000000000000aa", "attributes": None}
    ]
    trace.info.assessments = [
        {"assessment_name": "a", "feedback": {"value": 1}},
        {"assessment_name": "b", "valid": False},
    ]
    assert [a["assessment_name"] for a in trace.search_assessments()] == ["a"]
    assert trace.search_assessments("b", all=True) and not trace.search_assessments(type="expectation")
