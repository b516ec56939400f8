"""``POST /v1/traces`` on a real ``tracklet server`` (its app in uvicorn on a thread, one
per module; each test swaps in a fresh backing store, sqlite with span storage or a folder
without): OTLP/JSON written by hand and binary protobuf built with opentelemetry-proto
come back from ``search_traces`` and ``get_trace_spans`` with every span, attribute and
parent link; bad requests get MLflow's answers; the spans of a folder store land in the
``traces.json`` at the location the store chose, never one a client named.
"""

from __future__ import annotations

import gzip
import json
import pathlib
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tracklet.plugins import get_tracking_store
from tracklet_http.client import RestStore
from tracklet_http.server.app import create_app
from tracklet_http.server.settings import ServerSettings
from tracklet_http.testing import ThreadServer


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    root = tmp_path_factory.mktemp("otlp")
    settings = ServerSettings(
        backend_store_uri=f"sqlite:///{root / 'first.db'}", artifacts_destination=str(root / "artifacts")
    )
    with ThreadServer(create_app(settings)) as server:
        yield server


@pytest.fixture(params=["sqlite", "folder"])
def store(
    request: pytest.FixtureRequest, live_server: ThreadServer, tmp_path: pathlib.Path
) -> Iterator[RestStore]:
    state = live_server.app.state.tracking
    uri = f"sqlite:///{tmp_path / 't.db'}" if request.param == "sqlite" else str(tmp_path / "mlruns")
    backing = get_tracking_store(uri, "mlflow-artifacts:/")
    previous, state.store = state.store, backing
    try:
        yield RestStore(live_server.url)
    finally:
        state.store = previous
        backing.close()


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, Any, str]:
    request = urllib.request.Request(url + "/v1/traces", data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            status, payload, content_type = resp.status, resp.read(), resp.headers.get("content-type", "")
    except urllib.error.HTTPError as exc:
        status, payload, content_type = exc.code, exc.read(), exc.headers.get("content-type", "")
    if content_type.startswith("application/json"):
        return status, json.loads(payload), content_type
    return status, payload, content_type


def otlp_json(trace_hex: str) -> dict[str, Any]:
    """An OTLP/JSON export as a collector sends it: hex ids, camelCase, int64 as strings."""
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "shop"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "manual"},
                        "spans": [
                            {
                                "traceId": trace_hex,
                                "spanId": "1111111111111111",
                                "name": "checkout",
                                "kind": 2,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000002000000000",
                                "attributes": [
                                    {"key": "mlflow.spanInputs", "value": {"stringValue": '{"cart": 3}'}},
                                    {"key": "http.status", "value": {"intValue": "200"}},
                                    {"key": "ratio", "value": {"doubleValue": 0.25}},
                                    {"key": "ok", "value": {"boolValue": True}},
                                    {
                                        "key": "items",
                                        "value": {
                                            "arrayValue": {
                                                "values": [{"stringValue": "a"}, {"intValue": "2"}]
                                            }
                                        },
                                    },
                                ],
                                "status": {"code": 1},
                            },
                            {
                                "traceId": trace_hex,
                                "spanId": "2222222222222222",
                                "parentSpanId": "1111111111111111",
                                "name": "pay",
                                "startTimeUnixNano": "1700000000500000000",
                                "endTimeUnixNano": "1700000001000000000",
                                "events": [
                                    {
                                        "timeUnixNano": "1700000000600000000",
                                        "name": "exception",
                                        "attributes": [
                                            {"key": "exception.message", "value": {"stringValue": "declined"}}
                                        ],
                                    }
                                ],
                                "status": {"code": 2, "message": "declined"},
                            },
                        ],
                    }
                ],
            }
        ]
    }


def otlp_protobuf(trace_hex: str) -> bytes:
    import base64

    from google.protobuf.json_format import ParseDict
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    data = otlp_json(trace_hex)
    for span in data["resourceSpans"][0]["scopeSpans"][0]["spans"]:
        for field in ("traceId", "spanId", "parentSpanId"):
            if field in span:
                span[field] = base64.b64encode(bytes.fromhex(span[field])).decode()
    request = ExportTraceServiceRequest()
    ParseDict(data, request)
    return bytes(request.SerializeToString())


def _check_stored(store: RestStore, experiment_id: str, trace_hex: str) -> None:
    trace_id = "tr-" + trace_hex
    infos, _ = store.search_traces([experiment_id], filter_string="tags.`service.name` = 'shop'")
    assert [i.trace_id for i in infos] == [trace_id]
    info = infos[0]
    assert (
        info.state.value == "OK"
        and info.execution_duration == 2000
        and info.request_time == 1_700_000_000_000
    )
    assert info.request_preview == '{"cart": 3}'
    spans = {s.name: s for s in store.get_trace_spans(trace_id)}
    assert set(spans) == {"checkout", "pay"}
    root, child = spans["checkout"], spans["pay"]
    assert root.parent_id is None and child.parent_id == root.span_id == "1111111111111111"
    assert root.trace_id == child.trace_id == trace_id
    assert root.inputs == {"cart": 3}
    assert root.attributes["http.status"] == 200 and root.attributes["ratio"] == 0.25
    assert root.attributes["ok"] is True and root.attributes["items"] == ["a", 2]
    assert child.status.status_code.value == "ERROR" and child.status.description == "declined"
    assert [(e.name, e.attributes) for e in child.events] == [
        ("exception", {"exception.message": "declined"})
    ]
    assert child.start_time_ns == 1_700_000_000_500_000_000 and child.end_time_ns == 1_700_000_001_000_000_000


def test_json_and_protobuf_spans_are_searchable(store: RestStore) -> None:
    url = store.transport.base_url
    experiment_id = store.create_experiment(f"otlp-{uuid.uuid4().hex}")
    json_hex = uuid.uuid4().hex
    headers = {"Content-Type": "application/json", "x-mlflow-experiment-id": experiment_id}
    status, body, content_type = post(url, json.dumps(otlp_json(json_hex)).encode(), headers)
    assert (status, body, content_type) == (200, b"", "application/x-protobuf")
    _check_stored(store, experiment_id, json_hex)

    other = store.create_experiment(f"otlp-{uuid.uuid4().hex}")
    proto_hex = uuid.uuid4().hex
    headers = {
        "Content-Type": "application/x-protobuf",
        "Content-Encoding": "gzip",
        "x-mlflow-experiment-id": other,
    }
    status, body, _ = post(url, gzip.compress(otlp_protobuf(proto_hex)), headers)
    assert status == 200, body
    _check_stored(store, other, proto_hex)
    # the same spans again (a collector's retry): still one trace with two spans
    status, body, _ = post(url, otlp_protobuf(proto_hex), {**headers, "Content-Encoding": "identity"})
    assert status == 400 and body == {"detail": "Unsupported Content-Encoding: identity"}
    del headers["Content-Encoding"]
    assert post(url, otlp_protobuf(proto_hex), headers)[0] == 200
    _check_stored(store, other, proto_hex)


def test_run_header_links_finished_traces(store: RestStore) -> None:
    url = store.transport.base_url
    experiment_id = store.create_experiment(f"otlp-{uuid.uuid4().hex}")
    run_id = store.create_run(experiment_id, "u", 0, [], "r").info.run_id
    trace_hex = uuid.uuid4().hex
    headers = {
        "Content-Type": "application/x-protobuf",
        "x-mlflow-experiment-id": experiment_id,
        "x-mlflow-run-id": run_id,
    }
    assert post(url, otlp_protobuf(trace_hex), headers)[0] == 200
    infos, _ = store.search_traces([experiment_id], filter_string=f"run_id = '{run_id}'")
    assert [i.trace_id for i in infos] == ["tr-" + trace_hex]
    # an unknown run: the spans are stored all the same, linked to nothing
    other = uuid.uuid4().hex
    assert post(url, otlp_protobuf(other), {**headers, "x-mlflow-run-id": "f" * 32})[0] == 200
    assert "mlflow.sourceRun" not in store.get_trace_info("tr-" + other).trace_metadata


def test_refusals_are_mlflows(store: RestStore) -> None:
    url = store.transport.base_url
    experiment_id = store.create_experiment(f"otlp-{uuid.uuid4().hex}")
    good = {"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": experiment_id}
    status, body, _ = post(url, otlp_protobuf(uuid.uuid4().hex), {"Content-Type": "application/x-protobuf"})
    assert status == 422
    assert body == {
        "detail": [
            {
                "type": "missing",
                "loc": ["header", "x-mlflow-experiment-id"],
                "msg": "Field required",
                "input": None,
            }
        ]
    }
    status, body, _ = post(
        url, b"{}", {"Content-Type": "text/plain", "x-mlflow-experiment-id": experiment_id}
    )
    assert (status, body) == (
        400,
        {"detail": "Invalid Content-Type: text/plain. Expected: application/x-protobuf or application/json"},
    )
    assert post(url, b"\xff\xfe\x00garbage", good)[:2] == (400, {"detail": "Invalid OpenTelemetry format"})
    assert post(url, b"", good)[:2] == (400, {"detail": "Invalid OpenTelemetry format - no spans found"})
    json_headers = {**good, "Content-Type": "application/json; charset=utf-8"}
    assert post(url, b"[1, 2", json_headers)[:2] == (400, {"detail": "Invalid OpenTelemetry format"})
    no_id = {"resourceSpans": [{"scopeSpans": [{"spans": [{"name": "x", "spanId": "1111111111111111"}]}]}]}
    assert post(url, json.dumps(no_id).encode(), json_headers)[:2] == (
        422,
        {"detail": "Cannot convert OpenTelemetry span to MLflow span"},
    )
    assert post(url, b"x", {**good, "Content-Encoding": "gzip"})[:2] == (
        400,
        {"detail": "Failed to decompress gzip payload"},
    )
    # nothing of the refused calls was stored
    assert store.search_traces([experiment_id]) == ([], None)


def test_folder_store_spans_go_where_the_store_chose(
    live_server: ThreadServer, tmp_path: pathlib.Path
) -> None:
    """Without span storage the receiver merges spans into the trace's traces.json, at the
    location the store chose for the trace (under the proxy's destination), in any order
    of start_trace and span batches; a location the client named is never written."""
    state = live_server.app.state.tracking
    backing = get_tracking_store(str(tmp_path / "mlruns"), "mlflow-artifacts:/")
    previous, state.store = state.store, backing
    try:
        store = RestStore(live_server.url)
        experiment_id = store.create_experiment("otlp-folder")
        trace_hex = uuid.uuid4().hex
        trace_id = "tr-" + trace_hex
        whole = otlp_json(trace_hex)
        spans = whole["resourceSpans"][0]["scopeSpans"][0]["spans"]
        headers = {"Content-Type": "application/json", "x-mlflow-experiment-id": experiment_id}
        first = json.loads(json.dumps(whole))
        first["resourceSpans"][0]["scopeSpans"][0]["spans"] = [spans[1]]  # the child first
        assert post(live_server.url, json.dumps(first).encode(), headers)[0] == 200
        assert store.get_trace_info(trace_id).state.value == "IN_PROGRESS"
        forged = tmp_path / "forged"
        status, _, _ = post_start(live_server.url, experiment_id, trace_id, str(forged))
        assert status == 200
        second = json.loads(json.dumps(whole))
        second["resourceSpans"][0]["scopeSpans"][0]["spans"] = [spans[0]]
        assert post(live_server.url, json.dumps(second).encode(), headers)[0] == 200
        info = store.get_trace_info(trace_id)
        assert (
            info.tags["mlflow.artifactLocation"]
            == f"mlflow-artifacts:/{experiment_id}/traces/{trace_id}/artifacts"
        )
        destination = pathlib.Path(live_server.app.state.settings.artifacts_destination)
        data = json.loads(
            (destination / experiment_id / "traces" / trace_id / "artifacts" / "traces.json").read_text()
        )
        assert sorted(s["name"] for s in data["spans"]) == ["checkout", "pay"]
        assert not forged.exists()
        _check_stored(store, experiment_id, trace_hex)
    finally:
        state.store = previous
        backing.close()


def post_start(url: str, experiment_id: str, trace_id: str, location: str) -> tuple[int, Any, str]:
    info = {
        "trace_id": trace_id,
        "trace_location": {
            "type": "MLFLOW_EXPERIMENT",
            "mlflow_experiment": {"experiment_id": experiment_id},
        },
        "request_time": "2023-11-14T22:13:20Z",
        "state": "IN_PROGRESS",
        "tags": {"mlflow.artifactLocation": location, "client": "1"},
    }
    request = urllib.request.Request(
        url + "/api/3.0/mlflow/traces",
        data=json.dumps({"trace": {"trace_info": info}}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as resp:
        return resp.status, json.loads(resp.read()), ""
