"""With tracklet-sql installed and nothing configured, tracklet tracks to the working
directory's earlier data: ``./tracklet.db``, else MLflow's ``./mlflow.db``, else
``./mlruns`` when it holds file-store experiments, else a new ``./tracklet.db`` — so a
new project never creates the file MLflow (3.7+) looks for, and both tools share a folder.
"""

from __future__ import annotations

import json
import os
import pathlib
import sqlite3
import subprocess
import sys

import pytest

from tracklet import MlflowClient, plugins
from tracklet.tracking import get_tracking_uri, set_tracking_uri


@pytest.fixture(autouse=True)
def nothing_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    for name in ("TRACKLET_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    set_tracking_uri(None)  # as if set_tracking_uri was never called
    monkeypatch.chdir(tmp_path)
    plugins.reset()


def sqlite_uri(path: pathlib.Path) -> str:
    return f"sqlite:///{path}"


def file_store_experiment(root: pathlib.Path) -> None:
    experiment = root / "mlruns" / "0"
    experiment.mkdir(parents=True)
    (experiment / "meta.yaml").write_text("name: Default\n")


def sqlite_file(path: pathlib.Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE t (x INTEGER)")


def test_a_new_project_gets_tracklet_db_and_asking_creates_nothing(tmp_path: pathlib.Path):
    expected = sqlite_uri(tmp_path / "tracklet.db")
    assert plugins.default_tracking_uri() == expected
    assert get_tracking_uri() == expected
    assert list(tmp_path.iterdir()) == []


def test_an_existing_tracklet_db_wins_over_mlflow_db_and_mlruns(tmp_path: pathlib.Path):
    sqlite_file(tmp_path / "tracklet.db")
    sqlite_file(tmp_path / "mlflow.db")
    file_store_experiment(tmp_path)
    assert plugins.default_tracking_uri() == sqlite_uri(tmp_path / "tracklet.db")


def test_an_existing_mlflow_db_is_used_when_there_is_no_tracklet_db(tmp_path: pathlib.Path):
    sqlite_file(tmp_path / "mlflow.db")
    assert plugins.default_tracking_uri() == sqlite_uri(tmp_path / "mlflow.db")
    assert not (tmp_path / "tracklet.db").exists()


def test_mlruns_experiments_win_over_mlflow_db_as_in_mlflow(tmp_path: pathlib.Path):
    """MLflow 3.7+ checks ./mlruns first; in a folder with both, both tools read mlruns."""
    sqlite_file(tmp_path / "mlflow.db")
    file_store_experiment(tmp_path)
    uri = plugins.default_tracking_uri()
    assert uri is not None and "sqlite" not in uri and uri.rstrip("/").endswith("mlruns")


def test_an_empty_mlflow_db_is_not_taken_for_data(tmp_path: pathlib.Path):
    # `touch mlflow.db` holds no runs; tracklet's tables written into it would break MLflow
    (tmp_path / "mlflow.db").touch()
    assert plugins.default_tracking_uri() == sqlite_uri(tmp_path / "tracklet.db")


def test_a_folder_named_like_a_database_is_not_one(tmp_path: pathlib.Path):
    (tmp_path / "tracklet.db").mkdir()
    (tmp_path / "mlflow.db").mkdir()
    file_store_experiment(tmp_path)
    uri = plugins.default_tracking_uri()
    assert uri is not None and uri.rstrip("/").endswith("/mlruns")


def test_existing_file_store_experiments_keep_the_mlruns_default(tmp_path: pathlib.Path):
    file_store_experiment(tmp_path)
    uri = plugins.default_tracking_uri()
    assert uri is not None and "sqlite" not in uri
    assert uri.rstrip("/").endswith("mlruns")
    assert get_tracking_uri() == uri


def test_an_mlruns_folder_of_artifacts_only_keeps_the_sqlite_default(tmp_path: pathlib.Path):
    # where a database-backed store keeps artifacts: no meta.yaml, so not file-store data
    (tmp_path / "mlruns" / "1" / "0123abcd" / "artifacts").mkdir(parents=True)
    assert plugins.default_tracking_uri() == sqlite_uri(tmp_path / "tracklet.db")


def test_the_default_follows_the_working_directory(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch):
    sqlite_file(tmp_path / "mlflow.db")
    assert plugins.default_tracking_uri() == sqlite_uri(tmp_path / "mlflow.db")
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    assert plugins.default_tracking_uri() == sqlite_uri(other / "tracklet.db")


@pytest.mark.parametrize("name", ["TRACKLET_TRACKING_URI", "MLFLOW_TRACKING_URI"])
def test_a_configured_uri_still_wins_over_found_data(
    name: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
):
    sqlite_file(tmp_path / "mlflow.db")
    chosen = sqlite_uri(tmp_path / "chosen.db")
    monkeypatch.setenv(name, chosen)
    assert get_tracking_uri() == chosen
    set_tracking_uri(sqlite_uri(tmp_path / "explicit.db"))
    try:
        assert get_tracking_uri() == sqlite_uri(tmp_path / "explicit.db")
    finally:
        set_tracking_uri(None)


# Real MLflow with nothing configured, in the test's folder: it tracks to ./mlflow.db.
MLFLOW_LOGS = r"""
import json, mlflow
with mlflow.start_run(run_name=__import__("sys").argv[1]) as run:
    mlflow.log_param("tool", "mlflow")
runs = mlflow.search_runs(experiment_ids=["0"], output_format="list")
print(json.dumps({"uri": mlflow.get_tracking_uri(), "runs": sorted(r.info.run_name for r in runs)}))
"""


def run_mlflow(folder: pathlib.Path, run_name: str) -> dict[str, object]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TRACKLET_"))}
    done = subprocess.run(
        [sys.executable, "-c", MLFLOW_LOGS, run_name],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def tracklet_run_names() -> list[str]:
    runs = MlflowClient().search_runs(["0"])
    return sorted(run.info.run_name for run in runs)


@pytest.mark.interop
def test_mlflow_and_tracklet_share_a_new_folder(tmp_path: pathlib.Path):
    """tracklet first: its tracklet.db does not stand where MLflow looks, so MLflow then
    starts its own mlflow.db and works; each tool keeps seeing its own runs."""
    client = MlflowClient()
    run = client.create_run("0", run_name="by-tracklet")
    client.set_terminated(run.info.run_id)
    assert (tmp_path / "tracklet.db").is_file()
    assert not (tmp_path / "mlflow.db").exists()

    seen = run_mlflow(tmp_path, "by-mlflow")
    assert seen == {"uri": sqlite_uri(tmp_path / "mlflow.db"), "runs": ["by-mlflow"]}
    assert (tmp_path / "mlflow.db").is_file()

    plugins.reset()
    assert plugins.default_tracking_uri() == sqlite_uri(tmp_path / "tracklet.db")
    assert tracklet_run_names() == ["by-tracklet"]


@pytest.mark.interop
def test_tracklet_keeps_an_mlflow_projects_runs(tmp_path: pathlib.Path):
    """MLflow first: `import tracklet as mlflow` with nothing configured sees MLflow's
    runs in ./mlflow.db, adds its own there, and MLflow reads both afterwards."""
    run_mlflow(tmp_path, "by-mlflow")
    assert plugins.default_tracking_uri() == sqlite_uri(tmp_path / "mlflow.db")
    assert tracklet_run_names() == ["by-mlflow"]

    client = MlflowClient()
    run = client.create_run("0", run_name="by-tracklet")
    client.set_terminated(run.info.run_id)
    assert not (tmp_path / "tracklet.db").exists()

    seen = run_mlflow(tmp_path, "by-mlflow-again")
    assert seen["runs"] == ["by-mlflow", "by-mlflow-again", "by-tracklet"]
