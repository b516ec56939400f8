"""The route the plugin adds to ``tracklet server``, on a real server in a subprocess.

The server finds the route the way it finds any plugin: through the installed entry
point (``pip install -e ./contrib/example-plugin``). Needs tracklet-http (``tracklet
server``) and tracklet-sql (the server's sqlite backend) installed.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tracklet_example.routes import SUMMARY_PATH


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("example-server")
    port = _free_port()
    args = [
        sys.executable, "-m", "tracklet", "server", "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", f"sqlite:///{root / 'example.db'}",
        "--artifacts-destination", str(root / "artifacts"),
    ]  # fmt: skip
    with open(root / "server.log", "wb") as log:
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((root / "server.log").read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(url + "/health", timeout=2):
                    break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def _post(url: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(
        url, json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def test_the_route_answers_on_a_real_server(server: str) -> None:
    experiment_id = _post(server + "/api/2.0/mlflow/experiments/create", {"name": "summarised"})[
        "experiment_id"
    ]
    run_ids = [
        _post(server + "/api/2.0/mlflow/runs/create", {"experiment_id": experiment_id})["run"]["info"][
            "run_id"
        ]
        for _ in range(3)
    ]
    _post(server + "/api/2.0/mlflow/runs/delete", {"run_id": run_ids[0]})
    status, answer = _get(f"{server}{SUMMARY_PATH}?experiment_id={experiment_id}")
    assert status == 200, answer
    assert answer == {"experiment_id": experiment_id, "name": "summarised", "runs": 3, "active_runs": 2}
    # MLflow's UI prefix is not added: the path is not under /api/2.0/mlflow/
    assert _get(f"{server}/ajax-api/2.0/tracklet-example/experiments/summary?experiment_id=0")[0] == 404


def test_the_server_checks_the_field_and_answers_errors_as_mlflow(server: str) -> None:
    status, answer = _get(server + SUMMARY_PATH)
    assert status == 400
    assert answer["error_code"] == "INVALID_PARAMETER_VALUE"
    assert answer["message"].startswith("Missing value for required parameter 'experiment_id'.")
    status, answer = _get(f"{server}{SUMMARY_PATH}?experiment_id=424242")
    assert (status, answer["error_code"]) == (404, "RESOURCE_DOES_NOT_EXIST")


def test_the_route_is_in_the_openapi_document(server: str) -> None:
    status, document = _get(server + "/openapi.json")
    assert status == 200
    operation = document["paths"][SUMMARY_PATH]["get"]
    assert operation["operationId"] == "example_experiment_summary"
    assert [p["name"] for p in operation["parameters"]] == ["experiment_id"]


def test_a_missing_path_stays_a_404(server: str, tmp_path: Path) -> None:
    status, answer = _get(server + "/api/2.0/tracklet-example/nothing-here")
    assert status == 404 and "error_code" in answer
