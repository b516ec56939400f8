"""A store written against the former contract (public methods overridden, no primitives)
still passes the whole conformance suite: TrackingStore forwards each primitive it does
not write to the class's own public method.

The store below is what a third-party store looked like before: every public method
overridden. Here each one hands over to a MemoryTrackingStore, so the suite checks the
forwarding, not a second implementation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from tracklet.entities import Experiment, Metric, PagedList, Param, Run, RunInfo, RunTag
from tracklet.stores import TrackingStore
from tracklet.testing import TrackingStoreSuite
from tracklet_example.store import MemoryTrackingStore


class FormerContractStore(TrackingStore):
    """Overrides the public methods, as stores did before the primitives existed."""

    # The former contract had no copy primitives: such a store refuses them (NOT_IMPLEMENTED).
    capabilities = MemoryTrackingStore.capabilities - {"import"}

    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        super().__init__(store_uri, artifact_uri)
        self.inner = MemoryTrackingStore(store_uri, artifact_uri)
        self.public_calls: list[str] = []

    def _delegate(self, name: str, *args: Any, **kwargs: Any) -> Any:
        self.public_calls.append(name)
        return getattr(self.inner, name)(*args, **kwargs)

    def create_experiment(self, name: str, artifact_location: str | None = None, tags: Any = None) -> str:
        return self._delegate("create_experiment", name, artifact_location, tags)

    def get_experiment(self, experiment_id: str) -> Experiment:
        return self._delegate("get_experiment", experiment_id)

    def search_experiments(self, *args: Any, **kwargs: Any) -> PagedList[Experiment]:
        return self._delegate("search_experiments", *args, **kwargs)

    def delete_experiment(self, experiment_id: str) -> None:
        self._delegate("delete_experiment", experiment_id)

    def restore_experiment(self, experiment_id: str) -> None:
        self._delegate("restore_experiment", experiment_id)

    def rename_experiment(self, experiment_id: str, new_name: str) -> None:
        self._delegate("rename_experiment", experiment_id, new_name)

    def set_experiment_tag(self, experiment_id: str, tag: RunTag) -> None:
        self._delegate("set_experiment_tag", experiment_id, tag)

    def delete_experiment_tag(self, experiment_id: str, key: str) -> None:
        self._delegate("delete_experiment_tag", experiment_id, key)

    def create_run(self, experiment_id: str, user_id: Any, start_time: Any, tags: Any, run_name: Any) -> Run:
        return self._delegate("create_run", experiment_id, user_id, start_time, tags, run_name)

    def get_run(self, run_id: str) -> Run:
        return self._delegate("get_run", run_id)

    def update_run_info(self, run_id: str, run_status: Any, end_time: Any, run_name: Any) -> RunInfo:
        return self._delegate("update_run_info", run_id, run_status, end_time, run_name)

    def delete_run(self, run_id: str) -> None:
        self._delegate("delete_run", run_id)

    def restore_run(self, run_id: str) -> None:
        self._delegate("restore_run", run_id)

    def log_batch(self, run_id: str, metrics: Any, params: Any, tags: Any) -> None:
        self._delegate("log_batch", run_id, metrics, params, tags)

    def delete_tag(self, run_id: str, key: str) -> None:
        self._delegate("delete_tag", run_id, key)

    def log_inputs(self, run_id: str, datasets: Any = None) -> None:
        self._delegate("log_inputs", run_id, datasets)

    def get_metric_history(
        self, run_id: str, metric_key: str, *args: Any, **kwargs: Any
    ) -> PagedList[Metric]:
        return self._delegate("get_metric_history", run_id, metric_key, *args, **kwargs)

    def search_runs(self, experiment_ids: Sequence[str], *args: Any, **kwargs: Any) -> PagedList[Run]:
        return self._delegate("search_runs", experiment_ids, *args, **kwargs)


class TestFormerContractStore(TrackingStoreSuite):
    @pytest.fixture
    def store(self) -> FormerContractStore:
        return FormerContractStore()


def test_a_former_contract_store_can_be_built_and_its_conveniences_reach_its_methods() -> None:
    store = FormerContractStore()
    run_id = store.create_run("0", "u", 1, [], "r").info.run_id
    store.log_metric(run_id, Metric("m", 1.0, 1, 0))  # the default convenience, then log_batch
    store.log_param(run_id, Param("p", "1"))
    assert store.get_experiment_by_name("Default") is not None  # pages through search_experiments
    assert store.public_calls.count("log_batch") == 2
    assert "search_experiments" in store.public_calls
    assert store.get_run(run_id).data.metrics == {"m": 1.0}


def test_a_store_that_writes_neither_is_abstract() -> None:
    class Nothing(TrackingStore):
        pass

    with pytest.raises(TypeError, match="_log_batch"):
        Nothing()  # type: ignore[abstract]
