"""`tracklet server` against `mlflow server` and FastTrackML, side by side, same backend.

    python bench/server.py [--backend sqlite|postgresql] [--workers 2] [--clients 4]
                           [--duration 8] [--runs 2000] [--artifact-mib 1024] [--quick]
                           [--only log_batch search ...] [--sides tracklet,mlflow,fasttrackml]

The servers are started here, one after the other, each on a fresh backend (a new
sqlite file, or a new PostgreSQL database) with its own artifact folder, on a free
loopback port: ``tracklet server`` and ``mlflow server`` with the same ``--workers``
count, FastTrackML 0.6.0 (MLflow's REST API in Go, one process using every core) as it
runs; its binary is fetched once into bench/.cache/ (bench/server_fasttrackml.py). The
load comes from ``--clients`` separate processes (bench/server_clients.py).

Raw HTTP workloads (urllib3, the same prebuilt request bodies for every server: the
figures are the servers', not their client libraries'):

* ``log_batch``: each client logs to its own run, 100 metric points per request, as
  fast as it can for ``--duration`` seconds: requests/s over all clients, p50 and p99
  latency.
* ``search``: ``--runs`` runs are created through the API (each with a param, two tags
  and two metrics; the populate rate is reported too), then each client repeats one
  ``runs/search`` (filter on a metric and a param, ordered by a metric, 100 per page)
  for ``--duration`` seconds.
* ``get_run``: ``GET runs/get`` of a run with 10 params, 10 metrics and 3 tags.
* ``get_history``: ``GET metrics/get-history`` of a 1,000-point metric.
* ``artifacts``: one file of ``--artifact-mib`` MiB is uploaded through the artifact
  proxy (``PUT``, streamed) and downloaded back (``GET``, streamed): MB/s each way and
  the server's memory growth (peak minus the level before the transfer).

Client library workloads (the whole path a user pays: ``tracklet.MlflowClient(url)``
against tracklet, ``mlflow.MlflowClient(url)`` against MLflow and FastTrackML, whose
users use MLflow's client): ``client_get_run`` (``get_run`` of the run above),
``client_get_history`` (``get_metric_history`` of the 1,000-point metric) and
``client_log_metric`` (single ``log_metric`` calls, each client process into its own run).

Every workload reports its errors (non-2xx answers and exceptions, per side: a failing
endpoint shows as errors, not as a missing figure) and the server's peak resident set
(the server process and its workers, sampled every 50 ms through the whole workload).
Each load also reports CPU per request: the server's (user + system time of the server
process and its workers, from the clients' release to the last one's end; a database
server's own processes, PostgreSQL's, are not counted) and the clients' (each client's
CPU time in its timed loop). On a machine shared with other jobs, requests/s follow the
CPU the load is given; CPU per request moves much less.
Results go to stdout as a table with ratios to MLflow and to FastTrackML and the issue's
bars, and to ``bench/results/<time>-server-<backend>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from server_clients import HISTORY_POINTS, post
from server_fasttrackml import VERSION as FASTTRACKML_VERSION
from server_fasttrackml import fml_command

BENCH = Path(__file__).resolve().parent
CLIENTS = BENCH / "server_clients.py"
SIDES = ("tracklet", "mlflow", "fasttrackml")
OTHERS = ("mlflow", "fasttrackml")
POSTGRES_ADMIN_URI = os.environ.get(
    "TRACKLET_BENCH_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test"
)
SERVER_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "PYTHONUNBUFFERED": "1",
}
#: Client processes: a failed call is counted as an error at once instead of being retried
#: out of sight (both libraries retry 429 and 5xx answers with backoff by default).
CLIENT_ENV = {**SERVER_ENV, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "TRACKLET_HTTP_REQUEST_MAX_RETRIES": "0"}
API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
#: The issue's bars (#19): figure -> {other side: minimum ratio of tracklet's figure to it}.
BARS: dict[str, dict[str, float]] = {
    "log_batch_rps": {"mlflow": 20.0, "fasttrackml": 2.0},
    "search_rps": {"mlflow": 20.0, "fasttrackml": 2.0},
    "client_get_run_rps": {"fasttrackml": 2.0},
    "client_get_history_rps": {"fasttrackml": 2.0},
    "client_log_metric_rps": {"fasttrackml": 2.0},
    # memory: MLflow's peak over tracklet's, at least 3 (tracklet <= 1/3 of MLflow's)
    "server_peak_rss_mb": {"mlflow": 3.0},
}
#: The artifact proxy's absolute bars.
MIN_MB_S = 200.0
MAX_RSS_GROWTH_MB = 50.0


# -- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(side: str, port: int, backend_uri: str, artifacts: str, workers: int) -> list[str]:
    common = [
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--backend-store-uri",
        backend_uri,
        "--artifacts-destination",
        artifacts,
        "--workers",
        str(workers),
    ]
    if side == "tracklet":
        return [sys.executable, "-m", "tracklet", "server", *common]
    if side == "fasttrackml":
        return fml_command(port, backend_uri, artifacts)
    return [str(Path(sys.executable).with_name("mlflow")), "server", *common]


@contextlib.contextmanager
def backend_uri(backend: str, tmp: str) -> Iterator[str]:
    """A fresh backend: a new sqlite file, or a new PostgreSQL database dropped afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp}/bench.db"
        return
    import psycopg

    name = f"bench_{secrets.token_hex(6)}"
    with psycopg.connect(POSTGRES_ADMIN_URI, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield (
            POSTGRES_ADMIN_URI.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
            + "/"
            + name
        )
    finally:
        with psycopg.connect(POSTGRES_ADMIN_URI, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@contextlib.contextmanager
def running_server(side: str, backend: str, workers: int) -> Iterator[tuple[str, int, str]]:
    """Start one server on a fresh backend; yield (base URL, pid, backend store URI)."""
    os.sync()
    tmp = tempfile.mkdtemp(prefix=f"bench-server-{side}-")
    artifacts = os.path.join(tmp, "artifacts")
    log = open(os.path.join(tmp, "server.log"), "wb")  # noqa: SIM115 - closed below
    try:
        with backend_uri(backend, tmp) as uri:
            port = free_port()
            proc = subprocess.Popen(
                server_command(side, port, uri, artifacts, workers),
                cwd=tmp,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **SERVER_ENV},
                start_new_session=True,
            )
            url = f"http://127.0.0.1:{port}"
            try:
                wait_healthy(url, proc, os.path.join(tmp, "server.log"))
                yield url, proc.pid, uri
            finally:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    finally:
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log: str, timeout: float = 120) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited ({proc.returncode}): {Path(log).read_text()[-2000:]}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url + "/health", timeout=2) as resp:
                if resp.status == 200:
                    # /health can answer before every worker is up; give the others a moment
                    time.sleep(1.0)
                    return
        time.sleep(0.2)
    raise RuntimeError(f"server not healthy after {timeout}s: {Path(log).read_text()[-2000:]}")


def tree_pids(pid: int) -> list[int]:
    """A process and all its descendants."""
    found, stack = [], [pid]
    while stack:
        p = stack.pop()
        found.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return found


def tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by a process and its live descendants (a
    server's workers live as long as the server, so a difference over a load is theirs)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / tick


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    total = 0
    for p in tree_pids(pid):
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


# -- the load: client processes (bench/server_clients.py) ------------------------------------


def run_clients(
    kind: str, url: str, specs: list[dict[str, Any]], server_pid: int | None = None
) -> dict[str, Any]:
    """Start one client process per spec, wait until every one is ready (imported,
    connected, one untimed call made), release them together; return their latencies,
    errors, first error and peak resident set, the wall seconds from the release to
    the last one's end, the clients' CPU seconds in their timed loops and (given
    ``server_pid``) the server's CPU seconds from the release to the end: CPU per request
    moves much less with the machine's load than requests/s do."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(CLIENTS), "--client", kind, "--url", url, "--spec", json.dumps(spec)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **CLIENT_ENV},
        )
        for spec in specs
    ]
    for proc in procs:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            _out, err = proc.communicate()
            for other in procs:
                other.kill()
            raise RuntimeError(
                f"{kind} client failed: {err.strip().splitlines()[-1] if err.strip() else '?'}"
            )
    server_cpu = tree_cpu_seconds(server_pid) if server_pid is not None else 0.0
    start = time.time()
    for proc in procs:
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
    merged: dict[str, Any] = {
        "latencies": [],
        "errors": 0,
        "first_error": None,
        "rss_mb": 0.0,
        "client_cpu_s": 0.0,
    }
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(
                f"{kind} client failed: {err.strip().splitlines()[-1] if err.strip() else '?'}"
            )
        one = json.loads(out.strip().splitlines()[-1])
        merged["latencies"].extend(one["latencies"])
        merged["errors"] += one["errors"]
        merged["first_error"] = merged["first_error"] or one["first_error"]
        merged["rss_mb"] = max(merged["rss_mb"], one["rss_mb"])
        merged["client_cpu_s"] += one.get("cpu_s", 0.0)
    merged["wall"] = time.time() - start
    if server_pid is not None:
        merged["server_cpu_s"] = tree_cpu_seconds(server_pid) - server_cpu
    return merged


def load_figures(
    prefix: str, load: dict[str, Any], duration: float, client_rss: bool = False
) -> dict[str, Any]:
    """requests/s (successful calls), p50 and p99, errors and the first error's text."""
    lat = load["latencies"]
    figures: dict[str, Any] = {
        f"{prefix}_rps": len(lat) / duration,
        f"{prefix}_p50_ms": percentile(lat, 0.50) * 1000,
        f"{prefix}_p99_ms": percentile(lat, 0.99) * 1000,
        "errors": load["errors"],
    }
    calls = len(lat) + load["errors"]
    if calls:
        if "server_cpu_s" in load:
            figures[f"{prefix}_server_cpu_ms"] = load["server_cpu_s"] * 1000 / calls
        figures[f"{prefix}_client_cpu_ms"] = load["client_cpu_s"] * 1000 / calls
    if load["first_error"]:
        figures["first_error"] = load["first_error"]
    if client_rss:
        figures["client_peak_rss_mb"] = load["rss_mb"]
    return figures


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class PeakRss:
    """The peak resident set of a server and its workers, sampled every 50 ms."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.peak = tree_rss_bytes(pid)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.05):
            self.peak = max(self.peak, tree_rss_bytes(self.pid))

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, tree_rss_bytes(self.pid))


# -- workloads ---------------------------------------------------------------------------------------


def new_experiment(url: str) -> str:
    import urllib3

    pool = urllib3.PoolManager()
    return str(
        post(pool, url + API + "/experiments/create", {"name": f"bench-{uuid.uuid4().hex[:8]}"})[
            "experiment_id"
        ]
    )


def workload_log_batch(url: str, pid: int, opts: argparse.Namespace) -> dict[str, Any]:
    import urllib3

    pool = urllib3.PoolManager()
    exp = new_experiment(url)
    specs = []
    for _ in range(opts.clients):
        run = post(
            pool, url + API + "/runs/create", {"experiment_id": exp, "start_time": int(time.time() * 1000)}
        )
        specs.append({"run_id": run["run"]["info"]["run_id"], "duration": opts.duration})
    figures = load_figures("log_batch", run_clients("log_batch", url, specs, pid), opts.duration)
    figures["log_batch_points_s"] = figures["log_batch_rps"] * 100
    return figures


def analyze(uri: str) -> None:
    """PostgreSQL: refresh the planner's statistics after the bulk load, as autovacuum
    does within a minute on a live server, so every server's searches are planned on real
    table sizes rather than on an empty database's guesses (a nested loop over every run
    where a hash join is 3x cheaper). Every side gets it, outside the timed part."""
    if not uri.startswith("postgresql"):
        return
    import psycopg

    with psycopg.connect(uri.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("ANALYZE")


def workload_search(url: str, pid: int, opts: argparse.Namespace) -> dict[str, Any]:
    exp = new_experiment(url)
    per = opts.runs // opts.clients
    specs = [{"experiment_id": exp, "first": i * per, "count": per} for i in range(opts.clients)]
    populated = run_clients("populate", url, specs)
    analyze(opts.backend_uri)
    load = run_clients("search", url, [{"experiment_id": exp, "duration": opts.duration}] * opts.clients, pid)
    return {
        "populate_runs_s": per * opts.clients / populated["wall"],
        **load_figures("search", load, opts.duration),
    }


def read_fixture(url: str) -> dict[str, str]:
    """What the read workloads read, made through the REST API: a run with 10 params,
    10 metrics and 3 tags, and a run with one 1,000-point metric ``hist``."""
    import urllib3

    pool = urllib3.PoolManager()
    exp = new_experiment(url)
    now = int(time.time() * 1000)

    def new_run() -> str:
        return str(
            post(pool, url + API + "/runs/create", {"experiment_id": exp, "start_time": now})["run"]["info"][
                "run_id"
            ]
        )

    run_id, history_run_id = new_run(), new_run()
    post(
        pool,
        url + API + "/runs/log-batch",
        {
            "run_id": run_id,
            "params": [{"key": f"p{i}", "value": str(i)} for i in range(10)],
            "metrics": [{"key": f"m{i}", "value": i / 10, "timestamp": now, "step": 0} for i in range(10)],
            "tags": [{"key": f"t{i}", "value": f"v{i}"} for i in range(3)],
        },
    )
    points = [
        {"key": "hist", "value": i / 1000, "timestamp": now + i, "step": i} for i in range(HISTORY_POINTS)
    ]
    post(pool, url + API + "/runs/log-batch", {"run_id": history_run_id, "metrics": points})
    return {"experiment_id": exp, "run_id": run_id, "history_run_id": history_run_id}


def read_workload(kind: str) -> Any:
    """A workload repeating one read (raw HTTP or through a client library) for ``--duration``."""
    library = kind.startswith("client_")

    def workload(url: str, pid: int, opts: argparse.Namespace) -> dict[str, Any]:
        spec = {**read_fixture(url), "duration": opts.duration, "library": LIBRARY[opts.side]}
        load = run_clients(kind, url, [spec] * opts.clients, pid)
        return load_figures(kind, load, opts.duration, client_rss=library)

    return workload


#: The client library each side's users call.
LIBRARY = {"tracklet": "tracklet", "mlflow": "mlflow", "fasttrackml": "mlflow"}


def workload_artifacts(url: str, pid: int, opts: argparse.Namespace) -> dict[str, float]:
    import urllib3

    size = opts.artifact_mib * 1024 * 1024
    tmp = tempfile.mkdtemp(prefix="bench-artifact-")
    try:
        src = os.path.join(tmp, "big.bin")
        block = os.urandom(4 * 1024 * 1024)
        with open(src, "wb") as f:
            for _ in range(size // len(block)):
                f.write(block)
        os.sync()
        pool = urllib3.PoolManager(timeout=urllib3.Timeout(connect=10, read=600))
        path = f"{ARTIFACTS}/bench/{uuid.uuid4().hex}/big.bin"
        peak = {"rss": 0}
        stop = threading.Event()

        def sample() -> None:
            while not stop.is_set():
                peak["rss"] = max(peak["rss"], tree_rss_bytes(pid))
                time.sleep(0.02)

        base_rss = tree_rss_bytes(pid)
        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            with open(src, "rb") as upload:
                t = time.perf_counter()
                resp = pool.request(
                    "PUT",
                    url + path,
                    body=upload,
                    headers={"Content-Length": str(size)},
                    retries=False,
                    preload_content=True,
                )
                up = time.perf_counter() - t
            if resp.status != 200:
                raise RuntimeError(f"upload: {resp.status} {resp.data[:300]!r}")
            t = time.perf_counter()
            resp = pool.request("GET", url + path, preload_content=False, retries=False)
            if resp.status != 200:
                raise RuntimeError(f"download: {resp.status} {resp.data[:300]!r}")
            got = 0
            for chunk in resp.stream(1024 * 1024):
                got += len(chunk)
            resp.release_conn()
            down = time.perf_counter() - t
        finally:
            stop.set()
            sampler.join()
        if got != size:
            raise RuntimeError(f"downloaded {got} bytes of {size}")
        mb = size / 1e6
        return {
            "upload_mb_s": mb / up,
            "download_mb_s": mb / down,
            "server_rss_growth_mb": max(0, peak["rss"] - base_rss) / 1e6,
        }
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


WORKLOADS = {
    "log_batch": workload_log_batch,
    "search": workload_search,
    "get_run": read_workload("get_run"),
    "get_history": read_workload("get_history"),
    "client_get_run": read_workload("client_get_run"),
    "client_get_history": read_workload("client_get_history"),
    "client_log_metric": read_workload("client_log_metric"),
    "artifacts": workload_artifacts,
}
#: figure -> (label, unit, higher is better); "{clients}" and the like come from the options.
LABELS = {
    "log_batch_rps": ("runs/log-batch, {clients} clients", "req/s", True),
    "log_batch_points_s": ("  metric points logged", "points/s", True),
    "log_batch_p50_ms": ("  p50 latency", "ms", False),
    "log_batch_p99_ms": ("  p99 latency", "ms", False),
    "log_batch_server_cpu_ms": ("  server CPU per request", "ms", False),
    "log_batch_client_cpu_ms": ("  client CPU per request", "ms", False),
    "populate_runs_s": ("populate {runs} runs (create + log-batch)", "runs/s", True),
    "search_rps": ("runs/search over {runs} runs, {clients} clients", "req/s", True),
    "search_p50_ms": ("  p50 latency", "ms", False),
    "search_p99_ms": ("  p99 latency", "ms", False),
    "search_server_cpu_ms": ("  server CPU per request", "ms", False),
    "search_client_cpu_ms": ("  client CPU per request", "ms", False),
    "get_run_rps": ("runs/get (raw HTTP), {clients} clients", "req/s", True),
    "get_run_p50_ms": ("  p50 latency", "ms", False),
    "get_run_p99_ms": ("  p99 latency", "ms", False),
    "get_run_server_cpu_ms": ("  server CPU per request", "ms", False),
    "get_run_client_cpu_ms": ("  client CPU per request", "ms", False),
    "get_history_rps": ("metrics/get-history 1,000 points (raw HTTP)", "req/s", True),
    "get_history_p50_ms": ("  p50 latency", "ms", False),
    "get_history_p99_ms": ("  p99 latency", "ms", False),
    "get_history_server_cpu_ms": ("  server CPU per request", "ms", False),
    "get_history_client_cpu_ms": ("  client CPU per request", "ms", False),
    "client_get_run_rps": ("client get_run, {clients} clients", "calls/s", True),
    "client_get_run_p50_ms": ("  p50 latency", "ms", False),
    "client_get_run_p99_ms": ("  p99 latency", "ms", False),
    "client_get_run_server_cpu_ms": ("  server CPU per request", "ms", False),
    "client_get_run_client_cpu_ms": ("  client CPU per request", "ms", False),
    "client_get_history_rps": ("client get_metric_history 1,000 points", "calls/s", True),
    "client_get_history_p50_ms": ("  p50 latency", "ms", False),
    "client_get_history_p99_ms": ("  p99 latency", "ms", False),
    "client_get_history_server_cpu_ms": ("  server CPU per request", "ms", False),
    "client_get_history_client_cpu_ms": ("  client CPU per request", "ms", False),
    "client_log_metric_rps": ("client log_metric, {clients} clients", "calls/s", True),
    "client_log_metric_p50_ms": ("  p50 latency", "ms", False),
    "client_log_metric_p99_ms": ("  p99 latency", "ms", False),
    "client_log_metric_server_cpu_ms": ("  server CPU per request", "ms", False),
    "client_log_metric_client_cpu_ms": ("  client CPU per request", "ms", False),
    "upload_mb_s": ("artifact upload {artifact_mib} MiB", "MB/s", True),
    "download_mb_s": ("artifact download {artifact_mib} MiB", "MB/s", True),
    "server_rss_growth_mb": ("  server memory growth", "MB", False),
    "errors": ("  errors (non-2xx + exceptions)", "count", False),
    "server_peak_rss_mb": ("  server peak resident set", "MB", False),
    "client_peak_rss_mb": ("  client process peak resident set", "MB", False),
}


def bar_for(key: str) -> tuple[str, Any]:
    """(bar text, check) for a figure; check gets (tracklet's figure, {side: ratio} and
    {side: that side's figure}) and returns True, False, or None when it cannot tell."""
    if key in BARS:
        need = BARS[key]
        text = ", ".join(f">={minimum:g}x {side}" for side, minimum in need.items())

        def check(ours: Any, ratios: dict[str, float | None], theirs: dict[str, Any]) -> bool | None:
            if ours is None:
                return False
            judged = {side: ratios.get(side) for side in need if side in theirs}
            if not judged:
                return None
            if any(r is not None and r < need[side] for side, r in judged.items()):
                return False
            return None if any(r is None for r in judged.values()) else True

        return text, check
    if key == "errors":
        return "0", lambda ours, ratios, theirs: ours == 0
    if key.endswith("_p99_ms"):

        def lower(ours: Any, ratios: dict[str, float | None], theirs: dict[str, Any]) -> bool | None:
            known = [r for r in ratios.values() if r is not None]
            return None if not known else all(r > 1 for r in known)

        return "lower", lower
    if key in ("upload_mb_s", "download_mb_s"):
        return f">={MIN_MB_S:g} MB/s", lambda ours, ratios, theirs: ours is not None and ours >= MIN_MB_S
    if key == "server_rss_growth_mb":
        return (
            f"<{MAX_RSS_GROWTH_MB:g} MB",
            lambda ours, ratios, theirs: ours is not None and ours < MAX_RSS_GROWTH_MB,
        )
    return "", None


def run_workloads(opts: argparse.Namespace, sides: list[str]) -> dict[str, dict[str, dict[str, Any]]]:
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for turn, name in enumerate(opts.only or list(WORKLOADS)):
        results[name] = {}
        # which server goes first rotates from workload to workload, so none always
        # meets another's leftover page cache and CPU heat
        shift = turn % len(sides)
        for side in sides[shift:] + sides[:shift]:
            print(f"[{name}] {side} server ...", file=sys.stderr, flush=True)
            try:
                with running_server(side, opts.backend, opts.workers) as (url, pid, backend):
                    opts.backend_uri, opts.side = backend, side
                    with PeakRss(pid) as rss:
                        figures = WORKLOADS[name](url, pid, opts)
                    results[name][side] = {**figures, "server_peak_rss_mb": rss.peak / 1e6}
            except Exception as exc:  # noqa: BLE001 - a failed side is reported, not fatal
                results[name][side] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            print(f"[{name}] {side}: {results[name][side]}", file=sys.stderr, flush=True)
    return results


def table_rows(
    results: dict[str, dict[str, dict[str, Any]]], opts: argparse.Namespace
) -> tuple[list[list[str]], bool]:
    """The table's rows (figure, unit, one value per side, one ratio per other side, bar,
    result) and whether any bar failed."""
    rows = []
    failed = False
    for name, by_side in results.items():
        keys = [k for k in LABELS if any(k in r for r in by_side.values())]
        for key in keys:
            label, unit, higher = LABELS[key]
            values = {side: by_side.get(side, {}).get(key) for side in SIDES}
            ours = values["tracklet"]
            ratios: dict[str, float | None] = {}
            for other in OTHERS:
                theirs = values[other]
                ratios[other] = None
                if ours and theirs:
                    ratios[other] = ours / theirs if higher else theirs / ours
            bar, check = bar_for(key)
            present = {side: values[side] for side in OTHERS if side in by_side}
            passed = None if check is None else check(ours, {s: ratios[s] for s in present}, present)
            failed |= passed is False
            rows.append(
                [
                    label.format(**vars(opts)),
                    unit,
                    *(_fmt(values[side], key, side in by_side) for side in SIDES),
                    *("-" if ratios[o] is None else f"{ratios[o]:.1f}x" for o in OTHERS),
                    bar,
                    {True: "pass", False: "FAIL", None: "?" if check else ""}[passed],
                ]
            )
        for side, r in by_side.items():
            if "error" in r:
                rows.append(
                    [f"{name}: {side} failed", "", *[""] * (len(SIDES) + len(OTHERS)), "", r["error"][:100]]
                )
            elif r.get("first_error"):
                rows.append(
                    [
                        f"{name}: {side}'s first error",
                        "",
                        *[""] * (len(SIDES) + len(OTHERS)),
                        "",
                        r["first_error"][:100],
                    ]
                )
    return rows, failed


def print_table(rows: list[list[str]], opts: argparse.Namespace) -> None:
    header = ["figure", "unit", *SIDES, *(f"vs {o}" for o in OTHERS), "bar", "result"]
    numeric = range(2, 2 + len(SIDES) + len(OTHERS))
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(
        f"tracklet server vs mlflow server vs FastTrackML {FASTTRACKML_VERSION} — backend {opts.backend}, "
        f"--workers {opts.workers} (FastTrackML: one process), {opts.clients} client processes, "
        f"{opts.duration:g} s per load, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}"
    )
    for r in [header, *rows]:
        print(
            "  ".join(
                str(c).rjust(w) if i in numeric else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--runs", type=int, default=2000)
    parser.add_argument("--artifact-mib", type=int, default=1024)
    parser.add_argument("--quick", action="store_true", help="short runs: 3 s, 400 runs, 64 MiB")
    parser.add_argument("--only", nargs="+", choices=list(WORKLOADS))
    parser.add_argument("--sides", default=",".join(SIDES), help="comma-separated, from " + ",".join(SIDES))
    opts = parser.parse_args()
    if opts.quick:
        opts.duration, opts.runs, opts.artifact_mib = 3.0, 400, 64
    sides = opts.sides.split(",")
    unknown = set(sides) - set(SIDES)
    if unknown or "tracklet" not in sides:
        parser.error(f"--sides: tracklet plus any of {', '.join(OTHERS)} (got {opts.sides})")
    load_before = os.getloadavg()
    results = run_workloads(opts, sides)
    rows, failed = table_rows(results, opts)
    print_table(rows, opts)
    out = BENCH / "results" / f"{time.strftime('%Y%m%d-%H%M%S')}-server-{opts.backend}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "options": {k: v for k, v in vars(opts).items() if k not in ("side", "backend_uri")},
                "results": results,
                "bars": BARS,
                "versions": {
                    **{
                        d: _version(d)
                        for d in ("tracklet", "tracklet-http", "mlflow", "uvicorn", "starlette")
                    },
                    "fasttrackml": FASTTRACKML_VERSION,
                },
                "commit": _commit(),
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load_before": load_before,
                    "load_after": os.getloadavg(),
                },
            },
            indent=2,
        )
    )
    print(f"(full results: {out.relative_to(BENCH.parent)})", file=sys.stderr)
    return 1 if failed else 0


def _fmt(value: float | None, key: str, ran: bool) -> str:
    if not ran:
        return "-"
    if value is None:
        return "error"
    if key == "errors":
        return str(int(value))
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _commit() -> str | None:
    done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=BENCH, capture_output=True, text=True)
    return done.stdout.strip() or None


if __name__ == "__main__":
    sys.exit(main())
