"""An MLflow sqlite database written by real MLflow, for the migration benchmark.

    python bench/mlflow_db.py DIR [--size small|full]

Run under the venv's MLflow (``bench/migrate.py`` does this in a child process and caches
the result under ``bench/.cache/``, keyed by size and by :data:`LAYOUT`). The folder gets
``mlflow.db`` (MLflow's own schema, made by its Alembic migrations), ``artifacts/`` (each
experiment's artifact location, absolute ``file://`` URIs into this folder, so the cache
must stay where it was built) and, last, ``manifest.json`` with what was written: a folder
without it is an interrupted build.

What it holds, at ``full`` (``small`` is a tenth of every count):

- 4 experiments; 2,000 runs in blocks of 10, each block in one experiment, whose 2nd and
  3rd runs are nested under its 1st (``mlflow.parentRunId``); every run FINISHED;
- per run 5 params (``p1`` is ``'a'`` on even runs, ``'b'`` on odd ones) and 3 tags;
- 100,000 metric points: ``m1`` and ``m2`` (one point each) on every run, a 23-point
  ``acc`` history on every run, and 5 runs with a 10,000-point ``loss`` history;
- 1,000 artifacts of 2-4 KB, two per run on every fourth run (one at the root, one in
  ``plots/``);
- a dataset input (with a context tag) on every 20th run.

Everything goes in through MLflow's client (``log_batch`` of up to 1,000 metrics), so
the rows are MLflow's own.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

#: Bumped whenever what :func:`build` writes changes, so an older cache is not reused.
LAYOUT = 1
BLOCK = 10  # runs per block: one experiment, the 2nd and 3rd nested under the 1st
BATCH = 1000  # MLflow's log_batch takes at most 1,000 metrics


@dataclass(frozen=True)
class Size:
    """The counts of one database size."""

    experiments: int
    runs: int
    points: int
    artifacts: int
    long_histories: int

    @property
    def long_points(self) -> int:
        """Points in each of the long ``loss`` histories (half of all points between them)."""
        return self.points // 2 // self.long_histories

    def acc_points(self, i: int) -> int:
        """Points in run ``i``'s ``acc`` history: what the long histories, ``m1`` and ``m2``
        leave, spread evenly (the first runs take the remainder)."""
        rest = self.points - self.long_points * self.long_histories - 2 * self.runs
        return rest // self.runs + (i < rest % self.runs)

    def artifact_runs(self) -> list[int]:
        """The runs that get two artifacts each: every fourth (then every one after the end)."""
        wanted = self.artifacts // 2
        stride = max(1, min(4, self.runs // max(1, wanted)))
        return list(range(0, self.runs, stride))[:wanted]


SIZES = {
    "full": Size(experiments=4, runs=2000, points=100_000, artifacts=1000, long_histories=5),
    "small": Size(experiments=4, runs=200, points=10_000, artifacts=100, long_histories=5),
}


def _metrics(entities: Any, key: str, steps: range, rng: random.Random, now: int) -> list[Any]:
    return [entities.Metric(key, rng.random(), now + step, step) for step in steps]


def build(folder: Path, size: Size) -> dict[str, Any]:
    """Write the database and artifacts into ``folder`` through MLflow's client; return the manifest."""
    import mlflow
    from mlflow import entities

    started = time.perf_counter()
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    client = mlflow.MlflowClient(uri)
    rng = random.Random(17)
    experiment_ids = [
        client.create_experiment(
            f"bench-migrate-{n}",
            artifact_location=(folder / "artifacts" / str(n)).as_uri(),
            tags={"team": f"t{n % 2}"},
        )
        for n in range(size.experiments)
    ]
    artifact_runs = set(size.artifact_runs())
    staging = Path(tempfile.mkdtemp(dir=folder))
    run_ids: list[str] = []
    points = files = file_bytes = inputs = 0
    now = int(time.time() * 1000)
    for i in range(size.runs):
        block_first = i - i % BLOCK
        experiment_id = experiment_ids[(i // BLOCK) % size.experiments]
        tags = {"t0": f"v{i % 3}", "t1": f"v{i % 7}"}
        if i % BLOCK in (1, 2):
            tags["mlflow.parentRunId"] = run_ids[block_first]
        run = client.create_run(experiment_id, start_time=now + i, tags=tags, run_name=f"run-{i}")
        run_id = run.info.run_id
        run_ids.append(run_id)
        params = [
            entities.Param(f"p{k}", ("a" if i % 2 == 0 else "b") if k == 1 else str(rng.randint(0, 99)))
            for k in range(5)
        ]
        metrics = [
            entities.Metric("m1", rng.random(), now, 0),
            entities.Metric("m2", rng.random(), now, 0),
            *_metrics(entities, "acc", range(size.acc_points(i)), rng, now),
        ]
        client.log_batch(run_id, metrics=metrics, params=params, tags=[entities.RunTag("t2", f"v{i % 5}")])
        points += len(metrics)
        if i < size.long_histories:
            for first in range(0, size.long_points, BATCH):
                steps = range(first, min(first + BATCH, size.long_points))
                client.log_batch(run_id, metrics=_metrics(entities, "loss", steps, rng, now))
                points += len(steps)
        if i % 20 == 0:
            dataset = entities.Dataset(
                name=f"data-{i // 20 % 3}",
                digest=f"d{i // 20 % 3:07d}",
                source_type="local",
                source=json.dumps({"uri": f"/data/{i // 20 % 3}.csv"}),
                schema=None,
                profile=None,
            )
            context = entities.InputTag("mlflow.data.context", "training")
            client.log_inputs(run_id, datasets=[entities.DatasetInput(dataset, tags=[context])])
            inputs += 1
        if i in artifact_runs:
            for name, artifact_path in ((f"metrics-{i}.json", None), (f"plot-{i}.bin", "plots")):
                payload = rng.randbytes(rng.randint(2048, 4096))
                local = staging / name
                local.write_bytes(payload)
                client.log_artifact(run_id, str(local), artifact_path)
                local.unlink()
                files += 1
                file_bytes += len(payload)
        client.set_terminated(run_id, "FINISHED", end_time=now + i + 1000)
    staging.rmdir()
    return {
        "layout": LAYOUT,
        "size": asdict(size),
        "experiments": len(experiment_ids),
        "runs": len(run_ids),
        "points": points,
        "artifacts": files,
        "artifact_bytes": file_bytes,
        "dataset_inputs": inputs,
        "mlflow": mlflow.__version__,
        "build_s": time.perf_counter() - started,
    }


def main() -> int:
    """Build into the folder named on the command line; the manifest is written last."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    args = parser.parse_args()
    folder = args.folder.resolve()
    folder.mkdir(parents=True, exist_ok=True)
    manifest = build(folder, SIZES[args.size])
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    print(json.dumps(manifest))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    sys.exit(main())
