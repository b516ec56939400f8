"""A copy into a folder (the import primitives) killed with SIGKILL at random moments and
started again, ten times, ends with the folder a copy never killed makes: nothing missing,
nothing twice, every ``meta.yaml`` parseable after every kill."""

from __future__ import annotations

import math
import os
import pathlib
import random
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import yaml

from tracklet.entities import ViewType
from tracklet_file.store import FileStore

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")

#: Imports a fixed set of experiments, runs and histories into the folder argv[1],
#: printing "started" once the store is open, and "done" at the end.
COPIER = r"""
import math, sys
from tracklet.entities import (Dataset, DatasetInput, Experiment, InputTag, Metric, Param, Run, RunData,
                               RunInfo, RunInputs, RunTag)
from tracklet_file.store import FileStore

T0 = 1_700_000_000_000
store = FileStore(sys.argv[1])
print("started", flush=True)
for e in range(3):
    stage = "deleted" if e == 2 else "active"
    store.import_experiment(Experiment(str(10 + e), f"exp-{e}", f"s3://b/{10 + e}", stage,
                                       {"team": f"t{e}", "nested/k": "v"}, T0 + e, T0 + 100 + e))
for r in range(24):
    experiment_id = str(10 + r % 3)
    run_id = f"{r:032x}"
    stage = "deleted" if r % 3 == 2 or r % 5 == 0 else "active"
    info = RunInfo(run_id, experiment_id, "ann", ("FINISHED", "FAILED", "RUNNING")[r % 3], T0 + r,
                   None if r % 3 == 2 else T0 + 1000 + r, stage, f"s3://b/{experiment_id}/{run_id}/artifacts",
                   f"run-{r}")
    params = [Param(f"p{i}", str(i * r)) for i in range(8)] + [Param("opt/lr", "0.1")]
    tags = [RunTag("mlflow.runName", f"run-{r}"), RunTag("mlflow.parentRunId", f"{(r // 4) * 4:032x}")]
    dataset = DatasetInput(Dataset(f"d{r % 4}", f"g{r % 4}", "local", "{}", None, None),
                           [InputTag("mlflow.data.context", "train")])
    store.import_run(Run(info, RunData([], params, tags), RunInputs([dataset])))
    for key in ("loss", "acc", "nested/x"):
        values = [1.0 / (i + 1) if i % 97 else math.nan for i in range(400 + 10 * r)]
        store.import_metric_history(run_id, key, [Metric(key, v, T0 + i, i // 2) for i, v in enumerate(values)])
print("done", flush=True)
"""


def _copy(root: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", COPIER, root], stdout=subprocess.PIPE, text=True)


def _every_meta_parses(root: str) -> None:
    for folder, _dirs, files in os.walk(root):
        if "meta.yaml" in files:
            with open(os.path.join(folder, "meta.yaml"), encoding="utf-8") as f:
                assert isinstance(yaml.safe_load(f), dict), folder


def _number(value: float) -> str:
    return "nan" if math.isnan(value) else repr(value)


def _view(root: str) -> dict[str, Any]:
    store = FileStore(root)
    try:
        experiments = {
            # (the Default experiment, made when the store first opened, has its own
            # folder and time in each copy)
            e.experiment_id: (
                e.name,
                e.artifact_location.replace(root, "<root>"),
                e.lifecycle_stage,
                dict(e.tags),
                e.creation_time if e.experiment_id != "0" else None,
            )
            for e in store.search_experiments(ViewType.ALL)
        }
        runs = {}
        for run in store.search_runs(sorted(experiments), "", ViewType.ALL, max_results=1000):
            run_id = run.info.run_id
            inputs = sorted((d.dataset.name, d.dataset.digest) for d in run.inputs.dataset_inputs)
            histories = {
                key: [(m.timestamp, _number(m.value), m.step) for m in points]
                for key, points in store.get_metric_histories(run_id).items()
            }
            latest = {k: _number(v) for k, v in run.data.metrics.items()}
            runs[run_id] = (
                run.info.to_dictionary(),
                run.data.params,
                run.data.tags,
                inputs,
                histories,
                latest,
            )
        return {"experiments": experiments, "runs": runs}
    finally:
        store.close()


@pytest.mark.slow
def test_a_copy_killed_ten_times_and_resumed_ends_as_an_unkilled_copy(tmp_path: pathlib.Path) -> None:
    seed = int(os.environ.get("TRACKLET_TEST_KILL_SEED") or random.randrange(2**32))
    print(f"kill schedule seed {seed}: replay with TRACKLET_TEST_KILL_SEED={seed}")
    rng = random.Random(seed)

    reference = str(tmp_path / "reference")
    started = time.monotonic()
    done = _copy(reference)
    out, _ = done.communicate(timeout=300)
    whole = time.monotonic() - started  # kills fall anywhere in a copy's lifetime
    assert done.returncode == 0 and out.split() == ["started", "done"]
    expected = _view(reference)
    assert len(expected["runs"]) == 24 and len(expected["experiments"]) == 4  # with Default

    target = str(tmp_path / "killed")
    kills = 0
    while kills < 10:
        proc = _copy(target)
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "started"
        time.sleep(rng.uniform(0.0, max(0.3, whole)))
        if proc.poll() is not None:  # finished before the kill: start again
            proc.communicate()
            continue
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        if proc.returncode == 0:  # it finished between the poll and the signal: not a kill
            continue
        assert proc.returncode == -signal.SIGKILL
        kills += 1
        _every_meta_parses(target)
        _view(target)  # the folder opens and every run reads back
    final = _copy(target)
    out, _ = final.communicate(timeout=300)
    assert final.returncode == 0 and out.split() == ["started", "done"]
    assert _view(target) == expected
    leftovers = [p for p in pathlib.Path(target).rglob(".tmp-*")]
    assert len(leftovers) <= 10  # at most one temporary file per kill, never listed as a key
