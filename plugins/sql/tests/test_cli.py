"""``tracklet db``, run through the real ``tracklet`` CLI (so through the plugin hook)."""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa  # noqa: E402
from click.testing import CliRunner, Result  # noqa: E402

from tracklet.cli import build_cli  # noqa: E402
from tracklet_sql import _migrations as migrations  # noqa: E402
from tracklet_sql import _mlflow_revisions as mlflow_revisions  # noqa: E402
from tracklet_sql._engine import make_engine  # noqa: E402


def run(*args: str) -> Result:
    try:  # click 8.1 mixes stderr into output unless told otherwise; 8.2+ keeps both
        runner = CliRunner(mix_stderr=False)
    except TypeError:
        runner = CliRunner()
    return runner.invoke(build_cli(), list(args), catch_exceptions=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def uri(request: pytest.FixtureRequest, tmp_path: pathlib.Path, new_server_database: Any) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tracklet.db'}"
    else:
        with new_server_database(request.param) as uri:
            yield uri


def revision(uri: str) -> str | None:
    engine = make_engine(uri)
    try:
        return migrations.current_revision(engine)
    finally:
        engine.dispose()


def test_db_is_listed_in_the_help():
    result = run("--help")
    assert result.exit_code == 0
    assert "db" in result.stdout.split()
    result = run("db", "--help")
    assert "upgrade" in result.stdout and "current" in result.stdout


def test_upgrade_creates_the_schema_then_has_nothing_to_do(uri: str):
    result = run("db", "upgrade", uri)
    assert result.exit_code == 0, result.stderr
    assert f"Created the tracklet schema at revision {migrations.HEAD}" in result.stdout
    assert revision(uri) == migrations.HEAD
    result = run("db", "upgrade", uri)
    assert result.exit_code == 0, result.stderr
    assert "already at revision" in result.stdout and "nothing to do" in result.stdout


def test_current_says_whether_the_schema_is_current(uri: str):
    assert revision(uri) is None  # connecting creates an empty sqlite file
    result = run("db", "current", uri)
    assert result.exit_code == 0, result.stderr
    assert "revision none" in result.stdout and "tracklet db upgrade" in result.stdout
    run("db", "upgrade", uri)
    result = run("db", "current", uri)
    assert result.exit_code == 0, result.stderr
    assert f"revision {migrations.HEAD} (current)" in result.stdout


def test_upgrade_of_a_newer_schema_fails_with_what_to_do(uri: str):
    run("db", "upgrade", uri)
    engine = make_engine(uri)
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = 'f00dcafe'"))
    engine.dispose()
    result = run("db", "upgrade", uri)
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "pip install -U tracklet-sql" in result.stderr
    assert "Traceback" not in result.stderr
    result = run("db", "current", uri)
    assert "revision f00dcafe (newer than" in result.stdout


def test_upgrade_refuses_an_mlflow_database(tmp_path: pathlib.Path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    engine = make_engine(uri)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
    engine.dispose()
    result = run("db", "upgrade", uri)
    assert result.exit_code == 1 and "MLflow's schema" in result.stderr
    result = run("db", "current", uri)
    assert result.exit_code == 0 and "MLflow's schema at revision none (not served" in result.stdout


def test_current_of_an_mlflow_database_says_it_is_served_as_is(tmp_path: pathlib.Path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    script = f"import mlflow; mlflow.MlflowClient(tracking_uri={uri!r}).search_experiments()"
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    result = run("db", "current", uri)
    assert result.exit_code == 0, result.stderr
    assert f"MLflow's schema at revision {mlflow_revisions.HEAD} (served as is" in result.stdout
    assert "mlflow db upgrade" in result.stdout


def test_current_of_a_missing_sqlite_file_does_not_create_it(tmp_path: pathlib.Path):
    path = tmp_path / "absent.db"
    result = run("db", "current", f"sqlite:///{path}")
    assert result.exit_code == 1
    assert "no sqlite database" in result.stderr and "tracklet db upgrade" in result.stderr
    assert not path.exists()


def test_a_uri_that_is_not_sql_is_a_user_error(tmp_path: pathlib.Path):
    result = run("db", "upgrade", str(tmp_path / "mlruns"))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "Traceback" not in result.stderr


def test_an_unreachable_server_is_a_user_error_without_the_password():
    result = run("db", "upgrade", "postgresql://someone:s3cret@127.0.0.1:1/nowhere")
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: Database error on postgresql://someone:***@127.0.0.1:1/nowhere")
    assert "s3cret" not in result.stdout + result.stderr and "Traceback" not in result.stderr
