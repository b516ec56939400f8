"""Trace export never gets in the traced code's way: a dead or hanging store, a full queue,
process exit, fork, synchronous mode. Real stores (sqlite when tracklet-sql is installed,
else the file store) and real HTTP clients against closed ports / a server that hangs."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

import tracklet
from tracklet import _config, plugins, tracing
from tracklet.tracing import export
from tracklet.tracing.client import TracingClient
from tracklet.tracing.trace_manager import InMemoryTraceManager


def _sql_available() -> bool:
    return "sqlite" in plugins.installed_schemes("tracking")


def _store_uri(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'mlflow.db'}" if _sql_available() else str(tmp_path / "mlruns")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(script: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TRACKLET_"))}
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
    )


TRACED = """
import tracklet
from tracklet.tracing import export

@tracklet.trace
def double(x):
    return x * 2

@tracklet.trace
def fail():
    raise KeyError("mine")
"""


def test_a_dead_store_never_breaks_the_traced_code_and_is_logged_once(tmp_path: Path) -> None:
    script = (
        TRACED
        + """
results = [double(i) for i in range(20)]
try:
    fail()
except KeyError as e:
    assert e.args == ("mine",)
    print("KEYERROR")
export.flush_trace_async_logging()
print("RESULTS", results == [i * 2 for i in range(20)], export.get_exporter().failed)
"""
    )
    env = {
        "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{_free_port()}",
        "TRACKLET_HTTP_REQUEST_MAX_RETRIES": "0",
    }
    done = _run(script, env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "KEYERROR" in done.stdout
    assert "RESULTS True 21" in done.stdout  # every trace's write failed, each counted
    assert done.stderr.count("Failed to log trace") == 1, done.stderr
    assert "The traced code is not affected" in done.stderr


class _HangingHandler(http.server.BaseHTTPRequestHandler):
    release = threading.Event()

    def _hang(self) -> None:
        self.release.wait(timeout=120)
        self.send_response(503)
        self.end_headers()

    do_GET = do_POST = do_PATCH = _hang  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def hanging_server() -> Iterator[str]:
    _HangingHandler.release = threading.Event()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _HangingHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        _HangingHandler.release.set()
        server.shutdown()
        server.server_close()


def test_a_hanging_store_fills_the_queue_drops_are_counted_and_logged_once(
    tmp_path: Path, hanging_server: str
) -> None:
    script = (
        TRACED
        + """
results = [double(i) for i in range(10)]
print("RESULTS", results == [i * 2 for i in range(10)], export.get_exporter().dropped)
"""
    )
    env = {
        "MLFLOW_TRACKING_URI": hanging_server,
        "TRACKLET_HTTP_REQUEST_MAX_RETRIES": "0",
        "TRACKLET_TRACE_QUEUE_SIZE": "2",
        "TRACKLET_TRACE_BATCH_SIZE": "1",
        "TRACKLET_TRACE_FLUSH_TIMEOUT": "1",
    }
    done = _run(script, env, tmp_path)
    assert done.returncode == 0, done.stderr
    line = next(line for line in done.stdout.splitlines() if line.startswith("RESULTS"))
    _, ok, dropped = line.split()
    # at most one trace being written and two queued: the other seven (or more) were dropped
    assert ok == "True" and int(dropped) >= 7
    assert done.stderr.count("Dropped") == 1, done.stderr  # logged once, at the first drop
    assert "TRACKLET_TRACE_QUEUE_SIZE" in done.stderr


def test_process_exit_flushes_queued_traces(tmp_path: Path) -> None:
    uri = _store_uri(tmp_path)
    script = (
        TRACED
        + """
ids = []
for i in range(3):
    double(i)
    ids.append(tracklet.get_last_active_trace_id())
print("IDS", " ".join(ids))
"""
    )
    # a long batching window: at exit the traces are still waiting in the queue
    done = _run(script, {"MLFLOW_TRACKING_URI": uri, "TRACKLET_TRACE_FLUSH_INTERVAL": "60"}, tmp_path)
    assert done.returncode == 0, done.stderr
    ids = next(line for line in done.stdout.splitlines() if line.startswith("IDS")).split()[1:]
    client = TracingClient(uri)
    for trace_id in ids:
        trace = client.get_trace(trace_id)
        assert [s.name for s in trace.data.spans] == ["double"]


@pytest.fixture
def uri(tmp_path: Path) -> Iterator[str]:
    uri = _store_uri(tmp_path)
    _config.set_tracking_uri(uri)
    tracing.reset()
    try:
        yield uri
    finally:
        tracing.reset()
        _config.set_tracking_uri(None)


def test_synchronous_mode_writes_before_the_call_returns(uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ENABLE_ASYNC_TRACE_LOGGING", "false")
    tracing.reset()

    @tracklet.trace
    def f() -> int:
        return 1

    assert f() == 1
    trace = TracingClient(uri).get_trace(str(tracklet.get_last_active_trace_id()))  # no flush
    assert trace.data.spans[0].name == "f"
    exporter = export.get_exporter()
    assert not exporter.is_async and exporter._thread is None and exporter.exported == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_starts_with_no_live_traces_and_its_own_exporter(uri: str) -> None:
    @tracklet.trace
    def child_work(x: int) -> int:
        return x + 1

    with tracklet.start_span("parent") as parent:
        # the parent's exporter is busy with an earlier trace's thread when we fork
        tracklet.log_trace("before-fork")
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child
            code = 1
            try:
                os.close(read_end)
                report = {
                    "active": tracklet.get_current_active_span() is not None,
                    "live": InMemoryTraceManager.get_instance().live_trace_ids(),
                    "exporter": export._exporter is not None,
                }
                child_work(1)
                report["trace_id"] = tracklet.get_last_active_trace_id()
                export.flush_trace_async_logging()
                report["exported"] = export.get_exporter().exported
                os.write(write_end, json.dumps(report).encode())
                code = 0
            finally:
                os._exit(code)
        os.close(write_end)
        with os.fdopen(read_end) as pipe:
            report = json.loads(pipe.read())
        _, status = os.waitpid(pid, 0)
        assert os.WEXITSTATUS(status) == 0
        parent_trace_id = parent.trace_id
    assert report["active"] is False and report["live"] == [] and report["exporter"] is False
    assert report["exported"] == 1
    child_trace = TracingClient(uri).get_trace(report["trace_id"])
    assert [s.name for s in child_trace.data.spans] == ["child_work"]
    assert child_trace.info.trace_id != parent_trace_id
    parent_trace = tracklet.get_trace(parent_trace_id, flush=True)
    assert parent_trace is not None and [s.name for s in parent_trace.data.spans] == ["parent"]


def test_traces_never_ended_do_not_pile_up(uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TRACKLET_TRACE_BUFFER_MAX_SIZE", "2")
    tracing.reset()
    client = tracklet.MlflowClient()
    roots = [client.start_trace(f"open-{i}") for i in range(3)]  # never ended
    assert InMemoryTraceManager.get_instance().live_trace_ids() == [r.trace_id for r in roots[1:]]
    client.end_trace(roots[2].trace_id)
    assert tracklet.get_trace(roots[2].trace_id, flush=True) is not None
