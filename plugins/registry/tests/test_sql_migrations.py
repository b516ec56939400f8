"""The registry's tables as a migration set of the tracking database: added to a database
tracklet-sql made before the registry plugin was installed (``tracklet db upgrade``), and
the frozen Alembic revision building exactly what ``schema.py`` declares."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext

from tracklet.entities.model_registry import ModelVersionTag
from tracklet.plugins import sql_engine
from tracklet_registry.sql import schema
from tracklet_registry.sql.migration_set import HEAD, MIGRATIONS_DIR, VERSION_TABLE
from tracklet_registry.sql.store import SqlRegistryStore

# Opens the tracking store with the registry plugin unregistered: the database tracklet-sql
# made before tracklet-registry was installed.
_WITHOUT_REGISTRY = """
import sys
from tracklet import plugins
import tracklet_registry.plugin as registry_plugin
plugins.get_plugin_manager()
plugins.unregister(registry_plugin)
store = plugins.get_tracking_store(sys.argv[1])
store.create_experiment("made-before-the-registry")
"""


def _tables(uri: str) -> set[str]:
    engine = sa.create_engine(_driver_url(uri))
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _driver_url(uri: str) -> sa.URL:
    url = sa.engine.make_url(uri)
    drivers = {"postgresql": "postgresql+psycopg", "mysql": "mysql+pymysql"}
    return url.set(drivername=drivers.get(url.drivername, url.drivername))


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def fresh_uri(
    request: pytest.FixtureRequest, tmp_path: os.PathLike[str], new_registry_server_database: Any
) -> Iterator[str]:
    """A database with nothing in it yet (a new one per test on the servers)."""
    if request.param == "sqlite":
        yield f"sqlite:///{os.path.join(tmp_path, 'tracking.db')}"
        return
    with new_registry_server_database(request.param) as uri:
        yield uri


def test_db_upgrade_adds_the_registry_to_a_database_made_before_it(fresh_uri: str) -> None:
    subprocess.run([sys.executable, "-c", _WITHOUT_REGISTRY, fresh_uri], check=True)
    before = _tables(fresh_uri)
    assert "experiments" in before and not before & set(schema.metadata.tables)

    done = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "tracklet"), "db", "upgrade", fresh_uri],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr

    assert set(schema.metadata.tables) | {VERSION_TABLE} <= _tables(fresh_uri)
    with sql_engine(fresh_uri).connect() as conn:
        assert conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all() == [HEAD]
    store = SqlRegistryStore(fresh_uri)
    store.create_registered_model("m")
    version = store.create_model_version("m", "s3://b/1", tags=[ModelVersionTag("k", "v")])
    assert store.get_model_version("m", version.version).tags == {"k": "v"}


def _compare_type(_context: Any, _column: Any, _reflected: Any, inspected: Any, declared: Any) -> bool | None:
    """MySQL reflects ``Float(precision=53)`` as DOUBLE: the same type, not a change."""
    if isinstance(inspected, sa.Float) and isinstance(declared, sa.Float):
        return False
    return None  # Alembic's own comparison


def test_the_alembic_revisions_build_what_schema_declares(fresh_uri: str) -> None:
    engine = sa.create_engine(_driver_url(fresh_uri))
    try:
        with engine.begin() as conn:
            config = Config()
            config.set_main_option("script_location", MIGRATIONS_DIR)
            config.set_main_option("path_separator", "os")
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
        with engine.connect() as conn:
            options = {"version_table": VERSION_TABLE, "compare_type": _compare_type}
            context = MigrationContext.configure(conn, opts=options)
            differences = compare_metadata(context, schema.metadata)
            revision = conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    finally:
        engine.dispose()
    assert differences == []
    assert revision == HEAD
