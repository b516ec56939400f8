"""RestStore passes the core's conformance suite through a real ``tracklet server``.

One server per class runs in uvicorn on a thread; each test gets a fresh store behind it
(the handlers' store is swapped), so every test starts from an empty tracker while the
client, the wire and the server are the real ones: sqlite, and a folder (whose store
copies in: capability ``import`` through the server's own routes).
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import pytest

from tracklet.plugins import get_tracking_store  # noqa: E402
from tracklet.testing import TrackingStoreSuite  # noqa: E402
from tracklet_http.client import RestStore  # noqa: E402
from tracklet_http.server.app import create_app  # noqa: E402
from tracklet_http.server.settings import ServerSettings  # noqa: E402
from tracklet_http.testing import ThreadServer  # noqa: E402


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    root = tmp_path_factory.mktemp("rest-conformance")
    settings = ServerSettings(
        backend_store_uri=f"sqlite:///{root / 'first.db'}", artifacts_destination=str(root / "artifacts")
    )
    with ThreadServer(create_app(settings)) as server:
        yield server


class TestRestStoreOnTrackletServer(TrackingStoreSuite):
    @pytest.fixture
    def store(self, live_server: ThreadServer, tmp_path: pathlib.Path) -> Iterator[RestStore]:
        state = live_server.app.state.tracking
        backing = get_tracking_store(f"sqlite:///{tmp_path / 'tracking.db'}", str(tmp_path / "artifacts"))
        previous, state.store = state.store, backing
        client = RestStore(live_server.url)
        # The sqlite store behind this server keeps one copy of a repeated point.
        client.capabilities = RestStore.capabilities | {"idempotent_metrics"}  # type: ignore[misc]
        if "import" not in backing.capabilities:  # the server refuses imports its store refuses
            client.capabilities = client.capabilities - {"import"}  # type: ignore[misc]
        try:
            yield client
        finally:
            state.store = previous
            backing.close()


@pytest.fixture(scope="module")
def folder_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ThreadServer]:
    root = tmp_path_factory.mktemp("rest-conformance-folder")
    settings = ServerSettings(backend_store_uri=str(root / "mlruns"), artifacts_destination=str(root / "art"))
    with ThreadServer(create_app(settings)) as server:
        yield server


class TestRestStoreOnFolderServer(TrackingStoreSuite):
    @pytest.fixture
    def store(self, folder_server: ThreadServer, tmp_path: pathlib.Path) -> Iterator[RestStore]:
        state = folder_server.app.state.tracking
        backing = get_tracking_store(str(tmp_path / "mlruns"), str(tmp_path / "artifacts"))
        assert "import" in backing.capabilities
        previous, state.store = state.store, backing
        try:
            yield RestStore(folder_server.url)
        finally:
            state.store = previous
            backing.close()
