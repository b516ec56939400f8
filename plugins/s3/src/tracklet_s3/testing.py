"""Real S3 servers for tests and benchmarks: moto's standalone server in a subprocess on
a free loopback port, and a loopback proxy in front of any S3 endpoint that answers a
share of requests with ``503 SlowDown``, as S3 does when it throttles.

Used by tracklet-s3's tests and ``bench/artifacts.py``; usable by an application's::

    from tracklet_s3.testing import MotoServer

    with MotoServer() as s3:          # needs moto[server]
        os.environ.update(s3.environment())
        ...                           # s3://<bucket>/... against s3.url
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

__all__ = ["MotoServer", "SlowDownProxy", "free_port"]

STARTUP_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class MotoServer:
    """``python -m moto.server`` on 127.0.0.1, started on enter, stopped on exit."""

    def __init__(
        self, log_path: str | os.PathLike[str] | None = None, env: dict[str, str] | None = None
    ) -> None:
        """``env`` adds to the server's environment (``INITIAL_NO_AUTH_ACTION_COUNT=0``
        turns on moto's authentication, for instance)."""
        self.port = free_port()
        self.env = env or {}
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = Path(log_path) if log_path else None
        self._process: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    def environment(self, endpoint_url: str | None = None) -> dict[str, str]:
        """Environment variables pointing an S3 client at this server (or ``endpoint_url``,
        e.g. a proxy in front of it) with moto's dummy credentials."""
        url = endpoint_url or self.url
        return {
            "TRACKLET_S3_ENDPOINT_URL": url,
            "MLFLOW_S3_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def start(self) -> MotoServer:
        self._log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env={**os.environ, **self.env},
        )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while True:
            if self._process.poll() is not None:
                self.stop()
                raise RuntimeError(f"moto's server exited with {self._process.returncode} on start")
            try:
                with urllib.request.urlopen(f"{self.url}/moto-api/data.json", timeout=2):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(
                        f"moto's server did not answer on {self.url} in {STARTUP_TIMEOUT} s"
                    ) from None
                time.sleep(0.1)

    def reset(self) -> None:
        """Forget every bucket and object."""
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=30):
            pass

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._log not in (None, subprocess.DEVNULL):
            self._log.close()
        self._log = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_SLOW_DOWN = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>"
)
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"}


class _QuietServer(ThreadingHTTPServer):
    """A client hanging up mid-request (a killed upload, a retry racing a reply) is part
    of what the fault tests do, not an error worth a traceback on stderr."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class SlowDownProxy:
    """A loopback HTTP proxy to ``upstream`` that answers every ``every``-th request
    with ``503 SlowDown`` (after reading its body, as S3 does) and forwards the rest.

    ``only(method, path)`` narrows the requests that may be throttled (all by default);
    ``cut(method, path)`` picks forwarded requests whose answer breaks off half way
    through its body (the connection is closed); ``counts`` tells how many requests
    were throttled, forwarded and cut, by method. ``delay`` (seconds) holds every request
    back that long before it goes on, as a distant server's round trip would.
    """

    def __init__(
        self,
        upstream: str,
        every: int = 3,
        only: Callable[[str, str], bool] | None = None,
        cut: Callable[[str, str], bool] | None = None,
        delay: float = 0.0,
    ) -> None:
        self.upstream = upstream.removeprefix("http://").rstrip("/")
        self.delay = delay
        self.every = every
        self.only = only
        self.cut = cut
        self.counts: dict[str, int] = {}
        self._seen = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _body(self) -> bytes:
                if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                    return _read_chunked(self.rfile)
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _handle(self) -> None:
                body = self._body()
                if proxy.delay:
                    time.sleep(proxy.delay)
                if proxy._throttle(self.command, self.path):
                    self.send_response(503)
                    self.send_header("Content-Type", "application/xml")
                    self.send_header("Content-Length", str(len(_SLOW_DOWN)))
                    self.end_headers()
                    if self.command != "HEAD":  # an answer to HEAD has no body
                        self.wfile.write(_SLOW_DOWN)
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
                headers["Content-Length"] = str(len(body))
                upstream = http.client.HTTPConnection(proxy.upstream, timeout=120)
                try:
                    upstream.request(self.command, self.path, body=body, headers=headers)
                    answer = upstream.getresponse()
                    payload = answer.read()
                    self.send_response(answer.status)
                    for key, value in answer.getheaders():
                        if key.lower() not in _HOP_BY_HOP and key.lower() != "content-length":
                            self.send_header(key, value)
                    # HEAD tells the size of the body it does not send: pass it on as it is
                    length = answer.getheader("Content-Length") if self.command == "HEAD" else None
                    self.send_header("Content-Length", length or str(len(payload)))
                    self.end_headers()
                    if self.command != "HEAD" and proxy._cut(self.command, self.path):
                        self.wfile.write(payload[: len(payload) // 2])
                        self.close_connection = True
                    elif self.command != "HEAD":
                        self.wfile.write(payload)
                finally:
                    upstream.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = _QuietServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def _cut(self, method: str, path: str) -> bool:
        if self.cut is None or not self.cut(method, path):
            return False
        self._count(f"cut {method}")
        return True

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] = self.counts.get(key, 0) + 1

    def _throttle(self, method: str, path: str) -> bool:
        if self.only is not None and not self.only(method, path):
            return False
        with self._lock:
            self._seen += 1
            throttled = self._seen % self.every == 0
            key = f"{'throttled' if throttled else 'forwarded'} {method}"
            self.counts[key] = self.counts.get(key, 0) + 1
            return throttled

    def __enter__(self) -> SlowDownProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


def _read_chunked(stream: Any) -> bytes:
    parts: list[bytes] = []
    while True:
        size = int(stream.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while stream.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(parts)
        parts.append(stream.read(size))
        stream.readline()
