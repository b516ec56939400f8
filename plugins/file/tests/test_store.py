"""FileStore behaviour: validation before writing, error codes, metric semantics, history."""

from __future__ import annotations

import math
import os

import pytest

from tracklet.entities import Dataset, DatasetInput, InputTag, Metric, Param, RunTag
from tracklet.exceptions import TrackletException
from tracklet_file.store import FileStore


def _snapshot(root: str) -> dict[str, bytes]:
    """Every file under ``root`` with its content (directories as None)."""
    out: dict[str, bytes] = {}
    for d, dirs, files in os.walk(root):
        for name in dirs:
            out[os.path.join(d, name)] = b"<dir>"
        for name in files:
            if name != ".tracklet.lock":
                with open(os.path.join(d, name), "rb") as f:
                    out[os.path.join(d, name)] = f.read()
    return out


def _code(excinfo: pytest.ExceptionInfo[TrackletException]) -> str:
    return excinfo.value.error_code


@pytest.fixture
def run_id(store: FileStore) -> str:
    return store.create_run("0", "u", 0, [], "r").info.run_id


def test_batch_with_one_bad_metric_writes_nothing(store: FileStore, root: str, run_id: str) -> None:
    before = _snapshot(root)
    with pytest.raises(TrackletException) as exc:
        store.log_batch(
            run_id,
            [Metric("good", 1.0, 1, 0), Metric("bad", "x", 1, 0)],
            [Param("p", "1")],
            [RunTag("t", "1")],
        )
    assert _code(exc) == "INVALID_PARAMETER_VALUE"
    assert "bad" in exc.value.message
    assert _snapshot(root) == before


def test_changing_a_param_is_refused_and_the_batch_writes_nothing(
    store: FileStore, root: str, run_id: str
) -> None:
    store.log_param(run_id, Param("lr", "0.1"))
    store.log_param(run_id, Param("lr", "0.1"))  # the same value again is fine
    before = _snapshot(root)
    with pytest.raises(TrackletException) as exc:
        store.log_batch(
            run_id, [Metric("m", 1.0, 1, 0)], [Param("new", "1"), Param("lr", "0.2")], [RunTag("t", "1")]
        )
    assert _code(exc) == "INVALID_PARAMETER_VALUE"
    assert "lr" in exc.value.message and "0.2" in exc.value.message
    assert _snapshot(root) == before
    assert store.get_run(run_id).data.params == {"lr": "0.1"}


def test_key_that_clashes_with_nested_keys_is_refused_before_writing(
    store: FileStore, root: str, run_id: str
) -> None:
    store.log_metric(run_id, Metric("a/b", 1.0, 1, 0))
    store.log_param(run_id, Param("x", "1"))
    before = _snapshot(root)
    many = [Metric(f"ok{i}", 1.0, 1, 0) for i in range(6)]  # enough keys to check by listing
    for batch in (
        [Metric("ok", 1.0, 1, 0), Metric("a", 2.0, 1, 0)],
        [Metric("a/b/c", 2.0, 1, 0)],
        [*many, Metric("a", 2.0, 1, 0)],
        [*many, Metric("a/b/c", 2.0, 1, 0)],
    ):
        with pytest.raises(TrackletException) as exc:
            store.log_batch(run_id, batch, [], [])
        assert _code(exc) == "INVALID_PARAMETER_VALUE"
    with pytest.raises(TrackletException):
        store.log_batch(run_id, [], [Param("x/y", "1")], [])
    with pytest.raises(TrackletException) as exc:
        store.log_metric(run_id, Metric("a", 2.0, 1, 0))
    assert _code(exc) == "INVALID_PARAMETER_VALUE"
    assert _snapshot(root) == before


def test_unknown_run_is_resource_does_not_exist(store: FileStore) -> None:
    missing = "0" * 32
    calls = [
        lambda: store.get_run(missing),
        lambda: store.log_metric(missing, Metric("m", 1.0, 1, 0)),
        lambda: store.log_batch(missing, [], [Param("p", "1")], []),
        lambda: store.update_run_info(missing, "FINISHED", 1, None),
        lambda: store.delete_run(missing),
        lambda: store.get_metric_history(missing, "m"),
    ]
    for call in calls:
        with pytest.raises(TrackletException) as exc:
            call()
        assert _code(exc) == "RESOURCE_DOES_NOT_EXIST"


def test_ids_that_are_paths_are_refused(store: FileStore) -> None:
    for call in (
        lambda: store.get_run("../0"),
        lambda: store.get_experiment("../.trash"),
        lambda: store.get_experiment(".trash"),
        lambda: store.create_run("0/../..", "u", 0, [], None),
    ):
        with pytest.raises(TrackletException) as exc:
            call()
        assert _code(exc) == "INVALID_PARAMETER_VALUE"


def test_writing_to_a_deleted_run_is_invalid_state(store: FileStore, root: str, run_id: str) -> None:
    store.delete_run(run_id)
    before = _snapshot(root)
    calls = [
        lambda: store.log_metric(run_id, Metric("m", 1.0, 1, 0)),
        lambda: store.log_batch(run_id, [], [], [RunTag("t", "v")]),
        lambda: store.update_run_info(run_id, "FINISHED", 1, None),
        lambda: store.delete_tag(run_id, "mlflow.runName"),
        lambda: store.log_inputs(run_id, [DatasetInput(Dataset("d", "1", "local", "{}"))]),
    ]
    for call in calls:
        with pytest.raises(TrackletException) as exc:
            call()
        assert _code(exc) == "INVALID_PARAMETER_VALUE"
    assert _snapshot(root) == before
    assert store.get_run(run_id).info.lifecycle_stage == "deleted"  # still readable
    store.restore_run(run_id)
    store.log_metric(run_id, Metric("m", 1.0, 1, 0))


def test_experiment_names_are_unique_even_among_deleted(store: FileStore) -> None:
    exp_id = store.create_experiment("a")
    with pytest.raises(TrackletException) as exc:
        store.create_experiment("a")
    assert _code(exc) == "RESOURCE_ALREADY_EXISTS"
    store.delete_experiment(exp_id)
    with pytest.raises(TrackletException) as exc:
        store.create_experiment("a")
    assert _code(exc) == "RESOURCE_ALREADY_EXISTS" and "deleted" in exc.value.message
    other = store.create_experiment("b")
    with pytest.raises(TrackletException) as exc:
        store.rename_experiment(other, "a")
    assert _code(exc) == "RESOURCE_ALREADY_EXISTS"
    store.rename_experiment(other, "c")
    assert store.get_experiment(other).name == "c"
    assert store.get_experiment_by_name("c").experiment_id == other
    assert store.get_experiment_by_name("b") is None


def test_deleted_experiment_rules(store: FileStore) -> None:
    exp_id = store.create_experiment("x")
    store.delete_experiment(exp_id)
    assert store.get_experiment(exp_id).lifecycle_stage == "deleted"
    cases = [
        (lambda: store.create_run(exp_id, "u", 0, [], None), "INVALID_STATE"),
        (lambda: store.rename_experiment(exp_id, "y"), "INVALID_STATE"),
        (lambda: store.set_experiment_tag(exp_id, RunTag("k", "v")), "INVALID_PARAMETER_VALUE"),
        (lambda: store.delete_experiment(exp_id), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: store.restore_experiment("999"), "RESOURCE_DOES_NOT_EXIST"),
        (lambda: store.delete_experiment("0"), "INVALID_PARAMETER_VALUE"),
        (lambda: store.get_experiment("12345"), "RESOURCE_DOES_NOT_EXIST"),
    ]
    for call, code in cases:
        with pytest.raises(TrackletException) as exc:
            call()
        assert _code(exc) == code
    store.restore_experiment(exp_id)
    with pytest.raises(TrackletException) as exc:
        store.restore_experiment(exp_id)
    assert _code(exc) == "RESOURCE_DOES_NOT_EXIST"


def test_nan_and_infinities_round_trip(store: FileStore, run_id: str) -> None:
    store.log_batch(
        run_id,
        [
            Metric("nan", float("nan"), 1, 0),
            Metric("inf", float("inf"), 1, 0),
            Metric("ninf", float("-inf"), 1, 0),
        ],
        [],
        [],
    )
    metrics = store.get_run(run_id).data.metrics
    assert math.isnan(metrics["nan"]) and metrics["inf"] == math.inf and metrics["ninf"] == -math.inf
    (point,) = store.get_metric_history(run_id, "nan")
    assert math.isnan(point.value)


def test_latest_metric_is_largest_step_then_timestamp_then_value(store: FileStore, run_id: str) -> None:
    store.log_batch(
        run_id, [Metric("m", 5.0, 100, 3), Metric("m", 1.0, 50, 7), Metric("m", 9.0, 10, 2)], [], []
    )
    assert store.get_run(run_id).data.metrics["m"] == 1.0
    store.log_metric(run_id, Metric("m", 0.5, 60, 7))
    latest = store.get_run(run_id).data.metric_objs
    assert [(m.value, m.timestamp, m.step) for m in latest] == [(0.5, 60, 7)]
    store.log_metric(run_id, Metric("m", 0.7, 60, 7))
    assert store.get_run(run_id).data.metrics["m"] == 0.7


def test_metric_history_order_and_paging(store: FileStore, run_id: str) -> None:
    store.log_batch(run_id, [Metric("h", float(i), 1000 + i, i) for i in range(25)], [], [])
    history = store.get_metric_history(run_id, "h")
    assert [m.step for m in history] == list(range(25)) and history.token is None
    pages, token = [], None
    while True:
        page = store.get_metric_history(run_id, "h", max_results=10, page_token=token)
        pages.append([m.value for m in page])
        token = page.token
        if not token:
            break
    assert [len(p) for p in pages] == [10, 10, 5]
    assert sum(pages, []) == [float(i) for i in range(25)]
    assert list(store.get_metric_history(run_id, "never-logged")) == []
    with pytest.raises(TrackletException) as exc:
        store.get_metric_history(run_id, "h", page_token="garbage")
    assert _code(exc) == "INVALID_PARAMETER_VALUE"


def test_unfinished_last_line_is_not_read(store: FileStore, root: str, run_id: str) -> None:
    store.log_metric(run_id, Metric("m", 1.0, 1, 0))
    with open(os.path.join(root, "0", run_id, "metrics", "m"), "a") as f:
        f.write("2 2.")  # another process in the middle of its write
    assert [m.value for m in store.get_metric_history(run_id, "m")] == [1.0]
    assert store.get_run(run_id).data.metrics["m"] == 1.0
    with open(os.path.join(root, "0", run_id, "metrics", "m"), "a") as f:
        f.write("5 0\n")
    assert [m.value for m in store.get_metric_history(run_id, "m")] == [1.0, 2.5]
    assert store.get_run(run_id).data.metrics["m"] == 2.5


def test_run_name_argument_tag_and_updates(store: FileStore) -> None:
    generated = store.create_run("0", "u", 0, [], None)
    assert generated.info.run_name and generated.data.tags["mlflow.runName"] == generated.info.run_name
    from_tag = store.create_run("0", "u", 0, [RunTag("mlflow.runName", "t")], None)
    assert from_tag.info.run_name == "t"
    with pytest.raises(TrackletException) as exc:
        store.create_run("0", "u", 0, [RunTag("mlflow.runName", "t")], "other")
    assert _code(exc) == "INVALID_PARAMETER_VALUE"
    run_id = from_tag.info.run_id
    info = store.update_run_info(run_id, "FINISHED", 99, "renamed")
    assert (info.status, info.end_time, info.run_name) == ("FINISHED", 99, "renamed")
    assert store.get_run(run_id).data.tags["mlflow.runName"] == "renamed"
    store.log_batch(run_id, [], [], [RunTag("mlflow.runName", "via-tag")])
    assert store.get_run(run_id).info.run_name == "via-tag"
    with pytest.raises(TrackletException) as exc:
        store.update_run_info(run_id, "DONE", None, None)
    assert _code(exc) == "INVALID_PARAMETER_VALUE"


def test_delete_tag(store: FileStore, run_id: str) -> None:
    store.set_tag(run_id, RunTag("a/b", "1"))
    store.delete_tag(run_id, "a/b")
    assert "a/b" not in store.get_run(run_id).data.tags
    with pytest.raises(TrackletException) as exc:
        store.delete_tag(run_id, "a/b")
    assert _code(exc) == "RESOURCE_DOES_NOT_EXIST"
    with pytest.raises(TrackletException) as exc:
        store.delete_tag(run_id, "../meta.yaml")
    assert _code(exc) == "INVALID_PARAMETER_VALUE"


def test_dataset_inputs_are_recorded_once(store: FileStore, run_id: str) -> None:
    dataset = Dataset("d", "digest1", "local", "{}", None, '{"rows": 3}')
    item = DatasetInput(dataset, [InputTag("mlflow.data.context", "eval")])
    store.log_inputs(run_id, [item])
    store.log_inputs(run_id, [item])
    store.log_inputs(run_id, None)
    inputs = store.get_run(run_id).inputs.dataset_inputs
    assert inputs == [item]
    with pytest.raises(TrackletException) as exc:
        store.log_inputs(run_id, [DatasetInput(Dataset("d", "x" * 40, "local", "{}"))])
    assert _code(exc) == "INVALID_PARAMETER_VALUE"


def test_runs_of_a_deleted_experiment_stay_readable(store: FileStore) -> None:
    exp_id = store.create_experiment("e")
    run_id = store.create_run(exp_id, "u", 0, [], None).info.run_id
    store.log_metric(run_id, Metric("m", 1.0, 1, 0))
    store.delete_experiment(exp_id)
    run = store.get_run(run_id)
    assert run.info.lifecycle_stage == "deleted" and run.data.metrics == {"m": 1.0}
    with pytest.raises(TrackletException) as exc:
        store.log_metric(run_id, Metric("m", 2.0, 2, 1))
    assert _code(exc) == "INVALID_PARAMETER_VALUE"
    store.restore_experiment(exp_id)
    store.log_metric(run_id, Metric("m", 2.0, 2, 1))
    assert store.get_run(run_id).data.metrics == {"m": 2.0}


def test_run_folder_without_meta_is_ignored(store: FileStore, root: str) -> None:
    os.makedirs(os.path.join(root, "0", "a" * 32, "metrics"))
    with pytest.raises(TrackletException) as exc:
        store.get_run("a" * 32)
    assert _code(exc) == "RESOURCE_DOES_NOT_EXIST"


def test_root_that_is_a_file_is_refused(tmp_path) -> None:
    path = tmp_path / "file"
    path.write_text("x")
    with pytest.raises(TrackletException) as exc:
        FileStore(str(path))
    assert str(path) in exc.value.message
