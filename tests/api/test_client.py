"""MlflowClient over real stores: every tracking method, MLflow's semantics and errors."""

import math
import uuid

import pytest

from tracklet import MlflowClient
from tracklet.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag, ViewType
from tracklet.exceptions import MlflowException


def error_code(fn, *args, **kwargs):
    with pytest.raises(MlflowException) as e:
        fn(*args, **kwargs)
    return e.value.error_code


def test_experiment_lifecycle(client):
    exp_id = client.create_experiment("exp", tags={"team": "ml"})
    exp = client.get_experiment(exp_id)
    assert exp.name == "exp" and exp.lifecycle_stage == "active" and exp.tags["team"] == "ml"
    assert client.get_experiment_by_name("exp").experiment_id == exp_id
    assert client.get_experiment_by_name("nope") is None
    client.rename_experiment(exp_id, "exp2")
    assert client.get_experiment(exp_id).name == "exp2"
    client.set_experiment_tag(exp_id, "k", 3)
    assert client.get_experiment(exp_id).tags["k"] == "3"
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    assert exp_id not in [e.experiment_id for e in client.search_experiments()]
    assert exp_id in [e.experiment_id for e in client.search_experiments(view_type=ViewType.DELETED_ONLY)]
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"
    assert error_code(client.create_experiment, "exp2") == "RESOURCE_ALREADY_EXISTS"
    assert error_code(client.get_experiment, "424242") == "RESOURCE_DOES_NOT_EXIST"


def test_legacy_listing_names(client):
    exp_id = client.create_experiment("old-style")
    run = client.create_run(exp_id)
    assert "old-style" in [e.name for e in client.list_experiments()]
    infos = client.list_run_infos(exp_id)
    assert [i.run_id for i in infos] == [run.info.run_id]


def test_run_lifecycle_and_data(client):
    run = client.create_run("0", tags={"engineering": "ML Platform"}, run_name="platform-run-24")
    run_id = run.info.run_id
    assert run.info.status == "RUNNING" and run.info.run_name == "platform-run-24"
    assert run.data.tags["engineering"] == "ML Platform"
    assert client.log_param(run_id, "p", 0) == 0
    client.set_tag(run_id, "t", True)
    for step, value in enumerate([1.5, 2.5, float("nan")]):
        client.log_metric(run_id, "m", value, timestamp=1000 + step, step=step)
    got = client.get_run(run_id)
    assert got.data.params["p"] == "0" and got.data.tags["t"] == "True"
    assert math.isnan(got.data.metrics["m"])
    history = client.get_metric_history(run_id, "m")
    assert [(m.step, m.timestamp) for m in history] == [(0, 1000), (1, 1001), (2, 1002)]
    assert history[0].value == 1.5 and math.isnan(history[2].value)
    client.delete_tag(run_id, "t")
    assert "t" not in client.get_run(run_id).data.tags
    client.update_run(run_id, name="renamed")
    assert client.get_run(run_id).info.run_name == "renamed"
    client.set_terminated(run_id)
    done = client.get_run(run_id).info
    assert done.status == "FINISHED" and done.end_time is not None
    client.delete_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "deleted"
    client.restore_run(run_id)
    assert client.get_run(run_id).info.lifecycle_stage == "active"


def test_create_run_user_id_as_mlflow(client):
    # MlflowClient.create_run takes the user from the mlflow.user tag, else "unknown" (the
    # fluent start_run is what adds the current user's tag), as MLflow's client does.
    exp_id = client.create_experiment("users")
    assert client.create_run(exp_id).info.user_id == "unknown"
    assert client.create_run(exp_id, tags={"mlflow.user": "ada"}).info.user_id == "ada"


def test_parent_run(client):
    parent = client.create_run("0")
    child = client.create_run("0", tags={"mlflow.parentRunId": parent.info.run_id})
    assert client.get_parent_run(child.info.run_id).info.run_id == parent.info.run_id
    assert client.get_parent_run(parent.info.run_id) is None


def test_log_batch_splits_large_batches_like_mlflow(client):
    run_id = client.create_run("0").info.run_id
    metrics = [Metric(f"m{i % 3}", float(i), 1000 + i, i) for i in range(2500)]
    params = [Param(f"p{i}", i) for i in range(150)]
    tags = [RunTag(f"t{i}", i) for i in range(120)]
    client.log_batch(run_id, metrics, params, tags)
    run = client.get_run(run_id)
    assert len(run.data.params) == 150 and run.data.params["p7"] == "7"
    assert len([k for k in run.data.tags if k.startswith("t")]) == 120
    assert len(client.get_metric_history(run_id, "m0")) == 834


def test_invalid_inputs_change_nothing(client):
    run_id = client.create_run("0").info.run_id
    client.log_param(run_id, "p", "a")
    before = client.get_run(run_id)
    assert error_code(client.log_param, run_id, "p", "b") == "INVALID_PARAMETER_VALUE"
    client.log_param(run_id, "p", "a")  # the same value again is fine
    assert error_code(client.log_metric, run_id, "bad!key", 1.0) == "INVALID_PARAMETER_VALUE"
    assert error_code(client.log_metric, run_id, "m", "x") == "INVALID_PARAMETER_VALUE"
    assert error_code(client.set_tag, run_id, "t", "x" * 8001) == "INVALID_PARAMETER_VALUE"
    bad_batch = [Metric("ok", 1.0, 1, 0), Metric("../escape", 1.0, 1, 0)]
    assert error_code(client.log_batch, run_id, bad_batch) == "INVALID_PARAMETER_VALUE"
    assert error_code(client.log_batch, run_id, [], [Param("p", "changed"), Param("q", "new")]) == (
        "INVALID_PARAMETER_VALUE"
    )
    after = client.get_run(run_id)
    assert after.data.params == before.data.params == {"p": "a"}
    assert after.data.metrics == before.data.metrics == {}
    assert client.get_metric_history(run_id, "ok") == []
    assert error_code(client.get_run, "0" * 32) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(client.log_metric, "f" * 32, "m", 1.0) == "RESOURCE_DOES_NOT_EXIST"
    assert error_code(client.update_run, run_id, status="DONE") == "INVALID_PARAMETER_VALUE"


def test_writes_to_deleted_run_are_invalid_parameter_value(client):
    run_id = client.create_run("0").info.run_id
    client.delete_run(run_id)
    assert error_code(client.log_metric, run_id, "m", 1.0) == "INVALID_PARAMETER_VALUE"
    assert error_code(client.log_param, run_id, "p", 1) == "INVALID_PARAMETER_VALUE"


def test_search_runs_filter_order_and_pages(client):
    exp_id = client.create_experiment("search")
    ids = []
    for i in range(7):
        run_id = client.create_run(exp_id, start_time=1000 + i).info.run_id
        client.log_metric(run_id, "m", float(i))
        client.log_param(run_id, "p", "a" if i % 2 else "b")
        ids.append(run_id)
    runs = client.search_runs(exp_id, "metrics.m > 2 and params.p = 'a'", order_by=["metrics.m DESC"])
    assert [r.data.metrics["m"] for r in runs] == [5.0, 3.0]
    # MLflow can't do this; tracklet accepts OR and parentheses
    runs = client.search_runs([exp_id], "metrics.m < 1 OR (params.p = 'a' AND metrics.m >= 5)")
    assert sorted(r.data.metrics["m"] for r in runs) == [0.0, 5.0]
    seen, token = [], None
    while True:
        page = client.search_runs([exp_id], max_results=3, page_token=token)
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
    assert seen == list(reversed(ids))  # default order: start_time DESC
    assert error_code(client.search_runs, [exp_id], "metrics.m >> 1") == "INVALID_PARAMETER_VALUE"


def test_log_inputs(client):
    if "datasets" not in type(client.store).capabilities:
        pytest.skip("store does not record datasets")
    run_id = client.create_run("0").info.run_id
    dataset = Dataset("iris", "abc123", "local", '{"uri": "/data/iris.csv"}')
    client.log_inputs(run_id, [DatasetInput(dataset, [InputTag("mlflow.data.context", "train")])])
    inputs = client.get_run(run_id).inputs.dataset_inputs
    assert inputs[0].dataset.name == "iris" and inputs[0].tags[0].value == "train"


def test_seed_trace_calls_round_trip_or_say_the_store_keeps_none(client, monkeypatch):
    """Seed 003's imperative trace calls: on a store that keeps traces the trace is read back
    with both spans and the tag; the example plugin's store keeps none, and says so."""
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")  # stored when end_trace returns
    experiment_id = client.create_experiment(f"traces-{uuid.uuid4().hex}")
    root = client.start_trace("my_trace", experiment_id=experiment_id, tags={"k": "v"})
    child = client.start_span("child_span", trace_id=root.trace_id, parent_id=root.span_id, inputs={"x": 2})
    client.end_span(trace_id=root.trace_id, span_id=child.span_id, outputs={"y": 4})
    client.end_trace(root.trace_id)
    if "memory" in client.tracking_uri:
        with pytest.raises(MlflowException, match="does not keep traces"):
            client.get_trace(root.trace_id)
        return
    trace = client.get_trace(root.trace_id)
    assert trace.info.tags["k"] == "v" and trace.info.experiment_id == experiment_id
    spans = {span.name: span for span in trace.data.spans}
    assert set(spans) == {"my_trace", "child_span"}
    assert spans["child_span"].parent_id == spans["my_trace"].span_id
    assert (spans["child_span"].inputs, spans["child_span"].outputs) == ({"x": 2}, {"y": 4})
    found = client.search_traces(locations=[experiment_id], filter_string="tags.k = 'v'")
    assert [t.info.trace_id for t in found] == [root.trace_id]


def test_client_uses_current_tracking_uri(tracking_uri):
    assert MlflowClient().tracking_uri == tracking_uri
