"""MLflow's tables are built only for a database that is MLflow's: a new process working
on tracklet's own database never imports them (a cost of every first call otherwise)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

_PROBE = """
import sys
import tracklet
client = tracklet.MlflowClient(sys.argv[1])
client.search_experiments()
print("tracklet_sql._mlflow_schema" in sys.modules)
"""


def _imports_mlflow_schema(uri: str) -> bool:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, uri], capture_output=True, text=True, check=True, timeout=120
    )
    return done.stdout.strip() == "True"


def test_a_tracklet_database_does_not_build_mlflows_tables(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'tracklet.db'}"
    assert not _imports_mlflow_schema(uri)  # created by this call
    assert not _imports_mlflow_schema(uri)  # opened as it is


def test_mlflows_schema_is_built_on_first_use() -> None:
    from tracklet_sql._mlflow_revisions import HEAD
    from tracklet_sql._schemas import mlflow_schema

    schema = mlflow_schema(HEAD)
    assert schema.name == "mlflow" and not schema.owns_ddl
    assert schema.metrics.c.nonfinite.name == "is_nan"  # MLflow's column under tracklet's key
