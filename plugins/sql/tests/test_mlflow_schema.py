"""The core conformance suite on databases real MLflow 3.17.2 created: tracklet-sql serves
MLflow's own schema as it is (no DDL), on sqlite, PostgreSQL and MariaDB/MySQL.

Where MLflow's store itself behaves otherwise, tracklet-sql does as MLflow does, and the
few tests asserting tracklet's own behaviour are skipped here, each saying why.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
import sqlalchemy as sa

from tracklet.exceptions import TrackletException
from tracklet.testing import TraceStoreSuite, TrackingStoreSuite
from tracklet_sql import _mlflow_revisions as mlflow_revisions
from tracklet_sql._engine import dialect_name, make_engine
from tracklet_sql.store import SqlStore

#: Creates MLflow's schema at the URI given (MLflow's client does on first use).
_CREATE = "import sys, mlflow; mlflow.MlflowClient(tracking_uri=sys.argv[1]).search_experiments()"


#: Creates MLflow's schema at an older revision, as MLflow's own upgrades leave it.
_CREATE_AT = """
import sys
import sqlalchemy as sa
from alembic import command
from mlflow.store.db.utils import _get_alembic_config
from mlflow.store.tracking.dbmodels.initial_models import Base
uri, revision = sys.argv[1], sys.argv[2]
engine = sa.create_engine(uri)
Base.metadata.create_all(engine)
with engine.begin() as conn:
    config = _get_alembic_config(uri)
    config.attributes["connection"] = conn
    command.upgrade(config, revision)
"""


def create_mlflow_database_at(path: pathlib.Path, revision: str) -> None:
    """An MLflow sqlite database at ``revision`` of MLflow's chain (no Default experiment:
    MLflow's store adds it on open, tracklet-sql's does the same)."""
    done = subprocess.run(
        [sys.executable, "-c", _CREATE_AT, f"sqlite:///{path}", revision], capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(
            f"MLflow could not create its schema at revision {revision}:\n{done.stderr[-3000:]}"
        )


def create_mlflow_database(uri: str) -> None:
    """Let MLflow create its schema (and its Default experiment) at ``uri``."""
    env = {**os.environ, "MLFLOW_ALLOW_FILE_STORE": "true"}
    done = subprocess.run(
        [sys.executable, "-c", _CREATE, _driver_uri(uri)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"MLflow could not create its schema at {uri}:\n{done.stderr[-3000:]}")


def _driver_uri(uri: str) -> str:
    """MLflow's own driver choice: psycopg2 is not installed here, PyMySQL is the MySQL driver."""
    url = sa.engine.make_url(uri)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    elif url.drivername == "mysql":
        url = url.set(drivername="mysql+pymysql")
    return url.render_as_string(hide_password=False)


def empty_mlflow_database(uri: str) -> None:
    """Delete every row of MLflow's tables but its revision, so the next store opened on
    ``uri`` starts with just the Default experiment (which tracklet-sql adds as MLflow would)."""
    engine = make_engine(uri)
    try:
        with engine.begin() as conn:
            names = sorted(set(sa.inspect(conn).get_table_names()) - {"alembic_version"})
            dialect = dialect_name(conn)
            if dialect == "postgresql":
                conn.exec_driver_sql(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE")
                return
            if dialect == "mysql":
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=0")
            else:
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
            for name in names:
                conn.exec_driver_sql(f"DELETE FROM {name}")
            if dialect == "mysql":
                conn.exec_driver_sql("SET FOREIGN_KEY_CHECKS=1")
    finally:
        engine.dispose()


#: tracklet's own behaviour that MLflow's store does not have (tracklet-sql follows MLflow there).
_MLFLOW_DIFFERS = {
    "test_nan_and_infinities_round_trip": "MLflow stores +inf and -inf as the largest doubles and reads "
    "them back so (test_mlflow_db_interop compares with MLflow's own reading)",
}
#: As above, on the servers only (sqlite stores any length, as MLflow's store does there).
_MLFLOW_SERVER_DIFFERS = {
    "test_name_of_500_characters_is_accepted": "MLflow's experiments.name holds 256 characters; "
    "tracklet-sql refuses a longer name with INVALID_PARAMETER_VALUE (test_longer_than_mlflow_holds_is_refused)",
}


def _open(uri: str, tmp_path: pathlib.Path) -> Iterator[SqlStore]:
    store = SqlStore(uri, str(tmp_path / "artifacts"))
    assert store.schema.name == "mlflow", "the store must serve MLflow's schema here"
    yield store
    store.close()


@pytest.fixture(scope="session")
def mlflow_sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    path = tmp_path_factory.mktemp("mlflow") / "template.db"
    create_mlflow_database(f"sqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def mlflow_postgres_uri(
    new_server_database: Callable[[str], AbstractContextManager[str]],
) -> Iterator[str]:
    with new_server_database("postgresql") as uri:
        create_mlflow_database(uri)
        yield uri


@pytest.fixture(scope="session")
def mlflow_mysql_uri(new_server_database: Callable[[str], AbstractContextManager[str]]) -> Iterator[str]:
    with new_server_database("mysql") as uri:
        create_mlflow_database(uri)
        yield uri


@pytest.fixture(autouse=True)
def _mlflow_differs(request: pytest.FixtureRequest) -> None:
    reason = _MLFLOW_DIFFERS.get(request.node.originalname)
    if reason is None and "Sqlite" not in request.node.nodeid:
        reason = _MLFLOW_SERVER_DIFFERS.get(request.node.originalname)
    if reason is not None:
        pytest.skip(f"MLflow's own store differs: {reason}")


class _OnSqlite:
    """A copy of MLflow's sqlite template for each test."""

    @pytest.fixture
    def store(self, mlflow_sqlite_template: pathlib.Path, tmp_path: pathlib.Path) -> Iterator[SqlStore]:
        path = tmp_path / "mlflow.db"
        shutil.copyfile(mlflow_sqlite_template, path)
        yield from _open(f"sqlite:///{path}", tmp_path)


class _OnPostgres:
    """MLflow's PostgreSQL database of the session, emptied for each test."""

    @pytest.fixture
    def store(self, mlflow_postgres_uri: str, tmp_path: pathlib.Path) -> Iterator[SqlStore]:
        empty_mlflow_database(mlflow_postgres_uri)
        yield from _open(mlflow_postgres_uri, tmp_path)


class _OnMySQL:
    """MLflow's MariaDB/MySQL database of the session, emptied for each test."""

    @pytest.fixture
    def store(self, mlflow_mysql_uri: str, tmp_path: pathlib.Path) -> Iterator[SqlStore]:
        empty_mlflow_database(mlflow_mysql_uri)
        yield from _open(mlflow_mysql_uri, tmp_path)


class TestMlflowSqlite(_OnSqlite, TrackingStoreSuite):
    pass


class TestMlflowPostgres(_OnPostgres, TrackingStoreSuite):
    pass


class TestMlflowMySQL(_OnMySQL, TrackingStoreSuite):
    pass


class TestMlflowSqliteTraces(_OnSqlite, TraceStoreSuite):
    pass


class TestMlflowPostgresTraces(_OnPostgres, TraceStoreSuite):
    pass


class TestMlflowMySQLTraces(_OnMySQL, TraceStoreSuite):
    pass


@pytest.mark.parametrize("server", ["postgres", "mysql"])
def test_longer_than_mlflow_holds_is_refused(
    server: str, request: pytest.FixtureRequest, tmp_path: pathlib.Path
) -> None:
    uri = request.getfixturevalue(f"mlflow_{server}_uri")
    empty_mlflow_database(uri)
    for store in _open(uri, tmp_path):
        with pytest.raises(TrackletException, match="holds at most 256") as info:
            store.create_experiment("x" * 257)
        assert info.value.error_code == "INVALID_PARAMETER_VALUE"
        assert store.get_experiment_by_name("x" * 257) is None
        store.create_experiment("x" * 256)
        experiment_id = store.create_experiment("deep", artifact_location="s3://b/" + "d" * 190)
        with pytest.raises(TrackletException, match="holds at most 200"):
            store.create_run(experiment_id, "u", 0, [], "r")


@pytest.fixture(scope="session")
def mlflow_revision_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pathlib.Path]:
    """sqlite databases at the oldest revision served and at the spans table's."""
    folder = tmp_path_factory.mktemp("mlflow-revisions")
    out = {}
    for revision in (mlflow_revisions.FIRST_SERVED, mlflow_revisions.SPANS):
        out[revision] = folder / f"{revision}.db"
        create_mlflow_database_at(out[revision], revision)
    return out


def _copy_at(templates: dict[str, pathlib.Path], revision: str, tmp_path: pathlib.Path) -> str:
    path = tmp_path / "mlflow.db"
    shutil.copyfile(templates[revision], path)
    return f"sqlite:///{path}"


class TestMlflowOldestRevisionSqlite(TrackingStoreSuite):
    """MLflow 2.4's schema (datasets, no inputs.step, no workspaces, no trace tables)."""

    @pytest.fixture
    def store(
        self, mlflow_revision_templates: dict[str, pathlib.Path], tmp_path: pathlib.Path
    ) -> Iterator[SqlStore]:
        yield from _open(
            _copy_at(mlflow_revision_templates, mlflow_revisions.FIRST_SERVED, tmp_path), tmp_path
        )


class TestMlflowSpansRevisionSqliteTraces(TraceStoreSuite):
    """The first revision with the spans table: the trace name is still a tag there."""

    @pytest.fixture
    def store(
        self, mlflow_revision_templates: dict[str, pathlib.Path], tmp_path: pathlib.Path
    ) -> Iterator[SqlStore]:
        yield from _open(_copy_at(mlflow_revision_templates, mlflow_revisions.SPANS, tmp_path), tmp_path)


def test_traces_before_the_spans_table_are_refused_saying_how_to_upgrade(
    mlflow_revision_templates: dict[str, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    for store in _open(
        _copy_at(mlflow_revision_templates, mlflow_revisions.FIRST_SERVED, tmp_path), tmp_path
    ):
        assert store.schema.revision == mlflow_revisions.FIRST_SERVED
        with pytest.raises(TrackletException, match="mlflow db upgrade") as info:
            store.search_traces(["0"])
        assert info.value.error_code == "NOT_IMPLEMENTED"
        with pytest.raises(TrackletException, match="mlflow db upgrade"):
            store.get_trace_info("tr-" + "0" * 32)
