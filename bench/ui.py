"""The web UI in headless Chromium: tracklet's UI on ``tracklet server`` against MLflow's UI
on ``mlflow server``, each over its own sqlite database holding the same data.

    python bench/ui.py [--quick] [--runs 10000] [--points 1000000] [--repeat 3]

Data (each side logs it with its own client, in-process on its own sqlite file, before
its server starts): ``--runs`` runs (``run-00000`` ...) in one experiment, each with 20
params (``p0``..``p19``) and 10 metrics (``m0``..``m9``) in one ``log_batch``; and one run
in a second experiment with a ``--points``-point ``series`` history (tracklet: its client's
``log_batch``; MLflow: rows written straight into its ``metrics`` table, which is what its
``log_batch`` ends in, to keep the set-up under an hour).

Figures, measured in the page (``performance.now()``, whose zero is the navigation's start,
read at the first animation frame where the looked-for content is in the DOM):

* ``first_page_ms``: navigation to the experiment's runs page until the newest run's
  name is in the table (tracklet: ``/ui/#/experiments/<id>``; MLflow:
  ``/#/experiments/<id>/runs``).
* ``filtered_sorted_ms``: on the loaded page (sorted by ``m1`` ascending through the
  address), the filter ``params.p3 = 'v3-7' and metrics.m2 > 0.5`` typed into the search
  box and Enter pressed, until the first run of that answer (asked of the API beforehand)
  is in the table and the unfiltered first run is gone.
* ``chart_ms``: navigation to a chart of the ``series`` history until it is drawn
  (tracklet: ``/ui/#/metric/series?runs=[...]``, a uPlot canvas; MLflow: the run page's
  model-metrics tab, a Plotly line).

Each figure is the median of ``--repeat`` measurements after one warm-up, each in a fresh
browser context. Bars (the issue's, on tracklet): first page <= 1 s, filtered+sorted
<= 0.5 s, chart <= 1.5 s. Results: a table on stdout (ratios MLflow/tracklet) and
``bench/results/<time>-ui[-quick].json``. A side whose page never shows the content within
the timeout gets ``null`` and the reason.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
FILTER = "params.p3 = 'v3-7' and metrics.m2 > 0.5"
BARS_MS = {"first_page_ms": 1000.0, "filtered_sorted_ms": 500.0, "chart_ms": 1500.0}
SERVER_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    "PYTHONUNBUFFERED": "1",
}
TIMEOUT_MS = 120_000

# --- data --------------------------------------------------------------------------------

POPULATE = r"""
import json, random, sys, time
side, uri, runs, points = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if side == "tracklet":
    import tracklet as lib
else:
    import mlflow as lib
from_entities = lib.entities
client = lib.MlflowClient(tracking_uri=uri)
exp = client.create_experiment("bench-runs")
rng = random.Random(42)
t0 = int(time.time() * 1000) - runs * 1000 - 60_000
for i in range(runs):
    run = client.create_run(exp, start_time=t0 + i * 1000, run_name=f"run-{i:05d}")
    rid = run.info.run_id
    params = [from_entities.Param(f"p{j}", f"v{j}-{(i * 7 + j) % 10}") for j in range(20)]
    metrics = [from_entities.Metric(f"m{j}", rng.random(), t0 + i * 1000, 0) for j in range(10)]
    client.log_batch(rid, metrics=metrics, params=params)
    client.set_terminated(rid, "FINISHED", end_time=t0 + i * 1000 + 500)
hexp = client.create_experiment("bench-history")
hrun = client.create_run(hexp, run_name="long-history").info.run_id
if side == "tracklet":
    for start in range(0, points, 1000):
        batch = [from_entities.Metric("series", float(((s * 7919) % 1000) / 1000.0), t0 + s, s)
                 for s in range(start, min(points, start + 1000))]
        client.log_batch(hrun, metrics=batch)
else:  # straight into MLflow's tables (what its log_batch writes), see the module docstring
    import sqlite3
    db = sqlite3.connect(uri.replace("sqlite:///", "", 1))
    rows = [("series", float(((s * 7919) % 1000) / 1000.0), t0 + s, hrun, s, 0) for s in range(points)]
    db.executemany("INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) VALUES (?,?,?,?,?,?)", rows)
    last = rows[-1]
    db.execute("INSERT OR REPLACE INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid)"
               " VALUES (?,?,?,?,?,?)", (last[0], last[1], last[2], last[4], 0, hrun))
    db.commit()
print(json.dumps({"experiment": exp, "history_experiment": hexp, "history_run": hrun}))
"""


def populate(side: str, uri: str, runs: int, points: int, cwd: str) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", POPULATE, side, uri, str(runs), str(points)],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, **SERVER_ENV},
    )
    if done.returncode != 0:
        raise RuntimeError(f"populating {side} failed:\n{done.stderr[-4000:]}")
    ids: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    ids["populate_s"] = round(time.perf_counter() - started, 1)
    return ids


# --- servers -----------------------------------------------------------------------------


def start(side: str, uri: str, root: Path) -> Any:
    from tracklet_http.testing import free_port, mlflow_server_args, start_server, tracklet_server_args

    port = free_port()
    make = tracklet_server_args if side == "tracklet" else mlflow_server_args
    args = make(port, uri, str(root / "artifacts"), "--workers", "1")
    return start_server(args, port, root / "server.log", {**SERVER_ENV})


def api_first_run(url: str, experiment: str, side: str, flt: str, order: str) -> str:
    import urllib.request

    body = json.dumps(
        {"experiment_ids": [experiment], "filter": flt, "order_by": [order], "max_results": 1}
    ).encode()
    req = urllib.request.Request(
        f"{url}/api/2.0/mlflow/runs/search", body, {"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=120) as resp:
        return str(json.loads(resp.read())["runs"][0]["info"]["run_name"])


# --- measurements ------------------------------------------------------------------------

SEEN = """([present, absent]) => {
  const text = document.body ? document.body.textContent : "";
  return text.includes(present) && (!absent || !text.includes(absent)) ? performance.now() : false;
}"""


def _time_navigation(browser: Any, url: str, js_ready: str, arg: Any) -> float:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(url, wait_until="commit", timeout=TIMEOUT_MS)
        handle = page.wait_for_function(js_ready, arg=arg, polling="raf", timeout=TIMEOUT_MS)
        return float(handle.json_value())
    finally:
        context.close()


def _time_filter(browser: Any, url: str, side: str, first: str, expected: str) -> float:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        page.goto(url, timeout=TIMEOUT_MS)
        page.wait_for_function(SEEN, arg=[first, None], polling="raf", timeout=TIMEOUT_MS)
        box = (
            page.get_by_label("Filter runs")
            if side == "tracklet"
            else page.get_by_placeholder("metrics.rmse < 1", exact=False)
        )
        box.fill(FILTER)
        start = page.evaluate("() => performance.now()")
        box.press("Enter")
        handle = page.wait_for_function(SEEN, arg=[expected, first], polling="raf", timeout=TIMEOUT_MS)
        return float(handle.json_value()) - float(start)
    finally:
        context.close()


CHART_READY = {
    "tracklet": """() => document.querySelector(".uplot canvas, main canvas") ? performance.now() : false""",
    "mlflow": """() => document.querySelector(".js-plotly-plot .scatterlayer path.js-line")
        ? performance.now() : false""",
}


def measure(side: str, url: str, ids: dict[str, Any], browser: Any, repeat: int, runs: int) -> dict[str, Any]:
    exp, hexp, hrun = ids["experiment"], ids["history_experiment"], ids["history_run"]
    newest = f"run-{runs - 1:05d}"
    order = "metrics.m1 ASC"
    sorted_first = api_first_run(url, exp, side, "", order)
    expected = api_first_run(url, exp, side, FILTER, order)
    if side == "tracklet":
        runs_url = f"{url}/ui/#/experiments/{exp}"
        sorted_url = f"{url}/ui/#/experiments/{exp}?order_by={order.replace(' ', '%20')}"
        chart_url = f"{url}/ui/#/metric/series?runs={json.dumps([hrun])}&experiments={json.dumps([hexp])}"
    else:
        runs_url = f"{url}/#/experiments/{exp}/runs?workflowType=machine_learning"
        sorted_url = f"{runs_url}&orderByKey=metrics.%60m1%60&orderByAsc=true"
        chart_url = f"{url}/#/experiments/{hexp}/runs/{hrun}/model-metrics"
    tasks = {
        "first_page_ms": lambda: _time_navigation(browser, runs_url, SEEN, [newest, None]),
        "filtered_sorted_ms": lambda: _time_filter(browser, sorted_url, side, sorted_first, expected),
        "chart_ms": lambda: _time_navigation(browser, chart_url, CHART_READY[side], None),
    }
    out: dict[str, Any] = {"samples": {}, "errors": {}}
    for name, task in tasks.items():
        samples: list[float] = []
        try:
            task()  # warm-up: caches, the bundle's first parse
            for _ in range(repeat):
                samples.append(round(task(), 1))
        except Exception as err:  # noqa: BLE001 - a missing page is a figure too: reported
            out["errors"][name] = f"{type(err).__name__}: {str(err).splitlines()[0][:300]}"
        out["samples"][name] = samples
        out[name] = round(statistics.median(samples), 1) if samples else None
        print(f"  {side} {name}: {out[name]} ms {samples} {out['errors'].get(name, '')}", file=sys.stderr)
    return out


# --- main --------------------------------------------------------------------------------


def run_side(side: str, opts: argparse.Namespace, browser: Any) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"bench-ui-{side}-") as tmp:
        root = Path(tmp)
        uri = f"sqlite:///{root / 'db.sqlite'}"
        print(f"{side}: populating {opts.runs} runs, {opts.points} points ...", file=sys.stderr)
        ids = populate(side, uri, opts.runs, opts.points, tmp)
        print(f"{side}: populated in {ids['populate_s']} s; starting the server", file=sys.stderr)
        server = start(side, uri, root)
        try:
            result = measure(side, server.url, ids, browser, opts.repeat, opts.runs)
        finally:
            server.stop()
        result["populate_s"] = ids["populate_s"]
        return result


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 runs, 100,000 points, 2 repeats")
    parser.add_argument("--runs", type=int, default=None)
    parser.add_argument("--points", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=None)
    parser.add_argument("--only", choices=["tracklet", "mlflow"], default=None)
    parser.add_argument("--chromium", default=os.environ.get("TRACKLET_TEST_CHROMIUM", "/usr/bin/chromium"))
    opts = parser.parse_args()
    opts.runs = opts.runs or (1000 if opts.quick else 10_000)
    opts.points = opts.points or (100_000 if opts.quick else 1_000_000)
    opts.repeat = opts.repeat or (2 if opts.quick else 3)

    from playwright.sync_api import sync_playwright

    results: dict[str, Any] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=opts.chromium, headless=True)
        for side in ("tracklet", "mlflow"):
            if opts.only in (None, side):
                results[side] = run_side(side, opts, browser)
        chromium = browser.version
        browser.close()

    print(f"\nweb UI, {opts.runs} runs x 20 params x 10 metrics, {opts.points}-point chart (ms, median)")
    print(f"{'figure':<22}{'tracklet':>10}{'mlflow':>10}{'ratio':>8}  bar")
    for name, bar in BARS_MS.items():
        t = results.get("tracklet", {}).get(name)
        m = results.get("mlflow", {}).get(name)
        ratio = f"{m / t:.1f}x" if t and m else "-"
        verdict = "-" if t is None else ("ok" if t <= bar else "FAIL")
        print(
            f"{name:<22}{t if t is not None else '-':>10}{m if m is not None else '-':>10}{ratio:>8}  "
            f"<= {bar:.0f} {verdict}"
        )
    (BENCH / "results").mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = BENCH / "results" / f"{stamp}-ui{'-quick' if opts.quick else ''}.json"
    out.write_text(
        json.dumps(
            {
                "options": vars(opts),
                "results": results,
                "bars_ms": BARS_MS,
                "chromium": chromium,
                "versions": {
                    d: _version(d)
                    for d in ("tracklet", "tracklet-ui", "tracklet-http", "mlflow", "playwright")
                },
                "cpus": os.cpu_count(),
                "load_avg": os.getloadavg(),
                "python": platform.python_version(),
            },
            indent=2,
        )
    )
    print(f"results: {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
