"""Start real tracking servers from tests: ``tracklet server`` (or MLflow's ``mlflow
server``, for comparisons) in a subprocess on a free loopback port, or the server's app
in uvicorn on a thread of the test process (:class:`ThreadServer`).

Used by tracklet-http's own tests and usable by a plugin's or an application's::

    from tracklet_http.testing import free_port, start_server, tracklet_server_args

    port = free_port()
    server = start_server(tracklet_server_args(port, "sqlite:///t.db", "./artifacts"), port, log_path)
    try:
        ...  # server.url
    finally:
        server.stop()
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: A hang guard, not a speed check: servers start slowly when the suite's workers (and the
#: MLflow processes of interop tests) share two CPUs.
STARTUP_TIMEOUT = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    """A server started by a test: its base URL and process."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path
    args: list[str] = field(default_factory=list)

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc.poll() is None:
            # The server runs in its own process group so workers go with it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=20)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""


def wait_healthy(server: ServerProcess, timeout: float = STARTUP_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.proc.poll() is not None:
            raise RuntimeError(f"server exited with {server.proc.returncode}:\n{server.output()[-4000:]}")
        try:
            with urllib.request.urlopen(server.url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"server did not become healthy in {timeout}s:\n{server.output()[-4000:]}")


def start_server(args: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> ServerProcess:
    full_env = {**os.environ, **(env or {})}
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            args, stdout=out, stderr=subprocess.STDOUT, env=full_env, start_new_session=True
        )
    server = ServerProcess(f"http://127.0.0.1:{port}", proc, log, args)
    wait_healthy(server)
    return server


def tracklet_server_args(
    port: int, backend_store_uri: str, artifacts_destination: str, *extra: str
) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tracklet",
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        backend_store_uri,
        "--artifacts-destination",
        artifacts_destination,
        *extra,
    ]


def launch_tracklet_server(
    root: Path,
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
    *extra: str,
    env: dict[str, str] | None = None,
) -> ServerProcess:
    """``tracklet server`` in a subprocess on a free loopback port, started and healthy;
    by default on a sqlite file and an artifact folder under ``root``, its log in
    ``root/server.log``. The caller stops it."""
    backend = backend_store_uri or f"sqlite:///{root / 'tracklet.db'}"
    artifacts = artifacts_destination or str(root / "artifacts")
    port = free_port()
    return start_server(
        tracklet_server_args(port, backend, artifacts, *extra), port, root / "server.log", env
    )


def mlflow_server_args(
    port: int, backend_store_uri: str, artifacts_destination: str, *extra: str
) -> list[str]:
    mlflow = str(Path(sys.executable).with_name("mlflow"))
    return [
        mlflow,
        "server",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        backend_store_uri,
        "--artifacts-destination",
        artifacts_destination,
        *extra,
    ]


@dataclass
class RawAnswer:
    """What :func:`raw_request` got back: status, body bytes, headers (lower-case names)."""

    status: int
    body: bytes
    headers: dict[str, str]

    @property
    def json(self) -> Any:
        import json

        return json.loads(self.body)


def raw_request(
    url: str, method: str, target: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> RawAnswer:
    """One request to the server at ``url`` with ``target`` sent byte for byte (no
    client-side normalisation of ``..``, ``%2e`` or ``//``: what an attacker can send)."""
    import http.client

    host, port = url.split("://", 1)[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        all_headers = {"Host": f"{host}:{port}", "Content-Length": str(len(body or b"")), **(headers or {})}
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for name, value in all_headers.items():
            conn.putheader(name, value)
        conn.endheaders(body)
        resp = conn.getresponse()
        return RawAnswer(resp.status, resp.read(), {k.lower(): v for k, v in resp.getheaders()})
    finally:
        conn.close()


class ThreadServer:
    """An ASGI app served by uvicorn on 127.0.0.1 in a daemon thread of this process,
    for tests that need to reach into the server (its ``app.state``) while it runs::

        with ThreadServer(create_app(settings)) as server:
            ...  # server.url
    """

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> ThreadServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(30)


__all__ = [
    "RawAnswer",
    "ServerProcess",
    "ThreadServer",
    "free_port",
    "launch_tracklet_server",
    "mlflow_server_args",
    "raw_request",
    "start_server",
    "tracklet_server_args",
    "wait_healthy",
]
