"""``tracklet migrate`` SIGKILLed at random moments, ten times, restarted each time: the copy
ends with ``--verify`` clean and no metric point stored twice.

The moments are random (the seed is printed with any failure; TRACKLET_KILL_SEED replays
one): eight kills land while runs are being copied (after a random number of the runs left,
within the time about two runs take), two anywhere from the start (interpreter start,
experiments phase, first runs).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tracklet.entities import ViewType
from tracklet.migrate import default_journal_path
from tracklet.plugins import get_tracking_store

KILLS = 10


def command(src: str, dst: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tracklet", "migrate", "--quiet", src, dst, *extra]


def points_in(uri: str) -> int:
    store = get_tracking_store(uri)
    ids = [e.experiment_id for e in store.search_experiments(ViewType.ALL, 1000)]
    return sum(
        len(points)
        for run in store.search_runs(ids, "", ViewType.ALL, 1000)
        for points in store.get_metric_histories(run.info.run_id).values()
    )


def journal_size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except FileNotFoundError:
        return -1


def journal_lines(path: str) -> int:
    try:
        with open(path) as f:
            return sum(1 for _ in f) - 1
    except FileNotFoundError:
        return -1


def kill_and_resume(
    src: str,
    dst: str,
    env: dict[str, str],
    rng: random.Random,
    kills: int,
    runs: int,
    per_run: float,
    whole: float,
    *options: str,
) -> list[int]:
    """Start ``tracklet migrate SRC DST`` ``kills`` times, SIGKILLing each at a random
    moment: rounds 3 and 7 within ``whole`` seconds of the start, the others after a random
    number of the runs left, within about two runs' time (``per_run``). Returns the journal's
    run count at each kill that landed before the process ended."""
    journal = default_journal_path(src, dst)
    landed = []
    for round_ in range(kills):
        done = max(journal_lines(journal), 0)
        before = journal_size(journal)
        proc = subprocess.Popen(command(src, dst, *options), env=env)
        if round_ in (3, 7):  # anywhere from the start: interpreter, experiments, first runs
            time.sleep(rng.uniform(0, whole))
        else:  # a random run of those left for this round, then a moment within its copy
            target = done + rng.randint(0, max(0, (runs - done) // (kills - round_ + 1)))
            while proc.poll() is None and (
                journal_size(journal) == before or journal_lines(journal) < target
            ):
                time.sleep(0.002)
            time.sleep(rng.uniform(0, 2 * per_run))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            landed.append(journal_lines(journal))
        proc.wait()
    return landed


def test_ten_kills_then_a_clean_verify(mlflow_db: Any, tmp_path: Path, monkeypatch: Any) -> None:
    seed = int(os.environ.get("TRACKLET_KILL_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONWARNINGS": "ignore"}
    src = mlflow_db.uri
    dst_path = tmp_path / "tracklet.db"
    dst = f"sqlite:///{dst_path}"

    # How long a whole copy takes here, and how much of it is the runs (journal to exit).
    scratch = f"sqlite:///{tmp_path / 'scratch.db'}"
    scratch_journal = default_journal_path(src, scratch)
    started = time.monotonic()
    proc = subprocess.Popen(command(src, scratch), env=env)
    copying_from = None
    while proc.poll() is None:
        if copying_from is None and os.path.exists(scratch_journal):
            copying_from = time.monotonic()
        time.sleep(0.01)
    assert proc.returncode == 0
    ended = time.monotonic()
    window = ended - (copying_from or started)

    landed = kill_and_resume(
        src, dst, env, rng, KILLS, len(mlflow_db.runs), window / len(mlflow_db.runs), ended - started
    )
    finished = subprocess.run(command(src, dst), env=env, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, f"seed {seed}: {finished.stdout}{finished.stderr}"
    verified = subprocess.run(
        command(src, dst, "--verify"), env=env, capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0, f"seed {seed}, kills at journal lines {landed}: {verified.stdout}"
    assert "No difference" in verified.stdout

    # No point twice: the rows in the destination's table are the source's points.
    source_points = points_in(src)
    assert points_in(dst) == source_points, f"seed {seed}"
    with sqlite3.connect(dst_path) as connection:
        (rows,) = connection.execute("SELECT COUNT(*) FROM metrics").fetchone()
    with sqlite3.connect(mlflow_db.path) as connection:
        (mlflow_rows,) = connection.execute("SELECT COUNT(*) FROM metrics").fetchone()
    assert rows == mlflow_rows == source_points, f"seed {seed}"
    assert len(landed) >= KILLS // 2, f"seed {seed}: only {len(landed)} kills landed before the copy ended"
    print(
        f"seed {seed}: {len(landed)} kills, at journal lines {landed}; a whole copy took {ended - started:.1f} s"
    )


def test_kills_copying_into_a_tracklet_server_with_artifacts_on_s3(
    mlflow_db: Any, tmp_path: Path, bucket: str
) -> None:
    from tracklet_http.testing import launch_tracklet_server

    seed = int(os.environ.get("TRACKLET_KILL_SEED", time.time_ns() % 1_000_000))
    rng = random.Random(seed)
    env = {**os.environ, "TMPDIR": str(tmp_path), "PYTHONWARNINGS": "ignore"}  # with moto's S3 settings
    (tmp_path / "server").mkdir()
    server = launch_tracklet_server(tmp_path / "server")
    try:
        root = f"s3://{bucket}/migrated"
        extra = ("--artifact-root", root)
        src = mlflow_db.uri
        landed = kill_and_resume(src, server.url, env, rng, 5, len(mlflow_db.runs), 0.15, 4.0, *extra)
        finished = subprocess.run(
            command(src, server.url, *extra), env=env, capture_output=True, text=True, check=False
        )
        assert finished.returncode == 0, f"seed {seed}: {finished.stdout}{finished.stderr}"
        verified = subprocess.run(
            command(src, server.url, "--verify", *extra), env=env, capture_output=True, text=True, check=False
        )
        assert verified.returncode == 0, f"seed {seed}, kills at journal lines {landed}: {verified.stdout}"
        assert points_in(server.url) == points_in(src), f"seed {seed}"
        assert len(landed) >= 3, f"seed {seed}: only {len(landed)} kills landed before the copy ended"
    finally:
        server.stop()
