"""One tracker's side of the scaling run, in its own process (``bench/scaling.py`` starts it).

    python bench/scaling_child.py init MODULE TRACKING_URI
    python bench/scaling_child.py measure MODULE TRACKING_URI --expect FILE --ops OP[,OP...] [--budget-s S]

``init`` makes the store through the tracker's own client (its first call creates the
schema) and the experiments ``scaling`` and ``scaling-history``; it prints their ids and
artifact locations as JSON. ``measure`` runs the operations in order and prints one JSON
line as each starts (``{"start": op}``) and one as it ends (``{"op": op, ...figures}``),
so the parent can stop an operation that runs past its budget and keep what finished.

Operations (every answer is checked against ``--expect``, made by ``scaling_data.expected``):

- ``verify``: ``get_run`` of the sample runs, compared whole (params, tags, metrics);
- ``search_filtered``: ``metrics.m1 > 0.5 and params.p1 = 'a'`` ordered by ``metrics.m2
  DESC``, 100 results: first call, then the median of 5;
- ``search_ordered``: the same order with no filter, 100 results: first call, median of 5;
- ``paging``: every run of ``scaling``, 100 a page (default order), once; counts them. It
  stops after ``--budget-s`` and reports ms per page over the pages it read;
- ``history:N``: ``get_metric_history`` of the N-point ``loss`` history, median of 3;
- ``log_batch``: 1,000 metrics with distinct keys into a new run (in a third experiment,
  so the dataset's runs stay as built), 5 calls, each into its own run: the median call.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scaling_data import ORDER_BY, SEARCH_FILTER, history_run_id  # noqa: E402
from workloads import _median_time, _timed  # noqa: E402  (bench/ is not a package)

EXPERIMENTS = ("scaling", "scaling-history")


def _emit(obj: dict[str, Any]) -> None:
    print(json.dumps(obj), flush=True)


def _experiment(client: Any, name: str) -> dict[str, str]:
    found = client.get_experiment_by_name(name)
    if found is None:
        client.create_experiment(name)
        found = client.get_experiment_by_name(name)
    return {"id": str(found.experiment_id), "artifact_location": str(found.artifact_location)}


def init(module: str, uri: str) -> None:
    """Create the store and the experiments; print their ids and artifact locations."""
    client = importlib.import_module(module).MlflowClient(uri)
    _emit({name: _experiment(client, name) for name in EXPERIMENTS})


class Side:
    """A tracker's client on a built dataset, and the checks of its answers."""

    def __init__(self, module: str, uri: str, expect: dict[str, Any], budget_s: float) -> None:
        self.module = importlib.import_module(module)
        self.entities = importlib.import_module(f"{module}.entities")
        self.client = self.module.MlflowClient(uri)
        self.expect = expect
        self.budget_s = budget_s
        self.main = str(self.client.get_experiment_by_name("scaling").experiment_id)

    def _search(self, filter_string: str, expected_ids: list[str]) -> dict[str, float]:
        def once() -> list[Any]:
            return list(
                self.client.search_runs([self.main], filter_string, order_by=ORDER_BY, max_results=100)
            )

        found, first_s = _timed(once)
        got = [run.info.run_id for run in found]
        if got != expected_ids:
            raise AssertionError(
                f"search {filter_string!r} answered {got[:3]}..., expected {expected_ids[:3]}..."
            )
        return {"first_ms": 1000 * first_s, "ms": 1000 * _median_time(once, 5, budget_s=self.budget_s / 2)}

    def verify(self) -> dict[str, float]:
        for run_id, want in self.expect["samples"].items():
            data = self.client.get_run(run_id).data
            tags = {k: v for k, v in data.tags.items() if k in want["tags"]}
            if data.params != want["params"] or tags != want["tags"] or data.metrics != want["metrics"]:
                raise AssertionError(f"run {run_id} differs from the data written: {data}")
        return {"samples": float(len(self.expect["samples"]))}

    def search_filtered(self) -> dict[str, float]:
        return self._search(SEARCH_FILTER, self.expect["filtered_top"])

    def search_ordered(self) -> dict[str, float]:
        return self._search("", self.expect["ordered_top"])

    def paging(self) -> dict[str, float]:
        seen, pages, token = 0, 0, None
        start = time.perf_counter()
        while True:
            page = self.client.search_runs([self.main], max_results=100, page_token=token)
            seen += len(page)
            pages += 1
            token = page.token
            if not token or time.perf_counter() - start > self.budget_s:
                break
        elapsed = time.perf_counter() - start
        complete = not token
        if complete and seen != self.expect["runs"]:
            raise AssertionError(f"paging saw {seen} of {self.expect['runs']} runs")
        return {"ms_per_page": 1000 * elapsed / pages, "pages": float(pages), "complete": float(complete),
                "total_ms": 1000 * elapsed}  # fmt: skip

    def history(self, points: int) -> dict[str, float]:
        run_id = history_run_id(points)

        def read() -> None:
            got = len(self.client.get_metric_history(run_id, "loss"))
            if got != points:
                raise AssertionError(f"history has {got} of {points} points")

        return {"ms": 1000 * _median_time(read, 3, budget_s=self.budget_s / 2)}

    def log_batch(self) -> dict[str, float]:
        experiment = self.client.create_experiment(f"scaling-writes-{time.time_ns()}")
        rng = random.Random(5)
        times = []
        for _ in range(5):
            run_id = self.client.create_run(experiment).info.run_id
            now = int(time.time() * 1000)
            metrics = [self.entities.Metric(f"w{k}", rng.random(), now, 0) for k in range(1000)]
            times.append(_timed(lambda: self.client.log_batch(run_id, metrics=metrics))[1])  # noqa: B023
        return {"ms": 1000 * statistics.median(times)}

    def run(self, op: str) -> dict[str, float]:
        if op.startswith("history:"):
            return self.history(int(op.split(":", 1)[1]))
        figures: dict[str, float] = getattr(self, op)()
        return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["init", "measure"])
    parser.add_argument("module", choices=["tracklet", "mlflow"])
    parser.add_argument("uri")
    parser.add_argument("--expect", type=Path)
    parser.add_argument("--ops", default="")
    parser.add_argument("--budget-s", type=float, default=600.0)
    args = parser.parse_args()
    if args.command == "init":
        init(args.module, args.uri)
        return
    side = Side(args.module, args.uri, json.loads(args.expect.read_text()), args.budget_s)
    for op in filter(None, args.ops.split(",")):
        _emit({"start": op})
        _emit({"op": op, **side.run(op)})


if __name__ == "__main__":
    main()
