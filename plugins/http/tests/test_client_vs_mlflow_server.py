"""RestStore (and tracklet's client and fluent API on top of it) against MLflow's own
``mlflow server`` from PyPI: what tracklet writes, MLflow keeps and gives back, and
MLflow's refusals arrive with their error codes."""

from __future__ import annotations

import math
import sys
import uuid
from pathlib import Path

import pytest

import tracklet
from tracklet import MlflowClient, fluent
from tracklet.entities import Metric, Param, RunTag, ViewType
from tracklet.testing import raises_code
from tracklet_http.client import RestStore
from tracklet_http.testing import ServerProcess

pytestmark = [pytest.mark.interop, pytest.mark.slow]


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def store(mlflow_server: ServerProcess) -> RestStore:
    return RestStore(mlflow_server.url)


def test_experiments_round_trip(store: RestStore) -> None:
    name = _name("exp")
    experiment_id = store.create_experiment(name, tags=[RunTag("team", "vision")])
    experiment = store.get_experiment(experiment_id)
    assert (experiment.name, experiment.tags["team"], experiment.lifecycle_stage) == (
        name,
        "vision",
        "active",
    )
    assert store.get_experiment_by_name(name).experiment_id == experiment_id  # type: ignore[union-attr]
    assert store.get_experiment_by_name(_name("missing")) is None

    store.rename_experiment(experiment_id, name + "-renamed")
    store.set_experiment_tag(experiment_id, RunTag("stage", "dev"))
    store.delete_experiment(experiment_id)
    deleted = store.search_experiments(ViewType.DELETED_ONLY, filter_string=f"name = '{name}-renamed'")
    assert [e.experiment_id for e in deleted] == [experiment_id]
    assert deleted[0].tags["stage"] == "dev"
    store.restore_experiment(experiment_id)
    assert store.get_experiment(experiment_id).lifecycle_stage == "active"

    with raises_code("RESOURCE_ALREADY_EXISTS"):
        store.create_experiment(name + "-renamed")
    with raises_code("RESOURCE_DOES_NOT_EXIST"):
        store.get_experiment("987654321")


def test_runs_batches_history_and_search(store: RestStore) -> None:
    experiment_id = store.create_experiment(_name("runs"))
    runs = []
    for i in range(5):
        run = store.create_run(experiment_id, "ada", 1_700_000_000_000 + i, [RunTag("i", str(i))], f"run-{i}")
        store.log_batch(
            run.info.run_id,
            [Metric("loss", 1.0 / (i + 1), 1_700_000_000_000 + s, s) for s in range(3)],
            [Param("lr", str(0.1 * i))],
            [RunTag("kind", "even" if i % 2 == 0 else "odd")],
        )
        runs.append(run.info.run_id)
    store.log_metric(runs[0], Metric("odd", math.nan, 1_700_000_000_000, 0))
    store.log_metric(runs[0], Metric("odd", math.inf, 1_700_000_000_001, 1))

    got = store.get_run(runs[0])
    assert got.info.run_name == "run-0"
    assert got.data.params == {"lr": "0.0"}
    assert got.data.tags["kind"] == "even" and got.data.tags["i"] == "0"
    assert got.data.metrics["loss"] == 1.0
    assert [m.step for m in store.get_metric_history(runs[0], "loss")] == [0, 1, 2]
    odd = store.get_metric_history(runs[0], "odd")
    assert math.isnan(odd[0].value)
    # MLflow's SQL store keeps +inf as the largest double; tracklet's stores keep inf.
    assert odd[1].value in (math.inf, sys.float_info.max)

    found = store.search_runs(
        [experiment_id], "tags.kind = 'even' and metrics.loss < 0.9", order_by=["metrics.loss ASC"]
    )
    assert [r.info.run_id for r in found] == [runs[4], runs[2]]
    first = store.search_runs([experiment_id], max_results=2, order_by=["attributes.start_time DESC"])
    assert [r.info.run_id for r in first] == [runs[4], runs[3]] and first.token
    rest = store.search_runs(
        [experiment_id], max_results=10, order_by=["attributes.start_time DESC"], page_token=first.token
    )
    assert [r.info.run_id for r in rest] == [runs[2], runs[1], runs[0]]

    info = store.update_run_info(runs[1], "FINISHED", 1_700_000_100_000, "renamed")
    assert (info.status, info.run_name, info.end_time) == ("FINISHED", "renamed", 1_700_000_100_000)
    store.delete_tag(runs[1], "kind")
    assert "kind" not in store.get_run(runs[1]).data.tags
    store.delete_run(runs[1])
    assert store.get_run(runs[1]).info.lifecycle_stage == "deleted"
    store.restore_run(runs[1])


def test_mlflows_refusals_keep_their_codes(store: RestStore) -> None:
    experiment_id = store.create_experiment(_name("refusals"))
    run_id = store.create_run(experiment_id, "ada", None, [], None).info.run_id
    store.log_param(run_id, Param("p", "1"))
    with raises_code("INVALID_PARAMETER_VALUE"):
        store.log_param(run_id, Param("p", "2"))  # params are immutable, on MLflow too
    with raises_code("RESOURCE_DOES_NOT_EXIST"):
        store.get_run("0123456789abcdef0123456789abcdef")
    assert store.get_run(run_id).data.params == {"p": "1"}


def test_client_and_fluent_api_log_to_an_mlflow_server(mlflow_server: ServerProcess, tmp_path: Path) -> None:
    tracklet.set_tracking_uri(mlflow_server.url)
    try:
        tracklet.set_experiment(_name("fluent"))
        with tracklet.start_run() as run:
            tracklet.log_param("alpha", 0.5)
            tracklet.log_metrics({"rmse": 0.25, "r2": 0.75}, step=3)
            tracklet.set_tag("model", "ridge")
            tracklet.log_dict({"layers": [64, 10]}, "config/model.json")
        client = MlflowClient()
        finished = client.get_run(run.info.run_id)
        assert finished.info.status == "FINISHED"
        assert finished.data.metrics == {"rmse": 0.25, "r2": 0.75}
        assert finished.info.artifact_uri.startswith("mlflow-artifacts:")
        assert [f.path for f in client.list_artifacts(run.info.run_id, "config")] == ["config/model.json"]
        local = client.download_artifacts(run.info.run_id, "config/model.json", str(tmp_path))
        assert Path(local).read_text().replace(" ", "").replace("\n", "") == '{"layers":[64,10]}'
    finally:
        # the active experiment is process state, like MLflow's: leave none behind
        fluent._end_all_runs()
        fluent._active_experiment_id = None
        tracklet.set_tracking_uri(None)


@pytest.mark.parametrize("which", ["tracklet", "mlflow"])
def test_a_client_with_its_own_tracking_uri_reaches_that_servers_proxy(
    which: str, mlflow_server: ServerProcess, tracklet_server: ServerProcess, tmp_path: Path
) -> None:
    # The process-wide tracking URI stays the local default: mlflow-artifacts:/ URIs must
    # be resolved against the client's server, not the current tracking URI.
    server = tracklet_server if which == "tracklet" else mlflow_server
    client = MlflowClient(tracking_uri=server.url)
    run = client.create_run(client.create_experiment(_name("own-uri")))
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    client.log_text(run.info.run_id, "hello", "notes/hello.txt")
    assert [f.path for f in client.list_artifacts(run.info.run_id, "notes")] == ["notes/hello.txt"]
    local = client.download_artifacts(run.info.run_id, "notes/hello.txt", str(tmp_path))
    assert Path(local).read_text() == "hello"
    downloaded = tracklet.artifacts.download_artifacts(
        artifact_uri=f"runs:/{run.info.run_id}/notes",
        dst_path=str(tmp_path / "via-runs"),
        tracking_uri=server.url,
    )
    assert (Path(downloaded) / "hello.txt").read_text() == "hello"
