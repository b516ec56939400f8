"""``tracklet migrate`` into a live ``tracklet server`` (its import routes, the artifact
proxy), SIGKILLed at random moments ten times and run again each time, ends with
``--verify`` clean and no metric point stored twice; the same into a folder, whose
store imports through tracklet-file's primitives."""

from __future__ import annotations

import math
import os
import pathlib
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from tracklet.entities import Metric, Param, RunTag, ViewType
from tracklet.plugins import get_artifact_repository, get_tracking_store
from tracklet_http.testing import ServerProcess, launch_tracklet_server

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")]

T0 = 1_700_000_000_000
KILLS = 10


def _source(root: pathlib.Path) -> str:
    """A folder with an active and a deleted experiment, 40 runs (some deleted, some
    nested), three histories each (NaN included) and a few artifacts."""
    uri = str(root / "source")
    store = get_tracking_store(uri)
    kept = store.create_experiment("kept", tags=[RunTag("team", "a")])
    gone = store.create_experiment("gone")
    scratch = root / "scratch"
    scratch.mkdir()
    for r in range(40):
        experiment_id = gone if r % 8 == 7 else kept
        tags = [RunTag("mlflow.parentRunId", "0" * 32)] if r % 5 == 1 else []
        run_id = store.create_run(experiment_id, "ann", T0 + r, tags, f"run-{r}").info.run_id
        for key in ("loss", "acc", "deep/x"):
            values = [math.nan if i % 50 == 49 else 1.0 / (i + 1) for i in range(200 + r)]
            store.log_batch(run_id, [Metric(key, v, T0 + i, i) for i, v in enumerate(values)], [], [])
        store.log_batch(run_id, [], [Param(f"p{i}", str(i * r)) for i in range(5)], [RunTag("t", str(r))])
        if r % 4 == 0:
            (scratch / f"a{r}.txt").write_text(f"artifact {r}")
            artifact_uri = store.get_run(run_id).info.artifact_uri
            get_artifact_repository(artifact_uri).log_artifact(str(scratch / f"a{r}.txt"), "files")
        store.update_run_info(run_id, "FINISHED", T0 + 10_000 + r, None)
        if r % 6 == 5:
            store.delete_run(run_id)
    store.delete_experiment(gone)
    store.close()
    return uri


def _command(src: str, dst: str, *extra: str) -> list[str]:
    return [sys.executable, "-m", "tracklet", "migrate", "--quiet", src, dst, *extra]


def _points(uri: str) -> int:
    store = get_tracking_store(uri)
    ids = [e.experiment_id for e in store.search_experiments(ViewType.ALL)]
    return sum(
        len(points)
        for run in store.search_runs(ids, "", ViewType.ALL, 1000)
        for points in store.get_metric_histories(run.info.run_id).values()
    )


def _kill_ten_times_then_verify(src: str, dst: str, env: dict[str, str]) -> None:
    seed = int(os.environ.get("TRACKLET_TEST_KILL_SEED") or random.randrange(2**32))
    print(f"kill schedule seed {seed}: replay with TRACKLET_TEST_KILL_SEED={seed}")
    rng = random.Random(seed)
    started = time.monotonic()  # how long a whole copy (into a folder) takes here
    scratch = os.path.join(env["XDG_CACHE_HOME"], "scratch-copy")
    subprocess.run(_command(src, scratch), env=env, check=True, capture_output=True)
    whole = max(1.0, time.monotonic() - started)
    landed = 0
    for _ in range(4 * KILLS):
        proc = subprocess.Popen(_command(src, dst), env=env, stdout=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, whole))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            landed += 1
        proc.wait()
        if landed == KILLS:
            break
    assert landed == KILLS, f"seed {seed}: only {landed} kills landed before a copy ended"
    finished = subprocess.run(_command(src, dst), env=env, capture_output=True, text=True, check=False)
    assert finished.returncode == 0, f"seed {seed}: {finished.stdout}{finished.stderr}"
    verified = subprocess.run(
        _command(src, dst, "--verify"), env=env, capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0 and "No difference" in verified.stdout, f"seed {seed}: {verified.stdout}"
    assert _points(dst) == _points(src), f"seed {seed}"


@pytest.fixture
def env(tmp_path: pathlib.Path) -> dict[str, str]:
    # the journal under tmp_path; no tracking URI from the caller's environment
    out = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "PYTHONWARNINGS": "ignore"}
    for name in ("MLFLOW_TRACKING_URI", "TRACKLET_TRACKING_URI"):
        out.pop(name, None)
    return out


@pytest.fixture
def server(tmp_path: pathlib.Path) -> Iterator[ServerProcess]:
    (tmp_path / "server").mkdir()
    started = launch_tracklet_server(tmp_path / "server")
    yield started
    started.stop()


def test_ten_kills_into_a_tracklet_server_then_a_clean_verify(
    tmp_path: pathlib.Path, server: ServerProcess, env: dict[str, str]
) -> None:
    src = _source(tmp_path)
    _kill_ten_times_then_verify(src, server.url, env)
    run = next(iter(get_tracking_store(server.url).search_runs(["1"], "", ViewType.ALL)))
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")  # through the server's proxy


def test_ten_kills_into_a_folder_then_a_clean_verify(tmp_path: pathlib.Path, env: dict[str, str]) -> None:
    src = _source(tmp_path)
    _kill_ten_times_then_verify(src, str(tmp_path / "copy"), env)
