"""Scale-out: two ``tracklet server`` replicas on one PostgreSQL database and one
artifact root, behind a round-robin TCP balancer, as ops deploy them.

* clients spread over both replicas lose and duplicate nothing, and what one replica
  wrote (runs, metrics, artifacts) the other serves;
* one replica killed with SIGKILL in the middle of the load: the clients' retries land on
  the other replica and every acknowledged write is there, once. "In the middle" is
  asserted, not hoped for: batches are acknowledged before and after the kill, and the
  balancer counts the requests in flight on the replica when it died (> 0: it is frozen
  with SIGSTOP until one is stuck on it); those failed over, as every batch is
  acknowledged and stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from tracklet.entities import Metric, Param, RunTag  # noqa: E402
from tracklet_http.client import RestStore  # noqa: E402
from tracklet_http.testing import ServerProcess, free_port, start_server, tracklet_server_args  # noqa: E402

POSTGRES = os.environ.get("TRACKLET_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test")
CLIENTS = 4
BATCHES = 30
POINTS = 50


@pytest.fixture
def postgres_uri() -> Iterator[str]:
    """A fresh PostgreSQL database for the replicas, dropped afterwards."""
    try:
        admin = psycopg.connect(POSTGRES, autocommit=True, connect_timeout=5)
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not here"
        reason = f"PostgreSQL is not available at {POSTGRES}: {exc}"
        if os.environ.get("TRACKLET_TEST_REQUIRE_SERVERS"):
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"tracklet_scale_{secrets.token_hex(6)}"
    with admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield POSTGRES.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Balancer:
    """A round-robin TCP balancer on 127.0.0.1: each new client connection goes to the
    next backend that accepts it (a dead one is skipped), like haproxy in TCP mode."""

    def __init__(self, backends: list[int]) -> None:
        self.backends = backends
        self.port = free_port()
        self.connections = {port: 0 for port in backends}
        #: bytes of requests forwarded to each backend
        self.sent = {port: 0 for port in backends}
        #: requests forwarded to each backend and not answered yet
        self.awaiting = {port: 0 for port in backends}
        #: new connections that found a backend dead and went on to the next one
        self.failovers = 0
        self._next = 0
        self._preferred: int | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Balancer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        # Close every connection and finish every task before the loop stops: a task or
        # stream left for the garbage collector is an unraisable warning that pytest
        # (filterwarnings = error) reports at exit.
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    async def _shutdown(self) -> None:
        self._server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for writer in self._writers:
            writer.close()
        await self._server.wait_closed()

    def prefer(self, port: int) -> None:
        """From now on every new connection tries ``port`` first, then the others in turn."""
        self._preferred = port

    def wait_awaiting(self, port: int, timeout: float) -> bool:
        """Wait until a request sent to ``port`` is waiting for its answer; False on timeout."""
        deadline = time.monotonic() + timeout
        while self.awaiting[port] == 0:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _candidates(self) -> list[int]:
        start = self._next % len(self.backends)
        self._next += 1
        order = self.backends[start:] + self.backends[:start]
        if self._preferred is not None:
            order.remove(self._preferred)
            order.insert(0, self._preferred)
        return order

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self._ready.set()
        self._loop.run_forever()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        upstream = None
        for attempt, port in enumerate(self._candidates()):
            with contextlib.suppress(OSError):
                upstream = await asyncio.open_connection("127.0.0.1", port)
                self.connections[port] += 1
                self.failovers += attempt > 0
                break
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        self._writers.add(up_writer)

        waiting = [False]  # this connection has sent a request and has no answer yet

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, request: bool) -> None:
            try:
                while data := await src.read(65536):
                    if request:
                        self.sent[port] += len(data)
                    if request != waiting[0]:  # a request goes out, or its answer comes back
                        waiting[0] = request
                        self.awaiting[port] += 1 if request else -1
                    dst.write(data)
                    await dst.drain()
            except OSError:
                pass
            finally:
                with contextlib.suppress(Exception):
                    dst.close()

        await asyncio.gather(pipe(reader, up_writer, True), pipe(up_reader, writer, False))


def _replica(pg: str, artifacts: Path, log: Path) -> ServerProcess:
    port = free_port()
    return start_server(tracklet_server_args(port, pg, str(artifacts)), port, log)


def _new_run(store: RestStore, experiment_id: str, client: int) -> str:
    return store.create_run(
        experiment_id, "scale", int(time.time() * 1000), [], f"client-{client}"
    ).info.run_id


class AckCounter:
    """Batches acknowledged by the servers, split at the moment a replica is killed: the
    proof that the kill fell in the middle of the load, not before or after it."""

    def __init__(self, kill_after: int) -> None:
        self._lock = threading.Lock()
        self.before_kill = 0
        self.after_kill = 0
        self.killed = False
        self.reached = threading.Event()
        self._kill_after = kill_after

    def ack(self) -> None:
        with self._lock:
            if self.killed:
                self.after_kill += 1
            else:
                self.before_kill += 1
                if self.before_kill >= self._kill_after:
                    self.reached.set()

    def mark_killed(self) -> None:
        with self._lock:
            self.killed = True


def _log_run(store: RestStore, run_id: str, acks: AckCounter | None = None) -> tuple[str, int]:
    """Log BATCHES batches of POINTS points to a run; return (run id, points acknowledged)."""
    acked = 0
    for b in range(BATCHES):
        now = int(time.time() * 1000)
        metrics = [Metric("loss", float(b * POINTS + i), now, b * POINTS + i) for i in range(POINTS)]
        store.log_batch(run_id, metrics, [Param(f"p{b}", str(b))], [RunTag("last", str(b))])
        acked += POINTS
        if acks is not None:
            acks.ack()
    return run_id, acked


def test_two_replicas_share_everything_and_survive_a_kill(postgres_uri: str, tmp_path: Path) -> None:
    artifacts = tmp_path / "artifacts"
    first = _replica(postgres_uri, artifacts, tmp_path / "a.log")
    second = _replica(postgres_uri, artifacts, tmp_path / "b.log")
    try:
        with Balancer([int(first.url.rsplit(":", 1)[1]), int(second.url.rsplit(":", 1)[1])]) as lb:
            store = RestStore(lb.url)
            experiment_id = store.create_experiment("scale-out")

            # 1. clients spread over both replicas: nothing lost, nothing duplicated
            with ThreadPoolExecutor(CLIENTS) as pool:
                results = list(
                    pool.map(
                        lambda c: _log_run(RestStore(lb.url), _new_run(store, experiment_id, c)),
                        range(CLIENTS),
                    )
                )
            assert all(n > 0 for n in lb.connections.values()), lb.connections
            for replica in (first, second):
                direct = RestStore(replica.url)
                for run_id, acked in results:
                    history = direct.get_metric_history(run_id, "loss")
                    assert len(history) == acked == BATCHES * POINTS
                    assert sorted(m.step for m in history) == list(range(acked))
                    run = direct.get_run(run_id)
                    assert run.data.tags["last"] == str(BATCHES - 1)
                    assert len([k for k in run.data.params if k.startswith("p")]) == BATCHES

            # artifacts written through one replica are served by the other
            src = tmp_path / "model.txt"
            src.write_text("weights")
            run_id = results[0][0]
            from tracklet_http.artifacts import HttpArtifactRepository

            artifact_uri = RestStore(first.url).get_run(run_id).info.artifact_uri
            path = artifact_uri.split(":", 1)[1].lstrip("/")
            HttpArtifactRepository(f"{first.url}/api/2.0/mlflow-artifacts/artifacts/{path}").log_artifact(
                str(src)
            )
            out = HttpArtifactRepository(
                f"{second.url}/api/2.0/mlflow-artifacts/artifacts/{path}"
            ).download_artifacts("model.txt", str(tmp_path / "down"))
            assert Path(out).read_text() == "weights"

            # 2. one replica killed mid-load: retries go to the other, nothing is lost.
            # (Runs are created first: creating one is not idempotent, so a client does not
            # repeat it after a lost answer; logging is, and is retried.)
            # The kill comes once a quarter of the batches are acknowledged (a count, not a
            # sleep), and the counts on either side of it are asserted below.
            run_ids = [_new_run(store, experiment_id, 100 + c) for c in range(CLIENTS)]
            total = CLIENTS * BATCHES
            acks = AckCounter(kill_after=total // 4)
            killed_port = int(first.url.rsplit(":", 1)[1])
            sent_to_killed_before = lb.sent[killed_port]

            with ThreadPoolExecutor(CLIENTS) as pool:
                futures = [pool.submit(_log_run, RestStore(lb.url), run_id, acks) for run_id in run_ids]
                assert acks.reached.wait(120), "the load never got going"
                sent_to_killed_at_kill = lb.sent[killed_port]
                # Freeze the replica, wait until a request is stuck on it, then kill it: the
                # kill always catches requests in flight, which their clients must retry on
                # the survivor (through a pooled connection to it, or a new one; a new one
                # tries the dead replica first and counts in lb.failovers).
                lb.prefer(killed_port)
                os.killpg(first.proc.pid, signal.SIGSTOP)
                assert lb.wait_awaiting(killed_port, 60), "no request reached the frozen replica"
                failed_over = lb.awaiting[killed_port]  # in flight when the replica died
                first.kill()
                acks.mark_killed()
                survived = [f.result(timeout=300) for f in futures]
            # the kill fell inside the load: batches were acknowledged on both sides of it...
            assert acks.before_kill >= total // 4 and acks.after_kill > 0, vars(acks)
            assert acks.before_kill + acks.after_kill == total
            # ...the killed replica was serving part of it...
            assert sent_to_killed_at_kill > sent_to_killed_before, lb.sent
            # ...and requests were in flight on it when it died: every batch being acknowledged
            # (and stored once, below), those requests failed over to the survivor
            assert failed_over > 0, (lb.awaiting, lb.failovers)
            direct = RestStore(second.url)
            for run_id, acked in survived:
                history = direct.get_metric_history(run_id, "loss")
                assert acked == BATCHES * POINTS
                assert sorted(m.step for m in history) == list(range(acked)), "lost or duplicated points"
    finally:
        first.stop()
        second.stop()
