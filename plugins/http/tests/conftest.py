"""Real servers for the tracklet-http tests: ``tracklet server`` and MLflow's own
``mlflow server``, each in a subprocess on a free loopback port, stopped afterwards."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tracklet_http.testing import (
    ServerProcess,
    free_port,
    launch_tracklet_server,
    mlflow_server_args,
    start_server,
    tracklet_server_args,
)

__all__ = ["ServerProcess", "free_port", "mlflow_server_args", "start_server", "tracklet_server_args"]

StartServer = Callable[..., ServerProcess]


@pytest.fixture
def start_tracklet_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartServer]:
    """``start(backend_store_uri=None, artifacts_destination=None, *extra_args, env=None)``
    starts a ``tracklet server`` (sqlite and a folder in a temp dir by default)."""
    started: list[ServerProcess] = []

    def start(
        backend_store_uri: str | None = None,
        artifacts_destination: str | None = None,
        *extra: str,
        env: dict[str, str] | None = None,
    ) -> ServerProcess:
        root = tmp_path_factory.mktemp("tracklet-server")
        server = launch_tracklet_server(root, backend_store_uri, artifacts_destination, *extra, env=env)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def tracklet_server(start_tracklet_server: StartServer) -> ServerProcess:
    """A ``tracklet server`` on sqlite with its own artifact folder."""
    return start_tracklet_server()


@pytest.fixture(scope="session")
def mlflow_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """MLflow's own server (from PyPI) on sqlite, with its artifact proxy: the reference."""
    root = tmp_path_factory.mktemp("mlflow-server")
    port = free_port()
    server = start_server(
        mlflow_server_args(
            port, f"sqlite:///{root / 'mlflow.db'}", str(root / "artifacts"), "--workers", "1"
        ),
        port,
        root / "server.log",
        {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
    )
    yield server
    server.stop()
