"""How tracklet's costs grow with the store, beside MLflow's, on the same data.

    python bench/scaling.py [--backend sqlite,postgresql,file] [--runs 2000,20000,200000]
        [--points 10000,100000,1000000] [--budget-s 600] [--only tracklet|mlflow]
        [--file-max-runs 20000] [--plot docs/images/scaling.png]

For each backend and each size of ``--runs``, one dataset is written straight into each
side's own schema (``bench/scaling_data.py``: each side's client makes its store, then the
rows go in by ``executemany`` / ``COPY`` / MLflow's file layout, one folder for both sides),
with the ``--points`` histories in the backend's largest dataset. Each side then runs
``bench/scaling_child.py`` in its own process: it checks sample runs and each search's
answer against the data, and times filtered and ordered search, paging, history reads
and ``log_batch`` (see that module for each figure). sqlite and file datasets are cached
in ``bench/.cache/scaling-...`` (a rerun skips building); PostgreSQL databases are made per
run and dropped after. No ANALYZE is run on either side (a freshly loaded store).

An operation that runs past ``--budget-s`` is stopped and marked "over budget"; paging
stops itself at the budget and reports ms per page over the pages it read. The file store
is built up to ``--file-max-runs`` runs (200,000 runs in MLflow's layout are ~6 million
files; larger sizes are marked "not built").

Output: a table on stdout (each figure, MLflow/tracklet, and each side's growth: the time
at the largest size over the time at the smallest), ``bench/results/<time>-scaling.json``,
and the plot (``--plot``): one panel per operation, log-log, one line per tracker and backend.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import scaling_data  # noqa: E402  (bench/ is not a package)
from run import (  # noqa: E402
    CHILD_ENV,
    POSTGRES_ADMIN_URI,
    _admin,
    _backends,
    _libpq_uri,
    check_postgres,
    describe_machine,
    postgres_database_uri,
)

BENCH = Path(__file__).resolve().parent
CACHE = BENCH / ".cache"
CHILD = BENCH / "scaling_child.py"
SIDES = ("tracklet", "mlflow")
#: The figure each panel plots, per operation: (label, key in the child's answer).
PANELS = {
    "search_filtered": ("search_runs, filter + order, 100 (median of 5)", "ms"),
    "search_ordered": ("search_runs, order only, 100 (median of 5)", "ms"),
    "paging": ("paging, 100 a page: ms per page", "ms_per_page"),
    "log_batch": ("log_batch, 1,000 metrics, new run", "ms"),
    "history": ("get_metric_history, one key", "ms"),
}


def _env() -> dict[str, str]:
    return {**os.environ, **CHILD_ENV}


def _child(args: list[str], cwd: str) -> dict[str, Any]:
    """Run a child command to the end and return its last JSON line."""
    proc = subprocess.run(
        [sys.executable, str(CHILD), *args], cwd=cwd, env=_env(), capture_output=True, text=True
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[:2])} failed:\n{proc.stderr[-3000:]}")
    answer: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return answer


# --- datasets -----------------------------------------------------------------------------


class Dataset:
    """One (backend, size) dataset: each side's tracking URI and the expected answers."""

    def __init__(self, backend: str, runs: int, history: list[int], admin_uri: str) -> None:
        self.backend, self.runs, self.history, self.admin_uri = backend, runs, history, admin_uri
        self.uris: dict[str, str] = {}
        self.databases: list[str] = []
        self.build_s = 0.0
        self.cached = False
        key = f"scaling-{backend}-L{scaling_data.LAYOUT}-{runs}-{'_'.join(map(str, history)) or 'nohist'}"
        self.folder = CACHE / key if backend != "postgresql" else Path(tempfile.mkdtemp(prefix="scaling-pg-"))

    def _init(self, side: str, uri: str) -> dict[str, Any]:
        return _child(["init", side, uri], str(self.folder))

    def build(self) -> None:
        """Make the stores and write the data (or reuse the cached ones)."""
        manifest = self.folder / "manifest.json"
        if manifest.exists():
            self.uris = json.loads(manifest.read_text())["uris"]
            self.cached = True
            return
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        start = time.perf_counter()
        getattr(self, f"_build_{self.backend}")()
        self.build_s = time.perf_counter() - start
        (self.folder / "expect.json").write_text(json.dumps(scaling_data.expected(self.runs)))
        if self.backend != "postgresql":
            manifest.write_text(json.dumps({"uris": self.uris, "build_s": self.build_s}))

    def _build_sqlite(self) -> None:
        for side in SIDES:
            path = self.folder / f"{side}.db"
            self.uris[side] = f"sqlite:///{path}"
            experiments = self._init(side, self.uris[side])
            scaling_data.load_sqlite(str(path), side, self.runs, experiments, self.history)

    def _build_postgresql(self) -> None:
        for side in SIDES:
            name = f"scaling_{side}_{secrets.token_hex(4)}"
            with _admin(self.admin_uri) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            self.databases.append(name)
            self.uris[side] = postgres_database_uri(self.admin_uri, name)
            experiments = self._init(side, self.uris[side])
            scaling_data.load_postgresql(
                _libpq_uri(self.uris[side]), side, self.runs, experiments, self.history
            )

    def _build_file(self) -> None:
        uri = f"file://{self.folder / 'mlruns'}"
        self.uris = {side: uri for side in SIDES}
        experiments = self._init("mlflow", uri)  # MLflow makes the store; tracklet must read it as is
        if self._init("tracklet", uri) != experiments:
            raise AssertionError("tracklet sees other experiments than MLflow in the same folder")
        scaling_data.load_file(str(self.folder / "mlruns"), self.runs, experiments, self.history)

    def drop(self) -> None:
        """Drop the PostgreSQL databases (cached folders stay)."""
        for name in self.databases:
            with _admin(self.admin_uri) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        if self.backend == "postgresql":
            shutil.rmtree(self.folder, ignore_errors=True)


# --- measuring, with a budget per operation ------------------------------------------------


def measure(side: str, dataset: Dataset, ops: list[str], budget_s: float) -> dict[str, Any]:
    """Run ``ops`` in ``side``'s child; an op past the budget is killed and marked, the rest go on."""
    results: dict[str, Any] = {}
    todo = list(ops)
    while todo:
        command = [
            sys.executable, str(CHILD), "measure", side, dataset.uris[side],
            "--expect", str(dataset.folder / "expect.json"), "--ops", ",".join(todo), "--budget-s", str(budget_s),
        ]  # fmt: skip
        proc = subprocess.Popen(
            command,
            cwd=str(dataset.folder),
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stdout is not None and proc.stderr is not None
        selector = selectors.DefaultSelector()
        selector.register(proc.stdout, selectors.EVENT_READ)
        current, started = None, time.monotonic()
        while True:
            limit = budget_s + 5 if current else 600.0  # the child's start (import, first connection)
            if not selector.select(timeout=max(0.1, limit - (time.monotonic() - started))):
                if time.monotonic() - started < limit:
                    continue
                proc.kill()
                proc.wait()
                results[current or todo[0]] = {"over_budget": True, "budget_s": budget_s}
                todo.remove(current or todo[0])
                break
            line = proc.stdout.readline()
            if not line:  # the child ended
                proc.wait()
                if todo:
                    failed = current or todo[0]
                    results[failed] = {"error": (proc.stderr.read().strip().splitlines() or ["?"])[-1][:300]}
                    todo.remove(failed)
                    if failed == "verify":
                        for op in todo:
                            results[op] = {"error": "not run: the data did not verify"}
                        todo = []
                break
            message = json.loads(line)
            if "start" in message:
                current, started = message["start"], time.monotonic()
            else:
                op = message.pop("op")
                results[op] = message
                todo.remove(op)
                current, started = None, time.monotonic()
        selector.close()
        proc.stdout.close()
        proc.stderr.close()
    return results


# --- report -------------------------------------------------------------------------------


def _value(figures: dict[str, Any] | None, key: str) -> float | None:
    if not figures or key not in figures:
        return None
    return float(figures[key])


def _cell(figures: dict[str, Any] | None, key: str) -> str:
    if figures is None:
        return "-"
    if figures.get("over_budget"):
        return "over budget"
    if "error" in figures:
        return "error"
    value = _value(figures, key)
    if value is None:
        return "-"
    partial = "" if figures.get("complete", 1.0) else "*"
    return f"{value:,.1f}{partial}" if value < 100 else f"{value:,.0f}{partial}"


def series(results: dict[str, Any], backend: str, side: str, op: str) -> list[tuple[int, float]]:
    """(x, ms) points of one line: x is runs, or points for the history."""
    per_size = results.get(backend, {}).get(side, {})
    key = PANELS[op][1]
    points = []
    for size, ops in per_size.items():
        if op == "history":
            points += [
                (int(o.split(":")[1]), float(f["ms"]))
                for o, f in ops.items()
                if o.startswith("history:") and "ms" in f
            ]
        elif (value := _value(ops.get(op), key)) is not None:
            points.append((int(size), value))
    return sorted(points)


def growth(points: list[tuple[int, float]], sizes: list[int]) -> float | None:
    """Time at the largest size over time at the smallest, when both finished."""
    have = dict(points)
    if not sizes or sizes[0] not in have or sizes[-1] not in have:
        return None
    return have[sizes[-1]] / have[sizes[0]]


def render(results: dict[str, Any], args: argparse.Namespace) -> str:
    """The table: one block per backend, one row per (operation, size)."""
    out = []
    for backend in args.backend:
        out.append(f"\n[{backend}]  (ms; * = paging stopped at the budget, ms/page over the pages read)")
        out.append(f"{'operation':<18}{'size':>10}{'tracklet':>14}{'mlflow':>14}{'mlflow/tracklet':>17}")
        for op in PANELS:
            xs = args.points if op == "history" else args.runs
            for x in xs:
                cells = {}
                for side in SIDES:
                    per_size = results.get(backend, {}).get(side, {})
                    if op == "history":
                        figures = next(
                            (ops.get(f"history:{x}") for ops in per_size.values() if f"history:{x}" in ops),
                            None,
                        )
                    else:
                        figures = per_size.get(str(x), {}).get(op) if str(x) in per_size else None
                        if str(x) not in per_size and x in results.get(backend, {}).get("not_built", []):
                            figures = {"error": "not built"}
                    cells[side] = figures
                key = PANELS[op][1]
                ours, theirs = _value(cells["tracklet"], key), _value(cells["mlflow"], key)
                ratio = f"{theirs / ours:,.1f}x" if ours and theirs else ""
                out.append(
                    f"{op:<18}{x:>10,}{_cell(cells['tracklet'], key):>14}{_cell(cells['mlflow'], key):>14}{ratio:>17}"
                )
            measured = [
                n for n in args.runs if any(str(n) in results.get(backend, {}).get(s, {}) for s in SIDES)
            ]
            sizes = args.points if op == "history" else measured
            grows = []
            for side in SIDES:
                g = growth(series(results, backend, side, op), sizes)
                grows.append(f"{side} {g:,.1f}x" if g else f"{side} -")
            out.append(f"{'':<18}{'growth':>10}  {sizes[0]:,} -> {sizes[-1]:,}: {', '.join(grows)}")
    return "\n".join(out)


def plot(results: dict[str, Any], args: argparse.Namespace, path: Path, commits: list[str]) -> None:
    """One panel per operation, log-log, one line per (tracker, backend)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import NullFormatter

    colors = {"sqlite": "tab:blue", "postgresql": "tab:green", "file": "tab:orange"}
    fig, axes = plt.subplots(2, 3, figsize=(15, 9))
    for ax, op in zip(axes.flat, PANELS, strict=False):
        for backend in args.backend:
            for side in SIDES:
                pts = series(results, backend, side, op)
                if pts:
                    xs, ys = zip(*pts, strict=True)
                    ax.plot(xs, ys, marker="o" if side == "tracklet" else "s", linestyle="-" if side == "tracklet" else "--",
                            color=colors[backend], label=f"{side} ({backend})")  # fmt: skip
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_title(PANELS[op][0], fontsize=10)
        ax.set_xlabel("points in the history" if op == "history" else "runs in the store")
        ax.set_ylabel("ms")
        ax.grid(True, which="both", alpha=0.3)
    handles, labels = axes.flat[0].get_legend_handles_labels()
    axes.flat[-1].axis("off")
    axes.flat[-1].legend(handles, labels, loc="center", title="solid: tracklet, dashed: MLflow")
    fig.suptitle(f"tracklet vs MLflow {describe_machine()['mlflow']}: cost by store size (tracklet commit "
                 f"{', '.join(commits)}; missing points: over budget or not built)", fontsize=11)  # fmt: skip
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)


def save(
    path: Path,
    args: argparse.Namespace,
    commit_before: str,
    load_before: tuple[float, float, float],
    results: dict[str, Any],
    log: list[dict[str, Any]],
    table: str | None,
) -> None:
    """Write the result file (again after each side, so an interrupted run keeps what finished)."""
    path.parent.mkdir(exist_ok=True)
    document = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": {
            **describe_machine(),
            "commit_before": commit_before,
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "runs": args.runs,
        "points": args.points,
        "budget_s": args.budget_s,
        "complete": table is not None,
        "results": results,
        "log": log,
        "table": table,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")


# --- main ---------------------------------------------------------------------------------


def _sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(s.replace("_", "")) for s in text.split(",") if s.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give whole numbers, comma-separated (e.g. 2000,20000)"
        ) from None
    if not sizes or sizes[0] < 100:
        raise argparse.ArgumentTypeError(f"{text!r}: give sizes of at least 100")
    return sizes


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--backend", type=_backends, default=["sqlite", "postgresql", "file"], metavar="NAME[,NAME...]"
    )
    parser.add_argument("--runs", type=_sizes, default=[2000, 20000, 200000], metavar="N[,N...]")
    parser.add_argument("--points", type=_sizes, default=[10_000, 100_000, 1_000_000], metavar="N[,N...]")
    parser.add_argument("--budget-s", type=float, default=600.0, help="per operation, backend and size")
    parser.add_argument("--only", choices=SIDES, help="measure one tracker only")
    parser.add_argument(
        "--file-max-runs", type=int, default=20_000, help="largest file-store dataset to build"
    )
    parser.add_argument("--plot", type=Path, default=BENCH.parent / "docs" / "images" / "scaling.png")
    parser.add_argument("--postgres-uri", default=POSTGRES_ADMIN_URI)
    parser.add_argument(
        "--from-results",
        type=Path,
        nargs="+",
        metavar="JSON",
        help="measure nothing: merge these bench/results/*-scaling.json files (one per backend) "
        "and print their table and plot",
    )
    return parser.parse_args(argv)


def replot(args: argparse.Namespace) -> int:
    """The table and plot of earlier runs, merged (a later file's backend replaces an earlier one's)."""
    results: dict[str, Any] = {}
    commits: list[str] = []
    backends: list[str] = []
    runs: list[int] = []
    points: list[int] = []
    for path in args.from_results:
        document = json.loads(path.read_text())
        results.update(document["results"])
        backends += [b for b in document["results"] if b not in backends]
        runs = sorted({*runs, *document["runs"]})
        points = sorted({*points, *document["points"]})
        commit = document["machine"].get("commit_before") or document["machine"]["tracklet_commit"]
        commits += [commit] if commit not in commits else []
    args.backend, args.runs, args.points = backends, runs, points
    print(render(results, args))
    plot(results, args, args.plot, commits)
    print(f"plot: {args.plot}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.from_results:
        return replot(args)
    commit_before = describe_machine()["tracklet_commit"]
    if "postgresql" in args.backend and (why := check_postgres(args.postgres_uri)):
        print(
            f"cannot run the postgresql backend: {why}; start PostgreSQL or pass --postgres-uri",
            file=sys.stderr,
        )
        return 2
    sides = [args.only] if args.only else list(SIDES)
    results: dict[str, Any] = {}
    log: list[dict[str, Any]] = []
    load_before = os.getloadavg()
    path = BENCH / "results" / f"{time.strftime('%Y%m%d-%H%M%S')}-scaling.json"
    turn = 0
    for backend in args.backend:
        built = [n for n in args.runs if backend != "file" or n <= args.file_max_runs]
        results[backend] = {side: {} for side in SIDES}
        results[backend]["not_built"] = [n for n in args.runs if n not in built]
        for runs in built:
            history = args.points if runs == built[-1] else []
            dataset = Dataset(backend, runs, history, args.postgres_uri)
            print(f"{backend:<11} {runs:>8,} runs: building", end="", file=sys.stderr, flush=True)
            try:
                dataset.build()
                print(
                    f" {'cached' if dataset.cached else f'{dataset.build_s:.0f} s'}",
                    file=sys.stderr,
                    flush=True,
                )
                ops = [
                    "verify",
                    "search_filtered",
                    "search_ordered",
                    "paging",
                    *(f"history:{p}" for p in history),
                    "log_batch",
                ]
                order = sides if turn % 2 == 0 else sides[::-1]
                turn += 1
                for side in order:
                    os.sync()
                    load = os.getloadavg()
                    start = time.perf_counter()
                    got = measure(side, dataset, ops, args.budget_s)
                    results[backend][side][str(runs)] = got
                    wall = time.perf_counter() - start
                    log.append(
                        {"backend": backend, "runs": runs, "side": side, "load_before": load, "wall_s": wall}
                    )
                    save(path, args, commit_before, load_before, results, log, None)  # what finished so far
                    bad = [op for op, f in got.items() if "error" in f or f.get("over_budget")]
                    print(f"  {side:<9} {wall:6.0f} s  load {load[0]:.2f}  {'problems: ' + ', '.join(bad) if bad else 'ok'}",
                          file=sys.stderr, flush=True)  # fmt: skip
                log.append(
                    {"backend": backend, "runs": runs, "build_s": dataset.build_s, "cached": dataset.cached}
                )
            finally:
                dataset.drop()
    table = render(results, args)
    print(
        f"load average before: {', '.join(f'{x:.2f}' for x in load_before)}; cpus: {os.cpu_count()}\n{table}"
    )
    save(path, args, commit_before, load_before, results, log, table)
    print(f"\nsaved {path.relative_to(BENCH.parent)}")
    plot(results, args, args.plot, [commit_before])
    print(f"plot: {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
