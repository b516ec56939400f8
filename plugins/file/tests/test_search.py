"""search_runs and search_experiments over the folder: view types, the trash, paging,
and a cache that follows changes between searches."""

from __future__ import annotations

import os

import pytest

from tracklet.entities import Metric, Param, RunTag, ViewType
from tracklet.exceptions import TrackletException
from tracklet_file.store import FileStore


def _ids(page: list) -> list[str]:  # type: ignore[type-arg]
    return sorted(r.info.run_id for r in page)


def test_view_types_cover_deleted_runs_and_deleted_experiments(store: FileStore) -> None:
    exp = store.create_experiment("e")
    live = store.create_run(exp, "u", 1, [], None).info.run_id
    gone = store.create_run(exp, "u", 2, [], None).info.run_id
    store.delete_run(gone)
    doomed = store.create_experiment("doomed")
    trashed = store.create_run(doomed, "u", 3, [], None).info.run_id
    store.delete_experiment(doomed)
    both = [exp, doomed]
    assert _ids(store.search_runs(both, "", ViewType.ACTIVE_ONLY)) == [live]
    assert _ids(store.search_runs(both, "", ViewType.DELETED_ONLY)) == sorted([gone, trashed])
    assert _ids(store.search_runs(both, "", ViewType.ALL)) == sorted([live, gone, trashed])
    assert list(store.search_runs(["424242"], "")) == []
    with pytest.raises(TrackletException) as exc:
        store.search_runs(["../x"], "")
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"

    names = {e.name for e in store.search_experiments(ViewType.ACTIVE_ONLY)}
    assert names == {"Default", "e"}
    assert [e.name for e in store.search_experiments(ViewType.DELETED_ONLY)] == ["doomed"]
    assert len(store.search_experiments(ViewType.ALL)) == 3
    assert [e.name for e in store.search_experiments(ViewType.ALL, filter_string="name LIKE 'doo%'")] == [
        "doomed"
    ]


def test_filter_order_and_pages(store: FileStore) -> None:
    for i in range(7):
        run_id = store.create_run("0", "u", 100 + i, [RunTag("parity", str(i % 2))], f"r{i}").info.run_id
        store.log_batch(run_id, [Metric("loss", 1.0 / (i + 1), 1, 0)], [Param("i", str(i))], [])
    found = store.search_runs(
        ["0"], "tags.parity = '0' and metrics.loss < 0.9", order_by=["metrics.loss ASC"]
    )
    assert [r.data.params["i"] for r in found] == ["6", "4", "2"]
    pages, token = [], None
    while True:
        page = store.search_runs(["0"], "", max_results=3, page_token=token)
        pages.append([r.info.run_name for r in page])
        token = page.token
        if not token:
            break
    assert pages == [["r6", "r5", "r4"], ["r3", "r2", "r1"], ["r0"]]  # start time descending
    with pytest.raises(TrackletException) as exc:
        store.search_runs(["0"], "metrics.loss <<< 1")
    assert exc.value.error_code == "INVALID_PARAMETER_VALUE"
    with pytest.raises(TrackletException):
        store.search_runs(["0"], "", max_results=0)


def test_repeat_search_follows_changes(store: FileStore, root: str) -> None:
    other = FileStore(root)
    run_id = store.create_run("0", "u", 1, [], None).info.run_id
    store.log_metric(run_id, Metric("m", 1.0, 1, 0))
    assert len(store.search_runs(["0"], "metrics.m = 1")) == 1
    other.log_metric(run_id, Metric("m", 2.0, 2, 1))
    assert len(store.search_runs(["0"], "metrics.m = 1")) == 0
    assert len(store.search_runs(["0"], "metrics.m = 2")) == 1
    other.log_param(run_id, Param("p", "x"))
    other.set_tag(run_id, RunTag("t", "y"))
    assert len(store.search_runs(["0"], "params.p = 'x' and tags.t = 'y'")) == 1
    new_run = other.create_run("0", "u", 2, [], None).info.run_id
    assert run_id in _ids(store.search_runs(["0"], "")) and new_run in _ids(store.search_runs(["0"], ""))
    other.delete_run(new_run)
    assert _ids(store.search_runs(["0"], "")) == [run_id]


def test_malformed_run_folders_are_skipped(store: FileStore, root: str) -> None:
    run_id = store.create_run("0", "u", 1, [], None).info.run_id
    os.makedirs(os.path.join(root, "0", "b" * 32))  # no meta.yaml: being created, or junk
    os.makedirs(os.path.join(root, "0", "c" * 32))
    with open(os.path.join(root, "0", "c" * 32, "meta.yaml"), "w") as f:
        f.write("run_id: " + "d" * 32 + "\nexperiment_id: '0'\n")  # names another run
    assert _ids(store.search_runs(["0"], "")) == [run_id]
