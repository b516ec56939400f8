"""The experiment's runs file (``.tracklet-runs.json``): a new store starts its first
search from it, and still sees every change made to the runs after it was written."""

from __future__ import annotations

import json
import os
import time

import pytest

from tracklet.entities import Metric, Param, RunTag
from tracklet_file._runs_file import RUNS_FILE
from tracklet_file.store import FileStore


def _age_everything(folder: str) -> None:
    """Date every file and folder 10 s back, as if written long ago (settled)."""
    past = time.time_ns() - 10_000_000_000
    for path, _dirs, files in os.walk(folder):
        for name in files:
            os.utime(os.path.join(path, name), ns=(past, past))
        os.utime(path, ns=(past, past))


def _run(store: FileStore, i: int) -> str:
    run_id = store.create_run("0", "u", 0, [RunTag("t", f"v{i}")], f"run-{i}").info.run_id
    store.log_batch(run_id, [Metric("m", float(i), 1, 0)], [Param("p", str(i))], [])
    return run_id


def _saved(root: str) -> dict[str, object]:
    with open(os.path.join(root, "0", RUNS_FILE), encoding="utf-8") as f:
        return json.load(f)["runs"]  # type: ignore[no-any-return]


def _summary(store: FileStore) -> dict[str, tuple[object, ...]]:
    return {
        r.info.run_id: (r.info.run_name, r.info.status, r.data.metrics, r.data.params, r.data.tags)
        for r in store.search_runs(["0"], "", max_results=1000)
    }


def test_a_new_store_starts_from_the_runs_file(store: FileStore, root: str) -> None:
    run_ids = [_run(store, i) for i in range(3)]
    _age_everything(os.path.join(root, "0"))
    before = _summary(store)
    assert set(_saved(root)) == set(run_ids)  # every settled run is saved
    # A param rewritten with the same size and stat: only the saved copy can still say "0".
    param = os.path.join(root, "0", run_ids[0], "params", "p")
    st = os.stat(param)
    with open(param, "w") as f:
        f.write("X")
    os.utime(param, ns=(st.st_atime_ns, st.st_mtime_ns))
    fresh = FileStore(root)
    assert _summary(fresh) == before
    assert fresh.get_run(run_ids[1]).data.params == {"p": "1"}


def test_changes_after_the_runs_file_was_written_are_seen(store: FileStore, root: str) -> None:
    run_ids = [_run(store, i) for i in range(4)]
    _age_everything(os.path.join(root, "0"))
    store.search_runs(["0"], "")
    assert len(_saved(root)) == 4
    dirs = [os.path.join(root, "0", run_id) for run_id in run_ids]
    with open(os.path.join(dirs[0], "tags", "t"), "w") as f:  # MLflow rewrites a tag in place
        f.write("new")
    with open(os.path.join(dirs[1], "metrics", "m"), "a") as f:  # MLflow appends a point
        f.write("2 9.5 1\n")
    other = FileStore(root)
    other.log_param(run_ids[2], Param("q", "1"))
    other.update_run_info(run_ids[3], "FINISHED", 7, None)
    fresh = FileStore(root)
    runs = {r.info.run_id: r for r in fresh.search_runs(["0"], "")}
    assert runs[run_ids[0]].data.tags["t"] == "new"
    assert runs[run_ids[1]].data.metrics == {"m": 9.5}
    assert runs[run_ids[2]].data.params == {"p": "2", "q": "1"}
    assert runs[run_ids[3]].info.status == "FINISHED"
    # and the restored store keeps following later changes as one that read the files
    fresh.log_metric(run_ids[0], Metric("m", 7.0, 5, 3))
    fresh.delete_run(run_ids[2])
    assert {r.info.run_id: r.data.metrics["m"] for r in fresh.search_runs(["0"], "")} == {
        run_ids[0]: 7.0,
        run_ids[1]: 9.5,
        run_ids[3]: 3.0,
    }


def test_runs_not_yet_settled_are_left_out(store: FileStore, root: str) -> None:
    old = _run(store, 0)
    _age_everything(os.path.join(root, "0"))
    new = _run(store, 1)  # written just now: its stats cannot prove it unchanged yet
    store.search_runs(["0"], "")
    saved = _saved(root)
    assert old in saved and new not in saved
    assert len(FileStore(root).search_runs(["0"], "")) == 2


@pytest.mark.parametrize(
    "content",
    [
        b"not json",
        b'{"format": 99, "runs": {}}',
        b'{"format": 1, "runs": []}',
        b'{"format": 1, "runs": {"RUN": {"meta": [1, 2]}}}',
        b'{"format": 1, "runs": {"RUN": {"meta": [1, 2, 3, {}], "params": [], "tags": {}}}}',
    ],
)
def test_a_malformed_runs_file_is_ignored(store: FileStore, root: str, content: bytes) -> None:
    run_ids = [_run(store, i) for i in range(2)]
    _age_everything(os.path.join(root, "0"))
    expected = _summary(store)
    with open(os.path.join(root, "0", RUNS_FILE), "wb") as f:
        f.write(content.replace(b"RUN", run_ids[0].encode()))
    assert _summary(FileStore(root)) == expected


def test_the_runs_file_is_no_run_and_moves_with_its_experiment(store: FileStore, root: str) -> None:
    exp_id = store.create_experiment("e")
    run_id = store.create_run(exp_id, "u", 0, [], None).info.run_id
    _age_everything(os.path.join(root, exp_id))
    assert len(store.search_runs([exp_id], "")) == 1
    assert os.path.isfile(os.path.join(root, exp_id, RUNS_FILE))
    store.delete_experiment(exp_id)
    store.restore_experiment(exp_id)
    fresh = FileStore(root)
    assert [r.info.run_id for r in fresh.search_runs([exp_id], "")] == [run_id]
    assert fresh.get_run(run_id).info.experiment_id == exp_id
