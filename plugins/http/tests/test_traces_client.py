"""RestStore passes the core's trace conformance suite through a real ``tracklet server``
(one server in uvicorn on a thread per module; each test swaps in a fresh backing store,
sqlite or a folder, so the client, the wire, the routes and the OTLP receiver are the
real ones), and the REST client's trace calls also work against MLflow 3.17.2's own
``mlflow server``.
"""

from __future__ import annotations

import json
import pathlib
import uuid
from collections.abc import Iterator

import pytest

from tracklet.entities import Span, TraceInfo, TraceLocation, TraceState
from tracklet.plugins import get_tracking_store
from tracklet.testing import TraceStoreSuite
from tracklet_http.client import RestStore
from tracklet_http.server.app import create_app
from tracklet_http.server.settings import ServerSettings
from tracklet_http.testing import ServerProcess, ThreadServer


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    root = tmp_path_factory.mktemp("rest-traces")
    settings = ServerSettings(
        backend_store_uri=f"sqlite:///{root / 'first.db'}", artifacts_destination=str(root / "artifacts")
    )
    with ThreadServer(create_app(settings)) as server:
        yield server


def _swap(live_server: ThreadServer, backing_uri: str) -> Iterator[RestStore]:
    state = live_server.app.state.tracking
    # the server's own artifact root: experiments' (and traces') locations go through its proxy
    backing = get_tracking_store(backing_uri, "mlflow-artifacts:/")
    previous, state.store = state.store, backing
    try:
        yield RestStore(live_server.url)
    finally:
        state.store = previous
        backing.close()


class TestRestTracesOverSqlite(TraceStoreSuite):
    @pytest.fixture
    def store(self, live_server: ThreadServer, tmp_path: pathlib.Path) -> Iterator[RestStore]:
        yield from _swap(live_server, f"sqlite:///{tmp_path / 'tracking.db'}")


class TestRestTracesOverAFolder(TraceStoreSuite):
    """A file store keeps no spans: the server's receiver merges them into traces.json."""

    @pytest.fixture
    def store(self, live_server: ThreadServer, tmp_path: pathlib.Path) -> Iterator[RestStore]:
        yield from _swap(live_server, str(tmp_path / "mlruns"))


def _span(trace_hex: str, span_hex: str, parent_hex: str | None, name: str, start: int, end: int) -> Span:
    import base64

    def b64(h: str) -> str:
        return base64.b64encode(bytes.fromhex(h)).decode()

    return Span.from_dict(
        {
            "trace_id": b64(trace_hex),
            "span_id": b64(span_hex),
            "parent_span_id": b64(parent_hex) if parent_hex else None,
            "name": name,
            "start_time_unix_nano": start,
            "end_time_unix_nano": end,
            "events": [],
            "status": {"code": "STATUS_CODE_OK", "message": ""},
            "attributes": {
                "mlflow.traceRequestId": json.dumps("tr-" + trace_hex),
                "mlflow.spanType": json.dumps("CHAIN"),
                "mlflow.spanInputs": json.dumps({"q": 1}),
                "n": json.dumps(3),
            },
        }
    )


@pytest.mark.interop
@pytest.mark.slow
def test_rest_client_against_mlflow_server(mlflow_server: ServerProcess) -> None:
    """Every trace call of the REST client against MLflow 3.17.2's server (sqlite): spans
    go in through OTLP protobuf and come back through GetTrace with their parents and
    attributes; the info is searchable, tagged, deleted."""
    store = RestStore(mlflow_server.url)
    experiment_id = store.create_experiment(f"rest-traces-{uuid.uuid4().hex}")
    trace_hex = uuid.uuid4().hex
    trace_id = "tr-" + trace_hex
    root = _span(trace_hex, "00000000000000a1", None, "root", 1_000_000_000, 3_000_000_000)
    child = _span(trace_hex, "00000000000000b2", "00000000000000a1", "child", 1_500_000_000, 2_000_000_000)
    store.log_spans(experiment_id, [root, child])
    info = TraceInfo(
        trace_id=trace_id,
        trace_location=TraceLocation.from_experiment_id(experiment_id),
        request_time=1000,
        state=TraceState.OK,
        execution_duration=2000,
        tags={"t": "v"},
    )
    stored = store.start_trace(info)
    assert stored.tags["mlflow.artifactLocation"].endswith(f"{trace_id}/artifacts")
    assert store.get_trace_info(trace_id).tags["t"] == "v"  # (MLflow's answer to start_trace lacks it)
    spans = store.get_trace_spans(trace_id)
    assert [s.name for s in spans] == ["root", "child"]
    assert spans[1].parent_id == spans[0].span_id == "00000000000000a1"
    assert spans[0].to_dict()["attributes"] == root.to_dict()["attributes"]
    found, token = store.search_traces([experiment_id], filter_string="tags.t = 'v'")
    assert [i.trace_id for i in found] == [trace_id] and token is None
    assert [i.trace_id for i in store.batch_get_trace_infos([trace_id])] == [trace_id]
    store.set_trace_tag(trace_id, "k", "v2")
    store.delete_trace_tag(trace_id, "t")
    tags = store.get_trace_info(trace_id).tags
    assert tags["k"] == "v2" and "t" not in tags
    assert store.delete_traces(experiment_id, trace_ids=[trace_id]) == 1
    assert store.search_traces([experiment_id]) == ([], None)


def test_log_spans_without_opentelemetry_proto_sends_otlp_json(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A client without opentelemetry-proto sends OTLP/JSON; the spans arrive the same
    (the server, a subprocess, parses with its own opentelemetry-proto)."""
    import sys

    from tracklet_http.testing import launch_tracklet_server

    monkeypatch.setitem(sys.modules, "opentelemetry.proto.collector.trace.v1.trace_service_pb2", None)
    server = launch_tracklet_server(tmp_path)
    try:
        store = RestStore(server.url)
        trace_hex = uuid.uuid4().hex
        root = _span(trace_hex, "00000000000000a1", None, "root", 1_000_000_000, 3_000_000_000)
        child = _span(
            trace_hex, "00000000000000b2", "00000000000000a1", "child", 1_500_000_000, 2_000_000_000
        )
        store.log_spans("0", [root, child])
        spans = store.get_trace_spans("tr-" + trace_hex)
        assert [s.to_dict() for s in spans] == [root.to_dict(), child.to_dict()]
        info = store.get_trace_info("tr-" + trace_hex)
        assert info.state.value == "OK" and info.execution_duration == 2000
    finally:
        server.stop()
