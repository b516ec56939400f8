"""``tracklet server``'s tracking API over raw HTTP: every endpoint's happy path, the
response shapes, and the error answers (status, ``error_code``, message).

The app runs in uvicorn on a thread (loopback, a free port) over a real sqlite store;
requests are plain urllib3 calls, so what is checked is exactly what goes on the wire.
"""

from __future__ import annotations

import json
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import urllib3  # noqa: E402

from tracklet.entities import Metric  # noqa: E402
from tracklet_http.protocol import MLFLOW_API_VERSION  # noqa: E402
from tracklet_http.server.app import create_app  # noqa: E402
from tracklet_http.server.settings import ServerSettings  # noqa: E402
from tracklet_http.testing import ThreadServer  # noqa: E402

API = "/api/2.0/mlflow"
MAX_BODY = 64 * 1024


class Http:
    """Raw JSON calls: returns (status, parsed body or text, headers)."""

    def __init__(self, url: str, basic_auth: str | None = None) -> None:
        self.url = url
        self.pool = urllib3.PoolManager(retries=False, timeout=30)
        self.headers = urllib3.make_headers(basic_auth=basic_auth) if basic_auth else {}

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        raw: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any, Any]:
        hdrs = {"Content-Type": "application/json"} if method in ("POST", "PUT") else {}
        hdrs.update(self.headers)
        hdrs.update(headers or {})
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        resp = self.pool.request(method, self.url + path, body=data, headers=hdrs)
        text = resp.data.decode("utf-8", "replace")
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = text
        return resp.status, parsed, resp.headers

    def post(self, path: str, body: Any = None, **kw: Any) -> tuple[int, Any, Any]:
        return self.request("POST", API + path, body if body is not None else {}, **kw)

    def get(self, route: str, /, **fields: Any) -> tuple[int, Any, Any]:
        query = urllib.parse.urlencode(fields, doseq=True)
        return self.request("GET", API + route + (f"?{query}" if query else ""))

    def ok(self, method: str, route: str, body: Any = None, /, **fields: Any) -> Any:
        status, data, _ = self.post(route, body) if method == "POST" else self.get(route, **fields)
        assert status == 200, (route, status, data)
        return data


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Http, Path]]:
    root = tmp_path_factory.mktemp("server-api")
    settings = ServerSettings(
        backend_store_uri=f"sqlite:///{root / 'api.db'}",
        artifacts_destination=str(root / "artifacts"),
        max_body_bytes=MAX_BODY,
    )
    with ThreadServer(create_app(settings)) as server:
        yield Http(server.url), root / "artifacts"


@pytest.fixture(scope="module")
def http(served: tuple[Http, Path]) -> Http:
    return served[0]


def _new_experiment(http: Http, name: str) -> str:
    return str(http.ok("POST", "/experiments/create", {"name": name})["experiment_id"])


def _new_run(http: Http, experiment_id: str, **extra: Any) -> dict[str, Any]:
    return http.ok("POST", "/runs/create", {"experiment_id": experiment_id, **extra})["run"]


# -- the small routes ---------------------------------------------------------------------------


def test_health_version_and_metrics(http: Http) -> None:
    from tracklet import __version__

    status, text, headers = http.request("GET", "/health")
    assert (status, text) == (200, "OK")
    status, text, headers = http.request("GET", "/version")
    # MLflow's client reads /version as the MLflow version it talks to
    assert (status, str(text), headers["x-tracklet-version"]) == (200, MLFLOW_API_VERSION, __version__)
    http.ok("GET", "/experiments/get", experiment_id="0")
    http.get("/runs/get", run_id="nope")
    status, text, headers = http.request("GET", "/metrics")
    assert status == 200 and headers["content-type"].startswith("text/plain")
    assert 'tracklet_http_requests_total{endpoint="get_experiment",status="200"}' in text
    assert 'tracklet_http_requests_total{endpoint="get_run",status="404"}' in text
    assert (
        'tracklet_http_request_duration_seconds_bucket{endpoint="get_experiment",le="0.005",status="200"}'
        in text
    )


# -- experiments --------------------------------------------------------------------------------


def test_experiment_lifecycle(http: Http) -> None:
    status, data, headers = http.post(
        "/experiments/create", {"name": "lifecycle", "tags": [{"key": "team", "value": "a"}]}
    )
    assert status == 200 and headers["content-type"] == "application/json"
    experiment_id = data["experiment_id"]
    assert isinstance(experiment_id, str)

    experiment = http.ok("GET", "/experiments/get", experiment_id=experiment_id)["experiment"]
    assert experiment["name"] == "lifecycle"
    assert experiment["lifecycle_stage"] == "active"
    assert experiment["artifact_location"] == f"mlflow-artifacts:/{experiment_id}"
    assert experiment["tags"] == [{"key": "team", "value": "a"}]
    assert isinstance(experiment["creation_time"], int)

    by_name = http.ok("GET", "/experiments/get-by-name", experiment_name="lifecycle")["experiment"]
    assert by_name["experiment_id"] == experiment_id

    assert (
        http.ok("POST", "/experiments/update", {"experiment_id": experiment_id, "new_name": "renamed"}) == {}
    )
    assert (
        http.ok(
            "POST",
            "/experiments/set-experiment-tag",
            {"experiment_id": experiment_id, "key": "k", "value": "v"},
        )
        == {}
    )
    experiment = http.ok("GET", "/experiments/get", experiment_id=experiment_id)["experiment"]
    assert experiment["name"] == "renamed"
    assert {"key": "k", "value": "v"} in experiment["tags"]

    assert http.ok("POST", "/experiments/delete", {"experiment_id": experiment_id}) == {}
    deleted = http.ok("GET", "/experiments/get", experiment_id=experiment_id)["experiment"]
    assert deleted["lifecycle_stage"] == "deleted"
    active = http.ok("POST", "/experiments/search", {"max_results": 1000})["experiments"]
    assert experiment_id not in {e["experiment_id"] for e in active}
    everything = http.ok("POST", "/experiments/search", {"view_type": "ALL"})["experiments"]
    assert experiment_id in {e["experiment_id"] for e in everything}
    assert http.ok("POST", "/experiments/restore", {"experiment_id": experiment_id}) == {}
    assert (
        http.ok("GET", "/experiments/get", experiment_id=experiment_id)["experiment"]["lifecycle_stage"]
        == "active"
    )


def test_search_experiments_by_post_and_get_with_paging(http: Http) -> None:
    for i in range(3):
        _new_experiment(http, f"paged-{i}")
    first = http.ok(
        "POST",
        "/experiments/search",
        {"filter": "name LIKE 'paged-%'", "max_results": 2, "order_by": ["name ASC"]},
    )
    assert [e["name"] for e in first["experiments"]] == ["paged-0", "paged-1"]
    second = http.ok(
        "POST",
        "/experiments/search",
        {
            "filter": "name LIKE 'paged-%'",
            "max_results": 2,
            "order_by": ["name ASC"],
            "page_token": first["next_page_token"],
        },
    )
    assert [e["name"] for e in second["experiments"]] == ["paged-2"]
    assert "next_page_token" not in second
    by_get = http.ok(
        "GET", "/experiments/search", filter="name LIKE 'paged-%'", max_results="2", order_by="name DESC"
    )
    assert [e["name"] for e in by_get["experiments"]] == ["paged-2", "paged-1"]


def test_get_experiment_by_name_unknown_is_mlflows_404(http: Http) -> None:
    status, data, _ = http.get("/experiments/get-by-name", experiment_name="no-such-experiment")
    assert status == 404
    assert data == {
        "error_code": "RESOURCE_DOES_NOT_EXIST",
        "message": "Could not find experiment with name 'no-such-experiment'",
    }


# -- runs ---------------------------------------------------------------------------------------


def test_run_lifecycle_and_logging(http: Http) -> None:
    experiment_id = _new_experiment(http, "runs")
    run = _new_run(
        http,
        experiment_id,
        run_name="first",
        user_id="ann",
        start_time=1000,
        tags=[{"key": "t0", "value": "v0"}],
    )
    info = run["info"]
    run_id = info["run_id"]
    assert info["run_uuid"] == run_id and len(run_id) == 32
    assert (info["run_name"], info["user_id"], info["status"], info["start_time"]) == (
        "first",
        "ann",
        "RUNNING",
        1000,
    )
    assert info["artifact_uri"] == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    assert {"key": "t0", "value": "v0"} in run["data"]["tags"]
    assert run["inputs"] == {}

    assert (
        http.ok(
            "POST",
            "/runs/log-metric",
            {"run_id": run_id, "key": "loss", "value": 0.5, "timestamp": 10, "step": 1},
        )
        == {}
    )
    http.ok(
        "POST",
        "/runs/log-metric",
        {"run_uuid": run_id, "key": "loss", "value": "NaN", "timestamp": "11", "step": "2"},
    )
    assert http.ok("POST", "/runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "0.1"}) == {}
    assert http.ok("POST", "/runs/set-tag", {"run_id": run_id, "key": "t1", "value": "v1"}) == {}
    assert http.ok("POST", "/runs/delete-tag", {"run_id": run_id, "key": "t0"}) == {}
    assert (
        http.ok(
            "POST",
            "/runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [
                    {"key": "acc", "value": 0.9, "timestamp": 12, "step": 3},
                    {"key": "inf", "value": "Infinity", "timestamp": 12},
                ],
                "params": [{"key": "layers", "value": "3"}],
                "tags": [{"key": "t2", "value": "v2"}],
            },
        )
        == {}
    )
    assert (
        http.ok(
            "POST",
            "/runs/log-inputs",
            {
                "run_id": run_id,
                "datasets": [
                    {
                        "tags": [{"key": "mlflow.data.context", "value": "train"}],
                        "dataset": {
                            "name": "ds",
                            "digest": "abc123",
                            "source_type": "local",
                            "source": "/data",
                        },
                    }
                ],
            },
        )
        == {}
    )

    run = http.ok("GET", "/runs/get", run_id=run_id)["run"]
    metrics = {m["key"]: m for m in run["data"]["metrics"]}
    assert metrics["loss"]["value"] == "NaN" and metrics["loss"]["step"] == 2
    assert metrics["acc"] == {"key": "acc", "value": 0.9, "timestamp": 12, "step": 3}
    assert metrics["inf"]["value"] == "Infinity" and metrics["inf"]["step"] == 0
    assert {p["key"]: p["value"] for p in run["data"]["params"]} == {"lr": "0.1", "layers": "3"}
    tags = {t["key"]: t["value"] for t in run["data"]["tags"]}
    assert "t0" not in tags and tags["t1"] == "v1" and tags["t2"] == "v2"
    dataset_input = run["inputs"]["dataset_inputs"][0]
    assert dataset_input["dataset"]["name"] == "ds"
    assert dataset_input["tags"] == [{"key": "mlflow.data.context", "value": "train"}]
    # run_uuid is accepted for reads too
    assert http.ok("GET", "/runs/get", run_uuid=run_id)["run"]["info"]["run_id"] == run_id

    updated = http.ok(
        "POST",
        "/runs/update",
        {"run_id": run_id, "status": "FINISHED", "end_time": 2000, "run_name": "renamed"},
    )
    assert set(updated) == {"run_info"}
    assert updated["run_info"]["status"] == "FINISHED"
    assert updated["run_info"]["end_time"] == 2000 and updated["run_info"]["run_name"] == "renamed"

    assert http.ok("POST", "/runs/delete", {"run_id": run_id}) == {}
    assert http.ok("GET", "/runs/get", run_id=run_id)["run"]["info"]["lifecycle_stage"] == "deleted"
    status, data, _ = http.post(
        "/runs/log-metric", {"run_id": run_id, "key": "x", "value": 1, "timestamp": 1}
    )
    assert status == 400 and data["error_code"] == "INVALID_PARAMETER_VALUE"
    assert http.ok("POST", "/runs/restore", {"run_id": run_id}) == {}
    assert http.ok("GET", "/runs/get", run_id=run_id)["run"]["info"]["lifecycle_stage"] == "active"


def test_search_runs_filter_order_and_paging(http: Http) -> None:
    experiment_id = _new_experiment(http, "search")
    for i in range(5):
        run_id = _new_run(http, experiment_id, run_name=f"r{i}")["info"]["run_id"]
        http.ok(
            "POST",
            "/runs/log-batch",
            {
                "run_id": run_id,
                "metrics": [{"key": "m", "value": i, "timestamp": 1, "step": 0}],
                "params": [{"key": "p", "value": str(i % 2)}],
            },
        )
    body = {
        "experiment_ids": [experiment_id],
        "filter": "metrics.m >= 1 and params.p = '1'",
        "order_by": ["metrics.m DESC"],
        "max_results": 1,
    }
    first = http.ok("POST", "/runs/search", body)
    assert [r["info"]["run_name"] for r in first["runs"]] == ["r3"]
    second = http.ok("POST", "/runs/search", {**body, "page_token": first["next_page_token"]})
    assert [r["info"]["run_name"] for r in second["runs"]] == ["r1"]
    assert "next_page_token" not in second
    everything = http.ok("POST", "/runs/search", {"experiment_ids": [experiment_id], "run_view_type": "ALL"})
    assert len(everything["runs"]) == 5


def test_search_runs_without_experiment_ids_finds_nothing(http: Http) -> None:
    assert http.ok("POST", "/runs/search", {}) == {}
    assert http.ok("POST", "/runs/search", {"experiment_ids": []}) == {}


# -- metric history -----------------------------------------------------------------------------


def _run_with_history(http: Http, experiment_id: str, steps: range, key: str = "h") -> str:
    run_id = _new_run(http, experiment_id)["info"]["run_id"]
    metrics = [{"key": key, "value": float(s), "timestamp": 100 + s, "step": s} for s in steps]
    http.ok("POST", "/runs/log-batch", {"run_id": run_id, "metrics": metrics})
    return run_id


def test_metric_history_whole_and_paged(http: Http) -> None:
    run_id = _run_with_history(http, _new_experiment(http, "history"), range(7))
    whole = http.ok("GET", "/metrics/get-history", run_id=run_id, metric_key="h")
    assert [m["step"] for m in whole["metrics"]] == list(range(7))
    assert "next_page_token" not in whole
    steps, token = [], None
    while True:
        fields = {"run_id": run_id, "metric_key": "h", "max_results": "3"}
        if token:
            fields["page_token"] = token
        page = http.ok("GET", "/metrics/get-history", **fields)
        steps += [m["step"] for m in page["metrics"]]
        assert len(page["metrics"]) <= 3
        token = page.get("next_page_token")
        if not token:
            break
    assert steps == list(range(7))
    status, data, _ = http.get("/metrics/get-history", run_id=run_id, metric_key="h", max_results="0")
    assert status == 400 and data["error_code"] == "INVALID_PARAMETER_VALUE"
    assert http.ok("GET", "/metrics/get-history", run_id=run_id, metric_key="absent") == {}


def test_bulk_interval_ranges_samples_and_orders(http: Http) -> None:
    experiment_id = _new_experiment(http, "bulk")
    a = _run_with_history(http, experiment_id, range(0, 100))
    b = _run_with_history(http, experiment_id, range(50, 60))
    query = "/metrics/get-history-bulk-interval"
    whole = http.ok("GET", query, run_ids=[a, b], metric_key="h")["metrics"]
    assert len(whole) == 110 and {m["run_id"] for m in whole} == {a, b}
    assert [m["run_id"] for m in whole] == [a] * 100 + [b] * 10  # runs in the order asked
    ranged = http.ok("GET", query, run_ids=[b, a], metric_key="h", start_step="55", end_step="57")["metrics"]
    assert [(m["run_id"], m["step"]) for m in ranged] == [
        (b, 55),
        (b, 56),
        (b, 57),
        (a, 55),
        (a, 56),
        (a, 57),
    ]
    sampled = http.ok("GET", query, run_ids=[a], metric_key="h", max_results="10")["metrics"]
    steps = [m["step"] for m in sampled]
    assert steps[0] == 0 and steps[-1] == 99 and len(steps) <= 11 and steps == sorted(steps)
    status, data, _ = http.get(query, run_ids=a, metric_key="h", start_step="5")
    assert status == 400 and "both must be specified" in data["message"]
    status, data, _ = http.get(query, run_ids=a, metric_key="h", start_step="9", end_step="5")
    assert status == 400 and data["error_code"] == "INVALID_PARAMETER_VALUE"
    status, data, _ = http.get(query, run_ids=a, metric_key="h", max_results="2501")
    assert status == 400
    status, data, _ = http.get(query, run_ids=[f"r{i}" for i in range(101)], metric_key="h")
    assert status == 400 and "at most 100 run_ids" in data["message"]


# -- artifacts listing, logged models --------------------------------------------------------------


def test_list_artifacts_of_a_proxied_run(served: tuple[Http, Path]) -> None:
    http, destination = served
    experiment_id = _new_experiment(http, "artifacts")
    run_id = _new_run(http, experiment_id)["info"]["run_id"]
    folder = destination / experiment_id / run_id / "artifacts"
    (folder / "model").mkdir(parents=True)
    (folder / "model" / "weights.bin").write_bytes(b"x" * 10)
    (folder / "notes.txt").write_text("hello")
    top = http.ok("GET", "/artifacts/list", run_id=run_id)
    assert top["root_uri"] == f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts"
    assert top["files"] == [
        {"path": "model", "is_dir": True},
        {"path": "notes.txt", "is_dir": False, "file_size": 5},
    ]
    inner = http.ok("GET", "/artifacts/list", run_id=run_id, path="model")
    assert inner["files"] == [{"path": "model/weights.bin", "is_dir": False, "file_size": 10}]
    empty_run = _new_run(http, experiment_id)["info"]["run_id"]
    assert "files" not in http.ok("GET", "/artifacts/list", run_id=empty_run)
    status, data, _ = http.get("/artifacts/list", run_id=run_id, path="../../etc")
    assert status == 400 and data["error_code"] == "INVALID_PARAMETER_VALUE"


def test_list_artifacts_refuses_a_client_chosen_plain_location(http: Http, tmp_path: Path) -> None:
    """A folder a client named as its experiment's location is not the server's to list
    (test_server_locations.py covers the rest of the rule)."""
    root = tmp_path / "elsewhere"
    experiment_id = str(
        http.ok("POST", "/experiments/create", {"name": "plain-root", "artifact_location": str(root)})[
            "experiment_id"
        ]
    )
    run = _new_run(http, experiment_id)
    artifact_dir = Path(run["info"]["artifact_uri"].removeprefix("file://"))
    artifact_dir.mkdir(parents=True)
    (artifact_dir / "a.txt").write_text("abc")
    status, data, _ = http.get("/artifacts/list", run_id=run["info"]["run_id"])
    assert status == 400 and data["error_code"] == "INVALID_PARAMETER_VALUE"
    assert "a.txt" not in str(data)


def test_logged_models_search_is_an_empty_page(http: Http) -> None:
    # the stand-in answers {"models": []}; a plugin serving logged models (tracklet-registry,
    # whose route replaces it) answers proto3's {} for an empty page
    answer = http.ok("POST", "/logged-models/search", {"experiment_ids": ["0"]})
    assert answer.get("models", []) == [] and set(answer) <= {"models"}


def test_ajax_alias_serves_the_same_api(http: Http) -> None:
    status, data, _ = http.request("GET", "/ajax-api/2.0/mlflow/experiments/get?experiment_id=0")
    assert status == 200 and data["experiment"]["name"] == "Default"


# -- errors -------------------------------------------------------------------------------------


def _error(result: tuple[int, Any, Any], status: int, code: str) -> str:
    got_status, data, headers = result
    assert got_status == status, data
    assert headers["content-type"] == "application/json"
    assert set(data) == {"error_code", "message"} and data["error_code"] == code
    return str(data["message"])


def test_missing_and_ill_typed_fields_name_the_field(http: Http) -> None:
    message = _error(http.post("/experiments/create", {}), 400, "INVALID_PARAMETER_VALUE")
    assert "'name'" in message
    message = _error(
        http.post("/experiments/search", {"max_results": "many"}), 400, "INVALID_PARAMETER_VALUE"
    )
    assert "'max_results'" in message
    message = _error(
        http.post("/runs/log-metric", {"run_id": "a" * 32, "key": "k", "value": [1], "timestamp": 1}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "'value'" in message
    message = _error(http.get("/runs/get"), 400, "INVALID_PARAMETER_VALUE")
    assert "run_id" in message
    _error(
        http.post("/runs/log-batch", {"run_id": "a" * 32, "metrics": "nope"}), 400, "INVALID_PARAMETER_VALUE"
    )
    _error(
        http.post("/runs/search", {"experiment_ids": ["0"], "filter": "metrics.m >>> 1"}),
        400,
        "INVALID_PARAMETER_VALUE",
    )


def test_integers_that_do_not_fit_are_refused(http: Http) -> None:
    run_id = _new_run(http, "0")["info"]["run_id"]
    big = 2**63
    message = _error(
        http.post("/runs/log-metric", {"run_id": run_id, "key": "k", "value": 1, "timestamp": big}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "timestamp" in message
    _error(
        http.post(
            "/runs/log-batch",
            {"run_id": run_id, "metrics": [{"key": "k", "value": 1, "timestamp": 1, "step": -big - 1}]},
        ),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    _error(
        http.post("/runs/search", {"experiment_ids": ["0"], "max_results": 2**31}),
        400,
        "INVALID_PARAMETER_VALUE",
    )
    assert "metrics" not in http.ok("GET", "/runs/get", run_id=run_id)["run"]["data"]  # nothing was stored


def test_unknown_resources_are_404(http: Http) -> None:
    _error(http.get("/runs/get", run_id="0" * 32), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(http.get("/experiments/get", experiment_id="987654"), 404, "RESOURCE_DOES_NOT_EXIST")
    _error(http.post("/runs/log-batch", {"run_id": "0" * 32, "metrics": []}), 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize(
    "raw, rule",
    [
        (b'{"name": ', "Malformed JSON"),
        (b"\xff\xfe\x00garbage", "Malformed JSON"),
        (b"[1, 2, 3]", "must be a JSON object"),
        (b'"just a string"', "must be a JSON object"),
        (b"[" * 100_000 + b"]" * 100_000, ""),
    ],
)
def test_malformed_bodies_are_400(http: Http, raw: bytes, rule: str) -> None:
    status, data, _ = http.request("POST", API + "/experiments/create", raw=raw)
    assert status == 400 and data["error_code"] in ("BAD_REQUEST", "INVALID_PARAMETER_VALUE")
    assert rule in data["message"]


def test_wrong_content_type_is_400(http: Http) -> None:
    status, data, _ = http.request(
        "POST",
        API + "/experiments/create",
        raw=b"name=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert status == 400 and data["error_code"] == "INVALID_PARAMETER_VALUE"


def test_oversized_body_is_400_by_content_length(http: Http) -> None:
    body = json.dumps({"name": "x" * (MAX_BODY + 10)}).encode()
    message = _error(http.request("POST", API + "/experiments/create", raw=body), 400, "BAD_REQUEST")
    assert str(MAX_BODY) in message
    assert http.ok("POST", "/experiments/search", {"filter": "name = 'xxxxxxxxxx'"}) == {}


def test_oversized_streamed_body_is_400(http: Http) -> None:
    """A chunked body (no Content-Length) is counted as it arrives."""
    port = int(http.url.rsplit(":", 1)[1])
    chunk = b"x" * 16384
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(
            b"POST " + API.encode() + b"/experiments/create HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        try:
            for _ in range(MAX_BODY // len(chunk) + 4):
                sock.sendall(b"%x\r\n" % len(chunk) + chunk + b"\r\n")
        except OSError:
            pass  # the server may answer and close before everything was sent
        reply = b""
        while b"\r\n\r\n" not in reply or not reply.rstrip().endswith(b"}"):
            data = sock.recv(65536)
            if not data:
                break
            reply += data
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400")
    assert json.loads(body)["error_code"] == "BAD_REQUEST"


def test_unknown_endpoint_and_wrong_method(http: Http) -> None:
    _error(http.request("GET", API + "/runs/explode"), 404, "ENDPOINT_NOT_FOUND")
    _error(http.request("GET", "/no/such/page"), 404, "ENDPOINT_NOT_FOUND")
    status, data, headers = http.request("GET", API + "/runs/log-batch")
    assert status == 405 and data["error_code"] == "BAD_REQUEST" and headers["allow"] == "POST"
    status, data, _ = http.request("DELETE", API + "/experiments/search")
    assert status == 405 and headers["content-type"] == "application/json"
    status, data, _ = http.request("POST", "/health", raw=b"")
    assert status == 405 and data["error_code"] == "BAD_REQUEST"


def test_too_many_query_fields_is_400(http: Http) -> None:
    # the limit leaves room for MLflow's 1,000 run ids to the bulk metric endpoints
    query = "&".join("f=" for _ in range(10_001))  # 30 KB: under the head limit
    status, data, _ = http.request("GET", f"{API}/runs/get?{query}")
    assert status == 400 and data["error_code"] == "BAD_REQUEST"


# -- a store that fails: 500 without details ---------------------------------------------------------


class _BrokenPlugin:
    """A real plugin whose store fails unexpectedly on get_run."""

    from tracklet.plugins import hookimpl

    @hookimpl
    def tracklet_tracking_store(self, uri: str, artifact_uri: str | None) -> Any:
        if not uri.startswith("broken-sqlite:"):
            return None
        from tracklet.plugins import get_tracking_store  # the sqlite store, not tracklet_sql itself

        sqlite_uri = "sqlite:" + uri.split(":", 1)[1]

        class BrokenStore(type(get_tracking_store(sqlite_uri, artifact_uri))):  # type: ignore[misc]
            def get_run(self, run_id: str) -> Any:
                raise RuntimeError("secret internal detail")

        return BrokenStore(sqlite_uri, artifact_uri)


def test_unexpected_errors_are_500_internal_error_without_details(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from tracklet import plugins

    plugin = _BrokenPlugin()
    plugins.register(plugin, "broken-test-store")
    try:
        settings = ServerSettings(
            backend_store_uri=f"broken-sqlite:///{tmp_path / 'b.db'}",
            artifacts_destination=str(tmp_path / "a"),
        )
        with ThreadServer(create_app(settings)) as server:
            caplog.set_level("ERROR", logger="tracklet_http.server")
            status, data, _ = Http(server.url).get("/runs/get", run_id="a" * 32)
    finally:
        plugins.unregister(plugin)
    assert status == 500 and data["error_code"] == "INTERNAL_ERROR"
    assert "secret" not in data["message"]
    assert "secret internal detail" in caplog.text


def test_store_thread_count_answers_alike_and_is_checked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One store thread or the default pools (see app._store_executors) give the same answers;
    a bad TRACKLET_SERVER_STORE_THREADS is refused naming the variable and the rule."""
    answers = []
    for threads in ("1", ""):
        monkeypatch.setenv("TRACKLET_SERVER_STORE_THREADS", threads)
        settings = ServerSettings(
            backend_store_uri=f"sqlite:///{tmp_path / f'd{threads}.db'}",
            artifacts_destination=str(tmp_path / "a"),
        )
        with ThreadServer(create_app(settings)) as server:
            http = Http(server.url)
            run_id = _new_run(http, "0")["info"]["run_id"]
            http.ok(
                "POST",
                "/runs/log-batch",
                {"run_id": run_id, "metrics": [{"key": "m", "value": 1.5, "timestamp": 5, "step": 1}]},
            )
            data = http.ok("GET", "/metrics/get-history", run_id=run_id, metric_key="m")
            answers.append((data, http.get("/runs/get", run_id="nope")[:2]))
    assert answers[0] == answers[1]
    monkeypatch.setenv("TRACKLET_SERVER_STORE_THREADS", "0")
    with pytest.raises(
        ValueError, match="TRACKLET_SERVER_STORE_THREADS='0': expected a whole number from 1 to 256"
    ):
        create_app(ServerSettings(backend_store_uri=f"sqlite:///{tmp_path / 'e.db'}"))


def test_metric_entities_round_trip_unchanged() -> None:
    """What the server writes for a metric is what protocol reads back (shared converters)."""
    from tracklet_http import protocol

    m = Metric("k", float("-inf"), 3, 4)
    assert protocol.metric_json_to_entity(protocol.metric_to_json(m)) == m


# -- with --auth: the dispatcher consults the real Authorizer -------------------------------------


def test_auth_is_consulted_on_every_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKLET_AUTH_ADMIN_PASSWORD", "admin-password-123")
    monkeypatch.setenv("TRACKLET_AUTH_DEFAULT_PERMISSION", "NO_PERMISSIONS")
    settings = ServerSettings(
        backend_store_uri=f"sqlite:///{tmp_path / 'auth.db'}",
        artifacts_destination=str(tmp_path / "a"),
        auth=True,
    )
    with ThreadServer(create_app(settings)) as server:
        anonymous = Http(server.url)
        status, data, headers = anonymous.get("/experiments/get", experiment_id="0")
        assert status == 401 and data["error_code"] == "UNAUTHENTICATED"
        assert headers["www-authenticate"] == 'Basic realm="tracklet"'
        # no validation details before authentication
        assert anonymous.post("/experiments/create", {})[0] == 401

        admin = Http(server.url, "admin:admin-password-123")
        bob = Http(server.url, "bob:bob-password-123")
        status, _, _ = admin.request(
            "POST", API + "/users/create", {"username": "bob", "password": "bob-password-123"}
        )
        assert status == 200
        theirs = _new_experiment(admin, "admins-only")
        mine = _new_experiment(bob, "bobs")  # the creator may manage it
        status, data, _ = bob.get("/experiments/get", experiment_id=theirs)
        assert status == 403 and data["error_code"] == "PERMISSION_DENIED"
        run = _new_run(bob, mine)
        assert run["info"]["user_id"] == "bob"  # the authenticated user, when none is given
        found = bob.ok("POST", "/experiments/search", {})["experiments"]
        assert {e["experiment_id"] for e in found} == {mine}
        assert bob.ok("POST", "/runs/search", {"experiment_ids": [theirs]}) == {}
        assert len(bob.ok("POST", "/runs/search", {"experiment_ids": [mine, theirs]})["runs"]) == 1
        assert len(admin.ok("POST", "/experiments/search", {})["experiments"]) == 3


def test_query_strings_that_are_not_utf8_are_400(http: Http) -> None:
    status, data, _ = http.request("GET", f"{API}/experiments/get-by-name?experiment_name=%ff%fe")
    assert status == 400 and data["error_code"] == "BAD_REQUEST"
    status, data, _ = http.request("GET", f"{API}/experiments/get-by-name?experiment_name=%C3%A9t%C3%A9")
    assert status == 404 and "'été'" in data["message"]
