"""The request path's fast forms give the answers of the plain ones: orjson answers with
json's fallbacks (tracklet_http.fast_json), log-batch metrics parsed directly
(protocol.metrics_from_json), and the client's one-write requests (transport._OneWrite)."""

from __future__ import annotations

import json
import math
import socket
import threading
from typing import Any

import pytest

from tracklet.entities import Metric
from tracklet.exceptions import TrackletException
from tracklet_http import protocol
from tracklet_http.fast_json import decode_answer, encode_answer
from tracklet_http.transport import ONE_WRITE_LIMIT, _pool_manager


def test_answers_keep_non_finite_doubles_as_strings() -> None:
    metrics = [Metric("a", math.nan, 1, 0), Metric("b", -math.inf, 2, 1), Metric("c", 0.1, 3, 2)]
    answer = {"metrics": protocol.metrics_to_json(metrics)}
    written = encode_answer(answer)
    assert json.loads(written) == json.loads(json.dumps(answer))
    assert [m["value"] for m in json.loads(written)["metrics"]] == ["NaN", "-Infinity", 0.1]


def test_answers_orjson_refuses_are_written_by_json() -> None:
    big = {"value": 2**70, "text": "é"}
    assert json.loads(encode_answer(big)) == big
    assert json.loads(encode_answer({"s": "\u2028é\x00"})) == {"s": "\u2028é\x00"}


@pytest.mark.parametrize(
    "text",
    [
        b'{"a": NaN, "b": Infinity}',
        b'{"a": "\\ud800"}',
        b'{"low": -9223372036854775808, "high": 9223372036854775807, "u": 18446744073709551615}',
    ],
)
def test_answers_read_as_json_reads_them(text: bytes) -> None:
    read, expected = decode_answer(text), json.loads(text)
    assert json.dumps(read) == json.dumps(expected)


def test_answers_that_are_not_json_still_fail() -> None:
    with pytest.raises(ValueError):
        decode_answer(b"<html>not json</html>")


def _one_by_one(values: list[Any]) -> list[Metric]:
    return [protocol.metric_from_json(v, f"metrics[{i}]") for i, v in enumerate(values)]


def test_log_batch_metrics_parse_as_one_by_one() -> None:
    values: list[Any] = [
        {"key": "loss", "value": 0.5, "timestamp": 10, "step": 3},
        {"key": "loss", "value": 1, "timestamp": 11, "step": 4},  # an integer value
        {"key": "acc", "value": "NaN", "timestamp": "12", "step": 0},
        {"key": "acc", "value": 0.25, "timestamp": 13},  # no step
        {"key": "m", "value": 0.5, "timestamp": 14, "step": 1, "run_id": "r1"},
        {"key": "m", "value": 0.5, "timestamp": 15, "step": 1, "model_id": "m-1"},
    ]
    fast = protocol.metrics_from_json(values, "metrics")
    slow = _one_by_one(values)
    assert [repr(m) for m in fast] == [repr(m) for m in slow]


@pytest.mark.parametrize(
    ("bad", "named"),
    [
        ({"key": "k\x00", "value": 0.5, "timestamp": 1, "step": 0}, "metrics[2].key"),
        ({"key": "k", "value": 0.5, "timestamp": True, "step": 0}, "metrics[2].timestamp"),
        ({"key": 5, "value": 0.5, "timestamp": 1, "step": 0}, "metrics[2].key"),
        ({"key": "k", "value": 0.5, "step": 0, "other": 1}, "metrics[2].timestamp"),
    ],
)
def test_log_batch_refusals_name_the_item(bad: dict[str, Any], named: str) -> None:
    good = {"key": "k", "value": 0.5, "timestamp": 1, "step": 0}
    with pytest.raises(TrackletException) as caught:
        protocol.metrics_from_json([good, good, bad], "metrics")
    assert named in caught.value.message


class _RecordingServer:
    """A socket server answering every request with ``{}`` and keeping what each read got."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.port = self.sock.getsockname()[1]
        self.reads: list[bytes] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def close(self, pool: Any) -> None:
        pool.clear()  # the client closes its connection: the server's thread ends
        self.thread.join(10)
        self.sock.close()

    def _serve(self) -> None:
        conn, _ = self.sock.accept()
        with conn:
            self._answer(conn)

    def _answer(self, conn: socket.socket) -> None:
        pending = b""
        while True:
            data = conn.recv(1 << 20)
            if not data:
                return
            self.reads.append(data)
            pending += data
            while b"\r\n\r\n" in pending:
                head, _, rest = pending.partition(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if len(rest) < length:
                    break
                pending = rest[length:]
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")


def test_a_small_body_goes_with_its_head() -> None:
    server = _RecordingServer()
    pool = _pool_manager(False, None, None)
    url = f"http://127.0.0.1:{server.port}/api"
    body = json.dumps({"run_id": "r", "key": "k"}).encode()
    answer = pool.request("POST", url, body=body, headers={"Content-Type": "application/json"})
    assert answer.status == 200 and answer.data == b"{}"
    server.close(pool)
    assert server.reads[0].endswith(b"\r\n\r\n" + body)
    assert b"Content-Length: %d\r\n" % len(body) in server.reads[0]


@pytest.mark.parametrize("size", [ONE_WRITE_LIMIT + 1, 3 * ONE_WRITE_LIMIT])
def test_large_bodies_and_gets_arrive_whole(size: int) -> None:
    server = _RecordingServer()
    pool = _pool_manager(False, None, None)
    url = f"http://127.0.0.1:{server.port}/api"
    body = b"x" * size
    assert pool.request("POST", url, body=body).status == 200
    assert pool.request("GET", url).status == 200
    server.close(pool)
    received = b"".join(server.reads)
    assert body in received
    assert received.endswith(b"GET /api HTTP/1.1\r\n" + received.rpartition(b"GET /api HTTP/1.1\r\n")[2])
