"""Hostile values against every endpoint of a live ``tracklet server``: none may end in a
5xx. Each field of each endpoint of :data:`tracklet_http.protocol.ENDPOINTS` gets each
value of a small family (lone surrogates, NUL, integers beyond int64, forged page tokens,
other spellings of ids, 3,000-level paths, wrong JSON types, oversized searches) in an
otherwise valid request, over sqlite and over a folder; the artifact proxy gets the deep
paths. (What only PostgreSQL or MariaDB refuse is tested on the store itself, in
tracklet-sql's ``test_sql_hostile_inputs.py``.) Complements the schemathesis run of
``test_server_openapi.py``, whose generated values stay inside the documented schema."""

from __future__ import annotations

import base64
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tracklet_http.protocol import API_PREFIX, ARTIFACTS_PREFIX, ENDPOINTS, Endpoint  # noqa: E402
from tracklet_http.testing import (  # noqa: E402
    RawAnswer,
    ServerProcess,
    launch_tracklet_server,
    raw_request,
)

DEEP_PATH = "/".join(["a"] * 3000)


def _token(body: object) -> str:
    return base64.b64encode(json.dumps(body).encode()).decode()


#: The family: name -> value (sent as JSON; in a GET, as its text).
HOSTILE: dict[str, Any] = {
    "surrogate": "\ud800",
    "surrogate-inside": "ok\udfffok",
    "nul": "a\x00b",
    "int-over-int64": 2**64,
    "int-under-int64": -(2**64),
    "int-huge": 10**30,
    "int-negative": -1,
    "digits-string": "9" * 40,
    "many-digits-string": "9" * 5000,
    "float-huge-string": "1e999",
    "id-leading-zero": "01",
    "id-space": " 1",
    "id-plus": "+1",
    "id-underscore": "1_0",
    "id-arabic-digit": "\u0661",
    "deep-path": DEEP_PATH,
    "token-offset-huge": _token({"offset": 10**30}),
    "token-offset-negative": _token({"offset": -1}),
    "token-offset-string": _token({"offset": "9" * 40}),
    "token-not-json": base64.b64encode(b"\xff\xfe").decode(),
    "token-nested": base64.b64encode(b"[" * 50_000 + b"]" * 50_000).decode(),
    "long-string": "x" * 200_000,
    "deep-parentheses": "(" * 3000 + "params.a = 'b'" + ")" * 3000,
    "many-comparisons": " AND ".join(["params.a = 'b'"] * 5000),
    "many-order-by": [f"metrics.m{i}" for i in range(300)],
    "list": [1, "a", None],
    "object": {"key": "k", "value": "v"},
    "bool": True,
    "float": 1.5,
    "nested-list": [[[[["x"]]]]],
}


@pytest.fixture(scope="module", params=["sqlite", "file"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("hostile")
    backend = f"sqlite:///{root / 'tracklet.db'}" if request.param == "sqlite" else str(root / "mlruns")
    started = launch_tracklet_server(root, backend)
    yield started
    started.stop()


def _post(server: ServerProcess, path: str, body: dict[str, Any]) -> RawAnswer:
    data = json.dumps(body).encode()  # ensure_ascii: a lone surrogate travels as "\ud800"
    return raw_request(server.url, "POST", path, data, {"Content-Type": "application/json"})


def _get(server: ServerProcess, path: str, fields: dict[str, Any]) -> RawAnswer:
    pairs = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            text = item if isinstance(item, str) else json.dumps(item)
            pairs.append(f"{name}={urllib.parse.quote(text, safe='', errors='surrogatepass')}")
    return raw_request(server.url, "GET", f"{path}?{'&'.join(pairs)}")


@pytest.fixture(scope="module")
def valid(server: ServerProcess) -> dict[str, Any]:
    """Values that make every field of every request valid: the hostile value is the only fault."""
    experiment = _post(server, API_PREFIX + "/experiments/create", {"name": "hostile"}).json["experiment_id"]
    run = _post(server, API_PREFIX + "/runs/create", {"experiment_id": experiment}).json["run"]["info"][
        "run_id"
    ]
    metric = {"key": "m", "value": 1.0, "timestamp": 1, "step": 1}
    assert _post(server, API_PREFIX + "/runs/log-batch", {"run_id": run, "metrics": [metric]}).status == 200
    return {
        "experiment_id": experiment,
        "experiment_ids": [experiment],
        "run_id": run,
        "run_uuid": run,
        "run_ids": [run],
        "name": "n",
        "new_name": "n2",
        "experiment_name": "hostile",
        "key": "k",
        "value": "v",
        "timestamp": 1,
        "step": 1,
        "metric_key": "m",
        "metrics": [metric],
        "params": [{"key": "p", "value": "v"}],
        "tags": [{"key": "t", "value": "v"}],
        "datasets": [
            {
                "dataset": {"name": "d", "digest": "x", "source_type": "s", "source": "u", "schema": "{}"},
                "tags": [{"key": "mlflow.data.context", "value": "train"}],
            }
        ],
    }


def _leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, copy of ``value`` with that leaf replaced by a hole) for each leaf inside."""
    if isinstance(value, dict):
        for key, item in value.items():
            for sub, replaced in _leaves(item, f"{path}.{key}"):
                yield sub, {**value, key: replaced}
    elif isinstance(value, list):
        for index, item in enumerate(value):
            for sub, replaced in _leaves(item, f"{path}[{index}]"):
                yield sub, [*value[:index], replaced, *value[index + 1 :]]
    else:
        yield path, _HOLE


_HOLE = object()


def _fill(value: Any, hostile: Any) -> Any:
    if value is _HOLE:
        return hostile
    if isinstance(value, dict):
        return {key: _fill(item, hostile) for key, item in value.items()}
    if isinstance(value, list):
        return [_fill(item, hostile) for item in value]
    return value


def _requests(endpoint: Endpoint, valid: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each field replaced by each hostile value (also as a one-item list when repeated),
    and each leaf inside a structured field (a metric's step, a dataset's source type...)."""
    base = {f.name: valid[f.name] for f in endpoint.request if f.name in valid}
    for f in endpoint.request:
        nested = (
            list(_leaves(base[f.name], f.name))
            if isinstance(base.get(f.name), list) and isinstance(base[f.name][0], dict)
            else []
        )
        for label, value in HOSTILE.items():
            yield f"{f.name}={label}", {**base, f.name: value}
            if f.repeated and not isinstance(value, list):
                yield f"{f.name}=[{label}]", {**base, f.name: [value]}
            for path, holed in nested:
                yield f"{path}={label}", {**base, f.name: _fill(holed, value)}


def _check(answer: RawAnswer, where: str) -> None:
    assert answer.status < 500, (where, answer.status, answer.body[:300])
    if answer.status >= 400 and answer.headers.get("content-type") == "application/json":
        assert set(answer.json) >= {"error_code", "message"}, where


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_no_hostile_value_gets_a_server_error(
    server: ServerProcess, valid: dict[str, Any], endpoint: Endpoint
) -> None:
    for method in endpoint.methods:
        for label, fields in _requests(endpoint, valid):
            if method == "GET":
                answer = _get(server, endpoint.url_path, fields)
            else:
                answer = _post(server, endpoint.url_path, fields)
            _check(answer, f"{method} {endpoint.name} {label}")
    assert "Traceback" not in server.output()


def test_known_reproductions_are_invalid_parameter_values(
    server: ServerProcess, valid: dict[str, Any]
) -> None:
    """The issue's five: each a 400 INVALID_PARAMETER_VALUE naming the field (500 before)."""
    run, experiment = valid["run_id"], valid["experiment_id"]
    cases = [
        ("/runs/log-parameter", {"run_id": run, "key": "k2", "value": "\ud800"}, "value"),
        ("/runs/set-tag", {"run_id": run, "key": "k2", "value": "\ud800"}, "value"),
        ("/experiments/create", {"name": "\ud800x"}, "name"),
        ("/runs/search", {"experiment_ids": [experiment], "filter": "params.a = '\ud800'"}, "filter"),
        ("/runs/log-metric", {"run_id": run, "key": "m", "value": 10**400, "timestamp": 1}, "value"),
        ("/runs/log-metric", {"run_id": run, "key": "m", "value": 1, "timestamp": 1, "step": 2**70}, "step"),
        (
            "/runs/search",
            {"experiment_ids": [experiment], "page_token": _token({"offset": 10**30})},
            "page token",
        ),
        ("/experiments/search", {"page_token": _token({"offset": "9" * 40})}, "page token"),
        ("/runs/search", {"experiment_ids": [experiment], "order_by": HOSTILE["many-order-by"]}, "order_by"),
        ("/runs/search", {"experiment_ids": [experiment], "filter": HOSTILE["many-comparisons"]}, "filter"),
        ("/experiments/get", {"experiment_id": "0" + experiment}, "experiment_id"),
    ]
    for path, body, named in cases:
        answer = (
            _post(server, API_PREFIX + path, body)
            if path != "/experiments/get"
            else _get(server, API_PREFIX + path, body)
        )
        assert (answer.status, answer.json["error_code"]) == (400, "INVALID_PARAMETER_VALUE"), (
            path,
            answer.body,
        )
        assert named in answer.json["message"], (path, answer.json["message"])
    history = _get(
        server,
        API_PREFIX + "/metrics/get-history",
        {"run_id": run, "metric_key": "m", "page_token": _token({"offset": 2**64})},
    )
    assert history.status == 400 and "page token" in history.json["message"]
    listing = _get(server, API_PREFIX + "/artifacts/list", {"run_id": run, "path": DEEP_PATH})
    assert listing.status == 400 and "artifact paths have at most" in listing.json["message"]


def test_artifact_proxy_refuses_deep_paths(server: ServerProcess, tmp_path: Path) -> None:
    base = ARTIFACTS_PREFIX + "/artifacts/"
    for method, target, body in (
        ("PUT", base + "0/x/" + DEEP_PATH + "/f.txt", b"hi"),
        ("GET", base + "0/x/" + DEEP_PATH + "/f.txt", None),
        ("DELETE", base + "0/x/" + DEEP_PATH, None),
        ("GET", ARTIFACTS_PREFIX + "/artifacts?path=" + DEEP_PATH, None),
        ("PUT", base + "0/x/" + "/".join(["b"] * 1500) + "/f.txt", b"hi"),
    ):
        answer = raw_request(server.url, method, target, body)
        assert answer.status == 400, (method, target[:80], answer.status, answer.body[:300])
    assert raw_request(server.url, "GET", "/health").status == 200
    assert "Traceback" not in server.output()
