"""How a repository is configured: URI rules, credentials (emulator or application
default), settings from the environment, the one client per process, google-cloud-storage
loaded only when needed, and progress bars. The few that transfer do so against the
emulator."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import threading
from typing import Any

import pytest

import tracklet.stores.progress
from tracklet import plugins
from tracklet.testing import raises_code
from tracklet.testing.objects import FakeTerminal
from tracklet_gcs import _client
from tracklet_gcs.artifacts import GCSArtifactRepository, parse_gcs_uri

MiB = 1 << 20

# -- URIs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "bucket", "path"),
    [
        ("gs://bucket/a/b", "bucket", "a/b"),
        ("gs://bucket", "bucket", ""),
        ("gs://bucket/", "bucket", ""),
        ("gs://my_bucket-1/x/", "my_bucket-1", "x"),
        ("gs://data.example.com/runs/1", "data.example.com", "runs/1"),
        ("GS://bucket/Case/Kept", "bucket", "Case/Kept"),
        ("gs://bucket/with space/ü", "bucket", "with space/ü"),
    ],
)
def test_uris_that_parse(uri: str, bucket: str, path: str) -> None:
    assert parse_gcs_uri(uri) == (bucket, path)


@pytest.mark.parametrize(
    ("uri", "rule"),
    [
        ("gs:///path", "the bucket is missing"),
        ("gs:/path", "the bucket is missing"),
        ("gs://", "the bucket is missing"),
        ("gs://Upper/p", "is not a bucket name"),
        ("gs://ab/p", "is not a bucket name"),
        ("gs://-bucket/p", "is not a bucket name"),
        ("gs://bucket-/p", "is not a bucket name"),
        ("gs://" + "b" * 64 + "/p", "is not a bucket name"),
        ("gs://a..b/p", "is not a bucket name"),
        ("gs://user@bucket/p", "is not a bucket name"),
        ("gs://bucket:443/p", "is not a bucket name"),
        ("gs://bucket/p?generation=1", "no query string or fragment"),
        ("gs://bucket/p#frag", "no query string or fragment"),
        ("gs://bucket/p?", "no query string or fragment"),
        ("s3://bucket/p", "the scheme must be gs://"),
    ],
)
def test_uris_that_are_refused_name_the_uri_and_the_rule(uri: str, rule: str) -> None:
    with raises_code("INVALID_PARAMETER_VALUE") as info:
        parse_gcs_uri(uri)
    assert uri in info.value.message and rule in info.value.message


def test_a_long_dotted_bucket_name_is_a_bucket_name() -> None:
    name = ".".join(["a" * 63] * 3)  # 191 characters: allowed with dots
    assert parse_gcs_uri(f"gs://{name}/p") == (name, "p")


def test_a_uri_without_a_bucket_is_refused_by_the_repository(gcs_env: Any) -> None:
    with raises_code("INVALID_PARAMETER_VALUE") as info:
        GCSArtifactRepository("gs:///runs/1")
    assert "'gs:///runs/1'" in info.value.message and "the bucket is missing" in info.value.message


def test_a_path_leaving_the_bucket_is_refused(gcs_env: Any) -> None:
    with raises_code("INVALID_PARAMETER_VALUE") as info:
        GCSArtifactRepository("gs://bucket/a/../../b")
    assert "Invalid artifact URI" in info.value.message


def test_the_plugin_serves_gs(gcs_env: Any) -> None:
    assert type(plugins.get_artifact_repository("gs://bucket/p")) is GCSArtifactRepository


# -- credentials ----------------------------------------------------------------------------------


def test_the_emulator_is_used_anonymously_with_a_default_project(gcs_env: Any) -> None:
    from google.auth.credentials import AnonymousCredentials

    repo = GCSArtifactRepository("gs://bucket/p")
    assert isinstance(repo._client._credentials, AnonymousCredentials)
    assert repo._client.project == "test"
    assert repo.credentials == f"anonymous credentials (STORAGE_EMULATOR_HOST={gcs_env.host})"


@pytest.mark.parametrize(
    ("variables", "project"),
    [
        ({"GOOGLE_CLOUD_PROJECT": "from-google"}, "from-google"),
        ({"GOOGLE_CLOUD_PROJECT": "from-google", "TRACKLET_GCS_PROJECT": "from-tracklet"}, "from-tracklet"),
    ],
)
def test_the_project_comes_from_the_environment(
    gcs_env: Any, monkeypatch: pytest.MonkeyPatch, variables: dict[str, str], project: str
) -> None:
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    assert GCSArtifactRepository("gs://bucket/p")._client.project == project


def test_without_credentials_the_error_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    # a missing key file fails at once, before google-auth would look for a metadata server
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "missing.json"))
    with raises_code("UNAUTHENTICATED") as info:
        GCSArtifactRepository("gs://bucket/p")
    message = info.value.message
    assert "No Google Cloud credentials for the bucket 'bucket'" in message
    assert "gcloud auth application-default login" in message and "GOOGLE_APPLICATION_CREDENTIALS" in message
    assert "STORAGE_EMULATOR_HOST" in message


def _service_account_file(folder: pathlib.Path) -> pathlib.Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    info = {
        "type": "service_account",
        "project_id": "project-from-key",
        "private_key_id": "1",
        "private_key": pem.decode(),
        "client_email": "ci@project-from-key.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path = folder / "key.json"
    path.write_text(json.dumps(info))
    return path


def test_application_default_credentials_and_their_project_are_used(
    monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    from google.oauth2 import service_account

    key = _service_account_file(tmp_path)
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key))
    repo = GCSArtifactRepository("gs://bucket/p")  # nothing is sent until a transfer
    assert isinstance(repo._client._credentials, service_account.Credentials)
    assert repo._client.project == "project-from-key"
    assert repo.credentials == (
        f"the service account key ci@project-from-key.iam.gserviceaccount.com "
        f"from GOOGLE_APPLICATION_CREDENTIALS={key}"
    )
    monkeypatch.setenv("TRACKLET_GCS_PROJECT", "billed")  # the variable wins over the key's project
    assert GCSArtifactRepository("gs://bucket/p")._client.project == "billed"


# -- settings and the client cache ----------------------------------------------------------------


def test_settings_come_from_the_environment(gcs_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    default = GCSArtifactRepository("gs://bucket/p")
    assert default.settings == _client.GCSSettings(emulator_host=gcs_env.host, project="test")
    assert (default.settings.upload_chunk_size, default.settings.download_chunk_size) == (16 * MiB, None)
    assert default._call_options()["timeout"] == 60 and default.max_workers == 8
    monkeypatch.setenv("MLFLOW_GCS_UPLOAD_CHUNK_SIZE", str(4 * MiB))  # MLflow's names
    monkeypatch.setenv("MLFLOW_GCS_DOWNLOAD_CHUNK_SIZE", str(MiB))
    monkeypatch.setenv("MLFLOW_GCS_DEFAULT_TIMEOUT", "30")
    monkeypatch.setenv("TRACKLET_GCS_RETRY_TIMEOUT", "7.5")
    monkeypatch.setenv("TRACKLET_GCS_MAX_WORKERS", "3")
    repo = GCSArtifactRepository("gs://bucket/p")
    assert (repo.settings.upload_chunk_size, repo.settings.download_chunk_size) == (4 * MiB, MiB)
    assert repo.settings.timeout == 30 and repo.max_workers == 3
    assert repo._retry.timeout == 7.5
    monkeypatch.setenv("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT", "-1")  # MLflow's current name: no limit
    assert GCSArtifactRepository("gs://bucket/p")._call_options()["timeout"] is None
    monkeypatch.setenv("TRACKLET_GCS_UPLOAD_CHUNK_SIZE", str(8 * MiB))  # the tracklet names first
    monkeypatch.setenv("TRACKLET_GCS_TIMEOUT", "12")
    repo = GCSArtifactRepository("gs://bucket/p")
    assert repo.settings.upload_chunk_size == 8 * MiB and repo.settings.timeout == 12


@pytest.mark.parametrize(
    ("name", "value", "rule"),
    [
        ("MLFLOW_GCS_UPLOAD_CHUNK_SIZE", "1000000", "a positive multiple of 262144 (256 KiB)"),
        ("TRACKLET_GCS_UPLOAD_CHUNK_SIZE", "16MiB", "a positive multiple of 262144 (256 KiB)"),
        ("MLFLOW_GCS_DOWNLOAD_CHUNK_SIZE", "0", "a positive multiple of 262144 (256 KiB)"),
        ("TRACKLET_GCS_TIMEOUT", "0", "above 0, or -1 for no timeout"),
        ("MLFLOW_GCS_DEFAULT_TIMEOUT", "soon", "above 0, or -1 for no timeout"),
        ("TRACKLET_GCS_RETRY_TIMEOUT", "-5", "above 0"),
        ("TRACKLET_GCS_MAX_WORKERS", "0", "a whole number of at least 1"),
    ],
)
def test_bad_settings_name_the_variable_and_the_rule(
    gcs_env: Any, monkeypatch: pytest.MonkeyPatch, name: str, value: str, rule: str
) -> None:
    monkeypatch.setenv(name, value)
    with raises_code("INVALID_PARAMETER_VALUE") as info:
        GCSArtifactRepository("gs://bucket/p")
    assert f"{name}={value!r} is not valid" in info.value.message and rule in info.value.message


def test_one_client_per_process_and_settings(gcs_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _client.close_clients()
    built: list[GCSArtifactRepository] = []
    barrier = threading.Barrier(8)

    def build(i: int) -> None:
        barrier.wait()
        built.append(GCSArtifactRepository(f"gs://bucket-{i}/p"))

    threads = [threading.Thread(target=build, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(built) == 8 and len({id(repo._client) for repo in built}) == 1 and len(_client._clients) == 1
    monkeypatch.setenv("TRACKLET_GCS_UPLOAD_CHUNK_SIZE", str(MiB))  # per-call settings: the same client
    assert GCSArtifactRepository("gs://bucket/p")._client is built[0]._client
    monkeypatch.setenv("TRACKLET_GCS_PROJECT", "other")  # another project: another client
    assert GCSArtifactRepository("gs://bucket/p")._client is not built[0]._client
    assert len(_client._clients) == 2
    _client.close_clients()
    assert len(_client._clients) == 0


def test_the_connection_pool_fits_the_parallel_transfers(
    gcs_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRACKLET_GCS_MAX_WORKERS", "24")
    session = GCSArtifactRepository("gs://bucket/p")._client._http
    assert session.get_adapter("http://127.0.0.1/")._pool_maxsize == 24


# -- google-cloud-storage loads late ----------------------------------------------------------------


def test_importing_the_plugin_does_not_load_google_cloud_storage(gcs_env: Any) -> None:
    script = """
import json, sys
import tracklet, tracklet_gcs, tracklet_gcs.plugin, tracklet_gcs.artifacts
from tracklet import plugins
plugins.get_plugin_manager()
# the bare namespace packages may come with the interpreter (old google packages' .pth files)
namespaces = ("google", "google.cloud")
before = sorted(m for m in sys.modules if m.startswith(("google", "gcp_storage")) and m not in namespaces)
repo = plugins.get_artifact_repository("gs://bucket/p")
print(json.dumps({"before": before, "after": "google.cloud.storage" in sys.modules, "type": type(repo).__name__}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"before": [], "after": True, "type": "GCSArtifactRepository"}


# -- progress bars -----------------------------------------------------------------------------------


@pytest.mark.parametrize("disabled", [False, True], ids=["terminal", "TRACKLET_DISABLE_PROGRESS"])
def test_big_transfers_show_a_bar_on_a_terminal(
    disabled: bool, repo_at: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    monkeypatch.setenv("TRACKLET_GCS_UPLOAD_CHUNK_SIZE", str(MiB))  # 9 MiB: resumable, in 9 chunks
    if disabled:
        monkeypatch.setenv("TRACKLET_DISABLE_PROGRESS", "1")
    monkeypatch.setattr(tracklet.stores.progress, "PROGRESS_MIN_BYTES", 1024)
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    source = tmp_path / "big.bin"
    source.write_bytes(b"\x07" * (9 * MiB))
    repo = repo_at()
    repo.log_artifact(str(source))
    uploaded = terminal.getvalue()
    one = repo.download_artifacts("big.bin", str(tmp_path / "dl"))  # one file: its size asked first
    downloaded = terminal.getvalue()[len(uploaded) :]
    tree = repo.download_artifacts("", str(tmp_path / "dl-tree"))  # a tree: the size from the listing
    downloaded_tree = terminal.getvalue()[len(uploaded) + len(downloaded) :]
    assert pathlib.Path(one).read_bytes() == source.read_bytes()
    assert pathlib.Path(tree, "big.bin").read_bytes() == source.read_bytes()
    if disabled:
        assert uploaded == downloaded == downloaded_tree == ""
    else:
        assert "Uploading big.bin" in uploaded and "9.00M/9.00M" in uploaded
        assert "Downloading big.bin" in downloaded and "9.00M/9.00M" in downloaded
        assert "Downloading big.bin" in downloaded_tree and "9.00M/9.00M" in downloaded_tree


def test_small_transfers_show_no_bar(
    repo_at: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    (tmp_path / "small.txt").write_text("small")
    repo = repo_at()
    repo.log_artifact(str(tmp_path / "small.txt"))
    repo.download_artifacts("small.txt", str(tmp_path / "dl"))
    assert terminal.getvalue() == ""
