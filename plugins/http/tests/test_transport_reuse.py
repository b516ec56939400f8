"""A kept-alive connection goes back to the pool only with its answer read to the end.

urllib3 (2.x) returns a connection to the pool on ``release_conn()`` without reading what
is left of the answer. When the rest of the body had not arrived yet, the pool's check
("is the socket readable?") passed, the next call went out on that connection, and read
the late bytes first: ``BadStatusLine('{}HTTP/1.1 200 OK')``, or ``ResponseNotReady``. It
happened under load on the artifact upload's ``{}`` answer and broke a later JSON call.

The peer here is a small HTTP/1.1 server on loopback that sends each answer's head, waits,
then sends its body: the timing that load made rare, made certain.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tracklet_http.artifacts import HttpArtifactRepository
from tracklet_http.transport import HttpTransport

LATE = 0.3  # seconds between an answer's head and its body


def _read_request(conn: socket.socket, buffer: bytes) -> tuple[str, bytes] | None:
    while b"\r\n\r\n" not in buffer:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    length = 0
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value)
    while len(rest) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return lines[0].split(" ")[0], rest[length:]


@pytest.fixture
def late_body_server() -> Iterator[tuple[str, list[str]]]:
    """``(url, methods seen)``: answers ``{}`` to PUT and DELETE and ``{"files": []}`` to
    GET, each body sent LATE seconds after its head, on kept-alive connections."""
    listener = socket.create_server(("127.0.0.1", 0))
    seen: list[str] = []
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        buffer = b""
        with conn:
            while not stop.is_set():
                request = _read_request(conn, buffer)
                if request is None:
                    return
                method, buffer = request
                seen.append(method)
                body = b'{"files": []}' if method == "GET" else b"{}"
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                )
                stop.wait(LATE)
                conn.sendall(body)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    port = listener.getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        stop.set()
        listener.close()


def test_an_upload_s_answer_is_read_before_its_connection_is_reused(
    late_body_server: tuple[str, list[str]], tmp_path: Path
) -> None:
    url, seen = late_body_server
    local = tmp_path / "weights.bin"
    local.write_bytes(b"x" * 1000)
    repo = HttpArtifactRepository(f"{url}/api/2.0/mlflow-artifacts/artifacts/exp/run")
    client = HttpTransport(url)  # the same process's pool of connections to the peer
    for _ in range(3):
        repo.log_artifact(str(local))
        # a call that is never retried (it may have been carried out) fails on a dirty connection
        assert client.call("POST", "/api/2.0/mlflow/runs/create", json={}, idempotent=False) == {}
        assert repo.list_artifacts() == []
    repo.delete_artifacts("weights.bin")
    assert client.call("POST", "/api/2.0/mlflow/runs/create", json={}, idempotent=False) == {}
    # each call went out once: none was retried after reading another answer's late bytes
    assert seen == ["PUT", "POST", "GET"] * 3 + ["DELETE", "POST"]
