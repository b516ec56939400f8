"""Wrong passwords must not stall the server (issue 12, finding 1).

A real ``tracklet server --auth`` on sqlite, timed unloaded and then while three client
processes send wrong passwords as fast as they can, one each to the tracking API, the
auth API and the artifact proxy. Two probes: ``/health`` (the event loop itself) and a
signed-in client's tracking call (its credential verified once, then cached). Password
hashing (scrypt, ~0.1 s of CPU a try) runs on a small dedicated pool, never on the event
loop nor the store's threads, and failed logins are rate-limited: each probe's loaded
p99 must stay within 5x its unloaded p99. Before the fix, with store calls on the event
loop for sqlite, ``/health`` went from a p99 of 1-3 ms to 560-620 ms; with store calls
on threads, the scrypt of wrong passwords filled those threads and the signed-in call
waited behind it.

Relative, not a wall-clock constant; but a p99 of a millisecond times five is still only
a few milliseconds, about one scheduler time slice on a 2-CPU machine shared by the
server's loop, its hashing thread, the attackers and whatever else runs. So the bound is
``max(5 * unloaded p99, unloaded p99 + 5 ms)``: the 5 ms floor absorbs that scheduling
noise and is two orders of magnitude below the stall this test catches.

The attackers run at the lowest CPU priority (``nice 19``): on a real deployment clients
are other machines, here they share the two CPUs with the server, and a busy-looping
client would otherwise measure the kernel's scheduler rather than the server. Unloaded
and loaded samples are taken in alternating blocks (the attackers paused with SIGSTOP in
between), so both see the same background load of a shared machine.
"""

from __future__ import annotations

import base64
import http.client
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator

import pytest

from tracklet_http.testing import ServerProcess

SAMPLES = 200
BLOCKS = 4
PACE = 0.01
ADMIN_ENV = {"TRACKLET_AUTH_ADMIN_USERNAME": "admin", "TRACKLET_AUTH_ADMIN_PASSWORD": "admin-password-123"}

ATTACKER = textwrap.dedent(
    """
    import base64, http.client, itertools, os, sys
    os.nice(19)
    port, name, which = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    method, path, body = [
        ("POST", "/api/2.0/mlflow/experiments/search", b"{}"),
        ("GET", "/api/2.0/mlflow/users/current", b""),
        ("GET", "/api/2.0/mlflow-artifacts/artifacts?path=", b""),
    ][which]
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    for i in itertools.count():
        token = base64.b64encode(f"{name}:wrong-password-{i}".encode()).decode()
        headers = {"Authorization": "Basic " + token, "Content-Type": "application/json"}
        try:
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            resp.read()
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            continue
        if i == 0:
            print("started", flush=True)
        if resp.will_close:
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    """
)


class Probe:
    """Times one request on a kept-alive connection of its own."""

    def __init__(self, server: ServerProcess, target: str, headers: dict[str, str] | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", int(server.url.rsplit(":", 1)[1]), timeout=60)
        self.target, self.headers = target, headers or {}

    def __call__(self) -> float:
        start = time.perf_counter()
        self.conn.request("GET", self.target, headers=self.headers)
        resp = self.conn.getresponse()
        resp.read()
        assert resp.status == 200, self.target
        return time.perf_counter() - start

    def close(self) -> None:
        self.conn.close()


def _sample(probes: list[Probe], count: int, budget: float) -> list[list[float]]:
    """``count`` latencies of each probe, taken in turn, one round every :data:`PACE`
    seconds so they span the attack's steady state (fewer if ``budget`` seconds run out:
    before the fix each could take most of a second)."""
    samples: list[list[float]] = [[] for _ in probes]
    deadline = time.monotonic() + budget
    while len(samples[0]) < count and time.monotonic() < deadline:
        for probe, latencies in zip(probes, samples, strict=True):
            latencies.append(probe())
        time.sleep(PACE)
    return samples


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def _p99(values: list[float]) -> float:
    return _quantile(values, 0.99)


def _quantiles(values: list[float]) -> str:
    return " / ".join(f"{_quantile(values, q) * 1000:.2f}" for q in (0.5, 0.9, 0.99)) + " ms"


class Attack:
    """Three attacker processes, paused (SIGSTOP) and resumed (SIGCONT) between blocks of
    samples, so the unloaded and loaded samples interleave and see the same background
    load of the machine."""

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, server: ServerProcess) -> None:
        port = server.url.rsplit(":", 1)[1]
        for i in range(3):
            args = [sys.executable, "-c", ATTACKER, port, f"user{i}", str(i)]
            self.procs.append(subprocess.Popen(args, stdout=subprocess.PIPE))
        for proc in self.procs:  # each has had an answer: the attack is under way
            assert proc.stdout is not None and proc.stdout.readline() == b"started\n"

    def pause(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        for proc in self.procs:
            proc.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.wait(30)
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.fixture
def attack() -> Iterator[Attack]:
    started = Attack()
    yield started
    started.stop()


@pytest.mark.parametrize(
    "limits",
    [
        pytest.param({}, id="default-limits"),
        # no rate limit at all: every wrong password is hashed, so only the dedicated
        # hashing pool keeps scrypt off the event loop
        pytest.param(
            {"TRACKLET_AUTH_MAX_FAILURES": "0", "TRACKLET_AUTH_MAX_ADDRESS_FAILURES": "0"}, id="no-rate-limit"
        ),
    ],
)
def test_wrong_passwords_do_not_stall_the_event_loop(
    start_tracklet_server: Callable[..., ServerProcess], attack: Attack, limits: dict[str, str]
) -> None:
    server = start_tracklet_server(None, None, "--auth", env={**ADMIN_ENV, **limits})
    token = base64.b64encode(b"admin:admin-password-123").decode()
    probes = [  # /health, and a signed-in client's call (its credential checked once, then cached)
        Probe(server, "/health"),
        Probe(server, "/api/2.0/mlflow/experiments/get?experiment_id=0", {"Authorization": "Basic " + token}),
    ]
    unloaded: list[list[float]] = [[] for _ in probes]
    loaded: list[list[float]] = [[] for _ in probes]
    try:
        _sample(probes, 20, 60.0)  # warm up
        attack.start(server)
        for _ in range(BLOCKS):
            attack.pause()
            for into, got in zip(unloaded, _sample(probes, SAMPLES // BLOCKS, 60.0), strict=True):
                into += got
            attack.resume()
            time.sleep(0.2)  # back at full speed
            for into, got in zip(loaded, _sample(probes, SAMPLES // BLOCKS, 120.0 / BLOCKS), strict=True):
                into += got
        attack.pause()
    finally:
        for probe in probes:
            probe.close()
    failures = []
    for probe, quiet, busy in zip(probes, unloaded, loaded, strict=True):
        bound = max(5 * _p99(quiet), _p99(quiet) + 0.005)
        print(
            f"{probe.target}: p50 / p90 / p99 unloaded {_quantiles(quiet)}, loaded {_quantiles(busy)} "
            f"({len(busy)} samples)"
        )
        if _p99(busy) > bound:
            failures.append(
                f"{probe.target} p99 went from {_p99(quiet) * 1000:.2f} ms to "
                f"{_p99(busy) * 1000:.2f} ms (bound {bound * 1000:.2f} ms)"
            )
    assert not failures, "under wrong-password traffic: " + "; ".join(failures)
