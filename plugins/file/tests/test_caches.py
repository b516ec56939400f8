"""The in-process caches never hide a change made by another writer (another store
instance, another process, or MLflow rewriting a file in place)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from tracklet.entities import Metric, Param, RunTag
from tracklet.exceptions import TrackletException
from tracklet_file import _runs
from tracklet_file.store import FileStore


@pytest.fixture
def other(root: str, store: FileStore) -> FileStore:
    """A second store on the same folder, with caches of its own."""
    return FileStore(root)


def test_run_changes_by_another_writer_are_seen(store: FileStore, other: FileStore) -> None:
    run_id = store.create_run("0", "u", 0, [RunTag("gone", "1")], "r").info.run_id
    checks = [
        (lambda: other.log_metric(run_id, Metric("m", 1.0, 1, 0)), lambda r: r.data.metrics == {"m": 1.0}),
        (lambda: other.log_metric(run_id, Metric("m", 2.0, 2, 1)), lambda r: r.data.metrics == {"m": 2.0}),
        (lambda: other.log_metric(run_id, Metric("n/x", 3.0, 2, 1)), lambda r: r.data.metrics["n/x"] == 3.0),
        (lambda: other.log_param(run_id, Param("p", "v")), lambda r: r.data.params == {"p": "v"}),
        (lambda: other.set_tag(run_id, RunTag("t", "1")), lambda r: r.data.tags["t"] == "1"),
        (lambda: other.set_tag(run_id, RunTag("t", "2")), lambda r: r.data.tags["t"] == "2"),
        (lambda: other.delete_tag(run_id, "gone"), lambda r: "gone" not in r.data.tags),
        (lambda: other.update_run_info(run_id, "FINISHED", 7, None), lambda r: r.info.status == "FINISHED"),
        (lambda: other.delete_run(run_id), lambda r: r.info.lifecycle_stage == "deleted"),
    ]
    for change, seen in checks:
        store.get_run(run_id)  # cache the state before the change
        change()
        assert seen(store.get_run(run_id))
    with pytest.raises(TrackletException) as exc:
        store.log_metric(run_id, Metric("m", 1.0, 1, 0))  # the cached meta must not say active
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"


def test_experiment_changes_by_another_writer_are_seen(store: FileStore, other: FileStore) -> None:
    exp_id = store.create_experiment("a")
    run_id = store.create_run(exp_id, "u", 0, [], None).info.run_id
    store.log_metric(run_id, Metric("m", 1.0, 1, 0))  # caches the run's location
    assert store.get_experiment(exp_id).name == "a"
    other.rename_experiment(exp_id, "b")
    assert store.get_experiment(exp_id).name == "b"
    other.set_experiment_tag(exp_id, RunTag("k", "v"))
    assert store.get_experiment(exp_id).tags == {"k": "v"}
    other.delete_experiment(exp_id)
    assert store.get_experiment(exp_id).lifecycle_stage == "deleted"
    with pytest.raises(TrackletException) as exc:
        store.log_metric(run_id, Metric("m", 2.0, 2, 0))
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(TrackletException) as exc:
        store.create_experiment("b")
    assert exc.value.error_code == "RESOURCE_ALREADY_EXISTS"
    other.restore_experiment(exp_id)
    store.log_metric(run_id, Metric("m", 2.0, 2, 0))
    assert [m.value for m in other.get_metric_history(run_id, "m")] == [1.0, 2.0]


def test_in_place_rewrite_with_same_size_and_mtime_is_seen(store: FileStore, root: str) -> None:
    """MLflow rewrites tags and meta.yaml in place; a rewrite within one clock tick keeps
    the size and mtime. A recently changed file is therefore checked by content."""
    run_id = store.create_run("0", "u", 0, [RunTag("t", "aaa")], None).info.run_id
    path = os.path.join(root, "0", run_id, "tags", "t")
    assert store.get_run(run_id).data.tags["t"] == "aaa"
    st = os.stat(path)
    with open(path, "w") as f:
        f.write("bbb")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == st.st_mtime_ns and os.stat(path).st_ino == st.st_ino
    assert store.get_run(run_id).data.tags["t"] == "bbb"


def test_in_place_meta_rewrite_is_seen_on_the_logging_path(store: FileStore, root: str) -> None:
    run_id = store.create_run("0", "u", 0, [], None).info.run_id
    store.log_metric(run_id, Metric("m", 1.0, 1, 0))
    path = os.path.join(root, "0", run_id, "meta.yaml")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    with open(path, "w", encoding="utf-8") as f:  # as MLflow's delete_run does
        f.write(text.replace("lifecycle_stage: active", "lifecycle_stage: deleted"))
    with pytest.raises(TrackletException) as exc:
        store.log_metric(run_id, Metric("m", 2.0, 2, 0))
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"


def test_changes_by_another_process_are_seen(store: FileStore, root: str) -> None:
    run_id = store.create_run("0", "u", 0, [], None).info.run_id
    store.get_run(run_id)
    code = (
        "import sys\n"
        "from tracklet.entities import Metric, Param\n"
        "from tracklet_file.store import FileStore\n"
        "s = FileStore(sys.argv[1])\n"
        "s.log_batch(sys.argv[2], [Metric('m', 5.0, 1, 3)], [Param('p', 'x')], [])\n"
        "s.update_run_info(sys.argv[2], 'KILLED', 9, 'renamed')\n"
        "s.create_experiment('from-child')\n"
    )
    subprocess.run([sys.executable, "-c", code, root, run_id], check=True)
    run = store.get_run(run_id)
    assert run.data.metrics == {"m": 5.0} and run.data.params == {"p": "x"}
    assert (run.info.status, run.info.end_time, run.info.run_name) == ("KILLED", 9, "renamed")
    assert store.get_experiment_by_name("from-child") is not None


def test_returned_runs_do_not_share_mutable_state(store: FileStore) -> None:
    run_id = store.create_run("0", "u", 0, [], None).info.run_id
    store.log_param(run_id, Param("p", "1"))
    first = store.get_run(run_id)
    first.data.params["p"] = "changed"
    first.data.tags.clear()
    first.inputs.dataset_inputs.append(None)  # type: ignore[arg-type]
    second = store.get_run(run_id)
    assert second.data.params == {"p": "1"} and "mlflow.runName" in second.data.tags
    assert second.inputs.dataset_inputs == []


def _age_everything(folder: str) -> None:
    """Date every file and folder 10 s back, as if written long ago (settled)."""
    past = time.time_ns() - 10_000_000_000
    for path, _dirs, files in os.walk(folder):
        for name in files:
            os.utime(os.path.join(path, name), ns=(past, past))
        os.utime(path, ns=(past, past))


def test_tag_rewritten_in_place_long_after_is_seen(
    store: FileStore, root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tag file MLflow rewrites in place leaves its folder's mtime alone: get_run
    stats the tag files every time, a repeat search every IN_PLACE_CHECK_S seconds."""
    run_id = store.create_run("0", "u", 0, [RunTag("t", "aaa")], None).info.run_id
    run_dir = os.path.join(root, "0", run_id)
    _age_everything(run_dir)
    assert len(store.search_runs(["0"], "tags.t = 'aaa'")) == 1  # cached, all settled
    monkeypatch.setattr(_runs, "IN_PLACE_CHECK_S", 0.0)
    with open(os.path.join(run_dir, "tags", "t"), "w") as f:
        f.write("bbb")
    assert len(store.search_runs(["0"], "tags.t = 'bbb'")) == 1
    _age_everything(run_dir)
    store.search_runs(["0"], "")
    monkeypatch.setattr(_runs, "IN_PLACE_CHECK_S", 3600.0)
    with open(os.path.join(run_dir, "tags", "t"), "w") as f:
        f.write("ccc")
    assert store.get_run(run_id).data.tags["t"] == "ccc"


def test_metric_appends_are_seen_by_repeat_searches(
    store: FileStore, other: FileStore, root: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tracklet's writers bump metrics/ after appending, so a repeat search sees their points
    at once with one stat of the folder; an append by another program (MLflow appends without
    bumping the folder) is seen by get_run at once and by searches every IN_PLACE_CHECK_S."""
    run_id = store.create_run("0", "u", 0, [], None).info.run_id
    run_dir = os.path.join(root, "0", run_id)
    store.log_metric(run_id, Metric("m", 1.0, 1, 0))
    _age_everything(run_dir)
    monkeypatch.setattr(_runs, "IN_PLACE_CHECK_S", 3600.0)
    assert len(store.search_runs(["0"], "metrics.m = 1")) == 1  # cached, all settled
    other.log_metric(run_id, Metric("m", 2.0, 2, 1))
    assert len(store.search_runs(["0"], "metrics.m = 2")) == 1
    _age_everything(run_dir)
    store.search_runs(["0"], "")
    with open(os.path.join(run_dir, "metrics", "m"), "a") as f:
        f.write("3 3.0 2\n")  # MLflow's FileStore: an append, the folder's mtime unchanged
    assert store.get_run(run_id).data.metrics == {"m": 3.0}
    monkeypatch.setattr(_runs, "IN_PLACE_CHECK_S", 0.0)
    with open(os.path.join(run_dir, "metrics", "m"), "a") as f:
        f.write("4 4.0 3\n")
    assert [r.data.metrics["m"] for r in store.search_runs(["0"], "")] == [4.0]
