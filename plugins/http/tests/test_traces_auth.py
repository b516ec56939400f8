"""Trace routes and the OTLP receiver under ``tracklet server --auth`` (a real server
subprocess): strangers get 401 before anything is read; reading a trace needs READ on its
experiment, writing it (start, end, tags, spans) EDIT, deleting MANAGE; a refused call
changes nothing."""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tracklet_http.testing import ServerProcess, launch_tracklet_server

ADMIN = ("admin", "admin-password-123")
ALICE = ("alice", "alice-password-1")
BOB = ("bob", "bob-password-12")
ADMIN_ENV = {"TRACKLET_AUTH_ADMIN_USERNAME": ADMIN[0], "TRACKLET_AUTH_ADMIN_PASSWORD": ADMIN[1]}


def call(
    server: ServerProcess,
    method: str,
    path: str,
    user: tuple[str, str] | None = None,
    body: Any = None,
    query: dict[str, str] | None = None,
    raw: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, Any]:
    url = server.url + (path if path.startswith("/") else "/api/2.0/mlflow/" + path)
    if query:
        url += "?" + urllib.parse.urlencode(query)
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if user is not None:
        request.add_header(
            "Authorization", "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()
        )
    try:
        with urllib.request.urlopen(request, timeout=30) as resp:
            status, payload = resp.status, resp.read()
    except urllib.error.HTTPError as err:
        with err:
            status, payload = err.code, err.read()
    try:
        return status, json.loads(payload) if payload else {}
    except ValueError:
        return status, payload


def ok(answer: tuple[int, Any]) -> Any:
    assert answer[0] == 200, answer
    return answer[1]


def denied(answer: tuple[int, Any]) -> bool:
    return answer[0] == 403 and answer[1].get("error_code") == "PERMISSION_DENIED"


V3 = "/api/3.0/mlflow/traces"
V2 = "/api/2.0/mlflow/traces"


@pytest.fixture(scope="module")
def auth_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = launch_tracklet_server(
        tmp_path_factory.mktemp("traces-auth"), None, None, "--auth", env=ADMIN_ENV
    )
    for user in (ALICE, BOB):
        ok(call(server, "POST", "users/create", ADMIN, {"username": user[0], "password": user[1]}))
    yield server
    server.stop()


def _otlp(server: ServerProcess, user: tuple[str, str] | None, experiment_id: str, trace_hex: str) -> int:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.trace.v1.trace_pb2 import Span

    request = ExportTraceServiceRequest()
    spans = request.resource_spans.add().scope_spans.add().spans
    for span_hex, parent, name in (("a1" * 8, b"", "root"), ("b2" * 8, bytes.fromhex("a1" * 8), "child")):
        spans.append(
            Span(
                trace_id=bytes.fromhex(trace_hex),
                span_id=bytes.fromhex(span_hex),
                parent_span_id=parent,
                name=name,
                start_time_unix_nano=1_700_000_000_000_000_000,
                end_time_unix_nano=1_700_000_001_000_000_000,
            )
        )
    headers = {"Content-Type": "application/x-protobuf", "x-mlflow-experiment-id": experiment_id}
    return int(call(server, "POST", "/v1/traces", user, raw=request.SerializeToString(), headers=headers)[0])


def test_trace_permissions_follow_the_experiment(auth_server: ServerProcess) -> None:
    exp = ok(
        call(auth_server, "POST", "experiments/create", ALICE, {"name": f"traces-{uuid.uuid4().hex[:8]}"})
    )
    exp = str(exp["experiment_id"])
    trace_hex = uuid.uuid4().hex
    trace_id = "tr-" + trace_hex
    assert _otlp(auth_server, None, exp, trace_hex) == 401
    assert _otlp(auth_server, BOB, exp, trace_hex) == 403
    assert _otlp(auth_server, ALICE, exp, trace_hex) == 200
    info = {
        "trace_id": trace_id,
        "trace_location": {"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}},
        "request_time": "2023-11-14T22:13:20Z",
        "state": "OK",
        "tags": {"t": "v"},
    }
    locations = [{"type": "MLFLOW_EXPERIMENT", "mlflow_experiment": {"experiment_id": exp}}]
    assert call(auth_server, "POST", V3, None, {"trace": {"trace_info": info}})[0] == 401
    assert call(auth_server, "GET", f"{V3}/{trace_id}")[0] == 401
    ok(call(auth_server, "POST", V3, ALICE, {"trace": {"trace_info": info}}))

    # bob has the default READ: he reads ...
    assert (
        ok(call(auth_server, "GET", f"{V3}/{trace_id}", BOB))["trace"]["trace_info"]["trace_id"] == trace_id
    )
    got = ok(call(auth_server, "GET", f"{V3}/get", BOB, query={"trace_id": trace_id}))
    assert {s["name"] for s in got["trace"]["spans"]} == {"root", "child"}
    found = ok(call(auth_server, "POST", f"{V3}/search", BOB, {"locations": locations}))
    assert [t["trace_id"] for t in found["traces"]] == [trace_id]
    # ... but cannot write or delete
    for method, path, body in (
        ("POST", V3, {"trace": {"trace_info": {**info, "state": "ERROR"}}}),
        ("PATCH", f"{V2}/{trace_id}/tags", {"key": "k", "value": "v"}),
        ("DELETE", f"{V3}/{trace_id}/tags", {"key": "t"}),
        ("POST", V2, {"experiment_id": exp}),
        ("POST", f"{V2}/delete-traces", {"experiment_id": exp, "request_ids": [trace_id]}),
    ):
        assert denied(call(auth_server, method, path, BOB, body)), path
    stored = ok(call(auth_server, "GET", f"{V3}/{trace_id}", ALICE))["trace"]["trace_info"]
    assert stored["state"] == "OK" and stored["tags"]["t"] == "v" and "k" not in stored["tags"]

    # with EDIT he writes, still not deletes
    grant = {"experiment_id": exp, "username": "bob", "permission": "EDIT"}
    ok(call(auth_server, "POST", "experiments/permissions/create", ALICE, grant))
    ok(call(auth_server, "PATCH", f"{V2}/{trace_id}/tags", BOB, {"key": "k", "value": "v"}))
    assert _otlp(auth_server, BOB, exp, uuid.uuid4().hex) == 200
    delete = {"experiment_id": exp, "request_ids": [trace_id]}
    assert denied(call(auth_server, "POST", f"{V2}/delete-traces", BOB, delete))
    assert ok(call(auth_server, "POST", f"{V2}/delete-traces", ALICE, delete)) == {"traces_deleted": 1}
