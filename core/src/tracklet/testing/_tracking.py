"""TrackingStoreSuite: every tracking-store conformance test, behind one fixture."""

from __future__ import annotations

import pytest

from tracklet.entities import ViewType
from tracklet.stores import CAPABILITIES, TrackingStore
from tracklet.testing._datasets import DatasetTests
from tracklet.testing._experiments import ExperimentTests
from tracklet.testing._fork import ForkTests
from tracklet.testing._import import ImportTests
from tracklet.testing._logging import LoggingTests
from tracklet.testing._metrics import MetricTests
from tracklet.testing._processes import ProcessTests
from tracklet.testing._runs import RunTests
from tracklet.testing._sampling import SamplingTests
from tracklet.testing._search import ExperimentSearchTests, RunSearchTests
from tracklet.testing._support import T0, check_capabilities


class TrackingStoreSuite(
    ExperimentTests,
    RunTests,
    LoggingTests,
    MetricTests,
    SamplingTests,
    RunSearchTests,
    ExperimentSearchTests,
    DatasetTests,
    ImportTests,
    ProcessTests,
    ForkTests,
):
    """Inherit this and define a ``store`` fixture returning a new, empty
    :class:`~tracklet.stores.TrackingStore` (only the Default experiment ``"0"``);
    every test below then runs on it. Tests of a capability the store does not list in
    ``capabilities`` are skipped with the reason shown."""

    @pytest.fixture
    def store(self) -> TrackingStore:
        """Override: a fresh, empty store for each test."""
        pytest.fail(
            f"{type(self).__name__} must define a `store` fixture returning a new, empty TrackingStore"
        )

    @pytest.fixture(autouse=True)
    def _tracklet_capabilities(self, request: pytest.FixtureRequest) -> None:
        check_capabilities(request, "store")

    @pytest.fixture
    def experiment_id(self, store: TrackingStore) -> str:
        """A new, empty, active experiment."""
        return store.create_experiment("conformance")

    @pytest.fixture
    def run_id(self, store: TrackingStore, experiment_id: str) -> str:
        """A new RUNNING run named ``the-run`` in :meth:`experiment_id`, started at ``T0``."""
        return store.create_run(experiment_id, "tester", T0, [], "the-run").info.run_id

    def test_store_is_a_tracking_store(self, store: TrackingStore) -> None:
        assert isinstance(store, TrackingStore)

    def test_declared_capabilities_are_known(self, store: TrackingStore) -> None:
        declared = frozenset(store.capabilities)
        assert declared <= CAPABILITIES, (
            f"{type(store).__name__} declares unknown capabilities {sorted(declared - CAPABILITIES)}; "
            f"known: {sorted(CAPABILITIES)}"
        )

    def test_a_new_store_holds_only_the_default_experiment(self, store: TrackingStore) -> None:
        assert [e.experiment_id for e in store.search_experiments(ViewType.ALL)] == ["0"]
        assert list(store.search_runs(["0"], "", ViewType.ALL)) == []
