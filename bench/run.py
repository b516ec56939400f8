"""Run the same workloads on tracklet and on MLflow, and print them side by side.

    python bench/run.py [--backend file|sqlite|postgresql[,...]] [--quick] [--repeat N] [--only NAME ...]

Each workload runs ``--repeat`` times (default 2) per backend and tracker, each time in
its own child process and its own fresh temporary folder (and, on PostgreSQL, its own
fresh database; see ``bench/workloads.py``). Which tracker goes first alternates from one
run to the next, so each goes first equally often and neither always inherits the other's
dirty page cache or CPU heat; a figure is the median over the repetitions (peak memory:
the highest). Both sides get the same environment: progress bars off, MLflow's logging
at WARNING (tracklet logs nothing below it), telemetry off, the same kind of store.
The table goes to stdout, progress to stderr, and the full result, every repetition
included, to ``bench/results/<time>-<backends>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from workloads import FIGURES, PEAK_MEMORY, Figure  # noqa: E402  (bench/ is not a package)

BENCH = Path(__file__).resolve().parent
SIDES = ("tracklet", "mlflow")
BACKENDS = ("file", "sqlite", "postgresql")
URIS = {"file": "file://{tmp}/mlruns", "sqlite": "sqlite:///{tmp}/bench.db"}
#: The server database the bench connects to, to create and drop one database per workload and side.
POSTGRES_ADMIN_URI = os.environ.get(
    "TRACKLET_BENCH_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test"
)
#: The same for both trackers: each variable below is read by one of them only, and sets
#: it to what the other does anyway (no progress bars, nothing logged below WARNING).
CHILD_ENV = {
    "MLFLOW_ALLOW_FILE_STORE": "true",  # MLflow 3.13+ refuses its file store without it
    "MLFLOW_DISABLE_TELEMETRY": "true",  # keep the network out of MLflow's figures
    "DO_NOT_TRACK": "true",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
    "TRACKLET_DISABLE_PROGRESS": "1",
    "MLFLOW_LOGGING_LEVEL": "WARNING",
    # MLflow's trace export queue holds 1,000 tasks and discards the rest (one task per span
    # batch): the traces workload would then search fewer traces on MLflow's side than it
    # made. A larger queue keeps every trace, as tracklet's export does.
    "MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE": "1000000",
}


def _libpq_uri(uri: str) -> str:
    """``postgresql+driver://…`` as plain ``postgresql://…``, the form psycopg connects to."""
    parts = urlsplit(uri)
    return urlunsplit(parts._replace(scheme=parts.scheme.split("+")[0]))


def postgres_database_uri(admin_uri: str, name: str) -> str:
    """The URI both trackers get for database ``name``: the admin server, with the psycopg 3 driver."""
    parts = urlsplit(admin_uri)
    return urlunsplit(parts._replace(scheme="postgresql+psycopg", path=f"/{name}"))


def _admin(admin_uri: str) -> Any:
    import psycopg  # only the postgresql backend needs it

    return psycopg.connect(_libpq_uri(admin_uri), autocommit=True, connect_timeout=10)


def check_postgres(admin_uri: str) -> str | None:
    """None when the PostgreSQL server answers and may create databases, else why not."""
    try:
        with _admin(admin_uri) as conn:
            conn.execute("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means the backend cannot run here
        return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}"
    return None


@contextlib.contextmanager
def tracking_uri(backend: str, tmp: str, admin_uri: str) -> Iterator[str]:
    """The tracking URI of one child: a path under ``tmp``, or a fresh PostgreSQL database
    (created here, dropped afterwards, also when the child failed)."""
    if backend != "postgresql":
        yield URIS[backend].format(tmp=tmp)
        return
    name = f"bench_{secrets.token_hex(6)}"
    with _admin(admin_uri) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield postgres_database_uri(admin_uri, name)
    finally:
        with _admin(admin_uri) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def run_side(module: str, workload: str, backend: str, scale: float, admin_uri: str) -> dict[str, Any]:
    """Run one workload for one tracker in a child process, in a fresh temporary folder."""
    # flush the previous workload's dirty pages, so their writeback does not land in this one's figures
    os.sync()
    tmp = tempfile.mkdtemp(prefix=f"bench-{module}-")
    start = time.perf_counter()
    try:
        with tracking_uri(backend, tmp, admin_uri) as uri:
            command = [
                sys.executable,
                str(BENCH / "workloads.py"),
                module,
                workload,
                uri,
                "--scale",
                str(scale),
            ]
            proc = subprocess.run(
                command, cwd=tmp, env={**os.environ, **CHILD_ENV}, capture_output=True, text=True
            )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    elapsed = time.perf_counter() - start
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        error = (proc.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return {"error": error, "stderr": proc.stderr[-4000:], "wall_s": elapsed}
    # the last line is the result; a tracker may have printed something before it
    return {**json.loads(lines[-1]), "wall_s": elapsed}


def side_order(turn: int) -> tuple[str, ...]:
    """The order the two trackers run in on the ``turn``-th run: alternating, tracklet first
    on even turns."""
    return SIDES if turn % 2 == 0 else SIDES[::-1]


def combine(outcomes: list[dict[str, Any]]) -> dict[str, Any]:
    """One side's repetitions as one result: each figure's median, the highest peak memory.

    A failed repetition makes the side failed (its error is kept): a figure is not reported
    from the repetitions that happened to succeed.
    """
    failed = [o for o in outcomes if "error" in o]
    if failed:
        return {**failed[0], "repetitions": outcomes}
    keys = dict.fromkeys(k for o in outcomes for k in o["figures"])
    figures = {k: statistics.median(o["figures"][k] for o in outcomes if k in o["figures"]) for k in keys}
    return {
        "figures": figures,
        "peak_rss_mb": max(o["peak_rss_mb"] for o in outcomes),
        "wall_s": sum(o["wall_s"] for o in outcomes),
        "repetitions": outcomes,
    }


def advantage(figure: Figure, ours: float, theirs: float) -> float:
    """How many times better tracklet is than MLflow on this figure (above 1 is better)."""
    if figure.higher_is_better:
        return ours / theirs if theirs else float("inf")
    return theirs / ours if ours else float("inf")


def verdict(figure: Figure, backend: str, ours: float | None, ratio: float | None) -> tuple[str, bool | None]:
    """The bar's text and whether tracklet meets it on ``backend`` (None: no bar, or a side failed)."""
    if figure is PEAK_MEMORY:
        return "<=MLflow", None if ratio is None else ratio >= 1.0
    # every bar the figure has on this backend: each gives its text and its check
    bars: list[tuple[str, bool | None]] = []
    bar = figure.bar_on(backend)
    if bar is not None:
        bars.append((f">={bar:g}x", None if ratio is None else ratio >= bar))
    if figure.limit is not None:
        bars.append((f"<{figure.limit:g} {figure.unit}", None if ours is None else ours < figure.limit))
    if figure.at_most is not None:
        bars.append((f"<={figure.at_most:g} {figure.unit}", None if ours is None else ours <= figure.at_most))
    floor = figure.floor_on(backend)
    if floor is not None:
        bars.append((f">={floor:,.0f} {figure.unit}", None if ours is None else ours >= floor))
    if not bars:
        return "", None
    checks = [check for _, check in bars]
    passed = False if False in checks else None if None in checks else True
    return ", ".join(text for text, _ in bars), passed


def build_rows(workload: str, backend: str, sides: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per figure of the workload on one backend, plus its peak memory on each side."""
    rows = []
    for figure in [*FIGURES[workload], PEAK_MEMORY]:
        values: dict[str, float | None] = {}
        for side in SIDES:
            result = sides[side]
            source = result if figure is PEAK_MEMORY else result.get("figures", {})
            values[side] = source.get(figure.key)
        ours, theirs = values["tracklet"], values["mlflow"]
        ratio = None if ours is None or theirs is None else advantage(figure, ours, theirs)
        bar, passed = verdict(figure, backend, ours, ratio)
        label = f"{workload}: {figure.label}" if figure is PEAK_MEMORY else figure.label
        rows.append(
            {
                "backend": backend,
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


def fmt(value: float | None) -> str:
    """A number at a readable precision; "error" when a side failed."""
    if value is None:
        return "error"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def render(rows: list[dict[str, Any]], backends: list[str]) -> str:
    """The side-by-side table as plain text: one group of columns per backend.

    The bar gets one shared column when it is the same on every backend shown, else
    one per backend (the file store's bars differ from the SQL ones).
    """
    by_figure: dict[tuple[str, str], dict[str, dict[str, Any]]] = {}
    for row in rows:
        by_figure.setdefault((row["workload"], row["figure"]), {})[row["backend"]] = row
    shared_bar = all(len({r["bar"] for r in group.values()}) == 1 for group in by_figure.values())
    per_backend = ["tracklet", "mlflow", "ratio", *([] if shared_bar else ["bar"]), "result"]
    header = ["workload", "unit", *(["bar"] if shared_bar else [])]
    numeric = set()
    for _ in backends:
        numeric.update({len(header), len(header) + 1, len(header) + 2})
        header += per_backend
    body = []
    for group in by_figure.values():
        first = next(iter(group.values()))
        line = [first["label"], first["unit"], *([first["bar"]] if shared_bar else [])]
        for backend in backends:
            r = group.get(backend)
            if r is None:
                line += [""] * len(per_backend)
                continue
            cells = {
                "tracklet": fmt(r["tracklet"]),
                "mlflow": fmt(r["mlflow"]),
                "ratio": "-" if r["ratio"] is None else f"{r['ratio']:.1f}x",
                "bar": r["bar"],
                "result": {True: "pass", False: "FAIL", None: ""}[r["pass"]],
            }
            line += [cells[c] for c in per_backend]
        body.append(line)
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def fit(cells: list[str]) -> str:
        return "  ".join(
            c.rjust(w) if i in numeric else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    # a title over each backend's group of columns, starting where the group starts
    title = ""
    for n, backend in enumerate(backends):
        first_column = len(header) - len(per_backend) * (len(backends) - n)
        offset = sum(w + 2 for w in widths[:first_column])
        title = title.ljust(offset) + f"[{backend}]"
    return "\n".join([title, fit(header), fit(["-" * w for w in widths]), *map(fit, body)])


def describe_machine() -> dict[str, Any]:
    """Versions and hardware, so a result file can be compared with another."""

    def version(dist: str) -> str | None:
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            return None

    git = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=BENCH, capture_output=True, text=True)
    return {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "mlflow": version("mlflow"),
        "tracklet": version("tracklet"),
        "sqlalchemy": version("sqlalchemy"),
        "psycopg": version("psycopg"),
        "tracklet_commit": git.stdout.strip() or None,
    }


def _backends(text: str) -> list[str]:
    chosen = [b.strip() for b in text.split(",") if b.strip()]
    unknown = [b for b in chosen if b not in BACKENDS]
    if unknown or not chosen:
        raise argparse.ArgumentTypeError(
            f"unknown backend(s) {unknown or text!r}; choose from "
            f"{', '.join(BACKENDS)} (comma-separated for several)"
        )
    return list(dict.fromkeys(chosen))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description="tracklet vs MLflow, side by side.")
    parser.add_argument(
        "--backend",
        type=_backends,
        default=["file"],
        metavar="NAME[,NAME...]",
        help=f"store(s) both trackers use: {', '.join(BACKENDS)}; several, comma-separated, "
        "are printed beside each other (default: file)",
    )
    parser.add_argument("--quick", action="store_true", help="about 10x smaller sizes, for a smoke run")
    parser.add_argument(
        "--repeat",
        type=int,
        default=2,
        metavar="N",
        help="runs of each workload per tracker, alternating which goes first (default: 2)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(FIGURES),
        metavar="NAME",
        help=f"run only these workloads: {', '.join(FIGURES)}",
    )
    parser.add_argument(
        "--postgres-uri",
        default=POSTGRES_ADMIN_URI,
        help="server database to create the benchmark databases from "
        "(default: $TRACKLET_BENCH_POSTGRES_URI or %(default)s)",
    )
    args = parser.parse_args(argv)
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def compile_sources() -> None:
    """Byte-compile the checkout's packages (installed editable) as pip compiles a wheel's
    files when it installs them, so a cold start never pays for compiling tracklet's
    modules while MLflow's come precompiled from site-packages (with
    ``PYTHONDONTWRITEBYTECODE`` set, an editable install would compile them afresh in every
    new process)."""
    import compileall

    root = BENCH.parent
    for src in [root / "core" / "src", *sorted(root.glob("plugins/*/src"))]:
        compileall.compile_dir(str(src), quiet=1)
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)


def main(argv: list[str] | None = None) -> int:
    """Run the chosen workloads on both trackers; print the table and save the JSON result."""
    args = parse_args(argv)
    if "postgresql" in args.backend and (why := check_postgres(args.postgres_uri)):
        print(
            f"cannot run the postgresql backend: {why}\nstart PostgreSQL (see bench/README.md) "
            f"or pass --postgres-uri",
            file=sys.stderr,
        )
        return 2
    compile_sources()
    load_before = os.getloadavg()
    scale = 0.1 if args.quick else 1.0
    results: dict[str, dict[str, dict[str, Any]]] = {b: {} for b in args.backend}
    rows: list[dict[str, Any]] = []
    turn = 0
    # workload by workload, every backend in turn: a change of load hits both backends alike
    for workload in args.only or list(FIGURES):
        for backend in args.backend:
            outcomes: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
            for repetition in range(args.repeat):
                order = side_order(turn)
                turn += 1
                for position, side in enumerate(order):
                    label = f"{workload:<15} {backend:<11} {side:<9} #{repetition + 1}"
                    print(label, end="", file=sys.stderr, flush=True)
                    outcome = run_side(side, workload, backend, scale, args.postgres_uri)
                    outcomes[side].append({**outcome, "ran_first": position == 0})
                    status = f"error: {outcome['error']}" if "error" in outcome else "ok"
                    print(f" {outcome['wall_s']:6.1f} s  {status}", file=sys.stderr, flush=True)
            sides = results[backend][workload] = {side: combine(outcomes[side]) for side in SIDES}
            rows.extend(build_rows(workload, backend, sides))
    load = ", ".join(f"{x:.1f}" for x in load_before)
    print(
        f"\nbackend: {', '.join(args.backend)}{'  (quick)' if args.quick else ''}   "
        f"repetitions: {args.repeat} (alternating which tracker runs first)   "
        f"cpus: {os.cpu_count()}   load average before: {load}\n\n{render(rows, args.backend)}"
    )
    path = save(args, rows, results, load_before)
    print(f"\nsaved {path.relative_to(BENCH.parent)}")
    failed = any("error" in side for per in results.values() for r in per.values() for side in r.values())
    return 1 if failed else 0


def save(
    args: argparse.Namespace,
    rows: list[dict[str, Any]],
    results: dict[str, Any],
    load_before: tuple[float, float, float],
) -> Path:
    """Write the result file under bench/results/ and return its path."""
    out = BENCH / "results"
    out.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out / f"{stamp}-{'-'.join(args.backend)}{'-quick' if args.quick else ''}.json"
    document = {
        "date": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "backends": args.backend,
        "quick": args.quick,
        "repeat": args.repeat,
        "command": " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
        "machine": {
            **describe_machine(),
            "load_average_before": load_before,
            "load_average_after": os.getloadavg(),
        },
        "rows": rows,
        "raw": results,
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


if __name__ == "__main__":
    sys.exit(main())
