"""``tracklet migrate`` of an MLflow database against reading it back through MLflow's client.

    python bench/migrate.py [--size small|full] [--repeat N] [--only migrate schema] [--rebuild]

Issue 17's bar: migrating 2,000 runs with 100,000 metric points and 1,000 small artifacts
from an MLflow sqlite database to tracklet's sqlite takes less time than reading the same
data back through MLflow's own client. Both in one run, alternating which goes first:

- ``migrate``: (tracklet) ``tracklet migrate sqlite:///…/mlflow.db sqlite:///…/tracklet.db``
  as a user runs it, the console script in a child process, into a fresh destination;
  (MLflow) ``bench/readback.py mlflow`` in a child process: every experiment, every run
  (search, then ``get_run``), every metric history, every artifact listed and downloaded.
  Whole processes are compared (the bar), and the work alone, without the interpreter's
  start and the tracker's import: MLflow's from inside its child, tracklet's from a second
  child that calls the same command in-process. Peak memory of each process (``wait4``).
  After each timed migration, untimed: ``tracklet migrate --verify`` must exit 0 and
  ``bench/readback.py tracklet`` must read the copy back with every count equal to the
  build's, or the repetition fails. One more in-process migration runs under cProfile
  (its top functions go to the result file).
- ``schema``: ``bench/mlflow_schema.py``: tracklet's client on the MLflow-made database
  (MLflow's schema, served as it is) against MLflow's client on the same file (a copy
  each): filtered + ordered ``search_runs``, paging, a 10,000-point history, ``log_batch``.

The MLflow database is built once by real MLflow (``bench/mlflow_db.py``) and cached under
``bench/.cache/`` by size and layout; each side of each repetition gets its own copy of the
database file in its own temporary folder (its working directory; also
``$XDG_CACHE_HOME``, so no migration journal outlives its repetition). The table goes to
stdout, progress to stderr, everything to ``bench/results/<time>-migrate-<size>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from mlflow_db import LAYOUT, SIZES  # noqa: E402  (bench/ is not a package)
from run import CHILD_ENV, advantage, describe_machine, render, side_order, verdict  # noqa: E402
from workloads import PEAK_MEMORY, Figure  # noqa: E402

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache"
BACKEND = "sqlite"
#: Where ``tracklet migrate`` writes, by ``--dest``: tracklet's sqlite schema (the bar's), or
#: its file store.
DESTINATIONS = {"sqlite": "sqlite:///{tmp}/tracklet.db", "file": "file://{tmp}/tracklet-store"}

FIGURES: dict[str, list[Figure]] = {
    "migrate": [
        Figure(
            "process_s", "tracklet migrate vs MLflow client read-back, whole process", "s", False, bar=1.0
        ),
        Figure("work_s", "the same, without interpreter start and import", "s", False),
    ],
    "schema": [
        Figure("first_search_ms", "MLflow's schema: search_runs filter+order, 100, first call", "ms", False),
        Figure("search_ms", "MLflow's schema: search_runs filter+order, 100 (median)", "ms", False),
        Figure("paging_ms", "MLflow's schema: page through all runs, 100/page", "ms", False),
        Figure(
            "history_ms", "MLflow's schema: get_metric_history, 10,000 points (small: 1,000)", "ms", False
        ),
        Figure("log_batch_points_s", "MLflow's schema: log_batch, 1,000 metrics/batch", "points/s", True),
    ],
}

#: In-process migration: the CLI's own entry point, timed after ``import tracklet.cli``
#: (optionally under cProfile, whose statistics go to the file named by PROFILE).
_IN_PROCESS = """
import json, os, sys, time
import tracklet.cli
profile = os.environ.get("BENCH_PROFILE")
if profile:
    import cProfile
    profiler = cProfile.Profile()
    profiler.enable()
start = time.perf_counter()
try:
    tracklet.cli.main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
else:
    code = 0
elapsed = time.perf_counter() - start
if profile:
    profiler.disable()
    profiler.dump_stats(profile)
print(json.dumps({"work_s": elapsed, "exit": code}))
"""


def ensure_database(size: str, rebuild: bool) -> tuple[Path, dict[str, Any]]:
    """The cached MLflow database of ``size`` (built by real MLflow if missing); its folder and manifest."""
    from importlib import metadata

    folder = CACHE / f"mlflow-{size}-layout{LAYOUT}-mlflow{metadata.version('mlflow')}"
    manifest = folder / "manifest.json"
    if manifest.exists() and not rebuild:
        return folder, json.loads(manifest.read_text())
    shutil.rmtree(folder, ignore_errors=True)  # no manifest: an interrupted build
    print(f"building the MLflow database ({size}) in {folder.relative_to(BENCH.parent)} …", file=sys.stderr)
    subprocess.run(
        [sys.executable, str(BENCH / "mlflow_db.py"), str(folder), "--size", size],
        env={**os.environ, **CHILD_ENV},
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return folder, json.loads(manifest.read_text())


def tracklet_command() -> list[str]:
    """The ``tracklet`` console script next to this interpreter (as a user runs it), else ``-m``."""
    script = Path(sys.executable).with_name("tracklet")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tracklet"]


def timed_process(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``command``; its wall time, exit status, output and peak resident memory (its own, by ``wait4``)."""
    out, err = cwd / f".out-{time.time_ns()}", cwd / f".err-{time.time_ns()}"
    environment = {**os.environ, **CHILD_ENV, "XDG_CACHE_HOME": str(cwd / "cache"), **(env or {})}
    with out.open("w") as stdout, err.open("w") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=cwd, env=environment, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "wall_s": elapsed,
        "exit": proc.returncode,
        "peak_rss_mb": usage.ru_maxrss / 1024,  # KiB on Linux
        "stdout": out.read_text(),
        "stderr": err.read_text(),
    }


def _last_json(text: str) -> dict[str, Any]:
    """The last line of a child's stdout, its result (a tracker may print before it)."""
    result: dict[str, Any] = json.loads(text.strip().splitlines()[-1])
    return result


def _failure(what: str, proc: dict[str, Any]) -> str:
    tail = (proc["stderr"].strip().splitlines() or proc["stdout"].strip().splitlines() or ["no output"])[-1]
    return f"{what} exited {proc['exit']}: {tail[:300]}"


@contextlib.contextmanager
def workspace(folder: Path, side: str) -> Iterator[tuple[Path, str]]:
    """A fresh temporary folder holding a copy of the MLflow database; its path and URI."""
    os.sync()  # the previous side's dirty pages must not be written back during this one
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-migrate-{side}-"))
    try:
        shutil.copyfile(folder / "mlflow.db", tmp / "mlflow.db")
        yield tmp, f"sqlite:///{tmp / 'mlflow.db'}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def migrate_tracklet(folder: Path, dest: str) -> dict[str, Any]:
    """One timed ``tracklet migrate`` into a fresh sqlite file, then its untimed checks and
    the in-process migration of another fresh copy."""
    with workspace(folder, "tracklet") as (tmp, source):
        target = DESTINATIONS[dest].format(tmp=tmp)
        proc = timed_process([*tracklet_command(), "migrate", source, target], tmp)
        if proc["exit"] != 0:
            return {"error": _failure("tracklet migrate", proc), "stderr": proc["stderr"][-4000:]}
        result = {"figures": {"process_s": proc["wall_s"]}, "peak_rss_mb": proc["peak_rss_mb"]}
        result["summary"] = proc["stdout"][-2000:] + proc["stderr"][-2000:]
        verify = timed_process([*tracklet_command(), "migrate", "--verify", source, target], tmp)
        result["verify_s"] = verify["wall_s"]
        if verify["exit"] != 0:
            return {
                **result,
                "error": _failure("tracklet migrate --verify", verify),
                "stderr": verify["stdout"][-4000:],
            }
        reread = timed_process(
            [
                sys.executable,
                str(BENCH / "readback.py"),
                "tracklet",
                target,
                "--expect",
                str(folder / "manifest.json"),
            ],
            tmp,
        )
        if reread["exit"] != 0:
            return {
                **result,
                "error": _failure("read-back of the copy", reread),
                "stderr": reread["stderr"][-4000:],
            }
        result["copy_read_s"] = _last_json(reread["stdout"])["read_s"]
    with workspace(folder, "tracklet") as (tmp, source):
        inner = timed_process(
            [sys.executable, "-c", _IN_PROCESS, "migrate", source, DESTINATIONS[dest].format(tmp=tmp)], tmp
        )
        if inner["exit"] != 0 or _last_json(inner["stdout"])["exit"] not in (0, None):
            return {
                **result,
                "error": _failure("in-process migrate", inner),
                "stderr": inner["stderr"][-4000:],
            }
        result["figures"]["work_s"] = _last_json(inner["stdout"])["work_s"]
    return result


def readback_mlflow(folder: Path) -> dict[str, Any]:
    """MLflow's client reading the whole database back, in a child process."""
    with workspace(folder, "mlflow") as (tmp, source):
        proc = timed_process(
            [
                sys.executable,
                str(BENCH / "readback.py"),
                "mlflow",
                source,
                "--expect",
                str(folder / "manifest.json"),
            ],
            tmp,
        )
    if proc["exit"] != 0:
        return {"error": _failure("MLflow read-back", proc), "stderr": proc["stderr"][-4000:]}
    read = _last_json(proc["stdout"])
    return {
        "figures": {"process_s": proc["wall_s"], "work_s": read["read_s"]},
        "peak_rss_mb": proc["peak_rss_mb"],
        "read": read,
    }


def schema_side(module: str, folder: Path) -> dict[str, Any]:
    """``bench/mlflow_schema.py`` for one tracker on its own copy of the MLflow database."""
    with workspace(folder, module) as (tmp, source):
        proc = timed_process(
            [
                sys.executable,
                str(BENCH / "mlflow_schema.py"),
                module,
                source,
                "--expect",
                str(folder / "manifest.json"),
            ],
            tmp,
        )
    if proc["exit"] != 0:
        return {"error": _failure(f"{module} on MLflow's schema", proc), "stderr": proc["stderr"][-4000:]}
    return {**_last_json(proc["stdout"]), "wall_s": proc["wall_s"]}


def profile_migration(folder: Path, dest: str, out: Path) -> dict[str, Any]:
    """One in-process migration under cProfile: the stats file and the top functions by cumulative time."""
    with workspace(folder, "profile") as (tmp, source):
        stats_file = tmp / "migrate.prof"
        proc = timed_process(
            [sys.executable, "-c", _IN_PROCESS, "migrate", source, DESTINATIONS[dest].format(tmp=tmp)],
            tmp,
            env={"BENCH_PROFILE": str(stats_file)},
        )
        if proc["exit"] != 0 or not stats_file.exists():
            return {"error": _failure("profiled migrate", proc)}
        shutil.copyfile(stats_file, out)
    text = io.StringIO()
    pstats.Stats(str(out), stream=text).sort_stats("cumulative").print_stats(30)
    return {"stats_file": str(out.relative_to(BENCH.parent)), "top_cumulative": text.getvalue()[-8000:]}


def _readback_side(folder: Path, dest: str) -> dict[str, Any]:
    return readback_mlflow(folder)


def _schema_tracklet(folder: Path, dest: str) -> dict[str, Any]:
    return schema_side("tracklet", folder)


def _schema_mlflow(folder: Path, dest: str) -> dict[str, Any]:
    return schema_side("mlflow", folder)


#: Each workload's two sides: (cached database folder, --dest) -> one repetition's outcome.
SIDES_OF: dict[str, dict[str, Callable[[Path, str], dict[str, Any]]]] = {
    "migrate": {"tracklet": migrate_tracklet, "mlflow": _readback_side},
    "schema": {"tracklet": _schema_tracklet, "mlflow": _schema_mlflow},
}


def combine(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """One side's repetitions: the median of each figure, the highest peak memory (failed: the error)."""
    failed = [o for o in outcomes if "error" in o]
    if failed:
        return {**failed[0], "repetitions": outcomes}
    keys = dict.fromkeys(k for o in outcomes for k in o["figures"])
    return {
        "figures": {
            k: statistics.median(o["figures"][k] for o in outcomes if k in o["figures"]) for k in keys
        },
        "peak_rss_mb": max(o["peak_rss_mb"] for o in outcomes),
        "repetitions": outcomes,
    }


def rows_of(workload: str, sides: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The table rows of one workload (the shape ``bench/run.py`` and ``readme_table.py`` use)."""
    rows = []
    for figure in [*FIGURES[workload], PEAK_MEMORY]:
        source = {s: r if figure is PEAK_MEMORY else r.get("figures", {}) for s, r in sides.items()}
        ours, theirs = source["tracklet"].get(figure.key), source["mlflow"].get(figure.key)
        ratio = None if ours is None or theirs is None else advantage(figure, ours, theirs)
        bar, passed = verdict(figure, BACKEND, ours, ratio)
        label = f"{workload}: {figure.label}" if figure is PEAK_MEMORY else figure.label
        rows.append(
            {
                "backend": BACKEND,
                "workload": workload,
                "figure": figure.key,
                "label": label,
                "unit": figure.unit,
                "tracklet": ours,
                "mlflow": theirs,
                "ratio": ratio,
                "bar": bar,
                "pass": passed,
            }
        )
    return rows


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="full", help="database size (default: full)")
    parser.add_argument(
        "--repeat", type=int, default=2, metavar="N", help="repetitions per side (default: 2)"
    )
    parser.add_argument(
        "--only", nargs="+", choices=list(FIGURES), metavar="NAME", help="migrate and/or schema"
    )
    parser.add_argument(
        "--rebuild", action="store_true", help="build the MLflow database again, not from the cache"
    )
    parser.add_argument(
        "--dest",
        choices=sorted(DESTINATIONS),
        default="sqlite",
        help="where tracklet migrate writes: tracklet's sqlite (default, the bar's) or its file store",
    )
    parser.add_argument("--no-profile", action="store_true", help="skip the profiled in-process migration")
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Build or reuse the database, run both comparisons, print the table, save the result."""
    args = parse_args(argv)
    load_before = os.getloadavg()
    folder, manifest = ensure_database(args.size, args.rebuild)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-migrate-{args.size}{'' if args.dest == 'sqlite' else '-' + args.dest}"
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    results: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    turn = 0
    for workload in args.only or list(FIGURES):
        outcomes: dict[str, list[dict[str, Any]]] = {"tracklet": [], "mlflow": []}
        for repetition in range(args.repeat):
            order = side_order(turn)
            turn += 1
            for position, side in enumerate(order):
                print(f"{workload:<8} {side:<9} #{repetition + 1}", end="", file=sys.stderr, flush=True)
                start = time.perf_counter()
                outcome = SIDES_OF[workload][side](folder, args.dest)
                status = f"error: {outcome['error']}" if "error" in outcome else "ok"
                print(f" {time.perf_counter() - start:6.1f} s  {status}", file=sys.stderr, flush=True)
                outcomes[side].append({**outcome, "ran_first": position == 0})
        results[workload] = {side: combine(o) for side, o in outcomes.items()}
        rows.extend(rows_of(workload, results[workload]))
    if "migrate" in (args.only or FIGURES) and not args.no_profile:
        print("profile  tracklet  in-process migrate under cProfile", file=sys.stderr, flush=True)
        results["profile"] = profile_migration(folder, args.dest, out / f"{name}.prof")
    load = ", ".join(f"{x:.1f}" for x in load_before)
    print(
        f"\nMLflow database: {manifest['runs']:,} runs in {manifest['experiments']} experiments, "
        f"{manifest['points']:,} metric points, {manifest['artifacts']:,} artifacts "
        f"({manifest['artifact_bytes'] / 1024:,.0f} KiB), {manifest['dataset_inputs']} dataset inputs; "
        f"size {args.size}; migrated to tracklet's {args.dest} store\nrepetitions: {args.repeat} (alternating which side runs first)   "
        f"cpus: {os.cpu_count()}   load average before: {load}\n\n{render(rows, [BACKEND])}"
    )
    tracklet = results.get("migrate", {}).get("tracklet", {})
    extra = [
        (k, [r[k] for r in tracklet.get("repetitions", []) if k in r]) for k in ("verify_s", "copy_read_s")
    ]
    for key, values in extra:
        if values:
            what = {
                "verify_s": "tracklet migrate --verify",
                "copy_read_s": "tracklet client reading the copy back",
            }[key]
            print(f"{what}: {statistics.median(values):.2f} s (median of {len(values)}; untimed check)")
    path = out / f"{name}.json"
    document = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "backends": [BACKEND],
        "size": args.size,
        "dest": args.dest,
        "repeat": args.repeat,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "manifest": manifest,
        "machine": {
            **describe_machine(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "rows": rows,
        "raw": results,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    print(f"\nsaved {path.relative_to(BENCH.parent)}")
    failed = any(
        "error" in side for per in results.values() for side in per.values() if isinstance(side, dict)
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
