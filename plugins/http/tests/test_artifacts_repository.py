"""HttpArtifactRepository passes the artifact conformance suite through a real
``tracklet server`` (both URI forms) and through MLflow's own ``mlflow server``; and its
URI resolution follows MLflow's."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

import tracklet
from tracklet.testing import ArtifactRepositorySuite, raises_code
from tracklet_http.artifacts import API_PATH, HttpArtifactRepository, resolve_artifact_uri
from tracklet_http.testing import ServerProcess, free_port, start_server, tracklet_server_args


@pytest.fixture(scope="module")
def proxy_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """One ``tracklet server`` for the module; every test works in a folder of its own."""
    root = tmp_path_factory.mktemp("artifact-proxy")
    port = free_port()
    args = tracklet_server_args(port, f"sqlite:///{root / 'db.sqlite'}", str(root / "artifacts"))
    server = start_server(args, port, root / "server.log")
    yield server
    server.stop()


@pytest.fixture
def tracking_uri_set_to() -> Iterator[object]:
    """``set(uri)`` points tracklet's tracking URI at a server until the test ends."""
    yield tracklet.set_tracking_uri
    tracklet.set_tracking_uri(None)


class TestThroughTrackletServerHttpUri(ArtifactRepositorySuite):
    @pytest.fixture
    def repo(self, proxy_server: ServerProcess) -> HttpArtifactRepository:
        return HttpArtifactRepository(f"{proxy_server.url}{API_PATH}/{uuid.uuid4().hex}/artifacts")


class TestThroughTrackletServerMlflowArtifactsUri(ArtifactRepositorySuite):
    @pytest.fixture
    def repo(self, proxy_server: ServerProcess, tracking_uri_set_to: object) -> HttpArtifactRepository:
        tracking_uri_set_to(proxy_server.url)  # type: ignore[operator]
        return HttpArtifactRepository(f"mlflow-artifacts:/{uuid.uuid4().hex}/artifacts")


@pytest.mark.interop
class TestThroughMlflowServer(ArtifactRepositorySuite):
    @pytest.fixture
    def repo(self, mlflow_server: ServerProcess) -> HttpArtifactRepository:
        host = mlflow_server.url.split("://", 1)[1]
        return HttpArtifactRepository(f"mlflow-artifacts://{host}/{uuid.uuid4().hex}", mlflow_server.url)


def test_the_plugin_serves_the_three_uri_forms(
    proxy_server: ServerProcess, tracking_uri_set_to: object
) -> None:
    from tracklet.plugins import get_artifact_repository

    tracking_uri_set_to(proxy_server.url)  # type: ignore[operator]
    host = proxy_server.url.split("://", 1)[1]
    for uri in (
        "mlflow-artifacts:/1/r",
        f"mlflow-artifacts://{host}/1/r",
        f"{proxy_server.url}{API_PATH}/1/r",
    ):
        repo = get_artifact_repository(uri)
        assert isinstance(repo, HttpArtifactRepository)
        assert (repo.proxy_url, repo.root) == (proxy_server.url + API_PATH, "1/r")


# -- URI resolution -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "tracking", "expected"),
    [
        (
            "mlflow-artifacts:/1/abc/artifacts",
            "http://h:5000",
            ("http://h:5000" + API_PATH, "1/abc/artifacts"),
        ),
        ("mlflow-artifacts:/", "https://h", ("https://h" + API_PATH, "")),
        ("mlflow-artifacts:/x", "http://h:5000/prefix/", ("http://h:5000/prefix" + API_PATH, "x")),
        ("mlflow-artifacts://other:7000/x/y", "https://h", ("https://other:7000" + API_PATH, "x/y")),
        ("mlflow-artifacts://h:5000/x", "http://h:5000/p", ("http://h:5000/p" + API_PATH, "x")),
        ("mlflow-artifacts://other:7000/x", "sqlite:///db", ("http://other:7000" + API_PATH, "x")),
        (f"http://h:1/pre{API_PATH}/1/2", None, ("http://h:1/pre" + API_PATH, "1/2")),
        (f"https://h{API_PATH}", None, ("https://h" + API_PATH, "")),
        (f"http://h{API_PATH}/a%20b/c", None, ("http://h" + API_PATH, "a b/c")),
    ],
)
def test_uri_resolution(uri: str, tracking: str | None, expected: tuple[str, str]) -> None:
    assert resolve_artifact_uri(uri, tracking) == expected


@pytest.mark.parametrize(
    ("uri", "tracking"),
    [
        ("mlflow-artifacts:/x", "sqlite:///mlflow.db"),  # not a server
        ("mlflow-artifacts:/x", "/local/mlruns"),
        ("mlflow-artifacts://5000/x", "http://h"),  # a port with no host
        ("http://h:5000/some/other/path", None),  # not the artifact proxy
        (f"http://h{API_PATH}s/x", None),
        (f"http://h{API_PATH}/../../etc", None),
        (f"http://h{API_PATH}/%2e%2e/%2e%2e/etc", None),
        ("mlflow-artifacts:/../x", "http://h"),
        ("mlflow-artifacts://h/..%2f..%2fx", "http://h"),
        (f"http://h{API_PATH}/x?y=1", None),
        ("s3://bucket/x", None),
    ],
)
def test_uris_that_cannot_be_served_are_refused(uri: str, tracking: str | None) -> None:
    with raises_code("INVALID_PARAMETER_VALUE"):
        resolve_artifact_uri(uri, tracking)


def test_credentials_never_appear_in_the_error(tracking_uri_set_to: object) -> None:
    tracking_uri_set_to("postgresql://admin:s3cret@db.example/mlflow")  # type: ignore[operator]
    with raises_code("INVALID_PARAMETER_VALUE") as error:
        HttpArtifactRepository("mlflow-artifacts:/1/abc")
    assert "s3cret" not in error.value.message and "db.example" in error.value.message
