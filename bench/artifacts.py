"""tracklet-s3 against MLflow's S3ArtifactRepository, side by side, on one S3 server.

    python bench/artifacts.py [--files 1000] [--file-kib 4] [--big-mib 1024]
                              [--repeat 3] [--only small big] [--quick]

One moto server (``moto[server]``, the same the tests use) is started on a free loopback
port and shared by both sides for the whole run. Every measurement runs in its own child
process per side, on a bucket of its own, with the same environment (endpoint, dummy
credentials); the sides alternate, repetition by repetition, so that a change in the
machine's load hits both alike.

Workloads:

* ``small``: ``--files`` files of ``--file-kib`` KiB in 10 folders, ``log_artifacts`` of
  the folder, then ``download_artifacts`` of the whole tree into an empty folder: seconds
  each way (median of ``--repeat``), files/s, and the bar: up + down at least 3x faster.
* ``big``: one file of ``--big-mib`` MiB, ``log_artifact`` then ``download_artifacts``:
  seconds and MB/s each way, the child's peak resident memory (``ru_maxrss``) and its
  growth over the level after imports; bars: at least as fast as MLflow, peak under
  200 MB.

Every download is checked against the source (bytes, or sha256 for the big file) after
the timed part; a mismatch fails the run. Results go to stdout as a table with the
ratios (MLflow's time over tracklet's: above 1 is tracklet faster) and to
``bench/results/<time>-artifacts.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
SIDES = ("tracklet", "mlflow")
MiB = 1024 * 1024
#: The issue's bars.
SMALL_MIN_RATIO = 3.0
BIG_MIN_RATIO = 1.0
BIG_MAX_PEAK_MB = 200.0
# progress bars off on both sides, not just tracklet's
CHILD_ENV = {
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "DO_NOT_TRACK": "true",
    "TRACKLET_DISABLE_PROGRESS": "1",
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


# -- the child: one side, one measurement ----------------------------------------------------


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _repository(side: str, uri: str) -> Any:
    if side == "tracklet":
        from tracklet_s3.artifacts import S3ArtifactRepository
    else:
        from mlflow.store.artifact.s3_artifact_repo import S3ArtifactRepository
    return S3ArtifactRepository(uri)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(8 * MiB):
            digest.update(chunk)
    return digest.hexdigest()


def child(side: str, workload: str, uri: str, source: str, dest: str) -> dict[str, Any]:
    repo = _repository(side, uri)
    src, dst = Path(source), Path(dest)
    dst.mkdir(parents=True, exist_ok=True)  # MLflow wants the destination to exist
    rss_before = _rss_mb()
    t0 = time.perf_counter()
    if workload == "small":
        repo.log_artifacts(str(src))
    else:
        repo.log_artifact(str(src))
    t1 = time.perf_counter()
    got = Path(repo.download_artifacts("" if workload == "small" else src.name, str(dst)))
    t2 = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if workload == "small":
        same = _tree(got) == _tree(src)
    else:
        same = _sha256(got) == _sha256(src)
    return {
        "up_s": t1 - t0,
        "down_s": t2 - t1,
        "peak_mb": peak_mb,
        "rss_before_mb": rss_before,
        "growth_mb": peak_mb - rss_before,
        "same": same,
    }


# -- the parent ------------------------------------------------------------------------------


def make_sources(root: Path, files: int, file_kib: int, big_mib: int, only: list[str]) -> dict[str, Path]:
    sources = {}
    if "small" in only:
        small = root / "small"
        for i in range(files):
            path = small / f"dir{i % 10}" / f"file-{i:05d}.bin"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(os.urandom(file_kib * 1024))
        sources["small"] = small
    if "big" in only:
        big = root / "big" / "model.bin"
        big.parent.mkdir(parents=True)
        with open(big, "wb") as f:
            for _ in range(big_mib):
                f.write(os.urandom(MiB))
        sources["big"] = big
    return sources


def run_child(side: str, workload: str, server: Any, source: Path, scratch: Path) -> dict[str, Any]:
    import boto3

    bucket = f"bench-{side}-{uuid.uuid4().hex[:12]}"
    s3 = boto3.client("s3", endpoint_url=server.url)
    s3.create_bucket(Bucket=bucket)
    dest = scratch / f"dl-{bucket}"
    os.sync()  # the previous child's dirty pages are not this one's to write back
    try:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                side,
                workload,
                f"s3://{bucket}/run/artifacts",
                str(source),
                str(dest),
            ],
            env={**os.environ, **CHILD_ENV},
            capture_output=True,
            text=True,
            timeout=3600,
        )
    finally:
        shutil.rmtree(dest, ignore_errors=True)
        server.reset()  # moto keeps objects in memory: free them before the next child
    if done.returncode != 0:
        raise RuntimeError(f"{side} {workload} failed:\n{done.stderr[-4000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if not result["same"]:
        raise RuntimeError(f"{side} {workload}: the download differs from the source")
    return result


def summarize(
    workload: str, runs: dict[str, list[dict[str, Any]]], size_mb: float, files: int
) -> list[dict[str, Any]]:
    med = {
        side: {
            k: statistics.median(r[k] for r in runs[side]) for k in ("up_s", "down_s", "peak_mb", "growth_mb")
        }
        for side in SIDES
    }
    rows = []

    def row(
        label: str, unit: str, ours: float, theirs: float, ratio: float | None, bar: str, passed: bool | None
    ) -> None:
        rows.append(
            {
                "workload": workload,
                "label": label,
                "unit": unit,
                "tracklet": ours,
                "mlflow": theirs,
                "ratio": ratio,
                "bar": bar,
                "pass": passed,
            }
        )

    for key, label in (("up_s", "upload"), ("down_s", "download")):
        ours, theirs = med["tracklet"][key], med["mlflow"][key]
        rate = files / ours if workload == "small" else size_mb / ours
        rate_theirs = files / theirs if workload == "small" else size_mb / theirs
        row(f"{workload}: {label}", "s", ours, theirs, theirs / ours, "", None)
        row(
            f"{workload}: {label} rate",
            "files/s" if workload == "small" else "MB/s",
            rate,
            rate_theirs,
            rate / rate_theirs,
            "",
            None,
        )
    ours = med["tracklet"]["up_s"] + med["tracklet"]["down_s"]
    theirs = med["mlflow"]["up_s"] + med["mlflow"]["down_s"]
    need = SMALL_MIN_RATIO if workload == "small" else BIG_MIN_RATIO
    row(f"{workload}: up + down", "s", ours, theirs, theirs / ours, f">={need:g}x", theirs / ours >= need)
    peak_bar = f"<{BIG_MAX_PEAK_MB:g} MB" if workload == "big" else ""
    peak_pass = med["tracklet"]["peak_mb"] < BIG_MAX_PEAK_MB if workload == "big" else None
    row(
        f"{workload}: peak memory",
        "MB",
        med["tracklet"]["peak_mb"],
        med["mlflow"]["peak_mb"],
        med["mlflow"]["peak_mb"] / med["tracklet"]["peak_mb"],
        peak_bar,
        peak_pass,
    )
    row(
        f"{workload}: memory growth in transfer",
        "MB",
        med["tracklet"]["growth_mb"],
        med["mlflow"]["growth_mb"],
        None,
        "",
        None,
    )
    return rows


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def render(rows: list[dict[str, Any]]) -> str:
    header = ["figure", "unit", "tracklet", "mlflow", "ratio", "bar", "result"]
    body = [
        [
            r["label"],
            r["unit"],
            fmt(r["tracklet"]),
            fmt(r["mlflow"]),
            "-" if r["ratio"] is None else f"{r['ratio']:.1f}x",
            r["bar"],
            {True: "pass", False: "FAIL", None: ""}[r["pass"]],
        ]
        for r in rows
    ]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
    lines = [
        "  ".join(
            c.rjust(w) if 2 <= i <= 4 else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in [header, *body]
    ]
    return "\n".join([lines[0], "-" * len(lines[0]), *lines[1:]])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--file-kib", type=int, default=4)
    parser.add_argument("--big-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions of the small workload")
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=0.0,
        help="add this round-trip time to every request (a loopback proxy in front of moto), "
        "to see the workloads as against a distant S3",
    )
    parser.add_argument("--only", nargs="+", choices=["small", "big"], default=["small", "big"])
    parser.add_argument(
        "--quick", action="store_true", help="200 small files, a 64 MiB big file, 1 repetition"
    )
    parser.add_argument(
        "--child", nargs=5, metavar=("SIDE", "WORKLOAD", "URI", "SOURCE", "DEST"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    if args.quick:
        args.files, args.big_mib, args.repeat = 200, 64, 1

    from tracklet_s3.testing import MotoServer, SlowDownProxy

    scratch = Path(tempfile.mkdtemp(prefix="bench-artifacts-"))
    rows: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}
    try:
        sources = make_sources(scratch / "src", args.files, args.file_kib, args.big_mib, args.only)
        with contextlib.ExitStack() as stack:
            server = stack.enter_context(MotoServer(scratch / "moto.log"))
            os.environ.update(server.environment())  # this process makes the buckets
            if args.latency_ms:
                # both sides' requests go through a loopback proxy that holds each one back
                proxy = stack.enter_context(
                    SlowDownProxy(server.url, every=10**9, delay=args.latency_ms / 1000)
                )
                for key, value in server.environment(proxy.url).items():
                    CHILD_ENV[key] = value
            for workload in args.only:
                repeat = args.repeat if workload == "small" else 1
                runs: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
                for i in range(repeat):
                    # alternate who goes first, so neither always meets a warmer server
                    for side in SIDES if i % 2 == 0 else SIDES[::-1]:
                        print(f"{workload} #{i + 1}: {side} ...", file=sys.stderr, flush=True)
                        runs[side].append(run_child(side, workload, server, sources[workload], scratch))
                raw[workload] = runs
                rows += summarize(workload, runs, args.big_mib * MiB / 1e6, args.files)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    print(
        f"S3 artifacts on one moto server: {args.files} x {args.file_kib} KiB (median of {args.repeat}), "
        f"{args.big_mib} MiB, {args.latency_ms:g} ms added per request; "
        "ratio = MLflow's over tracklet's (above 1: tracklet better)"
    )
    print(render(rows))
    results = BENCH / "results"
    results.mkdir(exist_ok=True)
    out = (
        results
        / f"{time.strftime('%Y%m%d-%H%M%S')}-artifacts{'-quick' if args.quick else ''}{f'-{args.latency_ms:g}ms' if args.latency_ms else ''}.json"
    )
    versions = {name: metadata.version(name) for name in ("tracklet-s3", "mlflow", "boto3", "moto")}
    out.write_text(
        json.dumps(
            {
                "rows": rows,
                "raw": raw,
                "args": vars(args),
                "versions": versions,
                "cpus": os.cpu_count(),
                "loadavg": os.getloadavg(),
                "python": platform.python_version(),
            },
            indent=2,
        )
    )
    print(f"\nwritten to {out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
