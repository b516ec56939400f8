"""The core's registry and logged-model conformance suites on databases real MLflow created.

MLflow 3.17.2 (in a subprocess) creates an empty database of its schema once per session:
a sqlite file, copied for each test, and a PostgreSQL and a MariaDB/MySQL database (when
reachable), emptied between tests. tracklet-registry must open it as MLflow's schema
(:class:`~tracklet_registry.sql.mlflow_store.MlflowSchemaRegistryStore`) and pass every
test the other registry stores pass, concurrent version numbering included.
"""

from __future__ import annotations

import os
import pathlib
import shutil
from collections.abc import Iterator

import pytest
from _interop_tools import mysql_database, postgres_database, run_python

from tracklet.plugins import get_tracking_store
from tracklet.stores import TrackingStore
from tracklet.testing import LoggedModelStoreSuite, RegistryStoreSuite

pytestmark = pytest.mark.interop

#: Creates MLflow's tables (every migration, as ``mlflow server`` does on a new database).
CREATE = r"""
import sys, warnings
warnings.simplefilter("ignore")
from mlflow import MlflowClient
client = MlflowClient(tracking_uri=sys.argv[1], registry_uri=sys.argv[1])
client.search_experiments()
client.search_registered_models()
"""
_KEEP = ("alembic_version",)


def _create_with_mlflow(uri: str, cwd: pathlib.Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TRACKING_URI", "_REGISTRY_URI"))}
    run_python(CREATE, uri, cwd=cwd, env=env)


@pytest.fixture(scope="session")
def mlflow_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    folder = tmp_path_factory.mktemp("mlflow-template")
    path = folder / "mlflow.db"
    _create_with_mlflow(f"sqlite:///{path}", folder)
    return path


@pytest.fixture(scope="session")
def mlflow_postgresql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with postgres_database("tracklet_mlflow_conformance") as uri:
        _create_with_mlflow(uri, tmp_path_factory.mktemp("mlflow-pg"))
        yield uri


@pytest.fixture(scope="session")
def mlflow_mysql(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mysql_database("tracklet_mlflow_conformance") as uri:
        _create_with_mlflow(uri, tmp_path_factory.mktemp("mlflow-mysql"))
        yield uri


def _empty(uri: str) -> None:
    """Delete every row but the schema revision and the Default experiment."""
    import sqlalchemy as sa

    engine = sa.create_engine(uri)
    try:
        with engine.begin() as conn:
            mysql = engine.dialect.name in ("mysql", "mariadb")
            if mysql:  # MLflow's tables reference each other in cycles: no order fits
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
            elif engine.dialect.name == "postgresql":
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            for name in sorted(set(sa.inspect(conn).get_table_names()) - set(_KEEP)):
                where = " WHERE experiment_id <> 0" if name == "experiments" else ""
                conn.exec_driver_sql(f"DELETE FROM {name}{where}")
            if mysql:
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def mlflow_uri(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> str:
    if request.param == "sqlite":
        path = tmp_path / "mlflow.db"
        shutil.copy(request.getfixturevalue("mlflow_sqlite_template"), path)
        return f"sqlite:///{path}"
    uri: str = request.getfixturevalue(f"mlflow_{request.param}")
    _empty(uri)
    return uri


def _mlflow_schema_store(uri: str) -> object:
    from tracklet_registry.sql.factory import sql_registry_store
    from tracklet_registry.sql.mlflow_store import MlflowSchemaRegistryStore

    store = sql_registry_store(uri)
    assert isinstance(store, MlflowSchemaRegistryStore), f"{uri} was not opened as MLflow's schema"
    return store


class TestMlflowDatabaseRegistryConformance(RegistryStoreSuite):
    @pytest.fixture
    def registry_store(self, mlflow_uri: str) -> object:
        return _mlflow_schema_store(mlflow_uri)


class TestMlflowDatabaseLoggedModelConformance(LoggedModelStoreSuite):
    @pytest.fixture
    def tracking_store(self, mlflow_uri: str) -> TrackingStore:
        return get_tracking_store(mlflow_uri)

    @pytest.fixture
    def logged_model_store(self, mlflow_uri: str) -> object:
        return _mlflow_schema_store(mlflow_uri)
