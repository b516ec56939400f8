"""The core's registry and logged-model conformance suites on the SQL registry store:
sqlite, PostgreSQL and MariaDB."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from tracklet.plugins import get_tracking_store, sql_engine
from tracklet.stores import TrackingStore
from tracklet.testing import LoggedModelStoreSuite, RegistryStoreSuite
from tracklet_registry.sql.store import SqlRegistryStore

_KEEP = ("alembic_version",)  # version tables end so; their rows stay


_REFLECTED: dict[str, sa.MetaData] = {}


def _empty_database(uri: str) -> None:
    """Delete every row of the session database but the schema records and the Default
    experiment, so the next test starts as on a new database."""
    engine = sql_engine(uri)
    with engine.begin() as conn:
        tables = _REFLECTED.get(uri)
        if tables is None:
            tables = _REFLECTED[uri] = sa.MetaData()
            tables.reflect(conn)
        for table in reversed(tables.sorted_tables):
            if table.name.endswith(_KEEP):
                continue
            if table.name == "experiments":
                conn.execute(table.delete().where(table.c.experiment_id != 0))
            else:
                conn.execute(table.delete())


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def sql_uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'conformance.db'}"
    uri: str = request.getfixturevalue(f"registry_{request.param}_uri")
    get_tracking_store(uri)  # the tracking tables exist before they are emptied
    _empty_database(uri)
    return uri


class TestSqlRegistryConformance(RegistryStoreSuite):
    @pytest.fixture
    def registry_store(self, sql_uri: str) -> SqlRegistryStore:
        return SqlRegistryStore(sql_uri)


class TestSqlLoggedModelConformance(LoggedModelStoreSuite):
    @pytest.fixture
    def tracking_store(self, sql_uri: str) -> TrackingStore:
        return get_tracking_store(sql_uri)

    @pytest.fixture
    def logged_model_store(self, sql_uri: str) -> SqlRegistryStore:
        return SqlRegistryStore(sql_uri)
