"""Benchmark workloads, run in a child process against ``tracklet`` or ``mlflow``.

The same code drives both sides: ``module`` is the name of the package whose
``MlflowClient`` and ``entities`` are used. Nothing heavy is imported at module
level, so ``bench/run.py`` can read the figure specs below without loading either
tracker.

Child usage (``bench/run.py`` does this for you, in a fresh temporary folder)::

    python bench/workloads.py MODULE WORKLOAD TRACKING_URI [--scale 0.1]

It prints one JSON object: ``{"figures": {key: value}, "peak_rss_mb": float}``.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any


@dataclass(frozen=True)
class Figure:
    """One reported number: how to label it, which way is better, and its bar if any."""

    key: str
    label: str
    unit: str
    higher_is_better: bool
    bar: float | None = None  # minimum tracklet advantage (ratio), e.g. 5.0 for "≥5x"
    limit: float | None = None  # absolute ceiling for tracklet's own value (lower is better)
    sql_bar: float | None = None  # the bar on the SQL backends (sqlite, postgresql), if it differs
    at_most: float | None = None  # absolute ceiling for tracklet's own value, inclusive (e.g. <=5 µs)
    at_least: float | None = None  # absolute floor for tracklet's own value, inclusive
    at_least_on: tuple[str, ...] | None = None  # the backends the floor applies on (None: every one)

    def bar_on(self, backend: str) -> float | None:
        """The minimum advantage this figure must show on ``backend`` (None: no ratio bar)."""
        if backend != "file" and self.sql_bar is not None:
            return self.sql_bar
        return self.bar

    def floor_on(self, backend: str) -> float | None:
        """The least value tracklet's figure must reach on ``backend`` (None: no floor there)."""
        if self.at_least_on is not None and backend not in self.at_least_on:
            return None
        return self.at_least


#: Peak resident memory of a workload's child: tracklet's must be no higher than MLflow's
#: (an advantage of at least 1x), on every backend.
PEAK_MEMORY = Figure("peak_rss_mb", "peak RSS", "MB", False, bar=1.0)


FIGURES: dict[str, list[Figure]] = {
    # the file-store issue asks 5x for single calls; the SQL issue (#3) asks 10x on sqlite/PostgreSQL
    "log_metric": [Figure("calls_per_s", "log_metric, single calls", "calls/s", True, bar=5.0, sql_bar=10.0)],
    "log_batch": [Figure("points_per_s", "log_batch, 1,000 metrics/batch", "points/s", True, bar=10.0)],
    "populate": [
        Figure("populate_s", "create runs + 1 log_batch each", "s", False),
        Figure("search_ms", "search_runs filter+order, 100 (median)", "ms", False, bar=10.0),
        Figure("search_cold_ms", "search_runs, first call after populating", "ms", False),
        Figure("search_fresh_ms", "search_runs, first call in a new process", "ms", False),
        Figure("search_process_ms", "new process: import + client + first search", "ms", False),
        Figure("paging_ms", "page through all runs, 100/page", "ms", False, sql_bar=10.0),
    ],
    "metric_history": [
        Figure("log_points_per_s", "log history in batches of 1,000", "points/s", True),
        Figure("history_ms", "get_metric_history", "ms", False, bar=5.0),
    ],
    "artifacts": [
        Figure("log_artifacts_ms", "log_artifacts, 1 KiB files", "ms", False),
        Figure("list_ms", "list_artifacts", "ms", False),
        Figure("download_ms", "download_artifacts", "ms", False),
    ],
    # the model registry (issue 14): no bars set, reported as ratios like the rest
    "registry": [
        Figure("create_one_per_s", "create_model_version, 1,000 on one model", "versions/s", True),
        Figure("create_across_per_s", "create_model_version, 1,000 across 100 models", "versions/s", True),
        Figure("search_tag_ms", "search_model_versions name+tag filter, of 10,000", "ms", False),
        Figure("search_run_ms", "search_model_versions run_id IN (2 runs), 100", "ms", False),
        Figure("latest_ms", "get_latest_versions, model of 1,000 versions", "ms", False),
        Figure("get_model_ms", "get_registered_model, model of 1,000 versions", "ms", False),
        Figure("paging_models_ms", "page through 100 registered models, 10/page", "ms", False),
    ],
    # traces (issue 15): the caller's cost per span of @trace, and a filtered search of 10,000
    "traces": [
        Figure("span_overhead_us", "@trace on a no-op, caller's cost per span", "µs", False, bar=5.0),
        Figure("span_durable_us", "@trace, per span until exported (flush)", "µs", False),
        Figure(
            "search_traces_ms", "search_traces tag filter, 100 of 10,000, with spans", "ms", False, bar=10.0
        ),
        Figure("search_infos_ms", "search_traces tag filter, 100 of 10,000, no spans", "ms", False, bar=10.0),
    ],
    # async logging (issue 16): the caller's cost per log_metric(..., synchronous=False), client
    # and fluent, <=5 µs and >=25x below MLflow's; the rate until the points are in the store
    # (flush_async_logging returned), >=100,000 points/s on sqlite. Three stores: the tracking
    # URI of the backend, a sqlite file with TRACKLET_ASYNC_SPOOL on, and a server of each side
    # on its own sqlite (tracklet's spool is on by default for http:// URIs).
    "async_log": [
        *(
            figure
            for prefix, where in (
                ("store", ""),
                ("spool", "sqlite + TRACKLET_ASYNC_SPOOL: "),
                ("server", "server (sqlite): "),
            )
            for figure in (
                Figure(
                    f"{prefix}_client_us",
                    f"{where}client.log_metric(synchronous=False), caller cost",
                    "µs",
                    False,
                    bar=25.0,
                    at_most=5.0,
                ),
                Figure(
                    f"{prefix}_fluent_us",
                    f"{where}fluent log_metric(synchronous=False), caller cost",
                    "µs",
                    False,
                    bar=25.0,
                    at_most=5.0,
                ),
                Figure(
                    f"{prefix}_durable_points_s",
                    f"{where}client async, points/s until flushed to the store",
                    "points/s",
                    True,
                    at_least=100_000.0 if prefix == "store" else None,
                    at_least_on=("sqlite",),
                ),
            )
        ),
    ],
    "import": [
        Figure("import_ms", "import (fresh interpreter, median)", "ms", False, limit=150.0),
        Figure("first_call_ms", "import + client + search_experiments", "ms", False),
        Figure("bare_ms", "python -c pass (reference)", "ms", False),
    ],
}


class Tracker:
    """The client and entity classes of one tracker package, plus a clock."""

    def __init__(self, module: str, uri: str) -> None:
        self.name = module
        self.uri = uri
        self.module = importlib.import_module(module)
        entities: ModuleType = importlib.import_module(f"{module}.entities")
        self.Metric = entities.Metric
        self.Param = entities.Param
        self.RunTag = entities.RunTag
        self.client: Any = self.module.MlflowClient(uri)
        self.experiment_id: str = self.client.create_experiment(f"bench-{time.time_ns()}")

    def new_run(self) -> str:
        """Create a run in the benchmark experiment and return its id."""
        return str(self.client.create_run(self.experiment_id).info.run_id)

    def metrics(self, keys_steps: list[tuple[str, int]], rng: random.Random) -> list[Any]:
        """Build Metric entities with random values and the current timestamp."""
        now = int(time.time() * 1000)
        return [self.Metric(key, rng.random(), now, step) for key, step in keys_steps]


def _scaled(n: int, scale: float, floor: int = 1) -> int:
    return max(floor, int(n * scale))


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    """``fn()``'s result and its wall time in seconds."""
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def _median_time(fn: Callable[[], object], repeats: int, budget_s: float = 20.0) -> float:
    """Median wall time of up to ``repeats`` calls of ``fn``, in seconds.

    Stops early once ``budget_s`` is spent (after at least one call): a slow side's
    figure is then the median of fewer, long calls, where repeats matter less.
    """
    times: list[float] = []
    while len(times) < repeats and sum(times) < budget_s:
        times.append(_timed(fn)[1])
    return statistics.median(times)


def log_metric(t: Tracker, scale: float) -> dict[str, float]:
    """Single ``log_metric`` calls into a fresh run; median rate of 5 rounds."""
    calls = _scaled(3000, scale, 10)
    rng = random.Random(1)

    def one_round() -> None:
        run_id = t.new_run()
        for i in range(calls):
            t.client.log_metric(run_id, "m", rng.random(), step=i)

    return {"calls_per_s": calls / _median_time(one_round, 5)}


def log_batch(t: Tracker, scale: float) -> dict[str, float]:
    """``log_batch`` of 1,000 distinct keys per call, one new step per call; median rate."""
    batches = _scaled(20, scale, 3)
    rng = random.Random(2)
    run_id = t.new_run()
    times = []
    for step in range(batches):
        metrics = t.metrics([(f"m{k}", step) for k in range(1000)], rng)
        times.append(_timed(functools.partial(t.client.log_batch, run_id, metrics=metrics))[1])
    return {"points_per_s": 1000 / statistics.median(times)}


def _populate_runs(t: Tracker, runs: int) -> int:
    """Runs with 10 params (p1 'a' on even runs), 10 metrics and 3 tags, one log_batch each.

    Returns how many runs match the benchmark's filter (``metrics.m1 > 0.5 and params.p1 = 'a'``).
    """
    rng = random.Random(3)
    matching = 0
    for i in range(runs):
        run_id = t.new_run()
        params = [
            t.Param(f"p{k}", ("a" if i % 2 == 0 else "b") if k == 1 else str(rng.randint(0, 9)))
            for k in range(10)
        ]
        tags = [t.RunTag(f"t{k}", f"v{i % (k + 2)}") for k in range(3)]
        metrics = t.metrics([(f"m{k}", 0) for k in range(10)], rng)
        t.client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
        matching += i % 2 == 0 and metrics[1].value > 0.5
    return matching


SEARCH_FILTER = "metrics.m1 > 0.5 and params.p1 = 'a'"

#: A new interpreter's first search: prints the time of the search alone, in seconds.
_FRESH_SEARCH = """
import sys, time
import {module}
client = {module}.MlflowClient({uri!r})
start = time.perf_counter()
found = client.search_runs([{experiment_id!r}], {filter!r}, order_by=["metrics.m2 DESC"], max_results=100)
elapsed = time.perf_counter() - start
assert len(found) == {expected}, len(found)
print(elapsed)
"""


def _fresh_process_search(t: Tracker, expected: int, repeats: int = 3) -> tuple[float, float]:
    """Cold figures: a new interpreter imports the tracker, opens the store the workload
    filled and searches it once. Returns the medians of (the whole process, the search
    alone), in seconds."""
    code = _FRESH_SEARCH.format(
        module=t.name, uri=t.uri, experiment_id=t.experiment_id, filter=SEARCH_FILTER, expected=expected
    )
    process_s, search_s = [], []
    for _ in range(repeats):
        out, elapsed = _timed(
            lambda: subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
        )
        process_s.append(elapsed)
        search_s.append(float(out.stdout.strip().splitlines()[-1]))
    return statistics.median(process_s), statistics.median(search_s)


def populate(t: Tracker, scale: float) -> dict[str, float]:
    """Create runs, then time a filtered, ordered search (warm, first call, and first call
    of a new process) and a full paging pass."""
    runs = _scaled(2000, scale, 20)
    matching, populate_s = _timed(lambda: _populate_runs(t, runs))

    def search() -> list[Any]:
        return list(
            t.client.search_runs(
                [t.experiment_id],
                SEARCH_FILTER,
                order_by=["metrics.m2 DESC"],
                max_results=100,
            )
        )

    found, cold_s = _timed(search)
    if len(found) != min(100, matching):
        raise AssertionError(f"search_runs returned {len(found)} runs, expected {min(100, matching)}")
    m2 = [run.data.metrics["m2"] for run in found]
    if m2 != sorted(m2, reverse=True) or any(run.data.params["p1"] != "a" for run in found):
        raise AssertionError("search_runs returned runs out of order or not matching the filter")

    def page_all() -> None:
        seen, token = 0, None
        while True:
            page = t.client.search_runs([t.experiment_id], max_results=100, page_token=token)
            seen += len(page)
            token = page.token
            if not token:
                break
        if seen != runs:
            raise AssertionError(f"paging saw {seen} of {runs} runs")

    process_s, fresh_s = _fresh_process_search(t, len(found))
    return {
        "populate_s": populate_s,
        "search_ms": 1000 * _median_time(search, 5),
        "search_cold_ms": 1000 * cold_s,
        "search_fresh_ms": 1000 * fresh_s,
        "search_process_ms": 1000 * process_s,
        "paging_ms": 1000 * _median_time(page_all, 3),
    }


def metric_history(t: Tracker, scale: float) -> dict[str, float]:
    """Log one key's history in batches of 1,000 points, then read it back whole."""
    points = _scaled(100_000, scale, 1000)
    rng = random.Random(4)
    run_id = t.new_run()

    def log_all() -> None:
        for first in range(0, points, 1000):
            batch = t.metrics([("loss", step) for step in range(first, first + 1000)], rng)
            t.client.log_batch(run_id, metrics=batch)

    _, log_s = _timed(log_all)

    def read() -> None:
        got = len(t.client.get_metric_history(run_id, "loss"))
        if got != points:
            raise AssertionError(f"history has {got} of {points} points")

    return {"log_points_per_s": points / log_s, "history_ms": 1000 * _median_time(read, 3)}


def _artifact_round(t: Tracker, source: str, files: int) -> tuple[float, float, float]:
    """Log ``source`` into a fresh run, list it, download it: the three times in seconds."""
    run_id = t.new_run()
    _, log_s = _timed(lambda: t.client.log_artifacts(run_id, source, "data"))
    listed, list_s = _timed(lambda: t.client.list_artifacts(run_id, "data"))
    target = tempfile.mkdtemp(dir=os.getcwd())
    local, download_s = _timed(lambda: t.client.download_artifacts(run_id, "data", target))
    if len(listed) != files or len(os.listdir(local)) != files:
        raise AssertionError(f"listed {len(listed)}, downloaded {len(os.listdir(local))} of {files}")
    return log_s, list_s, download_s


def artifacts(t: Tracker, scale: float) -> dict[str, float]:
    """``log_artifacts`` of a folder of 1 KiB files, then list and download; median of 5 rounds."""
    files = _scaled(1000, scale, 10)
    source = tempfile.mkdtemp(dir=os.getcwd())  # the child's own temporary folder
    payload = os.urandom(1024)
    for i in range(files):
        with open(os.path.join(source, f"f{i:05d}.bin"), "wb") as fh:
            fh.write(payload)
    rounds = [_artifact_round(t, source, files) for _ in range(5)]
    log_s, list_s, download_s = (statistics.median(times) for times in zip(*rounds, strict=True))
    return {"log_artifacts_ms": 1000 * log_s, "list_ms": 1000 * list_s, "download_ms": 1000 * download_s}


def _interpreter_ms(code: str, repeats: int) -> float:
    """Median wall time of fresh ``python -c code`` interpreters, in milliseconds."""

    def once() -> None:
        subprocess.run([sys.executable, "-c", code], check=True)

    once()  # warm the OS file cache and compile any missing .pyc files
    return 1000 * _median_time(once, repeats)


def import_time(module: str, uri: str, scale: float) -> dict[str, float]:
    """Wall time of fresh interpreters: ``import MODULE``, a first client call, and bare.

    A first call that fails (no store for the URI's scheme) leaves its figure out.
    """
    repeats = _scaled(11, scale, 3)
    figures = {
        "import_ms": _interpreter_ms(f"import {module}", repeats),
        "bare_ms": _interpreter_ms("pass", repeats),
    }
    # tracklet imports lazily, so also time the first real call, which loads what it needs
    first_call = f"import {module}; {module}.MlflowClient({uri!r}).search_experiments()"
    try:
        figures["first_call_ms"] = _interpreter_ms(first_call, repeats)
    except subprocess.CalledProcessError:
        pass  # the child's traceback is already on stderr
    return figures


#: The registry workload's filters: versions of one model with one tag value, and the
#: versions made from two of the runs.
REGISTRY_TAG_FILTER = "name = 'm7' AND tags.stage = 'prod'"
REGISTRY_MODELS = 100
REGISTRY_RUNS = 10


def _create_versions(t: Tracker, names: list[str], runs: list[str], first: int) -> None:
    """One version per entry of ``names`` (model ``names[i]``), numbered from ``first``:
    made from run ``i % len(runs)``, tagged stage=prod on every tenth."""
    for i, name in enumerate(names, start=first):
        run_id = runs[i % len(runs)]
        t.client.create_model_version(
            name,
            f"s3://bench-bucket/models/{i}",
            run_id=run_id,
            tags={"stage": "prod" if i % 10 == 0 else "dev", "i": str(i)},
        )


def registry(t: Tracker, scale: float) -> dict[str, float]:
    """The model registry through the client, on the registry store of the tracking URI:
    versions created on one model and across 100 models, then (with 10,000 versions in
    all) filtered version searches, the latest versions and the model of 1,000 versions,
    and a paging pass over the registered models."""
    one = _scaled(1000, scale, 20)
    across = _scaled(1000, scale, 20)
    total = max(one + across, _scaled(10_000, scale, 200))
    runs = [t.new_run() for _ in range(REGISTRY_RUNS)]
    models = [f"m{k}" for k in range(REGISTRY_MODELS)]
    for name in models:
        t.client.create_registered_model(name, tags={"team": "bench"})
    spread = [models[1 + k % (REGISTRY_MODELS - 1)] for k in range(total - one)]
    _, one_s = _timed(lambda: _create_versions(t, ["m0"] * one, runs, 0))
    _, across_s = _timed(lambda: _create_versions(t, spread[:across], runs, one))
    _create_versions(t, spread[across:], runs, one + across)
    expected_tag = sum(1 for k, name in enumerate(spread) if name == "m7" and (one + k) % 10 == 0)
    expected_runs = sum(1 for i in range(total) if i % REGISTRY_RUNS in (0, 1))
    in_runs = ", ".join(f"'{r}'" for r in runs[:2])

    def search_tag() -> None:
        found = t.client.search_model_versions(REGISTRY_TAG_FILTER)
        if len(found) != expected_tag or any(v.tags.get("stage") != "prod" or v.name != "m7" for v in found):
            raise AssertionError(f"tag search found {len(found)} versions, expected {expected_tag}")

    def search_run() -> None:
        found = t.client.search_model_versions(f"run_id IN ({in_runs})", max_results=100)
        if len(found) != min(100, expected_runs) or any(v.run_id not in runs[:2] for v in found):
            raise AssertionError(
                f"run_id IN search found {len(found)} versions, expected {min(100, expected_runs)}"
            )

    def latest() -> None:
        found = t.client.get_latest_versions("m0")
        if [v.version for v in found] != [str(one)] and [v.version for v in found] != [one]:
            raise AssertionError(
                f"get_latest_versions answered {[v.version for v in found]}, expected [{one}]"
            )

    def get_model() -> None:
        model = t.client.get_registered_model("m0")
        if model.name != "m0" or model.tags.get("team") != "bench":
            raise AssertionError("get_registered_model answered another model")

    def page_models() -> None:
        seen, token = 0, None
        while True:
            page = t.client.search_registered_models(max_results=10, page_token=token)
            seen += len(page)
            token = page.token
            if not token:
                break
        if seen != REGISTRY_MODELS:
            raise AssertionError(f"paging saw {seen} of {REGISTRY_MODELS} registered models")

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # get_latest_versions is deprecated on both sides
        latest_s = _median_time(latest, 5)
    return {
        "create_one_per_s": one / one_s,
        "create_across_per_s": across / across_s,
        "search_tag_ms": 1000 * _median_time(search_tag, 5),
        "search_run_ms": 1000 * _median_time(search_run, 5),
        "latest_ms": 1000 * latest_s,
        "get_model_ms": 1000 * _median_time(get_model, 5),
        "paging_models_ms": 1000 * _median_time(page_models, 3),
    }


#: The traces workload: spans per trace (a root and its children), and the tag filter.
TRACE_CHILDREN = 9
TRACE_BUCKETS = 100


def traces(t: Tracker, scale: float) -> dict[str, float]:
    """Tracing through the fluent API, as a user's code pays it: a no-op root function that
    calls a no-op child nine times, both under ``@trace``, timed against the same functions
    undecorated (the difference is the caller's cost; the export happens in the background
    on both sides); then the time until every trace is exported (flush). Then the experiment
    is filled to 10,000 traces with three-span traces (a root and two children: MLflow exports
    some 100 spans/s to sqlite, so ten-span traces would take it a quarter of an hour) and a
    tag-filtered ``search_traces`` of 100 is timed, with and without their spans."""
    mod = t.module
    mod.set_tracking_uri(t.uri)
    mod.set_experiment(experiment_id=t.experiment_id)
    flush = getattr(mod, "flush_trace_async_logging", None)
    # 200 ten-span traces: MLflow's OpenTelemetry span queue holds 2,048 spans and drops the
    # rest, and the fill below flushes every 500 three-span traces for the same reason.
    timed_traces = _scaled(200, scale, 20)
    total = _scaled(10_000, scale, 200)

    def child_plain(x: int) -> int:
        return x

    def root_plain(x: int) -> int:
        for k in range(TRACE_CHILDREN):
            child_plain(k)
        return x

    @mod.trace
    def child(x: int) -> int:
        return x

    @mod.trace
    def root(x: int) -> int:
        mod.update_current_trace(tags={"bucket": str(x % TRACE_BUCKETS)})
        for k in range(TRACE_CHILDREN):
            child(k)
        return x

    @mod.trace(name="root")
    def small(x: int) -> int:
        mod.update_current_trace(tags={"bucket": str(x % TRACE_BUCKETS)})
        child(1)
        child(2)
        return x

    _, plain_s = _timed(lambda: [root_plain(i) for i in range(timed_traces)])
    _, traced_s = _timed(lambda: [root(i) for i in range(timed_traces)])
    _, flush_s = _timed(lambda: flush() if flush else None)
    spans = timed_traces * (TRACE_CHILDREN + 1)
    for i in range(timed_traces, total):
        small(i)
        if flush and i % 500 == 499:
            flush()
    if flush:
        flush()
    wanted = "tags.bucket = '7' AND status = 'OK'"
    expected = min(100, sum(1 for i in range(total) if i % TRACE_BUCKETS == 7))

    def search(include_spans: bool) -> Callable[[], None]:
        def run() -> None:
            found = t.client.search_traces(
                experiment_ids=[t.experiment_id],
                filter_string=wanted,
                max_results=100,
                include_spans=include_spans,
            )
            if len(found) != expected:
                raise AssertionError(f"search_traces found {len(found)} traces, expected {expected}")
            if include_spans and any(len(tr.data.spans) not in (3, TRACE_CHILDREN + 1) for tr in found):
                raise AssertionError("search_traces returned traces without all their spans")

        return run

    return {
        "span_overhead_us": 1e6 * (traced_s - plain_s) / spans,
        "span_durable_us": 1e6 * (traced_s - plain_s + flush_s) / spans,
        "search_traces_ms": 1000 * _median_time(search(True), 5),
        "search_infos_ms": 1000 * _median_time(search(False), 5),
    }


#: async_log: calls per timed loop at --scale 1. MLflow's async path drains some 226 points/s
#: on sqlite (issue 16), so it gets fewer calls (and a time budget per loop); every figure is
#: a rate or a cost per call, never a total, so the two sides compare.
ASYNC_CALLS = {"tracklet": 100_000, "mlflow": 2_000}
ASYNC_BUDGET_S = 30.0
#: calls between two looks at the clock in the timed loop (the look costs nothing per call)
ASYNC_CHUNK = 500


def _async_calls(call: Callable[[int, float], object], values: list[float]) -> tuple[int, float, float]:
    """``call(i, values[i])`` for every value, in chunks, until done or ``ASYNC_BUDGET_S`` is
    spent. Returns (calls made, seconds from the first call to the last one's return, CPU
    seconds of the calling thread in that time). The wall time is the figure; the thread's
    CPU time, which leaves out waiting for the GIL or a CPU while the tracker's worker or
    another process runs, goes to the result file as what the call itself costs."""
    n = len(values)
    start = time.perf_counter()
    cpu = time.thread_time()
    deadline = start + ASYNC_BUDGET_S
    done = 0
    while done < n:
        end = min(n, done + ASYNC_CHUNK)
        for i in range(done, end):
            call(i, values[i])
        done = end
        if time.perf_counter() > deadline:
            break
    return done, time.perf_counter() - start, time.thread_time() - cpu


def _check_history(client: Any, run_id: str, calls: int) -> None:
    """Fail loudly unless the run's history of ``m`` holds exactly steps 0 … calls-1."""
    history = client.get_metric_history(run_id, "m")
    steps = sorted(m.step for m in history)
    if steps != list(range(calls)):
        raise AssertionError(
            f"after flush_async_logging the store holds {len(history)} points of {calls} "
            f"({len(set(steps))} distinct steps): accepted async calls were lost or stored twice"
        )


def _drain_peak_mb() -> float:
    """The largest peak resident memory (``VmHWM``) of this process's living children that
    run ``tracklet.async_logging.drain`` (tracklet drains a spool in a separate process; the
    child's own peak memory leaves it out). 0 when there is none or no /proc."""
    peak = 0
    me = str(os.getpid())
    for pid in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/stat") as f:
                ppid = f.read().rsplit(")", 1)[1].split()[1]
            if ppid != me:
                continue
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"tracklet.async_logging.drain" not in f.read():
                    continue
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmHWM:"):
                        peak = max(peak, int(line.split()[1]))
        except (OSError, IndexError, ValueError):
            continue
    return peak / 1024


def _async_round(mod: ModuleType, uri: str, calls: int, rng: random.Random) -> dict[str, float]:
    """One store: a warm-up, then ``calls`` async client calls into a new run (timed, then
    flushed and checked), then the same through the fluent API inside ``start_run()``."""
    client = mod.MlflowClient(uri)
    experiment_id = client.create_experiment(f"bench-async-{time.time_ns()}")
    mod.set_tracking_uri(uri)
    # warm-up, untimed: the first async call starts each side's queue and worker thread
    warm = client.create_run(experiment_id).info.run_id
    for i in range(10):
        client.log_metric(warm, "w", float(i), step=i, synchronous=False)
    with mod.start_run(experiment_id=experiment_id):
        for i in range(10):
            mod.log_metric("w", float(i), step=i, synchronous=False)
    mod.flush_async_logging()

    values = [rng.random() for _ in range(calls)]
    run_id = client.create_run(experiment_id).info.run_id
    log = client.log_metric

    def client_call(i: int, value: float) -> None:
        log(run_id, "m", value, step=i, synchronous=False)

    start = time.perf_counter()
    done, caller_s, caller_cpu_s = _async_calls(client_call, values)
    mod.flush_async_logging()
    durable_s = time.perf_counter() - start
    client.set_terminated(run_id)
    _check_history(client, run_id, done)

    fluent_log = mod.log_metric

    def fluent_call(i: int, value: float) -> None:
        fluent_log("m", value, step=i, synchronous=False)

    with mod.start_run(experiment_id=experiment_id) as run:
        fluent_run = run.info.run_id
        start = time.perf_counter()
        fluent_done, fluent_s, fluent_cpu_s = _async_calls(fluent_call, values)
        mod.flush_async_logging()
        fluent_durable_s = time.perf_counter() - start
    _check_history(client, fluent_run, fluent_done)
    return {
        "drain_peak_rss_mb": _drain_peak_mb(),
        "client_us": 1e6 * caller_s / done,
        "fluent_us": 1e6 * fluent_s / fluent_done,
        "durable_points_s": done / durable_s,
        "fluent_durable_points_s": fluent_done / fluent_durable_s,
        "client_cpu_us": 1e6 * caller_cpu_s / done,
        "fluent_cpu_us": 1e6 * fluent_cpu_s / fluent_done,
        "points_stored": float(done),
        "fluent_points_stored": float(fluent_done),
    }


def async_log(t: Tracker, scale: float) -> dict[str, float]:
    """``log_metric(..., synchronous=False)`` as a training loop calls it, on three stores:
    the backend's tracking URI, a sqlite file with ``TRACKLET_ASYNC_SPOOL`` set (MLflow has no
    spool and ignores it), and a server of each side (``tracklet server`` / ``mlflow server``,
    on their own sqlite, one worker, a free loopback port; tracklet's spool is on by default
    for http:// URIs). Each: the caller's cost per call, client and fluent (the timed loop,
    without the flush), and the points/s from the first call until ``flush_async_logging()``
    returned; the run's history is then checked to hold every point exactly once."""
    from server import running_server  # bench/server.py: starts and stops both kinds of server

    calls = _scaled(ASYNC_CALLS[t.name], scale, 200)
    rng = random.Random(5)
    here = os.getcwd()  # the child's own temporary folder
    figures: dict[str, float] = {}

    def record(prefix: str, result: dict[str, float]) -> None:
        figures.update({f"{prefix}_{key}": value for key, value in result.items()})

    os.environ.pop("TRACKLET_ASYNC_SPOOL", None)
    record("store", _async_round(t.module, t.uri, calls, rng))
    os.environ["TRACKLET_ASYNC_SPOOL"] = os.path.join(here, "spool")
    try:
        record("spool", _async_round(t.module, f"sqlite:///{here}/spool.db", calls, rng))
    finally:
        os.environ.pop("TRACKLET_ASYNC_SPOOL")
    with running_server(t.name, "sqlite", 1) as (url, _pid, _backend):
        record("server", _async_round(t.module, url, calls, rng))
    return figures


WORKLOADS: dict[str, Callable[[Tracker, float], dict[str, float]]] = {
    "log_metric": log_metric,
    "log_batch": log_batch,
    "populate": populate,
    "metric_history": metric_history,
    "artifacts": artifacts,
    "registry": registry,
    "traces": traces,
    "async_log": async_log,
}


def run_child(module: str, workload: str, uri: str, scale: float) -> dict[str, Any]:
    """Run one workload in this process and return its figures and peak memory."""
    if workload == "import":
        figures = import_time(module, uri, scale)
        who = resource.RUSAGE_CHILDREN  # the largest of the interpreters it started
    else:
        if workload == "async_log":
            # tracklet's default spool directory ($XDG_CACHE_HOME/tracklet/spool, used for
            # http:// URIs) goes under the child's own temporary folder, not the user's cache
            os.environ["XDG_CACHE_HOME"] = os.path.join(os.getcwd(), "cache")
        figures = WORKLOADS[workload](Tracker(module, uri), scale)
        who = resource.RUSAGE_SELF  # includes the tracker's own import
    # ru_maxrss is in KiB on Linux, in bytes on macOS.
    peak = resource.getrusage(who).ru_maxrss
    peak_mb = peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024
    return {"figures": figures, "peak_rss_mb": peak_mb}


def main() -> None:
    """Child entry point: run one workload and print its result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("module", choices=["tracklet", "mlflow"])
    parser.add_argument("workload", choices=sorted(FIGURES))
    parser.add_argument("uri")
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    print(json.dumps(run_child(args.module, args.workload, args.uri, args.scale)))


if __name__ == "__main__":
    main()
