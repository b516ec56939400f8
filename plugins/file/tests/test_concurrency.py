"""Several processes writing to one folder at once lose nothing and never collide."""

from __future__ import annotations

import multiprocessing
import pathlib
import threading
import types

import pytest

from tracklet.entities import Metric, RunTag
from tracklet_file.store import FileStore


@pytest.fixture
def workers(monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The worker module, importable by name in spawned children."""
    monkeypatch.syspath_prepend(str(pathlib.Path(__file__).parent))
    import tracklet_file_workers

    return tracklet_file_workers


def test_processes_logging_to_the_same_run_and_key_lose_nothing(
    store: FileStore, root: str, workers: types.ModuleType
) -> None:
    run_id = store.create_run("0", "u", 0, [], None).info.run_id
    store.get_run(run_id)  # warm this process's caches: they must notice the others' writes
    n_workers, points = 4, workers.POINTS
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=workers.log_points, args=(root, run_id, w)) for w in range(n_workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    shared = store.get_metric_history(run_id, "shared")
    assert len(shared) == n_workers * points
    assert sorted(int(m.value) for m in shared) == sorted(
        w * 1000 + i for w in range(n_workers) for i in range(points)
    )
    run = store.get_run(run_id)
    for w in range(n_workers):
        own = store.get_metric_history(run_id, f"own/{w}")
        assert [m.value for m in own] == [float(i) for i in range(points)]  # in order per process
        assert run.data.metrics[f"own/{w}"] == float(points - 1)
        assert run.data.tags[f"t{w}"] == str(points - 25)
        for i in range(0, points, 25):
            assert run.data.params[f"p{w}_{i}"] == str(i)


def test_concurrent_experiment_creation_gives_unique_ids_and_one_winner(
    store: FileStore, root: str, workers: types.ModuleType
) -> None:
    n_workers, count = 4, 8
    with multiprocessing.get_context("spawn").Pool(n_workers) as pool:
        results = pool.starmap(workers.create_experiments, [(root, w, count) for w in range(n_workers)])
    ids = [i.removeprefix("shared:") for r in results for i in r]
    assert len(ids) == len(set(ids)) == n_workers * count + 1
    assert sum(i.startswith("shared:") for r in results for i in r) == 1
    names = [store.get_experiment(i).name for i in ids]
    assert len(set(names)) == len(names)
    assert store.get_experiment_by_name("shared") is not None


def test_threads_sharing_one_store_lose_nothing(store: FileStore) -> None:
    run_id = store.create_run("0", "u", 0, [], None).info.run_id
    errors: list[BaseException] = []

    def log(worker: int) -> None:
        try:
            for i in range(300):
                store.log_metric(run_id, Metric(f"k{i % 3}", float(worker), i, i))
                if i % 50 == 0:
                    store.set_tag(run_id, RunTag(f"w{worker}", str(i)))
        except BaseException as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)

    def read() -> None:
        try:
            for _ in range(100):
                store.get_run(run_id)
                store.search_runs(["0"], "")
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=log, args=(w,)) for w in range(4)] + [threading.Thread(target=read)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sum(len(store.get_metric_history(run_id, f"k{j}")) for j in range(3)) == 4 * 300
    assert {f"w{w}" for w in range(4)} <= set(store.get_run(run_id).data.tags)
