"""OTLP/JSON encoding and decoding of spans, and the OTLP exporter sending to a small
stdlib collector (as well as the store, or instead of it)."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tracklet
from tracklet import _config, tracing
from tracklet.exceptions import INVALID_PARAMETER_VALUE
from tracklet.testing import raises_code
from tracklet.tracing import otlp
from tracklet.tracing.client import TracingClient


class _Collector(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, str], dict[str, Any]]] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, {k.lower(): v for k, v in self.headers.items()}, json.loads(body)))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[str]:
    _Collector.received = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def uri(tmp_path: Path) -> Iterator[str]:
    uri = str(tmp_path / "mlruns")
    _config.set_tracking_uri(uri)
    tracing.reset()
    try:
        yield uri
    finally:
        tracing.reset()
        _config.set_tracking_uri(None)


def _make_trace() -> str:
    @tracklet.trace(span_type="CHAIN")
    def outer(question: str) -> dict[str, Any]:
        with tracklet.start_span("inner", attributes={"n": 3, "ok": True, "tags": ["a", "b"], "f": 0.5}) as s:
            s.set_inputs({"q": question})
        try:
            with tracklet.start_span("broken"):
                raise ValueError("bad")
        except ValueError:
            pass
        return {"answer": question[::-1]}

    outer("abc")
    trace_id = tracklet.get_last_active_trace_id()
    assert trace_id is not None
    from tracklet.tracing.export import flush_trace_async_logging

    flush_trace_async_logging()
    return trace_id


def test_exporter_sends_otlp_json_as_well_as_the_store(
    uri: str, collector: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLET_TRACES_OTLP_ENDPOINT", collector)  # no path: /v1/traces added
    monkeypatch.setenv("TRACKLET_TRACES_OTLP_HEADERS", "authorization=Bearer%20xyz, x-team=ml")
    trace_id = _make_trace()
    stored = TracingClient(uri).get_trace(trace_id)
    ((path, headers, payload),) = _Collector.received
    assert path == "/v1/traces" and headers["content-type"] == "application/json"
    assert headers["authorization"] == "Bearer xyz" and headers["x-team"] == "ml"
    assert headers["x-mlflow-experiment-id"] == "0"
    (resource_spans,) = payload["resourceSpans"]
    assert {"key": "service.name", "value": {"stringValue": "tracklet"}} in resource_spans["resource"][
        "attributes"
    ]
    otlp_spans = resource_spans["scopeSpans"][0]["spans"]
    by_name = {s["name"]: s for s in otlp_spans}
    root, inner, broken = by_name["outer"], by_name["inner"], by_name["broken"]
    assert root["traceId"] == trace_id[3:] and len(root["spanId"]) == 16 and "parentSpanId" not in root
    assert inner["parentSpanId"] == root["spanId"] and int(inner["endTimeUnixNano"]) >= int(
        inner["startTimeUnixNano"]
    )
    attrs = {kv["key"]: kv["value"] for kv in inner["attributes"]}
    assert (
        attrs["n"] == {"intValue": "3"}
        and attrs["ok"] == {"boolValue": True}
        and attrs["f"] == {"doubleValue": 0.5}
    )
    assert attrs["tags"] == {"arrayValue": {"values": [{"stringValue": "a"}, {"stringValue": "b"}]}}
    assert attrs["mlflow.spanInputs"] == {
        "kvlistValue": {"values": [{"key": "q", "value": {"stringValue": "abc"}}]}
    }
    assert attrs["mlflow.traceRequestId"] == {"stringValue": trace_id}
    assert root["status"] == {"code": 1} and broken["status"] == {"code": 2, "message": "ValueError: bad"}
    (event,) = broken["events"]
    assert event["name"] == "exception"
    assert {"key": "exception.type", "value": {"stringValue": "ValueError"}} in event["attributes"]
    # decoding gives back exactly the spans the store kept
    decoded = {s.span_id: s.to_dict() for s in otlp.spans_from_otlp_json(payload)}
    assert decoded == {s.span_id: s.to_dict() for s in stored.data.spans}


def test_destination_otlp_sends_instead_of_the_store(
    uri: str, collector: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLET_TRACES_OTLP_ENDPOINT", collector + "/custom/path")
    monkeypatch.setenv("TRACKLET_TRACES_DESTINATION", "otlp")
    trace_id = _make_trace()
    ((path, _, payload),) = _Collector.received
    assert path == "/custom/path" and len(otlp.spans_from_otlp_json(payload)) == 3
    assert TracingClient(uri).search_traces(locations=["0"]) == []
    assert tracklet.get_trace(trace_id, silent=True) is None


def test_bad_exporter_settings_are_named() -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRACKLET_TRACES_OTLP_ENDPOINT", "collector:4318")
        with raises_code(INVALID_PARAMETER_VALUE) as info:
            otlp.endpoint()
        assert "TRACKLET_TRACES_OTLP_ENDPOINT='collector:4318' is not valid" in info.value.message
        mp.delenv("TRACKLET_TRACES_OTLP_ENDPOINT")
        mp.setenv("TRACKLET_TRACES_DESTINATION", "otlp")
        with raises_code(INVALID_PARAMETER_VALUE) as info:
            otlp.destination()
        assert "needs TRACKLET_TRACES_OTLP_ENDPOINT" in info.value.message
        mp.setenv("TRACKLET_TRACES_OTLP_HEADERS", "novalue")
        with raises_code(INVALID_PARAMETER_VALUE):
            otlp.headers()


def test_decoding_a_foreign_sdks_payload() -> None:
    trace_hex, span_hex, parent_hex = (
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
        "00f067aa0ba902b7",
    )
    payload = {
        "resourceSpans": [
            {
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]},
                "scopeSpans": [
                    {
                        "scope": {"name": "opentelemetry"},
                        "spans": [
                            {
                                "traceId": trace_hex,
                                "spanId": span_hex,
                                "parentSpanId": parent_hex,
                                "name": "GET /x",
                                "kind": 2,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000000500000000",
                                "attributes": [
                                    {"key": "http.status_code", "value": {"intValue": "200"}},
                                    {
                                        "key": "m",
                                        "value": {
                                            "kvlistValue": {
                                                "values": [{"key": "k", "value": {"doubleValue": 1.5}}]
                                            }
                                        },
                                    },
                                ],
                                "events": [
                                    {"timeUnixNano": "1700000000100000000", "name": "e", "attributes": []}
                                ],
                                "status": {"code": "STATUS_CODE_ERROR", "message": "boom"},
                            },
                            {
                                "traceId": trace_hex,
                                "spanId": "AAAAAAAAAAE=",  # base64 ids (proto3 JSON) are read too
                                "name": "root",
                                "startTimeUnixNano": 1,
                                "attributes": [
                                    {"key": "mlflow.traceRequestId", "value": {"stringValue": "tr-custom"}}
                                ],
                            },
                        ],
                    }
                ],
            }
        ]
    }
    child, root = otlp.spans_from_otlp_json(payload)
    assert child.trace_id == f"tr-{trace_hex}" and child.span_id == span_hex and child.parent_id == parent_hex
    assert child.attributes["http.status_code"] == 200 and child.attributes["m"] == {"k": 1.5}
    assert child.to_dict()["attributes"]["http.status_code"] == "200"  # JSON-encoded as MLflow stores
    assert child.status.status_code == "ERROR" and child.status.description == "boom"
    assert child.start_time_ns == 1_700_000_000_000_000_000 and child.end_time_ns == 1_700_000_000_500_000_000
    assert [e.name for e in child.events] == ["e"]
    assert root.trace_id == "tr-custom" and root.span_id == "0000000000000001" and root.end_time_ns is None
    with pytest.raises(ValueError, match="span_id is required"):
        otlp.spans_from_otlp_json({"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": trace_hex}]}]}]})
