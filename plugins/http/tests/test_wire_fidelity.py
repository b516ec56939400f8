"""Wire fidelity: the same requests to ``tracklet server`` and to MLflow's own ``mlflow
server`` (from PyPI, on sqlite, with its artifact proxy) get the same status, error code
and, where MLflow's clients and tests match on it, the same message text.

Each case here is one MLflow's own REST suite (``tests/tracking/test_rest_tracking.py``)
found tracklet answering differently: type checks of string fields, MLflow's wording
(``Invalid value "foo"`` in double quotes, ``metrics[0].timestamp``), the endpoints the
UI uses (``experiments/delete-experiment-tag``, ``metrics/get-history-bulk``,
``experiments/search-datasets``), MLflow 3.17's per-run sampling in
``metrics/get-history-bulk-interval``, ``/version``, ``Invalid path`` and artifact names
holding a ``%``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tracklet_http.protocol import MLFLOW_API_VERSION
from tracklet_http.testing import (
    ServerProcess,
    free_port,
    launch_tracklet_server,
    mlflow_server_args,
    start_server,
)

pytestmark = [pytest.mark.interop, pytest.mark.slow]

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture(scope="module")
def tracklet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = launch_tracklet_server(tmp_path_factory.mktemp("wire-tracklet"))
    yield server
    server.stop()


@pytest.fixture
def both(tracklet: ServerProcess, mlflow_server: ServerProcess) -> dict[str, str]:
    return {"tracklet": tracklet.url, "mlflow": mlflow_server.url}


def call(base: str, method: str, target: str, body: Any = None, **query: Any) -> requests.Response:
    return requests.request(method, base + target, json=body, params=query or None, timeout=60)


def answer(resp: requests.Response) -> tuple[int, str | None, str]:
    """(status, error_code, message) of an answer; a success has no code or message."""
    try:
        data = resp.json()
    except ValueError:
        data = {}
    if not isinstance(data, dict):
        data = {}
    return resp.status_code, data.get("error_code"), str(data.get("message", ""))


def new_run(base: str) -> tuple[str, str]:
    """A fresh experiment and a run in it, on one server: (experiment_id, run_id)."""
    experiment_id = call(
        base, "POST", API + "/experiments/create", {"name": f"wire-{uuid.uuid4().hex}"}
    ).json()["experiment_id"]
    run = call(base, "POST", API + "/runs/create", {"experiment_id": experiment_id}).json()["run"]
    return experiment_id, run["info"]["run_id"]


RUN = "<run>"  # replaced by a run of the server asked

# (label, method, path, body or query, the text MLflow's tests look for in the message)
BAD_REQUESTS: list[tuple[str, str, str, dict[str, Any], str]] = [
    (
        "name-number",
        "POST",
        API + "/experiments/create",
        {"name": 123},
        "Invalid value 123 for parameter 'name'",
    ),
    ("name-missing", "POST", API + "/experiments/create", {}, "Missing value for required parameter 'name'."),
    (
        "location-number",
        "POST",
        API + "/experiments/create",
        {"name": "x", "artifact_location": 9.0},
        "Invalid value 9.0 for parameter 'artifact_location'",
    ),
    (
        "tags-not-a-list",
        "POST",
        API + "/experiments/create",
        {"name": "x", "tags": "5"},
        "Invalid value \"5\" for parameter 'tags'",
    ),
    (
        "metric-run-id-number",
        "POST",
        API + "/runs/log-metric",
        {"run_id": 31, "key": "m", "value": 41, "timestamp": 59, "step": 26},
        "Invalid value 31 for parameter 'run_id' supplied",
    ),
    (
        "metric-key-number",
        "POST",
        API + "/runs/log-metric",
        {"run_id": RUN, "key": 31, "value": 41, "timestamp": 59},
        "Invalid value 31 for parameter 'key' supplied",
    ),
    (
        "metric-step-text",
        "POST",
        API + "/runs/log-metric",
        {"run_id": RUN, "key": "m", "value": 31, "timestamp": 59, "step": "foo"},
        "Invalid value \"foo\" for parameter 'step' supplied",
    ),
    (
        "metric-timestamp-text",
        "POST",
        API + "/runs/log-metric",
        {"run_id": RUN, "key": "m", "value": 31, "timestamp": "foo"},
        "Invalid value \"foo\" for parameter 'timestamp' supplied",
    ),
    (
        "metric-key-null",
        "POST",
        API + "/runs/log-metric",
        {"run_id": RUN, "key": None, "value": 31, "timestamp": 59},
        "Missing value for required parameter 'key'",
    ),
    (
        "param-key-number",
        "POST",
        API + "/runs/log-parameter",
        {"run_id": RUN, "key": 31, "value": "v"},
        "Invalid value 31 for parameter 'key' supplied",
    ),
    (
        "tag-value-number",
        "POST",
        API + "/runs/set-tag",
        {"run_id": RUN, "key": "k", "value": 41},
        "Invalid value 41 for parameter 'value' supplied",
    ),
    (
        "batch-metrics-text",
        "POST",
        API + "/runs/log-batch",
        {"run_id": RUN, "metrics": "foo"},
        "Invalid value \"foo\" for parameter 'metrics' supplied",
    ),
    (
        "batch-metric-without-timestamp",
        "POST",
        API + "/runs/log-batch",
        {"run_id": RUN, "metrics": [{"key": "mae", "value": 2.5}]},
        "Missing value for required parameter 'metrics[0].timestamp'",
    ),
    (
        "inputs-without-run",
        "POST",
        API + "/runs/log-inputs",
        {"datasets": []},
        "Missing value for required parameter 'run_id'",
    ),
    (
        "bulk-interval-too-many-runs",
        "GET",
        AJAX + "/metrics/get-history-bulk-interval",
        {"run_ids": [f"id_{i}" for i in range(1000)], "metric_key": "k"},
        "GetMetricHistoryBulkInterval request must specify at most 100 run_ids.",
    ),
    (
        "bulk-interval-empty-key",
        "GET",
        AJAX + "/metrics/get-history-bulk-interval",
        {"run_ids": ["123"], "metric_key": ""},
        "Missing value for required parameter 'metric_key'",
    ),
    (
        "bulk-no-runs",
        "GET",
        AJAX + "/metrics/get-history-bulk",
        {"metric_key": "k"},
        "GetMetricHistoryBulk request must specify at least one run_id",
    ),
    (
        "bulk-too-many-runs",
        "GET",
        AJAX + "/metrics/get-history-bulk",
        {"run_id": [f"id_{i}" for i in range(1000)], "metric_key": "k"},
        "GetMetricHistoryBulk request cannot specify more than",
    ),
    (
        "bulk-no-key",
        "GET",
        AJAX + "/metrics/get-history-bulk",
        {"run_id": ["123"]},
        "GetMetricHistoryBulk request must specify a metric_key",
    ),
    (
        "datasets-no-experiments",
        "POST",
        AJAX + "/experiments/search-datasets",
        {},
        "SearchDatasets request must specify at least one experiment_id.",
    ),
    (
        "datasets-too-many-experiments",
        "POST",
        AJAX + "/experiments/search-datasets",
        {"experiment_ids": [f"id_{i}" for i in range(1000)]},
        "SearchDatasets request cannot specify more than",
    ),
]


def _send(base: str, run_id: str, method: str, path: str, payload: dict[str, Any]) -> requests.Response:
    filled = {k: run_id if v == RUN else v for k, v in payload.items()}
    if method == "GET":
        return call(base, "GET", path, **filled)
    return call(base, method, path, filled)


def test_bad_requests_are_refused_with_mlflows_code_and_words(both: dict[str, str]) -> None:
    runs = {side: new_run(base)[1] for side, base in both.items()}
    for label, method, path, payload, words in BAD_REQUESTS:
        got = {side: answer(_send(base, runs[side], method, path, payload)) for side, base in both.items()}
        assert got["mlflow"][:2] == (400, "INVALID_PARAMETER_VALUE"), (label, got["mlflow"])
        assert got["tracklet"][:2] == got["mlflow"][:2], (label, got)
        assert words in got["mlflow"][2], (label, got["mlflow"])  # the reference itself
        assert words in got["tracklet"][2], (label, got["tracklet"])


def test_a_path_leaving_the_artifacts_is_invalid_path(both: dict[str, str]) -> None:
    for side, base in both.items():
        run_id = new_run(base)[1]
        listing = call(base, "GET", API + "/artifacts/list", run_id=run_id, path="../path")
        download = call(base, "GET", "/get-artifact", run_id=run_id, path="../path")
        model = call(base, "GET", "//model-versions/get-artifact", name="model", version=1, path="../path")
        for resp in (listing, download, model):
            assert answer(resp) == (400, "INVALID_PARAMETER_VALUE", "Invalid path"), side


def test_get_artifact_downloads_a_run_file_like_mlflow(both: dict[str, str]) -> None:
    for side, base in both.items():
        run = call(base, "POST", API + "/runs/create", {"experiment_id": new_run(base)[0]}).json()["run"]
        rel = run["info"]["artifact_uri"].split("mlflow-artifacts:", 1)[1].strip("/")
        put = requests.put(f"{base}{PROXY}/{rel}/notes/a.txt", data=b"hello", timeout=60)
        assert put.status_code == 200, (side, put.text)
        got = call(base, "GET", "/get-artifact", run_id=run["info"]["run_id"], path="notes/a.txt")
        assert (got.status_code, got.content) == (200, b"hello"), side


def test_string_fields_keep_accepting_strings_and_empty_values(both: dict[str, str]) -> None:
    for side, base in both.items():
        experiment_id, run_id = new_run(base)
        for path, body in [
            ("/runs/log-parameter", {"run_id": run_id, "key": "p", "value": ""}),
            ("/runs/set-tag", {"run_uuid": run_id, "key": "t", "value": ""}),
            ("/runs/log-batch", {"run_id": run_id, "metrics": [{"key": "m", "value": 1, "timestamp": 5}]}),
            ("/experiments/set-experiment-tag", {"experiment_id": experiment_id, "key": "e", "value": ""}),
        ]:
            resp = call(base, "POST", API + path, body)
            assert resp.status_code == 200, (side, path, resp.text)


def test_delete_experiment_tag_like_mlflow(both: dict[str, str]) -> None:
    seen = {}
    for side, base in both.items():
        experiment_id = new_run(base)[0]
        tag = {"experiment_id": experiment_id, "key": "dataset", "value": "imagenet"}
        assert call(base, "POST", API + "/experiments/set-experiment-tag", tag).status_code == 200
        deleted = call(base, "POST", API + "/experiments/delete-experiment-tag", {**tag, "value": None})
        tags = call(base, "GET", API + "/experiments/get", experiment_id=experiment_id).json()["experiment"]
        again = call(base, "POST", API + "/experiments/delete-experiment-tag", {**tag, "value": None})
        no_key = call(
            base, "POST", API + "/experiments/delete-experiment-tag", {"experiment_id": experiment_id}
        )
        seen[side] = (
            answer(deleted),
            [t["key"] for t in tags.get("tags", [])],
            answer(again)[:2],
            answer(no_key)[:2],
        )
    assert seen["tracklet"] == seen["mlflow"]
    assert seen["mlflow"][0] == (200, None, "")


def _log_steps(base: str, run_id: str, steps: range, timestamp: int = 1) -> None:
    metrics = [{"key": "m", "value": 10.0, "timestamp": timestamp, "step": i} for i in steps]
    assert (
        call(base, "POST", API + "/runs/log-batch", {"run_id": run_id, "metrics": metrics}).status_code == 200
    )


def _points(resp: requests.Response, runs: dict[str, str]) -> list[tuple[str, int, int]]:
    """(which run, step, timestamp) of each point answered, run ids replaced by names."""
    assert resp.status_code == 200, resp.text
    names = {run_id: name for name, run_id in runs.items()}
    return [(names[m["run_id"]], int(m["step"]), int(m["timestamp"])) for m in resp.json().get("metrics", [])]


INTERVAL = AJAX + "/metrics/get-history-bulk-interval"
BULK = AJAX + "/metrics/get-history-bulk"


def _sampled(base: str, second_steps: range, window: dict[str, int]) -> tuple[dict[str, str], list[Any]]:
    """Two new runs (steps 0-9, and ``second_steps``) on one server, and what the interval
    endpoint answers for the first, for both, and for the second within ``window``."""
    first, second = new_run(base)[1], new_run(base)[1]
    runs = {"first": first, "second": second}
    _log_steps(base, first, range(10))
    _log_steps(base, second, second_steps, timestamp=2)
    return runs, [
        _points(call(base, "GET", INTERVAL, run_ids=[first], metric_key="m", max_results=5), runs),
        _points(call(base, "GET", INTERVAL, run_ids=[first, second], metric_key="m", max_results=5), runs),
        _points(call(base, "GET", INTERVAL, run_ids=[second], metric_key="m", **window), runs),
    ]


def test_metric_history_bulk_endpoints_like_mlflow(both: dict[str, str]) -> None:
    seen: dict[str, list[Any]] = {}
    for side, base in both.items():
        runs, seen[side] = _sampled(base, range(20), {"start_step": 0, "end_step": 4, "max_results": 5})
        answered = call(base, "GET", BULK, run_id=list(runs.values()), metric_key="m").json()["metrics"]
        assert [m["run_id"] for m in answered] == sorted(m["run_id"] for m in answered), side  # by run id
        seen[side].append(
            _points(call(base, "GET", BULK, run_id=[runs["second"]], metric_key="m", max_results=3), runs)
        )
        seen[side].append(
            sorted(_points(call(base, "GET", BULK, run_id=list(runs.values()), metric_key="m"), runs))
        )
    assert seen["tracklet"] == seen["mlflow"]
    assert len(seen["mlflow"][4]) == 30
    # MLflow 3.17: each run sampled on its own, its last step kept
    assert [step for _, step, _ in seen["mlflow"][0]] == [0, 2, 4, 6, 9]


@pytest.fixture(scope="module")
def folder_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Both servers on a folder backend (MLflow's FileStore samples differently)."""
    root = tmp_path_factory.mktemp("wire-folders")
    (root / "t").mkdir()
    tracklet = launch_tracklet_server(root / "t", str(root / "t" / "mlruns"))
    port = free_port()
    mlflow = start_server(
        mlflow_server_args(port, str(root / "m" / "mlruns"), str(root / "m" / "artifacts"), "--workers", "1"),
        port,
        root / "mlflow.log",
        {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false", "MLFLOW_ALLOW_FILE_STORE": "true"},
    )
    yield {"tracklet": tracklet.url, "mlflow": mlflow.url}
    tracklet.stop()
    mlflow.stop()


def test_bulk_interval_on_a_folder_backend_samples_like_mlflows_file_store(
    folder_servers: dict[str, str],
) -> None:
    seen = {
        side: _sampled(base, range(3, 20), {"start_step": 4, "end_step": 15, "max_results": 3})[1]
        for side, base in folder_servers.items()
    }
    assert seen["tracklet"] == seen["mlflow"]
    assert [step for _, step, _ in seen["mlflow"][0]] == [0, 2, 4, 6, 8, 9]


def test_search_datasets_and_input_tag_order_like_mlflow(both: dict[str, str]) -> None:
    seen = {}
    for side, base in both.items():
        experiment_id, run_id = new_run(base)
        dataset = {"name": "d", "digest": "abc", "source_type": "local", "source": "{}"}
        datasets = [
            {
                "dataset": dataset,
                "tags": [{"key": "foo", "value": "baz"}, {"key": "mlflow.data.context", "value": "train"}],
            },
            {"dataset": {**dataset, "name": "e", "digest": "def"}},
        ]
        assert (
            call(base, "POST", API + "/runs/log-inputs", {"run_id": run_id, "datasets": datasets}).status_code
            == 200
        )
        inputs = call(base, "GET", API + "/runs/get", run_id=run_id).json()["run"]["inputs"]["dataset_inputs"]
        found = call(base, "POST", AJAX + "/experiments/search-datasets", {"experiment_ids": [experiment_id]})
        summaries = sorted(found.json()["dataset_summaries"], key=lambda s: s["digest"])
        for s in summaries:
            assert s.pop("experiment_id") == experiment_id
        seen[side] = (
            [
                [t["key"] for t in i.get("tags", [])]
                for i in sorted(inputs, key=lambda i: i["dataset"]["name"])
            ],
            summaries,
        )
    assert seen["tracklet"] == seen["mlflow"]


def test_version_is_the_mlflow_version_of_the_api(both: dict[str, str]) -> None:
    texts = {side: requests.get(base + "/version", timeout=60) for side, base in both.items()}
    assert texts["tracklet"].text == texts["mlflow"].text == MLFLOW_API_VERSION
    assert texts["tracklet"].headers["X-Tracklet-Version"]


def test_artifact_names_with_percent_like_mlflow(both: dict[str, str]) -> None:
    seen = {}
    for side, base in both.items():
        folder = f"wire-{uuid.uuid4().hex}"
        put = requests.put(f"{base}{PROXY}/{folder}/loss%2510ep.txt", data=b"10 epochs", timeout=60)
        listing = requests.get(f"{base}{PROXY}", params={"path": folder}, timeout=60)
        got = requests.get(f"{base}{PROXY}/{folder}/loss%2510ep.txt", timeout=60)
        escape = requests.put(f"{base}{PROXY}/{folder}/%252e%252e/%252e%252e/x.txt", data=b"x", timeout=60)
        seen[side] = (
            put.status_code,
            [f["path"] for f in listing.json().get("files", [])],
            (got.status_code, got.content),
            escape.status_code,
        )
    assert seen["mlflow"][:3] == (200, ["loss%10ep.txt"], (200, b"10 epochs"))
    assert seen["tracklet"][:3] == seen["mlflow"][:3]
    assert seen["tracklet"][3] == 400  # traversal in any encoding stays refused


_CLIENT_ROUND_TRIP = """
import os, sys, tempfile
import mlflow
from mlflow import MlflowClient

url = sys.argv[1]
client = MlflowClient(url)
run_id = client.create_run("0").info.run_id
folder = tempfile.mkdtemp()
with open(os.path.join(folder, "loss%10ep.txt"), "w") as f:
    f.write("10 epochs")
client.log_artifact(run_id, os.path.join(folder, "loss%10ep.txt"), "sub")
names = [f.path for f in client.list_artifacts(run_id, "sub")]
local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=names[0], tracking_uri=url)
print(len(names), open(local).read(), names[0] == "sub/loss%10ep.txt")
"""


def test_mlflow_client_round_trips_a_percent_file_name(both: dict[str, str]) -> None:
    """MLflow's client puts 'loss%10ep.txt' in the URL unencoded: both servers take it,
    list it under that name and give it back."""
    import subprocess
    import sys

    for side, base in both.items():
        done = subprocess.run(
            [sys.executable, "-c", _CLIENT_ROUND_TRIP, base], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (side, done.stderr[-2000:])
        assert done.stdout.strip() == "1 10 epochs True", side  # listed under the name written
