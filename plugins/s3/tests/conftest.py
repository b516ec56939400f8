"""A real S3 for the tracklet-s3 tests: moto's standalone server in a subprocess on a
free loopback port, shared by the session and stopped at its end; each test gets its own
bucket and the environment pointing boto3 at the server."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from tracklet.testing.objects import tracking_uri  # noqa: F401  (a fixture: file store, then sqlite)
from tracklet_s3.testing import MotoServer

MiB = 1024 * 1024


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MotoServer]:
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with MotoServer(log) as server:
        yield server


@pytest.fixture
def s3_env(moto_server: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """boto3 (ours and MLflow's) pointed at the moto server, with no user config read."""
    for key, value in moto_server.environment().items():
        monkeypatch.setenv(key, value)
    for key in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "TRACKLET_S3_UPLOAD_EXTRA_ARGS",
        "MLFLOW_S3_UPLOAD_EXTRA_ARGS",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    return moto_server


@pytest.fixture
def make_bucket(s3_env: MotoServer) -> Callable[..., str]:
    """``make_bucket()`` creates a new bucket on the server and returns its name."""
    import boto3

    def make(**kwargs: object) -> str:
        name = f"t-{uuid.uuid4().hex[:20]}"
        client = boto3.client("s3", endpoint_url=s3_env.url)
        client.create_bucket(Bucket=name, **kwargs)
        client.close()
        return name

    return make


@pytest.fixture
def bucket(make_bucket: Callable[..., str]) -> str:
    return make_bucket()


@pytest.fixture
def s3(s3_env: MotoServer) -> Iterator[object]:
    """A plain boto3 client on the server, for looking behind the repository's back."""
    import boto3

    client = boto3.client("s3", endpoint_url=s3_env.url)
    yield client
    client.close()


@pytest.fixture
def small_parts(monkeypatch: pytest.MonkeyPatch) -> int:
    """Multipart from 5 MiB (S3's smallest part) so that big-file paths run on small files."""
    monkeypatch.setenv("TRACKLET_S3_MULTIPART_THRESHOLD", str(5 * MiB))
    monkeypatch.setenv("TRACKLET_S3_MULTIPART_CHUNKSIZE", str(5 * MiB))
    return 5 * MiB
