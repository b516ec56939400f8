"""The same raw requests to ``tracklet server`` and to MLflow's own ``mlflow server``
(from PyPI, on sqlite): the same statuses, error codes and response shapes (keys and
value types; ids and times differ)."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

import pytest

from tracklet_http.testing import ServerProcess

pytestmark = [pytest.mark.interop, pytest.mark.slow]

API = "/api/2.0/mlflow"
#: Fields MLflow 3 adds that tracklet does not keep (workspaces, a run's logged-model
#: outputs, always ``{}`` here), and MLflow's extra error details.
IGNORED_KEYS = {"workspace", "outputs", "sqlstate", "error_class"}


def _call(base: str, method: str, path: str, body: Any = None, **query: Any) -> tuple[int, Any]:
    url = base + path + ("?" + urllib.parse.urlencode(query, doseq=True) if query else "")
    data = json.dumps(body).encode() if method == "POST" else None
    request = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as resp:
            status, payload = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, payload = exc.code, exc.read()
    try:
        return status, json.loads(payload)
    except ValueError:
        return status, None


def shape(value: Any) -> Any:
    """Keys and value types, recursively (a list by its first item)."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in value.items() if k not in IGNORED_KEYS}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    return type(value).__name__


def _scenario(base: str) -> dict[str, Any]:
    """One sequence of calls; returns what each answered (status and shape)."""
    out: dict[str, Any] = {}
    name = f"cmp-{uuid.uuid4().hex[:8]}"

    def record(label: str, method: str, path: str, body: Any = None, **query: Any) -> Any:
        status, data = _call(base, method, API + path, body, **query)
        out[label] = (status, shape(data))
        return data

    experiment_id = record(
        "create_experiment",
        "POST",
        "/experiments/create",
        {"name": name, "tags": [{"key": "k", "value": "v"}]},
    )["experiment_id"]
    record("get_experiment", "GET", "/experiments/get", experiment_id=experiment_id)
    record("get_experiment_by_name", "GET", "/experiments/get-by-name", experiment_name=name)
    record("search_experiments_page", "POST", "/experiments/search", {"max_results": 1})
    run = record(
        "create_run",
        "POST",
        "/runs/create",
        {
            "experiment_id": experiment_id,
            "start_time": 1000,
            "run_name": "r",
            "user_id": "u",
            "tags": [{"key": "t", "value": "1"}],
        },
    )["run"]
    run_id = run["info"]["run_id"]
    record(
        "log_batch",
        "POST",
        "/runs/log-batch",
        {
            "run_id": run_id,
            "metrics": [{"key": "m", "value": 1.5, "timestamp": 10, "step": s} for s in range(3)],
            "params": [{"key": "p", "value": "1"}],
            "tags": [{"key": "t2", "value": "2"}],
        },
    )
    record(
        "log_metric", "POST", "/runs/log-metric", {"run_id": run_id, "key": "x", "value": 2, "timestamp": 3}
    )
    record("log_param", "POST", "/runs/log-parameter", {"run_id": run_id, "key": "q", "value": "v"})
    record("set_tag", "POST", "/runs/set-tag", {"run_id": run_id, "key": "t3", "value": "v"})
    record("delete_tag", "POST", "/runs/delete-tag", {"run_id": run_id, "key": "t3"})
    record("get_run", "GET", "/runs/get", run_id=run_id)
    record("update_run", "POST", "/runs/update", {"run_id": run_id, "status": "FINISHED", "end_time": 2000})
    record("get_metric_history", "GET", "/metrics/get-history", run_id=run_id, metric_key="m")
    record(
        "get_metric_history_page", "GET", "/metrics/get-history", run_id=run_id, metric_key="m", max_results=2
    )
    record(
        "bulk_interval",
        "GET",
        "/metrics/get-history-bulk-interval",
        run_ids=[run_id],
        metric_key="m",
        start_step=0,
        end_step=1,
    )
    record("list_artifacts_empty", "GET", "/artifacts/list", run_id=run_id)
    record(
        "search_runs",
        "POST",
        "/runs/search",
        {"experiment_ids": [experiment_id], "filter": "metrics.m > 1", "order_by": ["metrics.m DESC"]},
    )
    record(
        "search_runs_none",
        "POST",
        "/runs/search",
        {"experiment_ids": [experiment_id], "filter": "metrics.m > 9"},
    )
    record("search_runs_no_experiments", "POST", "/runs/search", {})
    record("delete_run", "POST", "/runs/delete", {"run_id": run_id})
    record("restore_run", "POST", "/runs/restore", {"run_id": run_id})
    record(
        "update_experiment",
        "POST",
        "/experiments/update",
        {"experiment_id": experiment_id, "new_name": name + "x"},
    )
    record(
        "set_experiment_tag",
        "POST",
        "/experiments/set-experiment-tag",
        {"experiment_id": experiment_id, "key": "a", "value": "b"},
    )
    record("delete_experiment", "POST", "/experiments/delete", {"experiment_id": experiment_id})
    record("restore_experiment", "POST", "/experiments/restore", {"experiment_id": experiment_id})
    # errors: status and error code
    record("err_missing_name", "POST", "/experiments/create", {})
    record("err_duplicate_name", "POST", "/experiments/create", {"name": name + "x"})
    record("err_unknown_run", "GET", "/runs/get", run_id="0" * 32)
    record("err_unknown_experiment_name", "GET", "/experiments/get-by-name", experiment_name="no-" + name)
    record(
        "err_bad_filter",
        "POST",
        "/runs/search",
        {"experiment_ids": [experiment_id], "filter": "metrics.m >>> 1"},
    )
    record(
        "err_bad_max_results",
        "POST",
        "/runs/search",
        {"experiment_ids": [experiment_id], "max_results": 60000},
    )
    record(
        "err_param_overwrite", "POST", "/runs/log-parameter", {"run_id": run_id, "key": "q", "value": "other"}
    )
    record(
        "err_bulk_half_range",
        "GET",
        "/metrics/get-history-bulk-interval",
        run_ids=[run_id],
        metric_key="m",
        start_step=0,
    )
    status, _ = _call(base, "GET", API + "/runs/no-such-endpoint")
    out["err_unknown_endpoint_status"] = status
    status, _ = _call(base, "GET", API + "/runs/log-batch")
    out["err_wrong_method_status"] = status
    return out


def test_tracklet_server_answers_like_mlflow_server(
    tracklet_server: ServerProcess, mlflow_server: ServerProcess
) -> None:
    ours = _scenario(tracklet_server.url)
    theirs = _scenario(mlflow_server.url)
    assert ours.keys() == theirs.keys()
    differences = {label: (ours[label], theirs[label]) for label in ours if ours[label] != theirs[label]}
    assert differences == {}
