"""The registry conformance suite through RestRegistryStore, against a real ``tracklet
server`` (file and sqlite backends) and a real MLflow 3.17.2 ``mlflow server``.

One server per backend for the module; each test starts from an empty registry (every
registered model deleted). The suite's placeholder ``file:///…`` sources travel as
``s3://bucket/_file/…`` (the bucket of its search tests), which both servers own (see
``_registry_servers.ConformanceRestStore``): a server refuses local sources by design.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tracklet.exceptions import TrackletException
from tracklet.stores.registry import RegistryStore
from tracklet.testing import RegistryStoreSuite

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
        srv = registry_servers.tracklet_server(
            root, backend, "--default-artifact-root", registry_servers.CONFORMANCE_ROOT
        )
    srv.kind = kind
    yield srv
    srv.stop()


class TestRestRegistryConformance(RegistryStoreSuite):
    @pytest.fixture
    def registry_store(self, server: Any, registry_servers: Any) -> RegistryStore:
        store = registry_servers.ConformanceRestStore(store_uri=server.url)
        registry_servers.wipe_registry(store)
        if server.kind == "mlflow":  # MLflow's server has no import routes (checked below)
            store.capabilities = store.capabilities - {"import"}
        return store  # type: ignore[no-any-return]

    def test_mlflow_server_refuses_imports_naming_the_alternative(
        self, registry_store: Any, server: Any
    ) -> None:
        if server.kind != "mlflow":
            pytest.skip("tracklet's servers import (the suite's import tests)")
        from tracklet.entities.model_registry import RegisteredModel

        with pytest.raises(TrackletException) as info:
            registry_store.import_registered_model(RegisteredModel("copied", 1, 1), 0)
        assert info.value.error_code == "NOT_IMPLEMENTED"
        assert "migrate into its backend database URI" in info.value.message
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "s3://bucket/_file/a")
        assert registry_store.get_last_version_number("m") == 1  # read from its versions

    # -- where MLflow 3.17.2's own server (its SQL store) differs from tracklet's contract,
    #    the mlflow backend checks what MLflow does instead ----------------------------------

    def test_rename_onto_a_taken_name_is_refused(self, registry_store: Any, server: Any) -> None:
        if server.kind != "mlflow":
            return super().test_rename_onto_a_taken_name_is_refused(registry_store)
        registry_store.create_registered_model("a")
        registry_store.create_registered_model("b")
        with pytest.raises(TrackletException) as info:
            registry_store.rename_registered_model("a", "b")
        assert info.value.error_code == "RESOURCE_ALREADY_EXISTS"
        # MLflow's SQL store appends the database's own error to the same first sentence
        assert "Registered Model (name=b) already exists." in info.value.message
        assert {m.name for m in registry_store.search_registered_models()} == {"a", "b"}
