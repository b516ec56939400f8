"""The logged-model conformance suite through RestRegistryStore, against a real ``tracklet
server`` (file and sqlite backends) and a real MLflow 3.17.2 ``mlflow server``: one server
per backend for the module, a new experiment for each test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tracklet.exceptions import TrackletException
from tracklet.plugins import get_tracking_store
from tracklet.stores.registry import LoggedModelStore
from tracklet.testing import LoggedModelStoreSuite

BACKENDS = ["tracklet-file", "tracklet-sqlite", "mlflow"]


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, registry_servers: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    kind = request.param
    root = tmp_path_factory.mktemp(kind)
    if kind == "mlflow":
        srv = registry_servers.mlflow_server(root)
    else:
        backend = f"sqlite:///{root / 'tracklet.db'}" if kind == "tracklet-sqlite" else str(root / "mlruns")
        srv = registry_servers.tracklet_server(root, backend)
    srv.kind = kind
    yield srv
    srv.stop()


class TestRestLoggedModelConformance(LoggedModelStoreSuite):
    @pytest.fixture
    def tracking_store(self, server: Any, registry_servers: Any) -> Any:
        return registry_servers.UniqueExperimentNames(get_tracking_store(server.url))

    @pytest.fixture
    def logged_model_store(self, server: Any) -> LoggedModelStore:
        from tracklet_registry.rest import RestRegistryStore

        return RestRegistryStore(store_uri=server.url)

    # -- where MLflow 3.17.2's own server (its SQL store) differs from tracklet's contract,
    #    the mlflow backend checks what MLflow does instead ----------------------------------

    def test_deleted_experiment_is_refused(
        self, logged_model_store: Any, tracking_store: Any, server: Any
    ) -> None:
        if server.kind != "mlflow":
            return super().test_deleted_experiment_is_refused(logged_model_store, tracking_store)
        experiment_id = tracking_store.create_experiment("doomed")
        tracking_store.delete_experiment(experiment_id)
        with pytest.raises(TrackletException) as info:  # MLflow: INVALID_PARAMETER_VALUE, not INVALID_STATE
            logged_model_store.create_logged_model(experiment_id, name="m")
        assert info.value.error_code == "INVALID_PARAMETER_VALUE"
        assert f"The experiment {experiment_id} must be in the 'active' state" in info.value.message

    def test_get_unknown_model(self, logged_model_store: Any, server: Any) -> None:
        if server.kind != "mlflow":
            return super().test_get_unknown_model(logged_model_store)
        model_id = "m-0123456789abcdef0123456789abcdef"
        with pytest.raises(TrackletException) as info:  # MLflow's SQL store words it its own way
            logged_model_store.get_logged_model(model_id)
        assert info.value.error_code == "RESOURCE_DOES_NOT_EXIST"
        assert f"Logged model with ID '{model_id}' not found." in info.value.message

    def test_delete(self, logged_model_store: Any, experiment_id: str, server: Any) -> None:
        if server.kind != "mlflow":
            return super().test_delete(logged_model_store, experiment_id)
        model = logged_model_store.create_logged_model(experiment_id, name="m")
        keep = logged_model_store.create_logged_model(experiment_id, name="keep")
        logged_model_store.delete_logged_model(model.model_id)
        with pytest.raises(TrackletException):
            logged_model_store.get_logged_model(model.model_id)
        assert (
            logged_model_store.get_logged_model(model.model_id, allow_deleted=True).model_id == model.model_id
        )
        assert [m.model_id for m in logged_model_store.search_logged_models([experiment_id])] == [
            keep.model_id
        ]
        logged_model_store.delete_logged_model(model.model_id)  # MLflow: deleting again is no error

    def test_filters(
        self, logged_model_store: Any, experiment_id: str, filter_string: str, expected: set[str], server: Any
    ) -> None:
        if server.kind == "mlflow" and "status" in filter_string:
            # MLflow's SQL store compares the status filter with the stored enum number:
            # 'READY' finds nothing there, '2' finds the READY models
            self._populate(logged_model_store, experiment_id)
            assert (
                len(logged_model_store.search_logged_models([experiment_id], filter_string=filter_string))
                == 0
            )
            numbered = filter_string.replace("'READY'", "'2'").replace("'PENDING'", "'1'")
            found = logged_model_store.search_logged_models([experiment_id], filter_string=numbered)
            assert {m.name for m in found} == expected
            return
        super().test_filters(logged_model_store, experiment_id, filter_string, expected)

    test_filters.pytestmark = LoggedModelStoreSuite.test_filters.pytestmark  # type: ignore[attr-defined]
