"""A real gcp-storage-emulator for the tracklet-gcs tests.

The emulator (the ``gcp-storage-emulator`` package, ``pip install tracklet-gcs[test]``)
runs as ``python -m gcp_storage_emulator start`` on a free loopback port for the session,
keeping objects in memory, and is stopped at the end. Tests reach it the way a user
reaches any emulator: ``STORAGE_EMULATOR_HOST=http://127.0.0.1:<port>``, which makes the
plugin use anonymous credentials. Each test gets a bucket of its own.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tracklet.testing.objects import tracking_uri  # noqa: F401  (a fixture: file store, then sqlite)
from tracklet_gcs._client import close_clients

STARTUP_TIMEOUT = 240.0
#: Every variable the plugin reads; each test starts with none of them but the ones it sets.
PLUGIN_VARIABLES = [
    "STORAGE_EMULATOR_HOST",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
    "TRACKLET_GCS_PROJECT",
    "TRACKLET_GCS_UPLOAD_CHUNK_SIZE",
    "MLFLOW_GCS_UPLOAD_CHUNK_SIZE",
    "TRACKLET_GCS_DOWNLOAD_CHUNK_SIZE",
    "MLFLOW_GCS_DOWNLOAD_CHUNK_SIZE",
    "TRACKLET_GCS_TIMEOUT",
    "TRACKLET_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT",
    "MLFLOW_ARTIFACT_UPLOAD_DOWNLOAD_TIMEOUT",
    "MLFLOW_GCS_DEFAULT_TIMEOUT",
    "TRACKLET_GCS_RETRY_TIMEOUT",
    "TRACKLET_GCS_MAX_WORKERS",
    "TRACKLET_DISABLE_PROGRESS",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Emulator:
    """The running emulator: its address and the file its output goes to."""

    host: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def _wait_until_up(emulator: Emulator) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if emulator.proc.poll() is not None:
            pytest.fail(
                f"gcp-storage-emulator exited with {emulator.proc.returncode}:\n{emulator.output()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"{emulator.host}/", timeout=2) as answer:  # its health check
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    pytest.fail(
        f"gcp-storage-emulator did not answer within {STARTUP_TIMEOUT:.0f}s:\n{emulator.output()[-3000:]}"
    )


def start_emulator(log: Path) -> Emulator:
    """``python -m gcp_storage_emulator start`` on a free port, answering."""
    try:
        import gcp_storage_emulator  # noqa: F401
    except ImportError:
        pytest.fail(
            "The tracklet-gcs tests need gcp-storage-emulator: pip install 'tracklet-gcs[test]'",
            pytrace=False,
        )
    port = free_port()
    args = [sys.executable, "-m", "gcp_storage_emulator", "start", "--host", "127.0.0.1", "--port", str(port)]
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*args, "--in-memory"], stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    emulator = Emulator(f"http://127.0.0.1:{port}", proc, log)
    _wait_until_up(emulator)
    return emulator


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=20)


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    server = start_emulator(tmp_path_factory.mktemp("gcs-emulator") / "emulator.log")
    try:
        yield server
    finally:
        close_clients()
        stop(server.proc)


@pytest.fixture(autouse=True)
def _no_plugin_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts without the plugin's variables from the shell that ran pytest."""
    for name in PLUGIN_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def gcs_env(emulator: Emulator, monkeypatch: pytest.MonkeyPatch) -> Emulator:
    """STORAGE_EMULATOR_HOST points at the emulator for this test."""
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", emulator.host)
    return emulator


@pytest.fixture(scope="session")
def admin(emulator: Emulator) -> Iterator[Any]:
    """A storage.Client of the tests' own, for creating buckets and looking inside."""
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    previous = os.environ.get("STORAGE_EMULATOR_HOST")
    os.environ["STORAGE_EMULATOR_HOST"] = emulator.host  # read when the client is built
    try:
        client = storage.Client(project="test", credentials=AnonymousCredentials())
    finally:
        if previous is None:
            del os.environ["STORAGE_EMULATOR_HOST"]
        else:
            os.environ["STORAGE_EMULATOR_HOST"] = previous
    yield client
    client.close()


@pytest.fixture
def new_bucket(admin: Any) -> Iterator[str]:
    """A new, empty bucket for this test (deleted afterwards, with what is in it)."""
    name = f"t-{uuid.uuid4().hex[:24]}"
    admin.create_bucket(name)
    yield name
    with contextlib.suppress(Exception):
        admin.bucket(name).delete(force=True)


@pytest.fixture
def object_names(admin: Any, new_bucket: str) -> Callable[[], list[str]]:
    """``object_names()``: every object name in this test's bucket, sorted (seen by the
    tests' own client)."""
    return lambda: sorted(blob.name for blob in admin.list_blobs(new_bucket))


@pytest.fixture
def gs() -> Callable[..., str]:
    """``gs(bucket, path="")``: the artifact URI of a path in a bucket."""
    return lambda bucket, path="": f"gs://{bucket}/{path}"


@pytest.fixture
def repo_at(gcs_env: Emulator, new_bucket: str) -> Callable[..., Any]:
    """``repo_at(path="")``: a repository at that path of this test's bucket, built when
    called (so after the variables the test sets)."""
    from tracklet_gcs.artifacts import GCSArtifactRepository

    return lambda path="": GCSArtifactRepository(f"gs://{new_bucket}/{path}")


# -- servers that misbehave on purpose ----------------------------------------------------------


@contextlib.contextmanager
def serve(answer: Callable[[http.server.BaseHTTPRequestHandler, bytes], None]) -> Iterator[str]:
    """A loopback HTTP server calling ``answer(handler, body)`` for every request; yields
    its ``http://127.0.0.1:<port>``."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body go out in two writes: without this, each answer on a kept-alive
        # connection waits out the client's delayed ACK (40 ms)
        disable_nagle_algorithm = True

        def _any(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            answer(self, self.rfile.read(length) if length else b"")

        do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _any

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def send(
    handler: http.server.BaseHTTPRequestHandler, status: int, body: bytes, headers: dict[str, str]
) -> None:
    handler.send_response(status)
    for name, value in headers.items():
        if name.lower() not in ("content-length", "transfer-encoding", "connection"):
            handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def gcs_error(handler: http.server.BaseHTTPRequestHandler, status: int, message: str) -> None:
    """An error as GCS's JSON API words it."""
    body = json.dumps({"error": {"code": status, "message": message, "errors": [{"message": message}]}})
    send(handler, status, body.encode(), {"Content-Type": "application/json"})


@pytest.fixture
def refusing_server() -> Iterator[str]:
    """A server that answers every request 403, as GCS does to credentials without access."""

    def refuse(handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        gcs_error(handler, 403, "anonymous caller does not have storage.objects.list access")

    with serve(refuse) as url:
        yield url


@pytest.fixture
def unavailable_server() -> Iterator[str]:
    """A server that answers every request 503."""
    with serve(lambda handler, body: gcs_error(handler, 503, "backend unavailable")) as url:
        yield url


@pytest.fixture
def nobody_listening() -> str:
    """An address where connections are refused."""
    return f"http://127.0.0.1:{free_port()}"


def ask_upstream(
    upstream: str, handler: http.server.BaseHTTPRequestHandler, body: bytes, path: str | None = None
) -> tuple[int, bytes, dict[str, str]]:
    """Send the request ``handler`` got (to ``path`` instead, if given) on to ``upstream``
    (``host:port``): (status, body, headers) of its answer."""
    connection = http.client.HTTPConnection(upstream, timeout=60)
    try:
        headers = dict(handler.headers.items())  # Host too: the emulator builds upload URLs from it
        connection.request(handler.command, path or handler.path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read(), dict(response.getheaders())
    finally:
        connection.close()


@dataclass
class FlakyProxy:
    """The address of a proxy to the emulator, and the requests it failed with a 503."""

    url: str
    failed: list[str]


@pytest.fixture
def flaky_proxy(emulator: Emulator) -> Iterator[FlakyProxy]:
    """A proxy to the emulator that answers 503 to the first request of each method and
    URL (so every kind of call, and the first chunk of a resumable upload, fails once)."""
    seen: set[str] = set()
    failed: list[str] = []
    lock = threading.Lock()

    def forward(handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        request = f"{handler.command} {handler.path}"
        with lock:
            first = request not in seen
            seen.add(request)
        if first:
            failed.append(request)
            gcs_error(handler, 503, "try again")
            return
        send(handler, *ask_upstream(emulator.host.removeprefix("http://"), handler, body))

    with serve(forward) as url:
        yield FlakyProxy(url, failed)


def _proxy_process(upstream: str, report: Any) -> None:
    with serve(lambda handler, body: send(handler, *ask_upstream(upstream, handler, body))) as url:
        report.send(url)
        report.recv()  # until the test is done


@pytest.fixture
def keep_alive_proxy(emulator: Emulator) -> Iterator[str]:
    """A proxy to the emulator that keeps client connections open between requests, as
    GCS does (the emulator closes each one after its answer). It runs in a process of its
    own: in this one its threads would queue for the GIL behind the test's."""
    context = multiprocessing.get_context("fork")
    here, there = context.Pipe()
    proxy = context.Process(target=_proxy_process, args=(emulator.host.removeprefix("http://"), there))
    with warnings.catch_warnings():  # Python 3.12+ warns of forking while threads run
        warnings.simplefilter("ignore", DeprecationWarning)
        proxy.start()
    try:
        if not here.poll(30):
            pytest.fail("the keep-alive proxy did not start within 30s")
        yield here.recv()
    finally:
        here.send("stop")
        proxy.join(30)
        if proxy.is_alive():
            proxy.kill()
            proxy.join()


#: Entries (objects and sub-prefixes together) per listing page of the paging proxy.
PAGE_SIZE = 3


@pytest.fixture
def paging_proxy(emulator: Emulator) -> Iterator[str]:
    """A proxy to the emulator whose listings come in pages of PAGE_SIZE entries, objects
    and sub-prefixes mixed in name order, as GCS pages them: the emulator answers every
    listing in one page, so the plugin's paging would otherwise go untested."""

    def forward(handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        url = urllib.parse.urlsplit(handler.path)
        query = urllib.parse.parse_qs(url.query)
        if handler.command != "GET" or not url.path.endswith("/o"):
            send(handler, *ask_upstream(emulator.host.removeprefix("http://"), handler, body))
            return
        offset = int(query.pop("pageToken", ["0"])[0])
        path = f"{url.path}?{urllib.parse.urlencode(query, doseq=True)}"
        status, answer, headers = ask_upstream(emulator.host.removeprefix("http://"), handler, body, path)
        if status != 200:
            send(handler, status, answer, headers)
            return
        listing = json.loads(answer)
        entries = sorted(
            [(item["name"], item) for item in listing.get("items") or []]
            + [(prefix, None) for prefix in listing.get("prefixes") or []],
            key=lambda entry: entry[0],
        )
        page = entries[offset : offset + PAGE_SIZE]
        out: dict[str, Any] = {
            "kind": "storage#objects",
            "items": [item for _, item in page if item is not None],
            "prefixes": [name for name, item in page if item is None],
        }
        if offset + PAGE_SIZE < len(entries):
            out["nextPageToken"] = str(offset + PAGE_SIZE)
        send(handler, 200, json.dumps(out).encode(), {"Content-Type": "application/json"})

    with serve(forward) as url:
        yield url


@pytest.fixture
def corrupting_proxy(emulator: Emulator) -> Iterator[str]:
    """A proxy to the emulator that flips the first byte of every download's body and
    keeps the emulator's hash header, as a bad network or disk would."""

    def forward(handler: http.server.BaseHTTPRequestHandler, body: bytes) -> None:
        status, answer, headers = ask_upstream(emulator.host.removeprefix("http://"), handler, body)
        if handler.path.startswith("/download/") and status == 200 and answer:
            answer = bytes([answer[0] ^ 0xFF]) + answer[1:]
        send(handler, status, answer, headers)

    with serve(forward) as url:
        yield url
