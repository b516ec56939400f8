"""Fixtures for the client and fluent API tests: each test runs on every installed backend.

* ``file``: a fresh ``mlruns`` folder per test;
* ``memory``: tracklet-example's in-memory store (the store third parties copy);
* ``sqlite``: a fresh sqlite database per test, tracklet-sql's default (as MLflow 3.7+'s);
* ``http``: ONE live ``tracklet server`` (on sqlite) for the whole session, through the
  REST client: starting one per test would cost seconds each. Its tests therefore share
  one store and must not assume it is empty (filter by their own experiment or run).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tracklet
from tracklet import fluent, plugins

BACKENDS = ["file", "memory", "sqlite", "http"]


@pytest.fixture(scope="session")
def http_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a ``tracklet server`` started once for the session (stopped at its end)."""
    from tracklet_http.testing import launch_tracklet_server

    server = launch_tracklet_server(tmp_path_factory.mktemp("api-server"))
    try:
        yield server.url
    finally:
        server.stop()


def _backend_uri(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "file":
        return str(tmp_path / "mlruns")
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'mlflow.db'}"
    if backend == "http":
        return str(request.getfixturevalue("http_server"))
    if "memory" not in plugins.installed_schemes("tracking"):
        pytest.skip("tracklet-example (memory://) is not installed")
    return f"memory://{uuid.uuid4().hex}"


@pytest.fixture(params=BACKENDS)
def tracking_uri(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A fresh tracking URI on each backend, set as the current one; fluent state reset after."""
    for name in (
        "TRACKLET_TRACKING_URI",
        "MLFLOW_TRACKING_URI",
        "MLFLOW_EXPERIMENT_NAME",
        "MLFLOW_EXPERIMENT_ID",
        "TRACKLET_EXPERIMENT_NAME",
        "TRACKLET_EXPERIMENT_ID",
    ):
        monkeypatch.delenv(name, raising=False)
    uri = _backend_uri(request.param, request, tmp_path)
    monkeypatch.chdir(tmp_path)
    fluent._active_experiment_id = None  # whatever a test elsewhere in the process left
    tracklet.set_tracking_uri(uri)
    yield uri
    fluent._end_all_runs()
    fluent._active_experiment_id = None
    tracklet.set_tracking_uri(None)


@pytest.fixture
def client(tracking_uri: str) -> Any:
    return tracklet.MlflowClient(tracking_uri)
