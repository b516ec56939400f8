"""Real tracking servers for the registry's REST tests: ``tracklet server`` and MLflow's
``mlflow server`` in subprocesses on free loopback ports (the registry plugin may not
import tracklet-http, so this is its own small launcher)."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tracklet_registry.rest import RestRegistryStore

STARTUP_TIMEOUT = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A server a test started: its URL, process and log."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def call(self, method: str, path: str, body: Any = None, query: str = "") -> tuple[int, Any]:
        """One raw JSON request (no client-side checks): ``(status, parsed JSON)``."""
        data = None if body is None else json.dumps(body).encode()
        url = f"{self.url}{path}{'?' + query if query else ''}"
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            raw = e.read()
            try:
                return e.code, json.loads(raw)
            except ValueError:
                return e.code, raw.decode(errors="replace")

    def call_bytes(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        """One raw request with a binary body (artifact uploads): ``(status, body)``."""
        req = urllib.request.Request(f"{self.url}{path}", data=body, method=method)
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()


def _start(args: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> Server:
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=full_env, start_new_session=True
        )
    server = Server(f"http://127.0.0.1:{port}", proc, log)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.output()[-4000:]}")
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not become healthy in {STARTUP_TIMEOUT}s:\n{server.output()[-4000:]}")


def tracklet_server(root: Path, backend: str | None = None, *extra: str) -> Server:
    """``tracklet server`` on ``backend`` (default: an ``mlruns`` folder under ``root``),
    proxying artifacts to ``root/artifacts``."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        sys.executable,
        "-m",
        "tracklet",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        backend or str(root / "mlruns"),
        "--artifacts-destination",
        str(root / "artifacts"),
        *extra,
    ]
    return _start(args, port, root / "server.log")


def mlflow_server(root: Path) -> Server:
    """MLflow 3.17.2's own ``mlflow server`` on a sqlite database under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    args = [
        mlflow,
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        f"sqlite:///{root / 'mlflow.db'}",
        "--artifacts-destination",
        str(root / "artifacts"),
        "--workers",
        "1",
    ]
    return _start(args, port, root / "mlflow-server.log")


# -- the conformance suites over HTTP -------------------------------------------------------------

#: The bucket both servers own: tracklet's is told with ``--default-artifact-root``;
#: MLflow's accepts object-store sources as they are. The suite's own searches use it.
CONFORMANCE_ROOT = "s3://bucket"
_MAPPED = CONFORMANCE_ROOT + "/_placeholder/"


def _to_server(source: str) -> str:
    if source.startswith(("models:/", "runs:/", CONFORMANCE_ROOT + "/")):
        return source
    return _MAPPED + base64.urlsafe_b64encode(source.encode()).decode()


def _from_server(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            key: (
                base64.urlsafe_b64decode(item[len(_MAPPED) :]).decode()
                if key in ("source", "artifact_uri") and isinstance(item, str) and item.startswith(_MAPPED)
                else _from_server(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_from_server(item) for item in value]
    return value


class _MappingTransport:
    """The shared transport, with the conformance suite's placeholder sources
    (``file:///src/1``, ``s3://b/files``) sent as ``s3://bucket/_placeholder/<base64>`` and
    read back as they were written: both servers refuse sources outside what they own by
    design (the CVE fixes), and the suite's sources are placeholders. What is stored and
    answered is otherwise untouched."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    @property
    def base_url(self) -> str:
        return str(self.inner.base_url)

    def call(
        self, method: str, path: str, *, json: Any = None, params: Any = None, idempotent: bool = True
    ) -> Any:
        if isinstance(json, dict) and isinstance(json.get("source"), str):
            json = {**json, "source": _to_server(json["source"])}
        return _from_server(self.inner.call(method, path, json=json, params=params, idempotent=idempotent))


class ConformanceRestStore(RestRegistryStore):
    """RestRegistryStore for the conformance suites (see :class:`_MappingTransport`)."""

    def __init__(self, store_uri: str | None = None) -> None:
        super().__init__(store_uri)
        self.transport = _MappingTransport(self.transport)  # type: ignore[assignment]


def wipe_registry(store: Any) -> None:
    """Delete every registered model, so the server's registry is empty for the next test."""
    while True:
        page = store.search_registered_models(max_results=1000)
        if not len(page):
            return
        for model in page:
            store.delete_registered_model(model.name)


class UniqueExperimentNames:
    """A tracking store whose new experiments get a unique suffix on their names, so suites
    that create fixed names (``"logged-models"``, ``"other"``) can share one server."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._count = 0

    def create_experiment(self, name: str, *args: Any, **kwargs: Any) -> str:
        self._count += 1
        return str(
            self._inner.create_experiment(
                f"{name}-{os.getpid()}-{time.time_ns()}-{self._count}", *args, **kwargs
            )
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)
