"""The fluent API (``import tracklet as mlflow``) on real stores."""

import threading

import pytest

import tracklet as mlflow
from tracklet.exceptions import MlflowException


def test_start_run_context_manager_finishes_run(tracking_uri):
    with mlflow.start_run(run_name="first") as run:
        mlflow.log_param("p", 0)
        mlflow.log_params({"a": 1, "b": "x"})
        mlflow.log_metric("m", 1.0, step=1)
        mlflow.log_metrics({"x": 2.0, "y": 3.0}, step=2)
        mlflow.set_tag("t", "v")
        mlflow.set_tags({"u": 1})
        assert mlflow.active_run().info.run_id == run.info.run_id
    assert mlflow.active_run() is None
    got = mlflow.get_run(run.info.run_id)
    assert got.info.status == "FINISHED" and got.info.run_name == "first"
    assert got.data.params == {"p": "0", "a": "1", "b": "x"}
    assert got.data.metrics == {"m": 1.0, "x": 2.0, "y": 3.0}
    assert got.data.tags["t"] == "v" and got.data.tags["u"] == "1"
    assert got.data.tags["mlflow.runName"] == "first"
    assert got.data.tags["mlflow.source.type"] == "LOCAL" and "mlflow.user" in got.data.tags
    assert mlflow.last_active_run().info.run_id == run.info.run_id


def test_exception_marks_run_failed(tracking_uri):
    with pytest.raises(RuntimeError):
        with mlflow.start_run() as run:
            raise RuntimeError("boom")
    assert mlflow.get_run(run.info.run_id).info.status == "FAILED"


def test_nested_runs_and_parent(tracking_uri):
    with mlflow.start_run() as parent:
        with pytest.raises(MlflowException):
            mlflow.start_run()
        with mlflow.start_run(nested=True) as child:
            assert mlflow.active_run().info.run_id == child.info.run_id
        assert mlflow.active_run().info.run_id == parent.info.run_id
    assert mlflow.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id


def test_resume_run_by_id(tracking_uri):
    with mlflow.start_run() as run:
        mlflow.log_param("p", 1)
    with mlflow.start_run(run_id=run.info.run_id, tags={"resumed": "yes"}):
        assert mlflow.get_run(run.info.run_id).info.status == "RUNNING"
        mlflow.log_metric("m", 2.0)
    got = mlflow.get_run(run.info.run_id)
    assert got.info.status == "FINISHED" and got.data.tags["resumed"] == "yes"
    assert got.data.params == {"p": "1"} and got.data.metrics == {"m": 2.0}


def test_logging_without_run_starts_one(tracking_uri):
    mlflow.log_metric("auto", 1.0)
    run = mlflow.active_run()
    assert run is not None
    mlflow.end_run()
    assert mlflow.get_run(run.info.run_id).data.metrics == {"auto": 1.0}


def test_set_experiment_and_search(tracking_uri):
    exp = mlflow.set_experiment("fluent-exp")
    assert mlflow.set_experiment("fluent-exp").experiment_id == exp.experiment_id
    for value in (1.0, 2.0, 3.0):
        with mlflow.start_run():
            mlflow.log_metric("m", value)
    runs = mlflow.search_runs(
        filter_string="metrics.m >= 2", order_by=["metrics.m ASC"], output_format="list"
    )
    assert [r.data.metrics["m"] for r in runs] == [2.0, 3.0]
    frame = mlflow.search_runs(experiment_names=["fluent-exp"], order_by=["metrics.m DESC"])
    assert list(frame["metrics.m"]) == [3.0, 2.0, 1.0]
    assert {"run_id", "experiment_id", "status", "start_time"} <= set(frame.columns)
    assert "fluent-exp" in [e.name for e in mlflow.search_experiments()]
    with pytest.raises(MlflowException):
        mlflow.set_experiment()


def test_set_experiment_by_id_and_deleted(tracking_uri):
    exp_id = mlflow.create_experiment("to-delete")
    assert mlflow.set_experiment(experiment_id=exp_id).name == "to-delete"
    mlflow.delete_experiment(exp_id)
    with pytest.raises(MlflowException) as e:
        mlflow.set_experiment("to-delete")
    assert "deleted" in str(e.value)


def test_active_run_is_per_thread(tracking_uri):
    seen = {}
    with mlflow.start_run():
        thread = threading.Thread(target=lambda: seen.setdefault("other", mlflow.active_run()))
        thread.start()
        thread.join()
    assert seen["other"] is None


def test_log_input_records_dataset(tracking_uri):
    from tracklet.entities import Dataset

    with mlflow.start_run() as run:
        client = mlflow.MlflowClient()
        if "datasets" not in type(client.store).capabilities:
            pytest.skip("store does not record datasets")
        mlflow.log_input(Dataset("d", "digest1", "local", "{}"), context="training")
    inputs = mlflow.get_run(run.info.run_id).inputs.dataset_inputs
    assert inputs[0].dataset.digest == "digest1"
    assert [(t.key, t.value) for t in inputs[0].tags] == [("mlflow.data.context", "training")]
