"""One tracker's client on a database MLflow created (MLflow's own schema), timed.

    python bench/mlflow_schema.py MODULE TRACKING_URI --expect MANIFEST.json

``MODULE`` is ``mlflow`` or ``tracklet``; ``TRACKING_URI`` a copy of the database
``bench/mlflow_db.py`` built (each side gets its own copy, since ``log_batch`` writes).
tracklet serves MLflow's schema as it is (no DDL), so this is what a project gets with
``import tracklet as mlflow`` on its existing ``mlflow.db``. Figures, as in
``bench/workloads.py``:

- ``search_runs`` over every experiment, ``metrics.m1 > 0.5 and params.p1 = 'a'``,
  ordered by ``metrics.m2 DESC``, 100 results: its first call, then the median of 5;
- paging through every run, 100 per page (median of 3);
- ``get_metric_history`` of a 10,000-point ``loss`` history (median of 5);
- ``log_batch`` of 1,000 metrics with distinct keys into a new run, 20 calls (median call).

Every answer is checked against a full scan made first (untimed) or against the build's
manifest. Prints one JSON object: ``{"figures": {...}, "peak_rss_mb": float}``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workloads import _median_time, _timed  # noqa: E402  (bench/ is not a package)

SEARCH_FILTER = "metrics.m1 > 0.5 and params.p1 = 'a'"
ORDER_BY = ["metrics.m2 DESC"]


def _all_runs(client: Any, experiment_ids: list[str]) -> list[Any]:
    runs: list[Any] = []
    token = None
    while True:
        page = client.search_runs(experiment_ids, max_results=100, page_token=token)
        runs.extend(page)
        token = page.token
        if not token:
            return runs


def measure(module: str, uri: str, manifest: dict[str, Any]) -> dict[str, float]:
    """The four figures of ``module``'s client on the MLflow-made database at ``uri``."""
    tracker = importlib.import_module(module)
    entities = importlib.import_module(f"{module}.entities")
    client = tracker.MlflowClient(uri)
    experiment_ids = [e.experiment_id for e in client.search_experiments(max_results=1000)]
    runs = _all_runs(client, experiment_ids)  # untimed: the reference the answers are checked against
    if len(runs) != manifest["runs"]:
        raise AssertionError(f"found {len(runs)} runs, the build wrote {manifest['runs']}")
    matching = sum(r.data.params.get("p1") == "a" and r.data.metrics.get("m1", 0) > 0.5 for r in runs)
    long_run = next(r for r in runs if r.info.run_name == "run-0")
    long_points = manifest["size"]["points"] // 2 // manifest["size"]["long_histories"]

    def search() -> None:
        found = client.search_runs(experiment_ids, SEARCH_FILTER, order_by=ORDER_BY, max_results=100)
        m2 = [run.data.metrics["m2"] for run in found]
        if len(found) != min(100, matching) or m2 != sorted(m2, reverse=True):
            raise AssertionError(
                f"search_runs returned {len(found)} runs (expected {min(100, matching)}) or out of order"
            )
        if any(run.data.params["p1"] != "a" or run.data.metrics["m1"] <= 0.5 for run in found):
            raise AssertionError("search_runs returned a run its filter excludes")

    def page_all() -> None:
        if (seen := len(_all_runs(client, experiment_ids))) != len(runs):
            raise AssertionError(f"paging saw {seen} of {len(runs)} runs")

    def history() -> None:
        got = client.get_metric_history(long_run.info.run_id, "loss")
        if len(got) != long_points or [m.step for m in got[:3]] != [0, 1, 2]:
            raise AssertionError(f"history has {len(got)} of {long_points} points")

    _, first_search_s = _timed(search)
    figures = {
        "first_search_ms": 1000 * first_search_s,
        "search_ms": 1000 * _median_time(search, 5),
        "paging_ms": 1000 * _median_time(page_all, 3),
        "history_ms": 1000 * _median_time(history, 5),
    }
    rng = random.Random(5)
    run_id = client.create_run(experiment_ids[-1]).info.run_id
    times = []
    for step in range(20):
        now = int(time.time() * 1000)
        metrics = [entities.Metric(f"b{k}", rng.random(), now, step) for k in range(1000)]
        times.append(_timed(lambda: client.log_batch(run_id, metrics=metrics))[1])  # noqa: B023
    if len(client.get_metric_history(run_id, "b999")) != 20:
        raise AssertionError("log_batch lost points")
    figures["log_batch_points_s"] = 1000 / statistics.median(times)
    return figures


def main() -> int:
    """Measure the module named on the command line and print its figures and peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", choices=["tracklet", "mlflow"])
    parser.add_argument("uri")
    parser.add_argument("--expect", type=Path, required=True, help="the build's manifest.json")
    args = parser.parse_args()
    figures = measure(args.module, args.uri, json.loads(args.expect.read_text()))
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    print(json.dumps({"figures": figures, "peak_rss_mb": peak_kib / 1024}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
