"""Sources and destinations for the end-to-end migrate tests.

* ``mlflow_db``: a tracking database written by real MLflow 3.17.2 (``mlflow_writer.py`` in a
  subprocess: experiments active and deleted, runs of every status, nested and deleted runs,
  params, tags, metric histories with NaN and infinities, datasets, artifacts, a registered
  model with versions, an alias and a deleted version, three traces). MLflow takes seconds per dozen runs,
  so the database is built once per machine and writer version, under the temp folder, and
  only read by the tests (a fresh copy of the file per test);
* ``postgres_database``: a fresh PostgreSQL database per test (``TRACKLET_TEST_POSTGRES_URI``);
* ``moto``: moto's S3 server for the session, and ``bucket``: a new bucket with boto3's
  environment pointing at it.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

#: Runs the MLflow database holds: enough for a copy to take a few seconds (the kill test
#: needs room to land its kills in), few enough to build in under a minute once.
RUNS = 60
WRITER = Path(__file__).with_name("mlflow_writer.py")
POSTGRES = os.environ.get("TRACKLET_TEST_POSTGRES_URI", "postgresql://postgres@127.0.0.1:5432/test")


@dataclasses.dataclass(frozen=True)
class MlflowDb:
    """An MLflow-written database (a per-test copy of the file) and what it holds."""

    uri: str
    path: Path
    experiments: list[str]
    runs: list[str]
    traces: list[str]


def _mlflow_version() -> str:
    from importlib.metadata import version

    return version("mlflow")


def _built_database() -> tuple[Path, dict[str, list[str]]]:
    """The cached database, built by MLflow on first use (one builder at a time)."""
    key = hashlib.sha256(WRITER.read_bytes() + f"{RUNS}{_mlflow_version()}".encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / f"tracklet-tests-mlflow-db-{key}"
    folder.mkdir(exist_ok=True)
    done = folder / "ids.json"
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            (folder / "mlflow.db").unlink(missing_ok=True)  # what a killed build left
            shutil.rmtree(folder / "mlruns", ignore_errors=True)
            env = {**os.environ, "MLFLOW_TRACKING_URI": "", "PYTHONWARNINGS": "ignore"}
            made = subprocess.run(
                [sys.executable, str(WRITER), f"sqlite:///{folder / 'mlflow.db'}", str(RUNS), "17"],
                cwd=folder,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            assert made.returncode == 0, made.stderr[-3000:]
            ids = json.loads(made.stdout.strip().splitlines()[-1])
            done.write_text(json.dumps(ids))
    return folder, json.loads(done.read_text())


@pytest.fixture(scope="session")
def _mlflow_db_cache() -> tuple[Path, dict[str, list[str]]]:
    return _built_database()


@pytest.fixture
def mlflow_db(_mlflow_db_cache: tuple[Path, dict[str, list[str]]], tmp_path: Path) -> MlflowDb:
    """A copy of the MLflow-written database file (its artifacts stay in the cache, read only)."""
    folder, ids = _mlflow_db_cache
    path = tmp_path / "mlflow.db"
    shutil.copyfile(folder / "mlflow.db", path)
    return MlflowDb(f"sqlite:///{path}", path, ids["experiments"], ids["runs"], ids["traces"])


@pytest.fixture
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards (skipped when no server answers)."""
    import sqlalchemy as sa

    try:
        admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no server here"
        if os.environ.get("TRACKLET_TEST_REQUIRE_SERVERS"):
            pytest.fail(f"PostgreSQL is not available at {POSTGRES}: {exc}")
        pytest.skip(f"PostgreSQL is not available at {POSTGRES} (set TRACKLET_TEST_POSTGRES_URI): {exc}")
    name = f"tracklet_migrate_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.engine.make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()


@pytest.fixture(scope="session")
def moto(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    from tracklet_s3.testing import MotoServer

    with MotoServer(tmp_path_factory.mktemp("moto") / "moto.log") as server:
        yield server


@pytest.fixture
def bucket(moto: object, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket, and this process's boto3 pointed at the moto server."""
    import boto3

    for key, value in moto.environment().items():  # type: ignore[attr-defined]
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    name = f"migrate-{uuid.uuid4().hex[:16]}"
    client = boto3.client("s3", endpoint_url=moto.url)  # type: ignore[attr-defined]
    client.create_bucket(Bucket=name)
    client.close()
    return name


@pytest.fixture(autouse=True)
def _journals_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)  # a database's default artifact root is ./mlruns
    for name in ("TRACKLET_TRACKING_URI", "MLFLOW_TRACKING_URI"):
        monkeypatch.delenv(name, raising=False)
