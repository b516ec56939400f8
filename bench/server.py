"""`tracklet server` against `mlflow server`, side by side, on the same backend.

    python bench/server.py [--backend sqlite|postgresql] [--workers 2] [--clients 4]
                           [--duration 8] [--runs 2000] [--artifact-mib 1024] [--quick]
                           [--only log_batch search artifacts]

Both servers are started here, one after the other, each on a fresh backend (a new
sqlite file, or a new PostgreSQL database) with its own artifact folder, the same
``--workers`` count, on a free loopback port. The load comes from ``--clients``
separate processes speaking raw HTTP (urllib3, the same prebuilt request bodies for
both servers), so the figures are the servers', not their client libraries'.

Workloads:

* ``log_batch``: each client logs to its own run, 100 metric points per request, as
  fast as it can for ``--duration`` seconds: requests/s over all clients, p50 and p99
  latency.
* ``search``: ``--runs`` runs are created through the API (each with a param, two tags
  and two metrics; the populate rate is reported too), then each client repeats one
  ``runs/search`` (filter on a metric and a param, ordered by a metric, 100 per page)
  for ``--duration`` seconds.
* ``artifacts``: one file of ``--artifact-mib`` MiB is uploaded through the artifact
  proxy (``PUT``, streamed) and downloaded back (``GET``, streamed): MB/s each way and
  the server's memory growth (resident set of the server and its workers, sampled every
  20 ms, peak minus the level before the transfer).

Results go to stdout as a table with ratios and the issue's bars, and to
``bench/results/<time>-server-<backend>.json``.
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

BENCH = Path(__file__).resolve().parent
SIDES = ("tracklet", "mlflow")
POSTGRES_ADMIN_URI = os.environ.get(
    "TRACKLET_BENCH_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test"
)
SERVER_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "PYTHONUNBUFFERED": "1",
}
API = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"
#: The issue's bars: figure -> minimum ratio (tracklet over MLflow).
BARS = {"log_batch_rps": 5.0, "search_rps": 5.0}
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


def tree_rss_bytes(pid: int) -> int:
    """Resident memory of a process and all its descendants."""
    total = 0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as f:
                    stack.extend(int(c) for c in f.read().split())
        except (FileNotFoundError, ProcessLookupError, ValueError):
            continue
    return total


# -- the load: client processes -----------------------------------------------------------------


def post(pool: Any, url: str, body: dict[str, Any]) -> dict[str, Any]:
    resp = pool.request(
        "POST",
        url,
        body=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        retries=False,
    )
    if resp.status != 200:
        raise RuntimeError(f"{url}: {resp.status} {resp.data[:300]!r}")
    return json.loads(resp.data) if resp.data else {}


def client_main(args: argparse.Namespace) -> None:
    """One load-generating process: prints one JSON line with its latencies."""
    import urllib3

    pool = urllib3.PoolManager(maxsize=2)
    base = args.url
    spec = json.loads(args.spec)
    latencies: list[float] = []
    if args.client == "log_batch":
        run_id = spec["run_id"]
        url = base + API + "/runs/log-batch"
        headers = {"Content-Type": "application/json"}
        step = 0
        bodies = []
        now = int(time.time() * 1000)
        for i in range(64):  # prebuilt bodies, so building JSON is not part of the figure
            metrics = [
                {"key": f"m{k}", "value": 0.5 + k, "timestamp": now, "step": (i * 100 + k)}
                for k in range(100)
            ]
            bodies.append(json.dumps({"run_id": run_id, "metrics": metrics}).encode())
        _barrier(spec["start_at"])
        end = time.perf_counter() + spec["duration"]
        while time.perf_counter() < end:
            body = bodies[step % len(bodies)] if step < len(bodies) else _shift_steps(bodies, step, run_id)
            t = time.perf_counter()
            resp = pool.request("POST", url, body=body, headers=headers, retries=False)
            latencies.append(time.perf_counter() - t)
            if resp.status != 200:
                raise RuntimeError(f"log-batch: {resp.status} {resp.data[:300]!r}")
            step += 1
    elif args.client == "search":
        url = base + API + "/runs/search"
        body = json.dumps(
            {
                "experiment_ids": [spec["experiment_id"]],
                "filter": "metrics.loss < 0.5 and params.lr = '0.01'",
                "order_by": ["metrics.loss ASC"],
                "max_results": 100,
            }
        ).encode()
        headers = {"Content-Type": "application/json"}
        _barrier(spec["start_at"])
        end = time.perf_counter() + spec["duration"]
        while time.perf_counter() < end:
            t = time.perf_counter()
            resp = pool.request("POST", url, body=body, headers=headers, retries=False)
            latencies.append(time.perf_counter() - t)
            if resp.status != 200:
                raise RuntimeError(f"search: {resp.status} {resp.data[:300]!r}")
            if not spec.get("checked"):
                n = len(json.loads(resp.data).get("runs", []))
                if n == 0:
                    raise RuntimeError("search returned no runs: the populate step failed")
                spec["checked"] = True
    elif args.client == "populate":
        url_create = base + API + "/runs/create"
        url_batch = base + API + "/runs/log-batch"
        now = int(time.time() * 1000)
        _barrier(spec["start_at"])
        for i in range(spec["first"], spec["first"] + spec["count"]):
            t = time.perf_counter()
            run = post(
                pool,
                url_create,
                {"experiment_id": spec["experiment_id"], "start_time": now + i, "run_name": f"run-{i}"},
            )
            run_id = run["run"]["info"]["run_id"]
            post(
                pool,
                url_batch,
                {
                    "run_id": run_id,
                    "params": [{"key": "lr", "value": "0.01" if i % 2 else "0.1"}],
                    "tags": [{"key": "team", "value": f"t{i % 7}"}, {"key": "seed", "value": str(i)}],
                    "metrics": [
                        {"key": "loss", "value": (i % 1000) / 1000, "timestamp": now, "step": 0},
                        {"key": "acc", "value": 1 - (i % 1000) / 1000, "timestamp": now, "step": 0},
                    ],
                },
            )
            latencies.append(time.perf_counter() - t)
    print(json.dumps({"latencies": latencies}))


def _barrier(start_at: float) -> None:
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)


def _shift_steps(bodies: list[bytes], step: int, run_id: str) -> bytes:
    """A body whose steps were never sent before (prebuilt ones are reused only once)."""
    now = int(time.time() * 1000)
    metrics = [
        {"key": f"m{k}", "value": 0.5 + k, "timestamp": now, "step": step * 100 + k} for k in range(100)
    ]
    return json.dumps({"run_id": run_id, "metrics": metrics}).encode()


def run_clients(kind: str, url: str, specs: list[dict[str, Any]]) -> tuple[float, list[float]]:
    """Start one client process per spec, all released at the same moment; return
    (wall seconds from release to the last one's end, all latencies)."""
    start_at = time.time() + 2.0  # time for every child to import and connect
    procs = []
    for spec in specs:
        spec = {**spec, "start_at": start_at}
        procs.append(
            subprocess.Popen(
                [sys.executable, __file__, "--client", kind, "--url", url, "--spec", json.dumps(spec)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    latencies: list[float] = []
    for proc in procs:
        out, err = proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(
                f"{kind} client failed: {err.strip().splitlines()[-1] if err.strip() else '?'}"
            )
        latencies.extend(json.loads(out.strip().splitlines()[-1])["latencies"])
    wall = time.time() - start_at
    return wall, latencies


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- workloads ---------------------------------------------------------------------------------------


def new_experiment(url: str) -> str:
    import urllib3

    pool = urllib3.PoolManager()
    return str(
        post(pool, url + API + "/experiments/create", {"name": f"bench-{uuid.uuid4().hex[:8]}"})[
            "experiment_id"
        ]
    )


def workload_log_batch(url: str, pid: int, opts: argparse.Namespace) -> dict[str, float]:
    import urllib3

    pool = urllib3.PoolManager()
    exp = new_experiment(url)
    specs = []
    for _ in range(opts.clients):
        run = post(
            pool, url + API + "/runs/create", {"experiment_id": exp, "start_time": int(time.time() * 1000)}
        )
        specs.append({"run_id": run["run"]["info"]["run_id"], "duration": opts.duration})
    _wall, lat = run_clients("log_batch", url, specs)
    return {
        "log_batch_rps": len(lat) / opts.duration,
        "log_batch_points_s": len(lat) * 100 / opts.duration,
        "log_batch_p50_ms": percentile(lat, 0.50) * 1000,
        "log_batch_p99_ms": percentile(lat, 0.99) * 1000,
    }


def analyze(uri: str) -> None:
    """PostgreSQL: refresh the planner's statistics after the bulk load, as autovacuum
    does within a minute on a live server, so both servers' searches are planned on real
    table sizes rather than on an empty database's guesses (a nested loop over every run
    where a hash join is 3x cheaper). Both sides get it, outside the timed part."""
    if not uri.startswith("postgresql"):
        return
    import psycopg

    with psycopg.connect(uri.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn:
        conn.execute("ANALYZE")


def workload_search(url: str, pid: int, opts: argparse.Namespace) -> dict[str, float]:
    exp = new_experiment(url)
    per = opts.runs // opts.clients
    specs = [{"experiment_id": exp, "first": i * per, "count": per} for i in range(opts.clients)]
    wall, _ = run_clients("populate", url, specs)
    populate_runs_s = per * opts.clients / wall
    analyze(opts.backend_uri)
    _wall, lat = run_clients(
        "search", url, [{"experiment_id": exp, "duration": opts.duration}] * opts.clients
    )
    return {
        "populate_runs_s": populate_runs_s,
        "search_rps": len(lat) / opts.duration,
        "search_p50_ms": percentile(lat, 0.50) * 1000,
        "search_p99_ms": percentile(lat, 0.99) * 1000,
    }


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
            with open(src, "rb") as f:
                t = time.perf_counter()
                resp = pool.request(
                    "PUT",
                    url + path,
                    body=f,
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


WORKLOADS = {"log_batch": workload_log_batch, "search": workload_search, "artifacts": workload_artifacts}
LABELS = {
    "log_batch_rps": ("runs/log-batch, {clients} clients", "req/s", True),
    "log_batch_points_s": ("  metric points logged", "points/s", True),
    "log_batch_p50_ms": ("  p50 latency", "ms", False),
    "log_batch_p99_ms": ("  p99 latency", "ms", False),
    "populate_runs_s": ("populate {runs} runs (create + log-batch)", "runs/s", True),
    "search_rps": ("runs/search over {runs} runs, {clients} clients", "req/s", True),
    "search_p50_ms": ("  p50 latency", "ms", False),
    "search_p99_ms": ("  p99 latency", "ms", False),
    "upload_mb_s": ("artifact upload {artifact_mib} MiB", "MB/s", True),
    "download_mb_s": ("artifact download {artifact_mib} MiB", "MB/s", True),
    "server_rss_growth_mb": ("  server memory growth", "MB", False),
}


def bar_for(key: str) -> tuple[str, Any]:
    """(bar text, check) for a figure; check gets (ours, ratio) and returns pass/fail."""
    if key in BARS:
        return f">={BARS[key]:g}x", lambda ours, ratio: ratio is not None and ratio >= BARS[key]
    if key.endswith("_p99_ms"):
        return "lower", lambda ours, ratio: ratio is not None and ratio > 1
    if key in ("upload_mb_s", "download_mb_s"):
        return f">={MIN_MB_S:g} MB/s", lambda ours, ratio: ours is not None and ours >= MIN_MB_S
    if key == "server_rss_growth_mb":
        return f"<{MAX_RSS_GROWTH_MB:g} MB", lambda ours, ratio: ours is not None and ours < MAX_RSS_GROWTH_MB
    return "", None


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
    parser.add_argument("--sides", default=",".join(SIDES))
    parser.add_argument("--client", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--spec", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.client:
        client_main(opts)
        return 0
    if opts.quick:
        opts.duration, opts.runs, opts.artifact_mib = 3.0, 400, 64
    sides = opts.sides.split(",")
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for turn, name in enumerate(opts.only or list(WORKLOADS)):
        results[name] = {}
        # which server goes first alternates from workload to workload, so neither always
        # meets the other's leftover page cache and CPU heat
        for side in sides if turn % 2 == 0 else sides[::-1]:
            print(f"[{name}] {side} server ...", file=sys.stderr, flush=True)
            try:
                with running_server(side, opts.backend, opts.workers) as (url, pid, backend):
                    opts.backend_uri = backend
                    results[name][side] = WORKLOADS[name](url, pid, opts)
            except Exception as exc:  # noqa: BLE001 - a failed side is reported, not fatal
                results[name][side] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            print(f"[{name}] {side}: {results[name][side]}", file=sys.stderr, flush=True)
    rows = []
    failed = False
    for name, by_side in results.items():
        keys = [k for k in LABELS if any(k in r for r in by_side.values())]
        for key in keys:
            label, unit, higher = LABELS[key]
            ours = by_side.get("tracklet", {}).get(key)
            theirs = by_side.get("mlflow", {}).get(key)
            ratio = None
            if ours and theirs:
                ratio = ours / theirs if higher else theirs / ours
            bar, check = bar_for(key)
            passed = None if check is None else check(ours, ratio)
            failed |= passed is False
            rows.append(
                [
                    label.format(**vars(opts)),
                    unit,
                    _fmt(ours),
                    _fmt(theirs),
                    "-" if ratio is None else f"{ratio:.1f}x",
                    bar,
                    {True: "pass", False: "FAIL", None: ""}[passed],
                ]
            )
        for side, r in by_side.items():
            if "error" in r:
                rows.append([f"{name}: {side} failed", "", "", "", "", "", r["error"][:80]])
    header = ["figure", "unit", "tracklet", "mlflow", "ratio", "bar", "result"]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(
        f"tracklet server vs mlflow server — backend {opts.backend}, --workers {opts.workers}, "
        f"{opts.clients} client processes, {opts.duration:g} s per load, {os.cpu_count()} CPUs"
    )
    for r in [header, *rows]:
        print(
            "  ".join(
                str(c).rjust(w) if 2 <= i <= 4 else str(c).ljust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            ).rstrip()
        )
    out = BENCH / "results" / f"{time.strftime('%Y%m%d-%H%M%S')}-server-{opts.backend}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "options": {k: v for k, v in vars(opts).items() if k not in ("client", "url", "spec")},
                "results": results,
                "versions": {
                    d: _version(d) for d in ("tracklet", "tracklet-http", "mlflow", "uvicorn", "starlette")
                },
                "machine": {
                    "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "load": os.getloadavg(),
                },
            },
            indent=2,
        )
    )
    print(f"(full results: {out.relative_to(BENCH.parent)})", file=sys.stderr)
    return 1 if failed else 0


def _fmt(value: float | None) -> str:
    if value is None:
        return "error"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
