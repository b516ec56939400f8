"""tracklet migrate from a database real MLflow 3.17.2 wrote: into tracklet's sqlite, into
PostgreSQL, into a folder, into a live ``tracklet server`` with the artifacts going to S3
(moto); each copy read back equal, and ``--verify`` clean."""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from tracklet.cli import build_cli
from tracklet.client import MlflowClient
from tracklet.entities import ViewType
from tracklet.plugins import get_tracking_store

MlflowDb = Any  # tests/migrate/conftest.py's MlflowDb (conftest modules are not imported)


def migrate_cli(*args: str) -> Any:
    result = CliRunner().invoke(
        build_cli(with_plugins=False), ["migrate", "--quiet", *args], catch_exceptions=False
    )
    return result


def snapshot(uri: str) -> dict[str, Any]:
    """What a reader sees through tracklet's store calls, artifact locations left out
    (they are rewritten on purpose)."""
    store = get_tracking_store(uri)
    experiments = {
        e.experiment_id: (e.name, e.lifecycle_stage, e.creation_time, e.last_update_time, dict(e.tags))
        for e in store.search_experiments(ViewType.ALL, 1000)
    }
    runs = {}
    for listed in store.search_runs(sorted(experiments), "", ViewType.ALL, 1000):
        run = store.get_run(listed.info.run_id)
        info = run.info.to_dictionary()
        info.pop("artifact_uri")
        histories = {
            key: sorted((m.step, m.timestamp, repr(m.value)) for m in points)
            for key, points in store.get_metric_histories(run.info.run_id).items()
        }
        inputs = sorted(
            (d.dataset.name, d.dataset.digest, d.dataset.source, d.dataset.schema, d.dataset.profile)
            for d in run.inputs.dataset_inputs
        )
        runs[run.info.run_id] = (info, dict(run.data.params), dict(run.data.tags), histories, inputs)
    return {"experiments": experiments, "runs": runs}


def artifact_trees(uri: str, run_ids: list[str]) -> dict[str, dict[str, int | None]]:
    client = MlflowClient(uri)
    trees: dict[str, dict[str, int | None]] = {}
    for run_id in run_ids:
        found: dict[str, int | None] = {}
        folders: list[str | None] = [None]
        while folders:
            for info in client.list_artifacts(run_id, folders.pop()):
                if info.is_dir:
                    folders.append(info.path)
                else:
                    found[info.path] = info.file_size
        trees[run_id] = found
    return trees


def traces(uri: str, trace_ids: list[str]) -> dict[str, Any]:
    """Each trace's info fields and spans (as dicts) as tracklet's client reads them; the
    tags a destination sets itself (where the spans and traces.json live) left out."""
    from tracklet.tracing.client import TracingClient

    found = {}
    for trace in TracingClient(uri).batch_get_traces(trace_ids):
        info = trace.info
        tags = {
            k: v
            for k, v in info.tags.items()
            if k not in ("mlflow.artifactLocation", "mlflow.trace.spansLocation")
        }
        spans = sorted((s.to_dict() for s in trace.data.spans), key=lambda d: str(d["span_id"]))
        found[info.trace_id] = (
            str(info.experiment_id),
            info.request_time,
            str(info.state),
            info.execution_duration,
            info.request_preview,
            info.response_preview,
            dict(info.trace_metadata),
            tags,
            spans,
        )
    return found


def digest(path: Path) -> str:
    """The database's schema and rows (not its bytes: opening it may switch its journal mode)."""
    import sqlite3

    connection = sqlite3.connect(path)
    try:
        return hashlib.sha256("\n".join(connection.iterdump()).encode()).hexdigest()
    finally:
        connection.close()


def check_copy(db: MlflowDb, dst: str, *options: str) -> None:
    """Copy, compare what both sides read, and --verify."""
    before = digest(db.path)
    result = migrate_cli(db.uri, dst, *options)
    assert result.exit_code == 0, result.output
    assert f"runs: {len(db.runs)}" in result.output
    assert "registered_models: 1" in result.output, result.output  # the registry phase ran
    source, copy = snapshot(db.uri), snapshot(dst)
    assert copy == source
    assert len(source["runs"]) == len(db.runs)
    assert f"traces: {len(db.traces)} ({2 * len(db.traces)} spans)" in result.output, result.output
    assert traces(dst, db.traces) == traces(db.uri, db.traces)
    assert len(traces(dst, db.traces)) == len(db.traces)
    assert artifact_trees(dst, db.runs) == artifact_trees(db.uri, db.runs)
    assert sum(len(tree) for tree in artifact_trees(dst, db.runs).values()) == len(db.runs) // 3
    odd = [h["odd"] for _, _, _, h, _ in source["runs"].values() if "odd" in h]
    assert odd and all(any(math.isnan(float(v)) for _, _, v in points) for points in odd)
    verified = migrate_cli(db.uri, dst, "--verify", *options)
    assert verified.exit_code == 0, verified.output
    assert "No difference" in verified.output
    assert digest(db.path) == before, "the copy changed MLflow's database"


def test_mlflow_db_into_tracklet_sqlite(mlflow_db: MlflowDb, tmp_path: Path) -> None:
    import sqlite3

    dst = f"sqlite:///{tmp_path / 'tracklet.db'}"
    check_copy(mlflow_db, dst)
    tables = {
        row[0] for row in sqlite3.connect(tmp_path / "tracklet.db").execute("SELECT name FROM sqlite_master")
    }
    assert "alembic_version" not in tables  # tracklet's own schema, not MLflow's
    run = get_tracking_store(dst).get_run(mlflow_db.runs[0])
    assert (
        run.info.artifact_uri == f"{tmp_path / 'mlruns'}/{run.info.experiment_id}/{run.info.run_id}/artifacts"
    )


def test_mlflow_db_into_postgresql(mlflow_db: MlflowDb, postgres_database: str) -> None:
    check_copy(mlflow_db, postgres_database)


def test_mlflow_db_into_a_folder(mlflow_db: MlflowDb, tmp_path: Path) -> None:
    dst = str(tmp_path / "mlruns")
    check_copy(mlflow_db, dst)
    run = get_tracking_store(dst).get_run(mlflow_db.runs[0])
    assert (run.info.artifact_uri or "").startswith(str(tmp_path / "mlruns"))


def test_mlflow_db_into_a_tracklet_server_with_artifacts_on_s3(
    mlflow_db: MlflowDb, tmp_path: Path, bucket: str
) -> None:
    from tracklet_http.testing import launch_tracklet_server

    (tmp_path / "server").mkdir()
    server = launch_tracklet_server(tmp_path / "server")
    try:
        root = f"s3://{bucket}/migrated"
        check_copy(mlflow_db, server.url, "--artifact-root", root)
        run = MlflowClient(server.url).get_run(mlflow_db.runs[0])
        assert run.info.artifact_uri == f"{root}/{run.info.experiment_id}/{run.info.run_id}/artifacts"
        import boto3

        s3 = boto3.client("s3", endpoint_url=os.environ["TRACKLET_S3_ENDPOINT_URL"])
        keys = s3.list_objects_v2(Bucket=bucket, Prefix="migrated/").get("KeyCount", 0)
        assert keys == len(mlflow_db.runs) // 3
    finally:
        server.stop()


_MLFLOW_READS_TRACES = """
import json, sys
from mlflow import MlflowClient
client = MlflowClient(sys.argv[1])
found = {}
for trace_id in json.loads(sys.argv[2]):
    trace = client.get_trace(trace_id)
    info = trace.info
    tags = {k: v for k, v in info.tags.items() if k != "mlflow.artifactLocation"}
    spans = sorted((s.to_dict() for s in trace.data.spans), key=lambda d: str(d["span_id"]))
    found[trace_id] = [info.experiment_id, info.request_time, str(info.state), info.execution_duration,
                       info.request_preview, info.response_preview, info.trace_metadata, tags, spans]
print(json.dumps(found, sort_keys=True, default=str))
"""


def mlflow_reads_traces(uri: str, trace_ids: list[str], cwd: Path) -> Any:
    import json
    import subprocess
    import sys

    env = {**os.environ, "MLFLOW_TRACKING_URI": "", "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(
        [sys.executable, "-c", _MLFLOW_READS_TRACES, uri, json.dumps(trace_ids)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_traces_go_round_trip_and_mlflow_reads_them_back_equal(mlflow_db: MlflowDb, tmp_path: Path) -> None:
    """MLflow-written traces, copied into tracklet's schema and from there into an MLflow
    database that lost them, are read by MLflow itself with every field and span equal."""
    import shutil
    import sqlite3

    before = mlflow_reads_traces(mlflow_db.uri, mlflow_db.traces, tmp_path)
    assert len(before) == 3 and all(len(t[-1]) == 2 for t in before.values())
    ours = f"sqlite:///{tmp_path / 'tracklet.db'}"
    assert migrate_cli(mlflow_db.uri, ours).exit_code == 0
    emptied = tmp_path / "emptied.db"
    shutil.copyfile(mlflow_db.path, emptied)
    with sqlite3.connect(emptied) as connection:
        for table in ("spans", "trace_tags", "trace_request_metadata", "assessments", "trace_info"):
            connection.execute(f"DELETE FROM {table}")
    back = f"sqlite:///{emptied}"
    assert mlflow_reads_traces(back, [], tmp_path) == {}
    result = migrate_cli(ours, back, "--keep-artifact-uris")
    assert result.exit_code == 0, result.output
    assert f"traces: {len(mlflow_db.traces)}" in result.output
    assert mlflow_reads_traces(back, mlflow_db.traces, tmp_path) == before
    assert migrate_cli(ours, back, "--verify", "--keep-artifact-uris").exit_code == 0
