"""With tracklet-sql installed and nothing configured, tracklet tracks to ``./mlflow.db``
(MLflow 3.7+'s default), unless ``./mlruns`` already holds file-store experiments."""

from __future__ import annotations

import pathlib

import pytest

from tracklet import plugins  # noqa: E402
from tracklet.tracking import get_tracking_uri, set_tracking_uri  # noqa: E402


@pytest.fixture(autouse=True)
def nothing_configured(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    for name in ("TRACKLET_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
    set_tracking_uri(None)  # as if set_tracking_uri was never called
    monkeypatch.chdir(tmp_path)
    plugins.reset()


def test_the_default_is_mlflow_db_in_the_working_directory(tmp_path: pathlib.Path):
    expected = f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert plugins.default_tracking_uri() == expected
    assert get_tracking_uri() == expected


def test_an_mlruns_folder_of_artifacts_only_keeps_the_sqlite_default(tmp_path: pathlib.Path):
    # where a database-backed store keeps artifacts: no meta.yaml, so not file-store data
    (tmp_path / "mlruns" / "1" / "0123abcd" / "artifacts").mkdir(parents=True)
    assert plugins.default_tracking_uri() == f"sqlite:///{tmp_path / 'mlflow.db'}"


def test_existing_file_store_experiments_keep_the_mlruns_default(tmp_path: pathlib.Path):
    experiment = tmp_path / "mlruns" / "0"
    experiment.mkdir(parents=True)
    (experiment / "meta.yaml").write_text("name: Default\n")
    uri = plugins.default_tracking_uri()
    assert uri is not None and "sqlite" not in uri
    assert uri.rstrip("/").endswith("mlruns")


def test_the_default_follows_the_working_directory(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch):
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    assert plugins.default_tracking_uri() == f"sqlite:///{other / 'mlflow.db'}"
