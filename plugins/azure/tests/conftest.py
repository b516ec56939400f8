"""A real Azurite (Microsoft's Azure Storage emulator) for the tracklet-azure tests.

The ``azurite`` npm package is installed by these tests into ``tests/azurite/node_modules``
(``npm ci`` from the committed package-lock.json, the first time, under a file lock so
two test runs do not install at once), then ``azurite-blob`` runs on a free loopback port
for the session, keeping its data in the session's temporary folder, and is stopped at
the end. Without npm or the npm registry the tests fail, saying so.

Tests reach it the way a user reaches a private endpoint: ``AZURE_STORAGE_CONNECTION_STRING``
with Azurite's published development account and a ``BlobEndpoint``.
"""

from __future__ import annotations

import contextlib
import fcntl
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tracklet.testing.objects import tracking_uri  # noqa: F401  (a fixture: file store, then sqlite)
from tracklet_azure._client import close_clients

AZURITE_DIR = Path(__file__).parent / "azurite"
AZURITE_BLOB = AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"
#: Azurite's well-known development account (published in Azurite's README).
ACCOUNT = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
STARTUP_TIMEOUT = 240.0
#: Every variable the plugin reads; each test starts with none of them but the ones it sets.
PLUGIN_VARIABLES = [
    f"{prefix}{name}"
    for prefix in ("", "TRACKLET_")
    for name in ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCESS_KEY")
] + [
    "TRACKLET_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT",
    "MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT",
    "TRACKLET_AZURE_MAX_CONCURRENCY",
    "TRACKLET_AZURE_BLOCK_SIZE_MB",
    "TRACKLET_AZURE_MAX_RETRIES",
    "TRACKLET_AZURE_RETRY_BACKOFF",
    "TRACKLET_AZURE_CONNECTION_TIMEOUT",
    "TRACKLET_DISABLE_PROGRESS",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def connection_string(endpoint: str, key: str = ACCOUNT_KEY) -> str:
    return f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={key};BlobEndpoint={endpoint};"


@dataclass
class Azurite:
    """The running emulator: its Blob endpoint and a client of our own for test setup."""

    endpoint: str
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def connection_string(self) -> str:
        return connection_string(self.endpoint)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


_install_failure: list[str] = []  # one failed `npm ci` a session is enough


def install_azurite() -> None:
    """``npm ci`` in tests/azurite unless azurite-blob is already there."""
    if AZURITE_BLOB.exists():
        return
    if _install_failure:
        pytest.fail(_install_failure[0], pytrace=False)
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail(
            "The tracklet-azure tests need Azurite from npm, and npm is not on PATH: install "
            "Node.js 18+ with npm (the tests then run `npm ci` in plugins/azure/tests/azurite)",
            pytrace=False,
        )
    with open(AZURITE_DIR / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another test run may be installing right now
        if AZURITE_BLOB.exists():
            return
        started = time.monotonic()
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=AZURITE_DIR,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if done.returncode != 0 or not AZURITE_BLOB.exists():
            _install_failure.append(
                f"`npm ci` in {AZURITE_DIR} failed (exit {done.returncode}), so the tracklet-azure "
                "tests have no Azurite to run against. Is the npm registry reachable?\n"
                f"{(done.stdout + done.stderr)[-3000:]}"
            )
            pytest.fail(_install_failure[0], pytrace=False)
        print(f"installed Azurite in {time.monotonic() - started:.0f}s")


def _wait_until_up(azurite: Azurite) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if azurite.proc.poll() is not None:
            pytest.fail(f"azurite-blob exited with {azurite.proc.returncode}:\n{azurite.output()[-3000:]}")
        try:
            # any HTTP answer will do: an unsigned listing is refused with 403
            with urllib.request.urlopen(f"{azurite.endpoint}?comp=list", timeout=2):
                return
        except urllib.error.HTTPError as exc:
            exc.close()
            return
        except OSError:
            time.sleep(0.1)
    pytest.fail(f"azurite-blob did not answer within {STARTUP_TIMEOUT:.0f}s:\n{azurite.output()[-3000:]}")


@pytest.fixture(scope="session")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    install_azurite()
    root = tmp_path_factory.mktemp("azurite")
    data = root / "data"  # on disk: the 1 GiB test would otherwise sit in Azurite's memory
    data.mkdir()
    port = free_port()
    log = root / "azurite.log"
    args = [str(AZURITE_BLOB), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(data)]
    args += ["--skipApiVersionCheck", "--silent", "--loose", "--disableTelemetry"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    server = Azurite(f"http://127.0.0.1:{port}/{ACCOUNT}", proc, log)
    try:
        _wait_until_up(server)
        yield server
    finally:
        close_clients()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_plugin_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without the plugin's variables from the shell that ran pytest."""
    for name in PLUGIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def azure_env(azurite: Azurite, monkeypatch: pytest.MonkeyPatch) -> Azurite:
    """AZURE_STORAGE_CONNECTION_STRING points at Azurite for this test."""
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    return azurite


@pytest.fixture(scope="session")
def admin(azurite: Azurite) -> Iterator[Any]:
    """A BlobServiceClient of the tests' own, for creating containers and looking inside."""
    from azure.storage.blob import BlobServiceClient

    client = BlobServiceClient.from_connection_string(azurite.connection_string)
    with client:
        yield client


@pytest.fixture
def new_container(admin: Any) -> Iterator[str]:
    """A new, empty container for this test (deleted afterwards)."""
    name = f"t-{uuid.uuid4().hex[:24]}"
    admin.create_container(name)
    yield name
    with contextlib.suppress(Exception):
        admin.delete_container(name)


@pytest.fixture
def blob_names(admin: Any) -> Any:
    """``blob_names(container)``: every blob name in it, sorted (seen by the tests' own client)."""

    def names(container: str) -> list[str]:
        return sorted(blob.name for blob in admin.get_container_client(container).list_blobs())

    return names


@pytest.fixture
def wasbs() -> Any:
    """``wasbs(container, path="")``: the artifact URI of a path in an Azurite container."""

    def uri(container: str, path: str = "") -> str:
        return f"wasbs://{container}@{ACCOUNT}.blob.core.windows.net/{path}"

    return uri
