"""Conformance tests for several processes sharing one store (capability
``concurrent_processes``): nothing logged is lost, ids never collide, and a name race
has exactly one winner."""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterable
from typing import Any

from tracklet.stores import TrackingStore
from tracklet.testing import _workers
from tracklet.testing._support import requires
from tracklet.testing._workers import StoreSpec

_WORKERS = 4
_POINTS = 30


def _in_processes(function: Any, arguments: Iterable[tuple[Any, ...]]) -> list[Any]:
    # "spawn" everywhere: children share nothing with the test process but the store.
    with multiprocessing.get_context("spawn").Pool(_WORKERS) as pool:
        return pool.starmap(function, list(arguments))


class ProcessTests:
    """Several processes writing through their own instance of the same store."""

    def reopen_spec(self, store: TrackingStore) -> StoreSpec:
        """How a child process opens the store under test: ``("module:Class", store_uri,
        artifact_uri)``, built as ``Class(store_uri=..., artifact_uri=...)`` like the core
        builds stores. Override it when your class cannot be rebuilt that way."""
        cls = type(store)
        return f"{cls.__module__}:{cls.__qualname__}", store.store_uri, store.artifact_uri

    @requires("concurrent_processes")
    def test_processes_logging_to_one_run_lose_nothing(self, store: TrackingStore, run_id: str) -> None:
        store.get_run(run_id)  # warm any cache of this process: it must see the others' writes
        spec = self.reopen_spec(store)
        _in_processes(_workers.log_points, [(spec, run_id, w, _POINTS) for w in range(_WORKERS)])
        shared = store.get_metric_history(run_id, "shared")
        assert sorted(m.value for m in shared) == sorted(
            float(w * 1000 + i) for w in range(_WORKERS) for i in range(_POINTS)
        )
        run = store.get_run(run_id)
        for w in range(_WORKERS):
            own = store.get_metric_history(run_id, f"own_{w}")
            assert sorted(m.step for m in own) == list(range(_POINTS))
            assert run.data.metrics[f"own_{w}"] == float(_POINTS - 1)
            assert run.data.tags[f"t{w}"] == str(_POINTS - 1)
            for i in range(0, _POINTS, 10):
                assert run.data.params[f"p{w}_{i}"] == str(i)

    @requires("concurrent_processes")
    def test_processes_creating_experiments_get_unique_ids(self, store: TrackingStore) -> None:
        count = 5
        results = _in_processes(
            _workers.create_experiments, [(self.reopen_spec(store), w, count) for w in range(_WORKERS)]
        )
        ids = [i for result in results for i in result]
        winners = [i.removeprefix("shared:") for i in ids if i.startswith("shared:")]
        plain = [i for i in ids if not i.startswith("shared:")]
        assert len(winners) == 1, f"{len(winners)} processes created the experiment named 'shared'"
        assert len(set(plain + winners)) == _WORKERS * count + 1
        for w in range(_WORKERS):
            for i in range(count):
                found = store.get_experiment_by_name(f"worker-{w}-{i}")
                assert found is not None and found.experiment_id == results[w][i]
        shared = store.get_experiment_by_name("shared")
        assert shared is not None and shared.experiment_id == winners[0]

    @requires("concurrent_processes")
    def test_processes_creating_runs_get_unique_ids(self, store: TrackingStore, experiment_id: str) -> None:
        count = 5
        results = _in_processes(
            _workers.create_runs,
            [(self.reopen_spec(store), experiment_id, w, count) for w in range(_WORKERS)],
        )
        ids = {run_id for result in results for run_id in result}
        assert len(ids) == _WORKERS * count
        assert {r.info.run_id for r in store.search_runs([experiment_id], "")} == ids
