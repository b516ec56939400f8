"""How a repository is configured: URI rules, the credential order, settings from the
environment, the one client per process, the SDK loaded only when needed, and progress
bars. The few that transfer do so against Azurite."""

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
from tracklet_azure import _client
from tracklet_azure._uri import parse_azure_uri
from tracklet_azure.artifacts import AzureBlobArtifactRepository

AZURE = "devstoreaccount1.blob.core.windows.net"

# -- URIs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "container", "account", "account_url", "path"),
    [
        (
            f"wasbs://c01@{AZURE}/a/b",
            "c01",
            "devstoreaccount1",
            "https://devstoreaccount1.blob.core.windows.net",
            "a/b",
        ),
        (
            f"wasbs://c01@{AZURE}",
            "c01",
            "devstoreaccount1",
            "https://devstoreaccount1.blob.core.windows.net",
            "",
        ),
        (
            f"wasbs://c01@{AZURE}/",
            "c01",
            "devstoreaccount1",
            "https://devstoreaccount1.blob.core.windows.net",
            "",
        ),
        (
            "wasb://my-box@acct.blob.core.windows.net/x/",
            "my-box",
            "acct",
            "https://acct.blob.core.windows.net",
            "x",
        ),
        (
            "abfss://lake@acct.dfs.core.windows.net/runs/1",
            "lake",
            "acct",
            "https://acct.blob.core.windows.net",
            "runs/1",
        ),
        (
            "wasbs://cn1@acct.blob.core.chinacloudapi.cn/p",
            "cn1",
            "acct",
            "https://acct.blob.core.chinacloudapi.cn",
            "p",
        ),
        (
            "abfss://gov@acct.dfs.core.usgovcloudapi.net/p",
            "gov",
            "acct",
            "https://acct.blob.core.usgovcloudapi.net",
            "p",
        ),
        (
            "WASBS://c01@ACCT.Blob.Core.Windows.Net/Case/Kept",
            "c01",
            "acct",
            "https://acct.blob.core.windows.net",
            "Case/Kept",
        ),
    ],
)
def test_uris_that_parse(uri: str, container: str, account: str, account_url: str, path: str) -> None:
    location = parse_azure_uri(uri)
    assert (location.container, location.account, location.account_url, location.path) == (
        container,
        account,
        account_url,
        path,
    )


@pytest.mark.parametrize(
    ("uri", "rule"),
    [
        (f"wasbs://{AZURE}/path", "the container is missing"),
        (f"wasbs://@{AZURE}/path", "the container is missing"),
        (f"wasbs://Upper@{AZURE}/p", "is not a container name"),
        (f"wasbs://ab@{AZURE}/p", "is not a container name"),
        (f"wasbs://a--b@{AZURE}/p", "is not a container name"),
        (f"wasbs://c01@{AZURE}/p?sv=2020&sig=x", "no query string or fragment"),
        (f"wasbs://c01@{AZURE}/p#frag", "no query string or fragment"),
        (f"wasbs://c01@{AZURE}/p?", "no query string or fragment"),
        ("wasbs://c01@example.com/p", "the host must be <account>.blob.core.windows.net"),
        ("wasbs://c01@acct.blob.core.windows.net.evil.com/p", "the host must be"),
        ("wasbs://c01@127.0.0.1:10000/devstoreaccount1/p", "set AZURE_STORAGE_CONNECTION_STRING"),
        ("wasbs://c01@acct.dfs.core.windows.net/p", "names the 'blob' endpoint"),
        ("abfss://c01@acct.blob.core.windows.net/p", "names the 'dfs' endpoint"),
        ("s3://c01@acct.blob.core.windows.net/p", "the scheme must be one of"),
    ],
)
def test_uris_that_are_refused_name_the_uri_and_the_rule(uri: str, rule: str) -> None:
    with raises_code("INVALID_PARAMETER_VALUE") as info:
        parse_azure_uri(uri)
    assert uri in info.value.message and rule in info.value.message


def test_a_connection_string_allows_any_host() -> None:
    location = parse_azure_uri("wasbs://c01@127.0.0.1:10000/p", any_host=True)
    assert (location.container, location.account, location.account_url, location.path) == (
        "c01",
        "127.0.0.1",  # for messages; the repository takes the connection string's AccountName
        None,
        "p",
    )
    with raises_code("INVALID_PARAMETER_VALUE"):
        parse_azure_uri("wasbs://127.0.0.1:10000/p", any_host=True)  # still needs a container


def test_a_path_leaving_the_container_is_refused(azure_env: Any) -> None:
    with raises_code("INVALID_PARAMETER_VALUE") as info:
        AzureBlobArtifactRepository(f"wasbs://c01@{AZURE}/a/../../b")
    assert "Invalid artifact URI" in info.value.message


def test_the_plugin_serves_the_three_schemes(azure_env: Any) -> None:
    for uri in (f"wasbs://c01@{AZURE}/p", f"wasb://c01@{AZURE}/p", "abfss://c01@acct.dfs.core.windows.net/p"):
        assert type(plugins.get_artifact_repository(uri)) is AzureBlobArtifactRepository


# -- credentials ----------------------------------------------------------------------------------


def test_without_credentials_the_error_says_what_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # as if azure-identity were not installed
    with raises_code("UNAUTHENTICATED") as info:
        AzureBlobArtifactRepository(f"wasbs://c01@{AZURE}/p")
    message = info.value.message
    assert "AZURE_STORAGE_CONNECTION_STRING" in message and "AZURE_STORAGE_ACCESS_KEY" in message
    assert "'devstoreaccount1'" in message and "tracklet-azure[identity]" in message


def test_an_access_key_is_used_with_the_uris_account(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCESS_KEY", "a2V5")
    repo = AzureBlobArtifactRepository("wasbs://c01@acct.blob.core.chinacloudapi.cn/p")
    assert repo.credential.kind == "access key" and repo.credential.variable == "AZURE_STORAGE_ACCESS_KEY"
    assert repo._container.url == "https://acct.blob.core.chinacloudapi.cn/c01"
    assert repo._container.credential.account_name == "acct"


def test_the_connection_string_wins_over_the_access_key(
    azure_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AZURE_STORAGE_ACCESS_KEY", "a2V5")
    repo = AzureBlobArtifactRepository(f"wasbs://c01@{AZURE}/p")
    assert repo.credential.kind == "connection string"
    assert repo._container.url.startswith(azure_env.endpoint)  # its BlobEndpoint, not the URI's host


def test_tracklet_variables_come_first(azure_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "TRACKLET_AZURE_STORAGE_CONNECTION_STRING",
        azure_env.connection_string.replace("127.0.0.1", "localhost"),
    )
    repo = AzureBlobArtifactRepository(f"wasbs://c01@{AZURE}/p")
    assert repo.credential.variable == "TRACKLET_AZURE_STORAGE_CONNECTION_STRING"
    assert repo._container.url.startswith("http://localhost:")


def test_a_broken_connection_string_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", "not a connection string")
    with raises_code("INVALID_PARAMETER_VALUE") as info:
        AzureBlobArtifactRepository(f"wasbs://c01@{AZURE}/p")
    assert "AZURE_STORAGE_CONNECTION_STRING is not a usable" in info.value.message


# -- settings and the client cache ----------------------------------------------------------------


def _retry(repo: AzureBlobArtifactRepository) -> Any:
    from azure.storage.blob import ExponentialRetry

    policies = repo._container._pipeline._impl_policies
    return next(p for p in policies if isinstance(p, ExponentialRetry))


def test_settings_come_from_the_environment(azure_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    default = AzureBlobArtifactRepository(f"wasbs://c01@{AZURE}/p")
    assert default.settings == _client.AzureSettings()
    assert _retry(default).total_retries == 5
    monkeypatch.setenv("TRACKLET_AZURE_MAX_RETRIES", "2")
    monkeypatch.setenv("TRACKLET_AZURE_MAX_CONCURRENCY", "3")
    monkeypatch.setenv("TRACKLET_AZURE_BLOCK_SIZE_MB", "16")
    monkeypatch.setenv("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT", "321")
    repo = AzureBlobArtifactRepository(f"wasbs://c01@{AZURE}/p")
    assert repo.settings.max_concurrency == 3
    assert repo.settings.transfer_timeout == 321 and repo.settings.read_timeout == 321
    assert repo._timeout() == {"timeout": 321}
    assert _retry(repo).total_retries == 2
    config = repo._container._config
    assert (config.max_block_size, config.max_single_put_size, config.max_chunk_get_size) == (16 << 20,) * 3
    assert repo._container._pipeline._transport._transport.connection_config.read_timeout == 321
    monkeypatch.setenv("TRACKLET_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT", "12")  # the tracklet name first
    assert AzureBlobArtifactRepository(f"wasbs://c01@{AZURE}/p").settings.transfer_timeout == 12


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TRACKLET_AZURE_MAX_RETRIES", "-1"),
        ("TRACKLET_AZURE_BLOCK_SIZE_MB", "big"),
        ("MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT", "0"),
    ],
)
def test_bad_settings_are_named(
    azure_env: Any, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    with raises_code("INVALID_PARAMETER_VALUE") as info:
        AzureBlobArtifactRepository(f"wasbs://c01@{AZURE}/p")
    assert name in info.value.message


def test_one_client_per_endpoint_and_credential(azure_env: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _client.close_clients()
    built: list[Any] = []
    barrier = threading.Barrier(8)

    def build() -> None:
        barrier.wait()
        built.append(AzureBlobArtifactRepository(f"wasbs://c{len(built):02d}x@{AZURE}/p"))

    threads = [threading.Thread(target=build) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pipelines = {id(repo._container._pipeline._transport._transport) for repo in built}
    assert len(built) == 8 and len(pipelines) == 1 and len(_client._clients) == 1
    monkeypatch.setenv("TRACKLET_AZURE_MAX_RETRIES", "1")  # other settings: another client
    AzureBlobArtifactRepository(f"wasbs://c01@{AZURE}/p")
    assert len(_client._clients) == 2
    _client.close_clients()
    assert len(_client._clients) == 0


# -- the SDK loads late ----------------------------------------------------------------------------


def test_importing_the_plugin_does_not_load_the_sdk(azure_env: Any) -> None:
    script = """
import json, sys
import tracklet, tracklet_azure, tracklet_azure.plugin, tracklet_azure.artifacts
from tracklet import plugins
plugins.get_plugin_manager()
before = sorted(m for m in sys.modules if m.startswith("azure"))
repo = plugins.get_artifact_repository("wasbs://c01@devstoreaccount1.blob.core.windows.net/p")
print(json.dumps({"before": before, "after": "azure.storage.blob" in sys.modules, "type": type(repo).__name__}))
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"before": [], "after": True, "type": "AzureBlobArtifactRepository"}


# -- progress bars -----------------------------------------------------------------------------------


@pytest.mark.parametrize("disabled", [False, True], ids=["terminal", "TRACKLET_DISABLE_PROGRESS"])
def test_big_transfers_show_a_bar_on_a_terminal(
    disabled: bool,
    azure_env: Any,
    new_container: str,
    wasbs: Any,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: pathlib.Path,
) -> None:
    monkeypatch.setenv("TRACKLET_AZURE_BLOCK_SIZE_MB", "1")  # 3 MiB: three blocks in parallel
    if disabled:
        monkeypatch.setenv("TRACKLET_DISABLE_PROGRESS", "1")
    monkeypatch.setattr(tracklet.stores.progress, "PROGRESS_MIN_BYTES", 1024)
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    source = tmp_path / "big.bin"
    source.write_bytes(b"\x07" * (3 << 20))
    repo = AzureBlobArtifactRepository(wasbs(new_container))
    repo.log_artifact(str(source))
    uploaded = terminal.getvalue()
    got = repo.download_artifacts("big.bin", str(tmp_path / "dl"))
    downloaded = terminal.getvalue()[len(uploaded) :]
    assert pathlib.Path(got).read_bytes() == source.read_bytes()
    if disabled:
        assert uploaded == "" and downloaded == ""
    else:
        assert "Uploading big.bin" in uploaded and "3.00M/3.00M" in uploaded
        assert "Downloading big.bin" in downloaded and "3.00M/3.00M" in downloaded


def test_small_transfers_show_no_bar(
    azure_env: Any, new_container: str, wasbs: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path
) -> None:
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    (tmp_path / "small.txt").write_text("small")
    AzureBlobArtifactRepository(wasbs(new_container)).log_artifact(str(tmp_path / "small.txt"))
    assert terminal.getvalue() == ""
