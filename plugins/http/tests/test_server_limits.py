"""``tracklet server``'s limits on what one client may ask: search sizes (refused before
any store work), how long and how big a request's head may be, and what its start-up
and error output may show of a database password."""

from __future__ import annotations

import os
import select
import socket
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa  # noqa: E402

from tracklet.search import MAX_ORDER_BY_CLAUSES  # noqa: E402
from tracklet_http.testing import ServerProcess, free_port, raw_request, tracklet_server_args  # noqa: E402

POSTGRES_URI = os.environ.get("TRACKLET_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "s3cret-Pa55word"


def _search(server: ServerProcess, body: bytes) -> tuple[int, dict[str, str]]:
    answer = raw_request(
        server.url, "POST", "/api/2.0/mlflow/runs/search", body, {"Content-Type": "application/json"}
    )
    return answer.status, answer.json


# -- search sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [MAX_ORDER_BY_CLAUSES + 1, 300, 1000])
def test_too_many_order_by_clauses_are_a_400_naming_the_limit(
    tracklet_server: ServerProcess, count: int
) -> None:
    # before: 300 clauses held a worker ~6 s and ended in a 500; 1,000 took ~1 GB
    order_by = ", ".join(f'"metrics.m{i}"' for i in range(count))
    status, body = _search(tracklet_server, f'{{"experiment_ids": ["0"], "order_by": [{order_by}]}}'.encode())
    assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
    assert f"at most {MAX_ORDER_BY_CLAUSES}" in body["message"] and "order_by" in body["message"]


def test_oversized_filters_are_a_400_naming_the_limit(tracklet_server: ServerProcess) -> None:
    for filter_string, limit in (
        (" AND ".join(["params.a = 'b'"] * 30_000), "500000 characters"),  # before: a 500 after ~8 s
        (" AND ".join(["params.a = 'b'"] * 51), "50 comparisons"),
        ("(" * 3000 + "params.a = 'b'" + ")" * 3000, "50 levels"),
    ):
        status, body = _search(
            tracklet_server, f'{{"experiment_ids": ["0"], "filter": "{filter_string}"}}'.encode()
        )
        assert (status, body["error_code"]) == (400, "INVALID_PARAMETER_VALUE")
        assert limit in body["message"], body["message"]
    status, body = _search(tracklet_server, b'{"experiment_ids": ["0"], "max_results": 50001}')
    assert status == 400 and "at most 50000" in body["message"]


# -- the request head --------------------------------------------------------------------------------


def _connect(server: ServerProcess) -> socket.socket:
    host, port = server.url.split("://", 1)[1].split(":")
    conn = socket.create_connection((host, int(port)), timeout=60)
    return conn


def _closed_by_server(conn: socket.socket) -> bytes:
    """What the server sent before closing (waits for the close; the 60 s socket timeout
    is a hang guard)."""
    received = b""
    while True:
        try:
            chunk = conn.recv(65536)
        except ConnectionResetError:
            return received
        if not chunk:
            return received
        received += chunk


#: uvicorn's two HTTP/1.1 parsers, each with the head limits (server/connection.py).
PARSERS = pytest.mark.parametrize("parser", ["httptools", "h11"])


@PARSERS
def test_a_client_sending_headers_a_byte_at_a_time_is_disconnected(
    start_tracklet_server: Callable[..., ServerProcess], parser: str
) -> None:
    server = start_tracklet_server(None, None, "--header-timeout", "1", env={"TRACKLET_SERVER_HTTP": parser})
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Slow: " + b"a" * 200 + b"\r\n\r\n"
    with _connect(server) as conn:
        sent = 0
        for byte in head:
            readable, _, _ = select.select([conn], [], [], 0.5)  # one byte per half second
            if readable:
                break
            try:
                conn.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 1
        answer = _closed_by_server(conn)
    assert sent < len(head), "the server waited for the whole slow head"
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert b"--header-timeout" in answer
    assert raw_request(server.url, "GET", "/health").status == 200


def test_an_idle_connection_is_closed(start_tracklet_server: Callable[..., ServerProcess]) -> None:
    server = start_tracklet_server(None, None, "--header-timeout", "1")
    with _connect(server) as conn:
        assert _closed_by_server(conn) == b""  # closed without an answer: nothing was asked
    assert raw_request(server.url, "GET", "/health").status == 200


@PARSERS
def test_a_one_mebibyte_header_gets_431_and_the_server_stays_up(
    start_tracklet_server: Callable[..., ServerProcess], parser: str
) -> None:
    tracklet_server = start_tracklet_server(env={"TRACKLET_SERVER_HTTP": parser})
    head = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
    answer = b""
    with _connect(tracklet_server) as conn:
        for start in range(0, len(head), 16384):
            readable, _, _ = select.select([conn], [], [], 0)
            if readable:
                break
            try:
                conn.sendall(head[start : start + 16384])
            except (BrokenPipeError, ConnectionResetError):
                break
        answer = _closed_by_server(conn)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"--max-header-size" in answer
    health = raw_request(tracklet_server.url, "GET", "/health")
    assert health.status == 200 and health.body == b"OK"
    assert "Traceback" not in tracklet_server.output()


@PARSERS
def test_a_body_after_an_early_answer_is_not_taken_for_headers(
    start_tracklet_server: Callable[..., ServerProcess], parser: str
) -> None:
    """The router answers 404 before reading a body: the rest of that body, bigger than
    any head may be, is drained as a body and the connection serves the next request."""
    tracklet_server = start_tracklet_server(env={"TRACKLET_SERVER_HTTP": parser})
    body = b"x" * (512 * 1024)
    first = b"POST /no/such/path HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: %d\r\n\r\n" % len(body)
    second = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    with _connect(tracklet_server) as conn:
        conn.sendall(first + body + second)
        answers = _closed_by_server(conn)
    assert answers.startswith(b"HTTP/1.1 404 "), answers[:200]
    assert b"HTTP/1.1 200 " in answers and answers.endswith(b"OK"), answers[-200:]


def test_headers_under_the_limit_are_served(start_tracklet_server: Callable[..., ServerProcess]) -> None:
    server = start_tracklet_server(None, None, "--max-header-size", "128K")
    answer = raw_request(server.url, "GET", "/health", None, {"X-Large": "a" * 100_000})
    assert answer.status == 200
    # a GET search with a long filter in its query string fits too
    long_filter = "name = '" + "x" * 60_000 + "'"
    search = raw_request(
        server.url, "GET", "/api/2.0/mlflow/experiments/search?filter=" + long_filter.replace(" ", "%20")
    )
    assert search.status == 200, search.body[:300]


# -- the database password -------------------------------------------------------------------------


@pytest.fixture
def postgres_with_password() -> Iterator[str]:
    """A fresh PostgreSQL database, and a URI to it with a password in it (the test
    server trusts local connections, so any password is accepted)."""
    name = f"tracklet_banner_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(
        POSTGRES_URI.replace("postgresql://", "postgresql+psycopg://", 1), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    except sa.exc.OperationalError as exc:
        if os.environ.get("TRACKLET_TEST_REQUIRE_SERVERS"):
            raise
        pytest.skip(f"PostgreSQL is not available ({exc.orig}); set TRACKLET_TEST_POSTGRES_URI")
    try:
        url = sa.engine.make_url(POSTGRES_URI).set(database=name, password=PASSWORD)
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


def test_the_start_up_banner_masks_the_password(
    start_tracklet_server: Callable[..., ServerProcess], postgres_with_password: str
) -> None:
    server = start_tracklet_server(postgres_with_password, None, "--workers", "2", "--access-log")
    raw_request(
        server.url, "POST", "/api/2.0/mlflow/experiments/search", b"{}", {"Content-Type": "application/json"}
    )
    server.stop()
    output = server.output()
    masked = postgres_with_password.replace(PASSWORD, "***")
    assert f"tracklet server: {masked} on http://" in output  # before: the password itself
    assert PASSWORD not in output


@pytest.mark.parametrize(
    "uri",
    [
        f"postgresql://postgres:{PASSWORD}@127.0.0.1:1/nowhere",  # nothing listens on port 1
        f"nosuchscheme://user:{PASSWORD}@db.example/x",  # no plugin serves it
        f"postgresql://postgres@127.0.0.1:1/nowhere?password={PASSWORD}",
    ],
)
def test_start_up_errors_mask_the_password(tmp_path: Path, uri: str) -> None:
    args = tracklet_server_args(free_port(), uri, str(tmp_path / "artifacts"))
    result = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "Cannot open the backend store" in output and "***" in output, output
    assert PASSWORD not in output, output  # before: in the traceback or the message
    assert "Traceback" not in output
