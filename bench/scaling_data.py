"""The scaling run's data, and bulk loaders that write it straight into each side's schema.

Populating 200,000 runs through the clients takes hours (tracklet ~2.5 ms a run, MLflow
~25 ms), so ``bench/scaling.py`` lets each side's own client create its store and
experiments (its normal first call makes the schema), then writes the rows here, in bulk:
``executemany`` on sqlite, ``COPY`` on PostgreSQL, and MLflow's file layout (which
tracklet-file reads as it is) for the file store, one folder for both sides.

The data, the same on every side and every backend (:func:`runs`):

- ``n`` runs in the experiment ``scaling``, FINISHED, ``start_time`` one second apart;
- per run 10 params ``p0``..``p9`` (``p1`` is ``'a'`` on even runs, ``'b'`` on odd ones,
  the rest a digit), 3 tags ``t0``..``t2`` plus ``mlflow.runName``, and 10 metrics
  ``m0``..``m9`` (one point each, step 0, uniform in [0, 1));
- in the experiment ``scaling-history``, one run per history size with a ``loss``
  history of that many points (steps 0..n-1), only in a backend's largest dataset.

Everything is drawn from fixed seeds, so :func:`expected` knows each search's answer.
"""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Bumped whenever what the loaders write changes, so an older cache is not reused.
LAYOUT = 1
T0 = 1_700_000_000_000  # start_time of run 0, in ms
CHUNK = 5_000  # runs per insert batch
SEARCH_FILTER = "metrics.m1 > 0.5 and params.p1 = 'a'"
ORDER_BY = ["metrics.m2 DESC"]


@dataclass(frozen=True)
class Run:
    """One run's rows."""

    run_id: str
    index: int
    params: list[tuple[str, str]]
    tags: list[tuple[str, str]]
    metrics: list[tuple[str, float]]

    @property
    def name(self) -> str:
        return f"run-{self.index:06d}"

    @property
    def start_time(self) -> int:
        return T0 + 1000 * self.index


def runs(n: int) -> Iterator[Run]:
    """The ``n`` runs of a dataset, the same on every call."""
    rng = random.Random(20261206)
    for i in range(n):
        run_id = f"{rng.getrandbits(128):032x}"
        params = [
            (f"p{k}", ("a" if i % 2 == 0 else "b") if k == 1 else str(rng.randint(0, 9))) for k in range(10)
        ]
        tags = [(f"t{k}", f"v{i % (k + 2)}") for k in range(3)] + [("mlflow.runName", f"run-{i:06d}")]
        metrics = [(f"m{k}", rng.random()) for k in range(10)]
        yield Run(run_id, i, params, tags, metrics)


def history_run_id(points: int) -> str:
    """The id of the run holding a ``points``-point history."""
    return f"{0xFEED0000 + points:032x}"


def history_values(points: int) -> Iterator[tuple[int, float]]:
    """``(step, value)`` of the ``loss`` history of ``points`` points."""
    rng = random.Random(points)
    for step in range(points):
        yield step, rng.random()


def expected(n: int, samples: int = 3) -> dict[str, Any]:
    """What the searches must answer on a dataset of ``n`` runs, and a few runs to check whole."""
    filtered: list[tuple[float, str]] = []
    ordered: list[tuple[float, str]] = []
    picked: dict[str, Any] = {}
    sample_at = {0, n // 2, n - 1}
    for run in runs(n):
        m = dict(run.metrics)
        ordered.append((m["m2"], run.run_id))
        if run.index % 2 == 0 and m["m1"] > 0.5:
            filtered.append((m["m2"], run.run_id))
        if run.index in sample_at and len(picked) < samples:
            picked[run.run_id] = {"params": dict(run.params), "tags": dict(run.tags), "metrics": m}
    filtered.sort(reverse=True)
    ordered.sort(reverse=True)
    return {
        "runs": n,
        "filtered_top": [rid for _, rid in filtered[:100]],
        "ordered_top": [rid for _, rid in ordered[:100]],
        "samples": picked,
    }


# --- row shapes: each side's own columns ------------------------------------------------


def _run_row(side: str, run: Run, experiment_id: int, artifact_root: str) -> tuple[Any, ...]:
    artifact_uri = f"{artifact_root}/{run.run_id}/artifacts"
    end = run.start_time + 500
    if side == "tracklet":
        # run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, artifact_uri, deleted_time
        return (
            run.run_id,
            run.name,
            experiment_id,
            "bench",
            "FINISHED",
            run.start_time,
            end,
            "active",
            artifact_uri,
            None,
        )
    # MLflow: run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time,
    # end_time, deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id
    return (
        run.run_id, run.name, "LOCAL", "", "", "bench", "FINISHED", run.start_time,
        end, None, "", "active", artifact_uri, experiment_id,
    )  # fmt: skip


COLUMNS = {
    "tracklet": {
        "runs": "run_uuid, name, experiment_id, user_id, status, start_time, end_time, lifecycle_stage, "
        "artifact_uri, deleted_time",
        "params": "run_uuid, key, value",
        "tags": "run_uuid, key, value",
        "metrics": "run_uuid, key, step, timestamp, value, nonfinite",
        "latest_metrics": "run_uuid, key, step, timestamp, value, nonfinite",
    },
    "mlflow": {
        "runs": "run_uuid, name, source_type, source_name, entry_point_name, user_id, status, start_time, "
        "end_time, deleted_time, source_version, lifecycle_stage, artifact_uri, experiment_id",
        "params": "run_uuid, key, value",
        "tags": "run_uuid, key, value",
        "metrics": "run_uuid, key, step, timestamp, value, is_nan",
        "latest_metrics": "run_uuid, key, step, timestamp, value, is_nan",
    },
}


def _metric_row(
    side: str, run_id: str, key: str, step: int, ts: int, value: float, dialect: str
) -> tuple[Any, ...]:
    if side == "tracklet":
        return (run_id, key, step, ts, value, 0)
    return (run_id, key, step, ts, value, False if dialect == "postgresql" else 0)


def table_rows(
    side: str, dialect: str, chunk: list[Run], experiment_id: int, artifact_root: str
) -> dict[str, list[tuple[Any, ...]]]:
    """The rows of ``chunk``'s runs, per table, in ``side``'s columns."""
    rows: dict[str, list[tuple[Any, ...]]] = {t: [] for t in COLUMNS[side]}
    for run in chunk:
        rows["runs"].append(_run_row(side, run, experiment_id, artifact_root))
        rows["params"].extend((run.run_id, k, v) for k, v in run.params)
        rows["tags"].extend((run.run_id, k, v) for k, v in run.tags)
        points = [_metric_row(side, run.run_id, k, 0, run.start_time, v, dialect) for k, v in run.metrics]
        rows["metrics"].extend(points)
        rows["latest_metrics"].extend(points)
    return rows


def history_rows(
    side: str, dialect: str, points: int, experiment_id: int, artifact_root: str
) -> Iterator[dict[str, list[tuple[Any, ...]]]]:
    """The history run of ``points`` points, in chunks of table rows: the run's own rows
    first, as the points' foreign key needs them (PostgreSQL checks it on each COPY)."""
    run_id = history_run_id(points)
    run = Run(run_id, 900_000 + points, [], [("mlflow.runName", f"history-{points}")], [])
    yield table_rows(side, dialect, [run], experiment_id, artifact_root)
    batch: list[tuple[Any, ...]] = []
    last: tuple[Any, ...] = ()
    for step, value in history_values(points):
        last = _metric_row(side, run_id, "loss", step, T0 + step, value, dialect)
        batch.append(last)
        if len(batch) == 100_000:
            yield {"metrics": batch}
            batch = []
    yield {"metrics": batch, "latest_metrics": [last]}


def chunks(n: int) -> Iterator[list[Run]]:
    """The runs of a dataset of ``n``, :data:`CHUNK` at a time."""
    chunk: list[Run] = []
    for run in runs(n):
        chunk.append(run)
        if len(chunk) == CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --- loaders ------------------------------------------------------------------------------


def load_sqlite(path: str, side: str, n: int, experiments: dict[str, Any], history: list[int]) -> None:
    """Write the dataset into ``side``'s sqlite database at ``path`` (schema already made)."""
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("PRAGMA synchronous=OFF")

    def put(rows: dict[str, list[tuple[Any, ...]]]) -> None:
        for table, values in rows.items():
            if values:
                cols = COLUMNS[side][table]
                marks = ", ".join("?" * len(cols.split(",")))
                conn.executemany(f"INSERT INTO {table} ({cols}) VALUES ({marks})", values)

    main, hist = experiments["scaling"], experiments["scaling-history"]
    with conn:
        for chunk in chunks(n):
            put(table_rows(side, "sqlite", chunk, int(main["id"]), main["artifact_location"]))
        for points in history:
            for rows in history_rows(side, "sqlite", points, int(hist["id"]), hist["artifact_location"]):
                put(rows)
    conn.close()


def load_postgresql(dsn: str, side: str, n: int, experiments: dict[str, Any], history: list[int]) -> None:
    """Write the dataset into ``side``'s PostgreSQL database (schema already made), by COPY."""
    import psycopg

    with psycopg.connect(dsn) as conn, conn.cursor() as cur:

        def put(rows: dict[str, list[tuple[Any, ...]]]) -> None:
            for table, values in rows.items():
                if values:
                    with cur.copy(f"COPY {table} ({COLUMNS[side][table]}) FROM STDIN") as copy:
                        for row in values:
                            copy.write_row(row)

        main, hist = experiments["scaling"], experiments["scaling-history"]
        for chunk in chunks(n):
            put(table_rows(side, "postgresql", chunk, int(main["id"]), main["artifact_location"]))
        for points in history:
            for rows in history_rows(side, "postgresql", points, int(hist["id"]), hist["artifact_location"]):
                put(rows)
        conn.commit()


def _write(path: Path, text: str) -> None:
    with open(path, "w") as fh:
        fh.write(text)


def _run_meta(run: Run, experiment_id: str, artifact_root: str) -> str:
    """A run's ``meta.yaml`` as MLflow's file store writes it."""
    return (
        f"artifact_uri: {artifact_root}/{run.run_id}/artifacts\n"
        f"end_time: {run.start_time + 500}\nentry_point_name: ''\nexperiment_id: '{experiment_id}'\n"
        f"lifecycle_stage: active\nrun_id: {run.run_id}\nrun_name: {run.name}\nsource_name: ''\n"
        f"source_type: 4\nsource_version: ''\nstart_time: {run.start_time}\nstatus: 3\ntags: []\n"
        "user_id: bench\n"
    )


def _file_run(root: Path, run: Run, experiment_id: str, artifact_root: str, metrics: dict[str, str]) -> None:
    folder = root / experiment_id / run.run_id
    for sub in ("params", "tags", "metrics", "artifacts"):  # MLflow wants all of them
        os.makedirs(folder / sub, exist_ok=True)
    _write(folder / "meta.yaml", _run_meta(run, experiment_id, artifact_root))
    for key, value in run.params:
        _write(folder / "params" / key, value)
    for key, value in run.tags:
        _write(folder / "tags" / key, value)
    for key, text in metrics.items():
        _write(folder / "metrics" / key, text)


def load_file(root: str, n: int, experiments: dict[str, Any], history: list[int]) -> None:
    """Write the dataset in MLflow's file layout under ``root`` (the experiments exist)."""
    base = Path(root)
    main, hist = experiments["scaling"], experiments["scaling-history"]
    for run in runs(n):
        lines = {k: f"{run.start_time} {v!r} 0\n" for k, v in run.metrics}
        _file_run(base, run, str(main["id"]), main["artifact_location"], lines)
    for points in history:
        run = Run(history_run_id(points), 900_000 + points, [], [("mlflow.runName", f"history-{points}")], [])
        text = "".join(f"{T0 + step} {value!r} {step}\n" for step, value in history_values(points))
        _file_run(base, run, str(hist["id"]), hist["artifact_location"], {"loss": text})
