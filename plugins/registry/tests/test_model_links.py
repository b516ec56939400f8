"""Links between runs and logged models (MLflow 3): metrics logged with a ``model_id`` become
the model's metrics, ``log_inputs(models=...)`` and ``log_outputs`` are read back by
``get_run``. Through ``tracklet.MlflowClient`` on a local folder, on sqlite and on a real
``tracklet server`` (file and sqlite backends), and on disk as MLflow's file store writes it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tracklet import MlflowClient
from tracklet.entities import LoggedModelInput, LoggedModelOutput, Metric
from tracklet.exceptions import TrackletException

BACKENDS = ["file", "sqlite", "postgresql", "mysql", "server-file", "server-sqlite"]


@pytest.fixture(scope="module")
def servers(registry_servers: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    started: dict[str, Any] = {}

    def get(kind: str) -> Any:
        if kind not in started:
            root = tmp_path_factory.mktemp(kind)
            backend = f"sqlite:///{root / 'tracklet.db'}" if kind == "server-sqlite" else str(root / "mlruns")
            started[kind] = registry_servers.tracklet_server(root, backend)
        return started[kind]

    yield get  # type: ignore[misc]
    for server in started.values():
        server.stop()


@pytest.fixture(params=BACKENDS)
def client(request: pytest.FixtureRequest, tmp_path: Path, servers: Any) -> MlflowClient:
    kind = request.param
    if kind == "file":
        uri = (tmp_path / "mlruns").as_uri()
    elif kind == "sqlite":
        uri = f"sqlite:///{tmp_path / 'tracklet.db'}"
    elif kind in ("postgresql", "mysql"):  # one database per session; experiments named apart
        uri = request.getfixturevalue(f"registry_{kind}_uri")
    else:
        uri = servers(kind).url
    return MlflowClient(tracking_uri=uri)


def _run_and_model(client: MlflowClient, name: str) -> tuple[str, str, str]:
    experiment_id = client.create_experiment(f"{name}-{os.urandom(4).hex()}")
    run = client.create_run(experiment_id)
    model = client.create_logged_model(experiment_id)
    return experiment_id, run.info.run_id, model.model_id


def test_metric_with_model_id_is_the_models_metric(client: MlflowClient) -> None:
    experiment_id, run_id, model_id = _run_and_model(client, "metric")
    client.log_metric(
        run_id, "acc", 0.5, timestamp=123, step=1, dataset_name="ds", dataset_digest="d1", model_id=model_id
    )
    expected = Metric(
        "acc", 0.5, 123, 1, model_id=model_id, dataset_name="ds", dataset_digest="d1", run_id=run_id
    )
    assert client.get_logged_model(model_id).metrics == [expected]
    assert client.get_run(run_id).data.metrics == {"acc": 0.5}  # still the run's metric too

    found = client.search_logged_models(
        [experiment_id], datasets=[{"dataset_name": "ds", "dataset_digest": "d1"}]
    )
    assert [m.model_id for m in found] == [model_id]
    assert list(client.search_logged_models([experiment_id], datasets=[{"dataset_name": "other"}])) == []


def test_log_batch_metrics_with_model_id(client: MlflowClient) -> None:
    _experiment_id, run_id, model_id = _run_and_model(client, "batch")
    client.log_batch(
        run_id, metrics=[Metric("loss", 0.25, 7, 2, model_id=model_id), Metric("plain", 1.0, 7, 0)]
    )
    metrics = client.get_logged_model(model_id).metrics
    assert [(m.key, m.value, m.step, m.run_id) for m in metrics] == [("loss", 0.25, 2, run_id)]


def test_metric_for_an_unknown_model_is_refused(client: MlflowClient) -> None:
    _experiment_id, run_id, _model_id = _run_and_model(client, "unknown")
    unknown = "m-0123456789abcdef0123456789abcdef"
    with pytest.raises(TrackletException, match="not found"):
        client.log_metric(run_id, "acc", 0.5, model_id=unknown)
    with pytest.raises(TrackletException, match="not found"):
        client.log_batch(run_id, [Metric("loss", 1.0, 1, 0), Metric("acc", 0.5, 1, 0, model_id=unknown)])
    # refused before anything was written: the run has neither metric
    assert client.get_run(run_id).data.metrics == {}


def test_model_inputs_and_outputs_on_the_run(client: MlflowClient) -> None:
    experiment_id, run_id, model_id = _run_and_model(client, "links")
    other = client.create_logged_model(experiment_id).model_id
    run = client.get_run(run_id)
    assert run.inputs.model_inputs == []
    assert run.outputs is not None and run.outputs.model_outputs == []

    client.log_inputs(run_id, models=[LoggedModelInput(other)])
    client.log_inputs(run_id, models=[LoggedModelInput(other)])  # once per model
    client.log_outputs(run_id, [LoggedModelOutput(model_id, 3)])
    run = client.get_run(run_id)
    assert run.inputs.model_inputs == [LoggedModelInput(other)]
    assert run.outputs.model_outputs == [LoggedModelOutput(model_id, 3)]
    assert run.to_dictionary()["outputs"] == {"model_outputs": [{"model_id": model_id, "step": 3}]}


def test_file_layout_is_mlflows(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    client = MlflowClient(tracking_uri=root.as_uri())
    experiment_id, run_id, model_id = _run_and_model(client, "layout")
    client.log_metric(
        run_id, "acc", 0.5, timestamp=123, step=1, dataset_name="ds", dataset_digest="d1", model_id=model_id
    )
    client.log_metric(run_id, "acc", 0.75, timestamp=124, step=2, model_id=model_id)
    client.log_inputs(run_id, models=[LoggedModelInput(model_id)])
    lines = (root / experiment_id / "models" / model_id / "metrics" / "acc").read_text().splitlines()
    assert lines == [f"123 0.5 1 {run_id} ds d1", f"124 0.75 2 {run_id}"]
    (edge_dir,) = (root / experiment_id / run_id / "inputs").iterdir()
    edge = yaml.safe_load((edge_dir / "meta.yaml").read_text())
    assert edge == {
        "source_type": "MODEL",
        "source_id": model_id,
        "destination_type": "RUN",
        "destination_id": model_id,
        "tags": {},
    }


def test_mlflow_reads_the_links_tracklet_wrote(tmp_path: Path) -> None:
    """MLflow 3.17.2's own file store reads the model metrics and inputs written here."""
    mlflow_file_store = pytest.importorskip("mlflow.store.tracking.file_store")
    root = tmp_path / "mlruns"
    client = MlflowClient(tracking_uri=root.as_uri())
    _experiment_id, run_id, model_id = _run_and_model(client, "interop")
    client.log_metric(
        run_id, "acc", 0.5, timestamp=123, step=1, dataset_name="ds", dataset_digest="d1", model_id=model_id
    )
    client.log_inputs(run_id, models=[LoggedModelInput(model_id)])
    client.log_outputs(run_id, [LoggedModelOutput(model_id, 4)])
    os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    store = mlflow_file_store.FileStore(str(root))
    model = store.get_logged_model(model_id)
    assert [(m.key, m.value, m.step, m.run_id, m.dataset_name, m.dataset_digest) for m in model.metrics] == [
        ("acc", 0.5, 1, run_id, "ds", "d1")
    ]
    run = store.get_run(run_id)
    assert [m.model_id for m in run.inputs.model_inputs] == [model_id]
    assert [(o.step) for o in run.outputs.model_outputs] == [4]


def test_server_without_a_logged_model_store_keeps_todays_answers(
    registry_servers: Any, tmp_path: Path
) -> None:
    """A backend no registry plugin serves (memory): tracklet server logs and reads runs as
    before, model links left out."""
    server = registry_servers.tracklet_server(tmp_path, f"memory://{os.urandom(8).hex()}")
    try:
        api = "/api/2.0/mlflow"
        status, created = server.call("POST", api + "/runs/create", {"experiment_id": "0"})
        assert status == 200, created
        run_id = created["run"]["info"]["run_id"]
        metric = {"run_id": run_id, "key": "k", "value": 1.0, "timestamp": 1, "model_id": "m-1"}
        assert server.call("POST", api + "/runs/log-metric", metric)[0] == 200
        assert (
            server.call(
                "POST", api + "/runs/log-inputs", {"run_id": run_id, "models": [{"model_id": "m-1"}]}
            )[0]
            == 200
        )
        status, answer = server.call("GET", api + "/runs/get", query=f"run_id={run_id}")
        assert status == 200, answer
        assert "outputs" not in answer["run"] and answer["run"]["inputs"] == {}
        assert [m["key"] for m in answer["run"]["data"]["metrics"]] == ["k"]
    finally:
        server.stop()
