"""``tracklet server --mlflow-ui``: MLflow's own web UI bundle, from the installed mlflow
package, served by a real ``tracklet server`` subprocess as MLflow's server serves it, and
the calls that UI makes on every page answered as MLflow 3.17.2 answers them.

(Driving MLflow's UI in a browser against this server is the browser suite's job,
``tests/ui``; the list of requests it makes is in ``plugins/http/README.md``.)
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from tracklet import plugins
from tracklet_http.server.cli import server as server_command
from tracklet_http.server.mlflow_ui_api import store_type
from tracklet_http.testing import ServerProcess, raw_request

#: The keys MLflow 3.17.2's server-info answers with (mlflow.server.handlers).
MLFLOW_SERVER_INFO_KEYS = {
    "store_type",
    "workspaces_enabled",
    "trace_archival_enabled",
    "multipart_uploads_enabled",
    "multipart_downloads_enabled",
    "presigned_upload_run_id_supported",
    "presigned_upload_model_id_supported",
    "features_enabled",
}


def _bundle() -> Path:
    spec = importlib.util.find_spec("mlflow")
    assert spec is not None and spec.submodule_search_locations, "these tests need mlflow installed"
    return Path(list(spec.submodule_search_locations)[0]) / "server" / "js" / "build"


@pytest.fixture(scope="module")
def mlflow_ui_server(tmp_path_factory: pytest.TempPathFactory) -> Any:
    from tracklet_http.testing import launch_tracklet_server

    server = launch_tracklet_server(tmp_path_factory.mktemp("mlflow-ui"), None, None, "--mlflow-ui")
    yield server
    server.stop()


def _get(server: ServerProcess, target: str, method: str = "GET", **headers: str) -> Any:
    return raw_request(server.url, method, target, headers=headers)


def test_root_is_mlflow_s_index_page_without_a_csp(mlflow_ui_server: ServerProcess) -> None:
    answer = _get(mlflow_ui_server, "/")
    assert answer.status == 200
    assert answer.body == (_bundle() / "index.html").read_bytes()
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    # MLflow's bundle runs inline code: MLflow sends no CSP, and neither do we for it
    assert "content-security-policy" not in answer.headers
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "SAMEORIGIN"
    assert _get(mlflow_ui_server, "/", "HEAD").status == 200


def test_the_bundle_s_scripts_and_styles_are_served_from_static_files(
    mlflow_ui_server: ServerProcess,
) -> None:
    index = (_bundle() / "index.html").read_text()
    loaded = re.findall(r'(?:src|href)="\.?/?(static-files/[^"]+)"', index)
    assert any(path.endswith(".js") for path in loaded) and any(path.endswith(".css") for path in loaded)
    for path in loaded:
        answer = _get(mlflow_ui_server, "/" + path)
        assert answer.status == 200, path
        assert answer.body == (_bundle() / path.removeprefix("static-files/")).read_bytes()
        assert answer.headers["cache-control"] == "public, max-age=2419200"  # MLflow's 28 days
        if path.endswith(".js"):
            assert answer.headers["content-type"] == "text/javascript; charset=utf-8"
        if path.endswith(".css"):
            assert answer.headers["content-type"] == "text/css; charset=utf-8"
        etag = answer.headers["etag"]
        assert _get(mlflow_ui_server, "/" + path, **{"If-None-Match": etag}).status == 304


@pytest.mark.parametrize(
    "target",
    ["/static-files/../__init__.py", "/static-files/%2e%2e/%2e%2e/__init__.py", "/static-files/nope.js"],
)
def test_nothing_outside_the_bundle(mlflow_ui_server: ServerProcess, target: str) -> None:
    answer = _get(mlflow_ui_server, target)
    assert answer.status == 404
    assert b"import" not in answer.body


def test_tracklet_s_own_ui_stays_at_ui(mlflow_ui_server: ServerProcess) -> None:
    ours = [a for a in plugins.server_assets() if a.root]
    if not ours:
        pytest.skip("no plugin with root assets (tracklet-ui) is installed")
    answer = _get(mlflow_ui_server, ours[0].prefix + "/")
    assert answer.status == 200
    assert "default-src 'self'" in answer.headers["content-security-policy"]
    assert answer.body != (_bundle() / "index.html").read_bytes()


@pytest.mark.parametrize("prefix", ["/ajax-api/3.0/mlflow", "/api/3.0/mlflow"])
def test_server_info_answers_mlflow_s_keys(mlflow_ui_server: ServerProcess, prefix: str) -> None:
    answer = _get(mlflow_ui_server, prefix + "/server-info")
    assert answer.status == 200
    info = json.loads(answer.body)
    assert set(info) == MLFLOW_SERVER_INFO_KEYS
    assert info["store_type"] == "SqlStore"
    assert info["workspaces_enabled"] is False
    assert info["features_enabled"] == {"gateway": False}


@pytest.mark.parametrize("prefix", ["/ajax-api/3.0/mlflow", "/api/3.0/mlflow"])
def test_evaluation_dataset_search_is_an_empty_page(mlflow_ui_server: ServerProcess, prefix: str) -> None:
    body = json.dumps(
        {"experiment_ids": ["0"], "order_by": ["created_time DESC"], "max_results": 50}
    ).encode()
    answer = raw_request(
        mlflow_ui_server.url,
        "POST",
        prefix + "/datasets/search",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status == 200
    assert json.loads(answer.body) == {}


def test_store_type_by_backend() -> None:
    assert store_type("sqlite:///x.db") == "SqlStore"
    assert store_type("postgresql+psycopg://u@h/db") == "SqlStore"
    assert store_type("mysql://u@h/db") == "SqlStore"
    assert store_type("/srv/mlruns") == "FileStore"
    assert store_type("file:///srv/mlruns") == "FileStore"
    assert store_type("memory:") is None


# -- start-up errors ---------------------------------------------------------------------------


def _start(tmp_path: Path) -> Any:
    return CliRunner().invoke(
        server_command,
        ["--backend-store-uri", f"sqlite:///{tmp_path / 'never.db'}", "--port", "1", "--mlflow-ui"],
        catch_exceptions=False,
    )


def test_without_mlflow_installed_the_flag_names_the_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "mlflow", None)  # Python's own "not importable" marker
    result = _start(tmp_path)
    assert result.exit_code != 0
    assert "pip install mlflow" in result.output
    assert not (tmp_path / "never.db").exists()  # refused before anything was opened


def test_an_mlflow_without_a_built_ui_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "site" / "mlflow"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise RuntimeError('never imported')\n")
    monkeypatch.delitem(sys.modules, "mlflow", raising=False)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    result = _start(tmp_path)
    assert result.exit_code != 0
    assert "has no built web UI" in result.output and str(fake) in result.output
    assert os.environ.get("TRACKLET_SERVER_MLFLOW_UI") is None
    assert "mlflow" not in sys.modules


# -- the assistant panel, the AI gateway and the trace metrics charts ------------------------------


def _post(server: ServerProcess, target: str, payload: dict[str, Any]) -> tuple[int, Any]:
    answer = raw_request(
        server.url,
        "POST",
        target,
        body=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json"},
    )
    return answer.status, json.loads(answer.body)


def test_assistant_config_is_mlflow_s_answer_with_no_assistant(mlflow_ui_server: ServerProcess) -> None:
    answer = _get(mlflow_ui_server, "/ajax-api/3.0/mlflow/assistant/config")
    assert answer.status == 200
    assert json.loads(answer.body) == {"providers": {}, "projects": {}, "remote_access_allowed": False}


def test_assistant_providers_are_mlflow_s_none_available(mlflow_ui_server: ServerProcess) -> None:
    answer = _get(mlflow_ui_server, "/ajax-api/3.0/mlflow/assistant/providers")
    assert answer.status == 200
    body = json.loads(answer.body)
    assert [p["name"] for p in body["providers"]] == ["claude_code", "codex", "mlflow_gateway", "ollama"]
    assert all(p["available"] is False and p["selected"] is False for p in body["providers"])
    assert set(body["providers"][0]) == {
        "name",
        "display_name",
        "description",
        "available",
        "selected",
        "requires_api_key",
        "has_api_key",
        "allows_remote_access",
        "client_tool_delivery",
        "model_options",
    }
    assert body["resolved"] is None and body["gateway_vendor_options"] == {}


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_gateway_proxy_without_a_gateway_has_no_endpoints(
    mlflow_ui_server: ServerProcess, method: str
) -> None:
    body = json.dumps({"gateway_path": "api/2.0/endpoints"}).encode() if method == "POST" else None
    answer = raw_request(
        mlflow_ui_server.url,
        method,
        "/ajax-api/2.0/mlflow/gateway-proxy",
        body=body,
        headers={"Content-Type": "application/json"},
    )
    assert answer.status == 200
    assert json.loads(answer.body) == {"endpoints": []}


T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z
HOUR = 3_600_000


@pytest.fixture(scope="module")
def metrics_experiment(mlflow_ui_server: ServerProcess) -> str:
    """Three traces with fixed times, latencies, names, states and token counts."""
    status, created = _post(mlflow_ui_server, "/api/2.0/mlflow/experiments/create", {"name": "trace-metrics"})
    assert status == 200
    experiment_id = str(created["experiment_id"])
    traces = [
        ("tr-a", "root0", "OK", T0, 30, {"input_tokens": 0, "output_tokens": 5, "total_tokens": 5}, None),
        (
            "tr-b",
            "root1",
            "OK",
            T0 + 1000,
            20,
            {"input_tokens": 10, "output_tokens": 5, "total_tokens": 15},
            None,
        ),
        (
            "tr-c",
            "root0",
            "ERROR",
            T0 + HOUR,
            61,
            {"input_tokens": 20, "output_tokens": 5, "total_tokens": 25},
            "s1",
        ),
    ]
    for trace_id, name, state, start, duration, tokens, session in traces:
        metadata = {"mlflow.trace.tokenUsage": json.dumps(tokens)}
        if session:
            metadata["mlflow.trace.session"] = session
        info = {
            "trace_id": trace_id,
            "trace_location": {
                "type": "MLFLOW_EXPERIMENT",
                "mlflow_experiment": {"experiment_id": experiment_id},
            },
            "request_time": _rfc3339(start),
            "execution_duration": f"{duration / 1000}s",
            "state": state,
            "trace_metadata": metadata,
            "tags": {"mlflow.traceName": name},
        }
        status, _ = _post(mlflow_ui_server, "/api/3.0/mlflow/traces", {"trace": {"trace_info": info}})
        assert status == 200
    return experiment_id


def _rfc3339(ms: int) -> str:
    from datetime import datetime, timezone

    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _metrics(server: ServerProcess, experiment_id: str, **fields: Any) -> tuple[int, Any]:
    payload = {"experiment_ids": [experiment_id], "view_type": "TRACES", **fields}
    return _post(server, "/ajax-api/3.0/mlflow/traces/metrics", payload)


def test_trace_metrics_is_not_taken_for_a_trace_id(
    mlflow_ui_server: ServerProcess, metrics_experiment: str
) -> None:
    """``traces/{trace_id}`` used to match ``traces/metrics`` first and answer 405."""
    for prefix in ("/ajax-api/3.0/mlflow", "/api/3.0/mlflow"):
        payload = {
            "experiment_ids": [metrics_experiment],
            "view_type": "TRACES",
            "metric_name": "trace_count",
            "aggregations": [{"aggregation_type": "COUNT"}],
        }
        status, body = _post(mlflow_ui_server, prefix + "/traces/metrics", payload)
        assert (status, body) == (
            200,
            {"data_points": [{"metric_name": "trace_count", "values": {"COUNT": 3.0}}]},
        )


def test_trace_counts_by_status_and_filtered(
    mlflow_ui_server: ServerProcess, metrics_experiment: str
) -> None:
    count = [{"aggregation_type": "COUNT"}]
    status, body = _metrics(
        mlflow_ui_server,
        metrics_experiment,
        metric_name="trace_count",
        aggregations=count,
        dimensions=["trace_status"],
    )
    assert status == 200
    assert body["data_points"] == [
        {"metric_name": "trace_count", "dimensions": {"trace_status": "ERROR"}, "values": {"COUNT": 1.0}},
        {"metric_name": "trace_count", "dimensions": {"trace_status": "OK"}, "values": {"COUNT": 2.0}},
    ]
    status, body = _metrics(
        mlflow_ui_server,
        metrics_experiment,
        metric_name="trace_count",
        aggregations=count,
        filters=['trace.status = "OK"'],
    )
    assert body["data_points"] == [{"metric_name": "trace_count", "values": {"COUNT": 2.0}}]
    status, body = _metrics(
        mlflow_ui_server, metrics_experiment, metric_name="session_count", aggregations=count
    )
    assert body["data_points"] == [{"metric_name": "session_count", "values": {"COUNT": 1.0}}]


def test_latency_percentiles_by_trace_name(mlflow_ui_server: ServerProcess, metrics_experiment: str) -> None:
    """MLflow 3.17.2's sqlite store answers these values for latencies 30 and 61 ms (P99 60.69)."""
    aggregations = [
        {"aggregation_type": "AVG"},
        {"aggregation_type": "PERCENTILE", "percentile_value": 50},
        {"aggregation_type": "PERCENTILE", "percentile_value": 99},
        {"aggregation_type": "MIN"},
        {"aggregation_type": "MAX"},
    ]
    status, body = _metrics(
        mlflow_ui_server,
        metrics_experiment,
        metric_name="latency",
        aggregations=aggregations,
        dimensions=["trace_name"],
    )
    assert status == 200
    root0, root1 = body["data_points"]
    assert root0["dimensions"] == {"trace_name": "root0"}
    assert root0["values"] == pytest.approx(
        {"AVG": 45.5, "P50.0": 45.5, "P99.0": 60.69, "MIN": 30.0, "MAX": 61.0}
    )
    assert root1 == {
        "metric_name": "latency",
        "dimensions": {"trace_name": "root1"},
        "values": {"AVG": 20.0, "P50.0": 20.0, "P99.0": 20.0, "MIN": 20.0, "MAX": 20.0},
    }


def test_token_sums_by_hour(mlflow_ui_server: ServerProcess, metrics_experiment: str) -> None:
    status, body = _metrics(
        mlflow_ui_server,
        metrics_experiment,
        metric_name="total_tokens",
        aggregations=[{"aggregation_type": "SUM"}, {"aggregation_type": "AVG"}],
        time_interval_seconds=3600,
        start_time_ms=T0 - HOUR,
        end_time_ms=T0 + 2 * HOUR,
    )
    assert status == 200
    assert body["data_points"] == [
        {
            "metric_name": "total_tokens",
            "dimensions": {"time_bucket": "2023-11-14T22:00:00+00:00"},
            "values": {"SUM": 20.0, "AVG": 10.0},
        },
        {
            "metric_name": "total_tokens",
            "dimensions": {"time_bucket": "2023-11-14T23:00:00+00:00"},
            "values": {"SUM": 25.0, "AVG": 25.0},
        },
    ]
    # start and end are inclusive; outside them nothing counts
    status, body = _metrics(
        mlflow_ui_server,
        metrics_experiment,
        metric_name="trace_count",
        aggregations=[{"aggregation_type": "COUNT"}],
        start_time_ms=T0 + 1000,
        end_time_ms=T0 + HOUR,
    )
    assert body["data_points"] == [{"metric_name": "trace_count", "values": {"COUNT": 2.0}}]


def test_an_experiment_without_traces(mlflow_ui_server: ServerProcess) -> None:
    """MLflow: a count over nothing is one point of 0; an average over nothing, no point."""
    status, created = _post(mlflow_ui_server, "/api/2.0/mlflow/experiments/create", {"name": "no-traces"})
    experiment_id = str(created["experiment_id"])
    status, body = _metrics(
        mlflow_ui_server,
        experiment_id,
        metric_name="trace_count",
        aggregations=[{"aggregation_type": "COUNT"}],
    )
    assert (status, body) == (
        200,
        {"data_points": [{"metric_name": "trace_count", "values": {"COUNT": 0.0}}]},
    )
    status, body = _metrics(
        mlflow_ui_server, experiment_id, metric_name="latency", aggregations=[{"aggregation_type": "AVG"}]
    )
    assert (status, body) == (200, {})


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        (
            {"metric_name": "latency", "aggregations": [{"aggregation_type": "COUNT"}]},
            "Found invalid aggregation_type(s): ['COUNT']. Supported aggregation types: ['AVG', 'MAX', 'MIN', 'PERCENTILE']",
        ),
        (
            {"metric_name": "bogus", "aggregations": [{"aggregation_type": "COUNT"}]},
            "metric_name must be one of ['trace_count', 'session_count', 'latency', 'input_tokens', "
            "'output_tokens', 'total_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens'], got 'bogus'",
        ),
        (
            {
                "metric_name": "trace_count",
                "aggregations": [{"aggregation_type": "COUNT"}],
                "time_interval_seconds": 60,
            },
            "start_time_ms and end_time_ms are required if time_interval_seconds is set",
        ),
        (
            {
                "metric_name": "trace_count",
                "aggregations": [{"aggregation_type": "COUNT"}],
                "dimensions": ["span_name"],
            },
            "Found invalid dimension(s): ['span_name']. Supported dimensions: ['trace_name', 'trace_status']",
        ),
    ],
)
def test_trace_metrics_refusals_are_mlflow_s(
    mlflow_ui_server: ServerProcess, metrics_experiment: str, fields: dict[str, Any], message: str
) -> None:
    status, body = _metrics(mlflow_ui_server, metrics_experiment, **fields)
    assert status == 400
    assert body == {"error_code": "INVALID_PARAMETER_VALUE", "message": message}


def test_span_metrics_count_and_latency_from_spans() -> None:
    """The SPANS view over MLflow's span dictionaries (as a trace's ``traces.json`` holds
    them): whole-millisecond latencies, type from ``mlflow.spanType``, status without its
    ``STATUS_CODE_`` prefix, span filters; the figures MLflow 3.17.2 answers for such spans."""
    from types import SimpleNamespace

    from tracklet_http.server.trace_metrics import compute, span_rows

    def span(name: str, start_ms: int, duration_ns: int, kind: str, status: str) -> dict[str, Any]:
        start = start_ms * 1_000_000
        return {
            "span_id": f"{name}-{start_ms}",
            "name": name,
            "start_time_unix_nano": start,
            "end_time_unix_nano": start + duration_ns,
            "status": {"code": f"STATUS_CODE_{status}", "message": ""},
            "attributes": {"mlflow.spanType": json.dumps(kind)},
        }

    traces = {
        "a": [span("root", T0, 30_900_000, "CHAIN", "OK"), span("llm", T0 + 5, 20_000_000, "LLM", "OK")],
        "b": [span("root", T0 + HOUR, 61_000_000, "CHAIN", "ERROR")],
    }
    infos = [SimpleNamespace(trace_id=k, request_time=T0 if k == "a" else T0 + HOUR, tags={}) for k in traces]

    def spans_of(info: Any) -> list[dict[str, Any]]:
        return traces[info.trace_id]

    def run(metric: str, aggs: list[Any], dims: list[str], filters: list[str] = (), **window: Any) -> Any:
        rows = span_rows(infos, spans_of, metric, list(filters))
        interval = window.pop("interval", None)
        return compute(rows, metric, aggs, dims, interval, window.get("start"), window.get("end"), 1000)

    assert run("span_count", [("COUNT", None)], ["span_type", "span_status"]) == [
        {
            "metric_name": "span_count",
            "dimensions": {"span_type": "CHAIN", "span_status": "ERROR"},
            "values": {"COUNT": 1.0},
        },
        {
            "metric_name": "span_count",
            "dimensions": {"span_type": "CHAIN", "span_status": "OK"},
            "values": {"COUNT": 1.0},
        },
        {
            "metric_name": "span_count",
            "dimensions": {"span_type": "LLM", "span_status": "OK"},
            "values": {"COUNT": 1.0},
        },
    ]
    # latency in whole milliseconds (30.9 ms counts 30, as MLflow's integer division)
    assert run("latency", [("AVG", None), ("MAX", None)], ["span_name"]) == [
        {"metric_name": "latency", "dimensions": {"span_name": "llm"}, "values": {"AVG": 20.0, "MAX": 20.0}},
        {"metric_name": "latency", "dimensions": {"span_name": "root"}, "values": {"AVG": 45.5, "MAX": 61.0}},
    ]
    assert run("span_count", [("COUNT", None)], [], ['span.status = "OK"']) == [
        {"metric_name": "span_count", "values": {"COUNT": 2.0}}
    ]
    # the window is the trace's start time, the bucket the span's own
    assert run("span_count", [("COUNT", None)], [], interval=3600, start=T0 + 1, end=T0 + HOUR) == [
        {
            "metric_name": "span_count",
            "dimensions": {"time_bucket": "2023-11-14T23:00:00+00:00"},
            "values": {"COUNT": 1.0},
        }
    ]
