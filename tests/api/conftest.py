"""Fixtures for the client and fluent API tests: each test runs on every installed backend."""

import uuid

import pytest

import tracklet
from tracklet import fluent, plugins

BACKENDS = ["file", "memory"]


@pytest.fixture(params=BACKENDS)
def tracking_uri(request, tmp_path, monkeypatch):
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
    if request.param == "file":
        uri = str(tmp_path / "mlruns")
    else:
        if "memory" not in plugins.installed_schemes("tracking"):
            pytest.skip("tracklet-example (memory://) is not installed")
        uri = f"memory://{uuid.uuid4().hex}"
    monkeypatch.chdir(tmp_path)
    fluent._active_experiment_id = None  # whatever a test elsewhere in the process left
    tracklet.set_tracking_uri(uri)
    yield uri
    fluent._end_all_runs()
    fluent._active_experiment_id = None
    tracklet.set_tracking_uri(None)


@pytest.fixture
def client(tracking_uri):
    return tracklet.MlflowClient(tracking_uri)
