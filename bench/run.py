"""Run the same workloads on tracklet and on MLflow, and print them side by side.

    python bench/run.py [--backend file|sqlite] [--quick] [--only NAME ...]

Each workload runs once per tracker, each in its own child process and its own
fresh temporary folder (see ``bench/workloads.py``). The table goes to stdout,
progress to stderr, and the full result to ``bench/results/<time>-<backend>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workloads import FIGURES, Figure  # noqa: E402  (bench/ is not a package)

BENCH = Path(__file__).resolve().parent
SIDES = ("tracklet", "mlflow")
URIS = {"file": "file://{tmp}/mlruns", "sqlite": "sqlite:///{tmp}/bench.db"}
CHILD_ENV = {
    "MLFLOW_ALLOW_FILE_STORE": "true",  # MLflow 3.13+ refuses its file store without it
    "MLFLOW_DISABLE_TELEMETRY": "true",  # keep the network out of MLflow's figures
    "DO_NOT_TRACK": "true",
}


def run_side(module: str, workload: str, backend: str, scale: float) -> dict[str, Any]:
    """Run one workload for one tracker in a child process, in a fresh temporary folder."""
    # flush the previous workload's dirty pages, so their writeback does not land in this one's figures
    os.sync()
    tmp = tempfile.mkdtemp(prefix=f"bench-{module}-")
    command = [sys.executable, str(BENCH / "workloads.py"), module, workload,
               URIS[backend].format(tmp=tmp), "--scale", str(scale)]
    start = time.perf_counter()
    try:
        proc = subprocess.run(command, cwd=tmp, env={**os.environ, **CHILD_ENV},
                              capture_output=True, text=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.perf_counter() - start
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        error = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return {"error": error, "stderr": proc.stderr[-4000:], "wall_s": elapsed}
    # the last line is the result; a tracker may have printed something before it
    return {**json.loads(lines[-1]), "wall_s": elapsed}


def advantage(figure: Figure, ours: float, theirs: float) -> float:
    """How many times better tracklet is than MLflow on this figure (above 1 is better)."""
    if figure.higher_is_better:
        return ours / theirs if theirs else float("inf")
    return theirs / ours if ours else float("inf")


def verdict(figure: Figure, ours: float | None, ratio: float | None) -> tuple[str, bool | None]:
    """The bar's text and whether tracklet meets it (None when the figure has no bar)."""
    if figure.bar is not None:
        return f">={figure.bar:g}x", None if ratio is None else ratio >= figure.bar
    if figure.limit is not None:
        return f"<{figure.limit:g} {figure.unit}", None if ours is None else ours < figure.limit
    return "", None


def build_rows(workload: str, sides: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per figure of the workload, plus its peak memory on each side."""
    memory = Figure("peak_rss_mb", "peak RSS", "MB", False)
    rows = []
    for figure in [*FIGURES[workload], memory]:
        values: dict[str, float | None] = {}
        for side in SIDES:
            result = sides[side]
            source = result if figure is memory else result.get("figures", {})
            values[side] = source.get(figure.key)
        ours, theirs = values["tracklet"], values["mlflow"]
        ratio = None if ours is None or theirs is None else advantage(figure, ours, theirs)
        bar, passed = verdict(figure, ours, ratio)
        label = f"{workload}: {figure.label}" if figure is memory else figure.label
        rows.append({"workload": workload, "figure": figure.key, "label": label, "unit": figure.unit,
                     "tracklet": ours, "mlflow": theirs, "ratio": ratio, "bar": bar, "pass": passed})
    return rows


def fmt(value: float | None) -> str:
    """A number at a readable precision; "error" when a side failed."""
    if value is None:
        return "error"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def render(rows: list[dict[str, Any]]) -> str:
    """The side-by-side table as plain text."""
    header = ["workload", "unit", "tracklet", "mlflow", "ratio", "bar", "result"]
    body = [[r["label"], r["unit"], fmt(r["tracklet"]), fmt(r["mlflow"]),
             "-" if r["ratio"] is None else f"{r['ratio']:.1f}x", r["bar"],
             {True: "pass", False: "FAIL", None: ""}[r["pass"]]] for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    right = {2, 3, 4}  # numbers align right

    def line(cells: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, body)])


def describe_machine() -> dict[str, Any]:
    """Versions and hardware, so a result file can be compared with another."""
    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH, capture_output=True, text=True)
    return {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "mlflow": version("mlflow"), "tracklet": version("tracklet"),
            "tracklet_commit": git.stdout.strip() or None}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description="tracklet vs MLflow, side by side.")
    parser.add_argument("--backend", choices=sorted(URIS), default="file",
                        help="store both trackers use (default: file)")
    parser.add_argument("--quick", action="store_true", help="about 10x smaller sizes, for a smoke run")
    parser.add_argument("--only", nargs="+", choices=list(FIGURES), metavar="NAME",
                        help=f"run only these workloads: {', '.join(FIGURES)}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen workloads on both trackers; print the table and save the JSON result."""
    args = parse_args(argv)
    load_before = os.getloadavg()
    scale = 0.1 if args.quick else 1.0
    results: dict[str, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    for workload in args.only or list(FIGURES):
        results[workload] = {}
        for side in SIDES:
            print(f"{workload:<15} {side:<9}", end="", file=sys.stderr, flush=True)
            outcome = run_side(side, workload, args.backend, scale)
            results[workload][side] = outcome
            status = f"error: {outcome['error']}" if "error" in outcome else "ok"
            print(f" {outcome['wall_s']:6.1f} s  {status}", file=sys.stderr, flush=True)
        rows.extend(build_rows(workload, results[workload]))
    load = ", ".join(f"{x:.1f}" for x in load_before)
    print(f"\nbackend: {args.backend}{'  (quick)' if args.quick else ''}   "
          f"cpus: {os.cpu_count()}   load average before: {load}\n\n{render(rows)}")
    path = save(args, rows, results, load_before)
    print(f"\nsaved {path.relative_to(BENCH.parent)}")
    return 1 if any("error" in side for r in results.values() for side in r.values()) else 0


def save(args: argparse.Namespace, rows: list[dict[str, Any]], results: dict[str, Any],
         load_before: tuple[float, float, float]) -> Path:
    """Write the result file under bench/results/ and return its path."""
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out / f"{stamp}-{args.backend}{'-quick' if args.quick else ''}.json"
    document = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "backend": args.backend, "quick": args.quick,
                "machine": {**describe_machine(), "load_average_before": load_before},
                "rows": rows, "raw": results}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


if __name__ == "__main__":
    sys.exit(main())
