"""The load-generating processes of bench/server.py: one process per client, one kind each.

    python bench/server_clients.py --client <kind> --url <server> --spec <json>

Raw HTTP kinds (urllib3, prebuilt bodies: the server's figures): ``log_batch``,
``search``, ``get_run``, ``get_history`` and ``populate`` (setup, not timed). Client
library kinds (the whole path a user pays: the library's request building, its HTTP
stack and the server): ``client_get_run``, ``client_get_history``, ``client_log_metric``,
through ``tracklet.MlflowClient(url)`` or ``mlflow.MlflowClient(url)`` as the spec's
``library`` says.

Every kind prepares (imports, connects, one untimed call), prints ``ready`` and waits for
a line on stdin (bench/server.py sends it to every client once all are ready, so all
start together however long the imports take on a busy machine), then repeats its
request for ``duration`` seconds. A non-2xx answer or an exception is counted
as an error (the first one's text is kept) and the loop goes on; only successful calls'
latencies are kept. The process prints one JSON line: ``latencies``, ``errors``,
``first_error`` and ``rss_mb`` (its own peak resident set, VmHWM: unlike ``ru_maxrss`` it
does not inherit the parent's peak across fork and exec).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from typing import Any

API = "/api/2.0/mlflow"
JSON = {"Content-Type": "application/json"}
HISTORY_POINTS = 1000


class Tally:
    """Latencies of the calls that worked, and the count and first text of those that did not."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.first_error: str | None = None
        self.cpu_s = 0.0

    def loop(self, spec: dict[str, Any], call: Callable[[int], str | None]) -> None:
        """Wait for the go, then repeat ``call(i)`` (None when it worked, else what went
        wrong) for ``duration`` seconds."""
        wait_for_go()
        cpu = time.process_time()
        end = time.perf_counter() + spec["duration"]
        i = 0
        while time.perf_counter() < end:
            t = time.perf_counter()
            try:
                problem = call(i)
            except Exception as exc:  # noqa: BLE001 - every failure is counted, the load goes on
                problem = f"{type(exc).__name__}: {str(exc)[:300]}"
            if problem is None:
                self.latencies.append(time.perf_counter() - t)
            else:
                self.errors += 1
                self.first_error = self.first_error or problem
            i += 1
        self.cpu_s = time.process_time() - cpu

    def report(self) -> dict[str, Any]:
        return {
            "latencies": self.latencies,
            "errors": self.errors,
            "first_error": self.first_error,
            "rss_mb": peak_rss_mb(),
            "cpu_s": self.cpu_s,
        }


def wait_for_go() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def peak_rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# -- raw HTTP ---------------------------------------------------------------------------------


def post(pool: Any, url: str, body: dict[str, Any]) -> dict[str, Any]:
    """One setup request; raises on anything but 200."""
    resp = pool.request("POST", url, body=json.dumps(body).encode(), headers=JSON, retries=False)
    if resp.status != 200:
        raise RuntimeError(f"{url}: {resp.status} {resp.data[:300]!r}")
    return json.loads(resp.data) if resp.data else {}


def problem_of(resp: Any) -> str | None:
    return None if 200 <= resp.status < 300 else f"HTTP {resp.status}: {resp.data[:300]!r}"


def log_batch_bodies(run_id: str) -> Callable[[int], bytes]:
    """Request ``i``'s body: 100 points with steps never sent before. The first 64 are
    prebuilt, so building JSON is not part of the figure for most of the load."""

    def body(i: int) -> bytes:
        now = int(time.time() * 1000)
        metrics = [
            {"key": f"m{k}", "value": 0.5 + k, "timestamp": now, "step": i * 100 + k} for k in range(100)
        ]
        return json.dumps({"run_id": run_id, "metrics": metrics}).encode()

    prebuilt = [body(i) for i in range(64)]
    return lambda i: prebuilt[i] if i < len(prebuilt) else body(i)


def raw_http(kind: str, url: str, spec: dict[str, Any], tally: Tally) -> None:
    import urllib3

    pool = urllib3.PoolManager(maxsize=2)
    if kind == "populate":
        populate(pool, url, spec, tally)
        return
    if kind == "log_batch":
        bodies = log_batch_bodies(spec["run_id"])

        def call(i: int) -> str | None:
            return problem_of(
                pool.request(
                    "POST", url + API + "/runs/log-batch", body=bodies(i), headers=JSON, retries=False
                )
            )

    elif kind == "search":
        body = json.dumps(
            {
                "experiment_ids": [spec["experiment_id"]],
                "filter": "metrics.loss < 0.5 and params.lr = '0.01'",
                "order_by": ["metrics.loss ASC"],
                "max_results": 100,
            }
        ).encode()

        def call(i: int) -> str | None:
            resp = pool.request("POST", url + API + "/runs/search", body=body, headers=JSON, retries=False)
            if i == 0 and resp.status == 200 and not json.loads(resp.data).get("runs"):
                return "search returned no runs: the populate step failed"
            return problem_of(resp)

    elif kind == "get_run":
        target = f"{url}{API}/runs/get?run_id={spec['run_id']}"

        def call(i: int) -> str | None:
            resp = pool.request("GET", target, retries=False)
            if i == 0 and resp.status == 200:
                got = len(json.loads(resp.data)["run"]["data"].get("metrics", []))
                if got != 10:
                    return f"runs/get answered {got} metrics, not 10"
            return problem_of(resp)

    elif kind == "get_history":
        target = f"{url}{API}/metrics/get-history?run_id={spec['history_run_id']}&metric_key=hist"

        def call(i: int) -> str | None:
            resp = pool.request("GET", target, retries=False)
            if i == 0 and resp.status == 200:
                got = len(json.loads(resp.data).get("metrics", []))
                if got != HISTORY_POINTS:
                    return f"metrics/get-history answered {got} points, not {HISTORY_POINTS}"
            return problem_of(resp)

    else:
        raise SystemExit(f"unknown client kind {kind!r}")
    tally.loop(spec, call)


def populate(pool: Any, url: str, spec: dict[str, Any], tally: Tally) -> None:
    """Setup: ``count`` runs, each with a param, two tags and two metrics."""
    now = int(time.time() * 1000)
    wait_for_go()
    for i in range(spec["first"], spec["first"] + spec["count"]):
        t = time.perf_counter()
        run = post(
            pool,
            url + API + "/runs/create",
            {"experiment_id": spec["experiment_id"], "start_time": now + i, "run_name": f"run-{i}"},
        )
        post(
            pool,
            url + API + "/runs/log-batch",
            {
                "run_id": run["run"]["info"]["run_id"],
                "params": [{"key": "lr", "value": "0.01" if i % 2 else "0.1"}],
                "tags": [{"key": "team", "value": f"t{i % 7}"}, {"key": "seed", "value": str(i)}],
                "metrics": [
                    {"key": "loss", "value": (i % 1000) / 1000, "timestamp": now, "step": 0},
                    {"key": "acc", "value": 1 - (i % 1000) / 1000, "timestamp": now, "step": 0},
                ],
            },
        )
        tally.latencies.append(time.perf_counter() - t)


# -- client libraries ---------------------------------------------------------------------------


def client_library(kind: str, url: str, spec: dict[str, Any], tally: Tally) -> None:
    """Import the library and build its client before ``start_at``, make one untimed call
    (the first call's connection and lazy imports are not part of the steady figure), then
    time the calls."""
    if spec["library"] == "tracklet":
        import tracklet

        client: Any = tracklet.MlflowClient(url)
    else:
        import mlflow

        client = mlflow.MlflowClient(url)
    if kind == "client_get_run":
        run_id = spec["run_id"]
        got = client.get_run(run_id).data
        if len(got.metrics) != 10 or len(got.params) != 10:
            raise RuntimeError(
                f"get_run: {len(got.metrics)} metrics and {len(got.params)} params, not 10 each"
            )

        def call(i: int) -> str | None:
            client.get_run(run_id)
            return None

    elif kind == "client_get_history":
        run_id = spec["history_run_id"]
        points = len(client.get_metric_history(run_id, "hist"))
        if points != HISTORY_POINTS:
            raise RuntimeError(f"get_metric_history: {points} points, not {HISTORY_POINTS}")

        def call(i: int) -> str | None:
            client.get_metric_history(run_id, "hist")
            return None

    elif kind == "client_log_metric":
        run_id = client.create_run(spec["experiment_id"]).info.run_id

        def call(i: int) -> str | None:
            client.log_metric(run_id, "loss", 1.0 / (i + 1), step=i)
            return None

    else:
        raise SystemExit(f"unknown client kind {kind!r}")
    tally.loop(spec, call)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--client", required=True)
    parser.add_argument("--url", required=True)
    parser.add_argument("--spec", required=True)
    opts = parser.parse_args()
    spec = json.loads(opts.spec)
    tally = Tally()
    if opts.client.startswith("client_"):
        client_library(opts.client, opts.url, spec, tally)
    else:
        raw_http(opts.client, opts.url, spec, tally)
    print(json.dumps(tally.report()))


if __name__ == "__main__":
    main()
