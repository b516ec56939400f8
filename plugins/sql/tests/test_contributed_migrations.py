"""Tables another plugin keeps in the tracking database (``tracklet_sql_migrations``),
and the engine other plugins get through the core (``tracklet_sql_engine``).

A throwaway plugin registered in this process contributes a migration set of its own
(an Alembic folder with two revisions, written to a temp folder): its tables are created
on a fresh database of each dialect, an older revision is refused on open and upgraded
by ``tracklet db upgrade``, a newer one is refused naming the package to upgrade.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from tracklet import plugins
from tracklet.exceptions import INVALID_STATE, TrackletException
from tracklet.plugins import SqlMigrations, hookimpl
from tracklet_sql import _migrations as migrations
from tracklet_sql._engine import make_engine
from tracklet_sql.cli import db
from tracklet_sql.store import SqlStore

VERSION_TABLE = "tracklet_widgets_alembic_version"

_ENV = """
from alembic import context

context.configure(
    connection=context.config.attributes["connection"],
    version_table=context.config.attributes["version_table"],
)
with context.begin_transaction():
    context.run_migrations()
"""

_W001 = """
import sqlalchemy as sa
from alembic import op

revision = "w001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "widgets",
        sa.Column("widget_id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
    )
"""

_W002 = """
import sqlalchemy as sa
from alembic import op

revision = "w002"
down_revision = "w001"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("widgets", sa.Column("color", sa.String(20)))
"""

_SCHEMA = """
import sqlalchemy as sa

metadata = sa.MetaData()
columns = [
    sa.Column("widget_id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
]
if {with_color}:
    columns.append(sa.Column("color", sa.String(20)))
widgets = sa.Table("widgets", metadata, *columns)
"""


class WidgetMigrations:
    """A plugin keeping a ``widgets`` table in the tracking database."""

    def __init__(self, entry: SqlMigrations) -> None:
        self.entry = entry

    @hookimpl
    def tracklet_sql_migrations(self) -> list[SqlMigrations]:
        return [self.entry]


@pytest.fixture
def widget_sets(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, SqlMigrations]:
    """Two releases of the widget plugin: v1 (head w001) and v2 (head w002, adds a column)."""
    monkeypatch.syspath_prepend(str(tmp_path))
    sets = {}
    for release, head, scripts in (("v1", "w001", [_W001]), ("v2", "w002", [_W001, _W002])):
        folder = tmp_path / f"widgets_{release}"
        (folder / "versions").mkdir(parents=True)
        (folder / "env.py").write_text(_ENV)
        for number, script in enumerate(scripts, 1):
            (folder / "versions" / f"w00{number}.py").write_text(script)
        module = f"widgets_schema_{release}_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{module}.py").write_text(_SCHEMA.format(with_color=release == "v2"))
        sets[release] = SqlMigrations(
            name="tracklet-widgets",
            script_location=str(folder),
            version_table=VERSION_TABLE,
            head=head,
            metadata=f"{module}:metadata",
        )
    return sets


@pytest.fixture
def installed() -> Iterator[Any]:
    """``installed(entry)`` registers the widget plugin at that release (one at a time)."""
    current: list[object] = []

    def install(entry: SqlMigrations) -> None:
        for plugin in current:
            plugins.unregister(plugin)
        current.clear()
        plugin = WidgetMigrations(entry)
        plugins.register(plugin, name=f"test-widgets-{id(plugin)}")
        current.append(plugin)

    yield install
    for plugin in current:
        plugins.unregister(plugin)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def uri(request: pytest.FixtureRequest, tmp_path: pathlib.Path, new_server_database: Any) -> Iterator[str]:
    """A new, empty database of each dialect."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tracklet.db'}"
    else:
        with new_server_database(request.param) as uri:
            yield uri


def _columns(uri: str, table: str) -> list[str]:
    engine = make_engine(uri)
    try:
        return [c["name"] for c in sa.inspect(engine).get_columns(table)]
    finally:
        engine.dispose()


def _revision(uri: str) -> str | None:
    engine = make_engine(uri)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()
    finally:
        engine.dispose()


def test_a_fresh_database_gets_the_set_s_tables(
    uri: str, widget_sets: dict[str, SqlMigrations], installed: Any
) -> None:
    installed(widget_sets["v2"])
    store = SqlStore(uri)  # tracklet-sql's open path prepares every set
    try:
        assert store.get_experiment("0").name == "Default"
    finally:
        store.close()
    assert _columns(uri, "widgets") == ["widget_id", "name", "color"]
    assert _revision(uri) == "w002"
    result = CliRunner().invoke(db, ["current", uri])
    assert result.exit_code == 0, result.output
    assert "tracklet-widgets tables at revision w002 (current)" in result.output


def test_an_older_set_is_refused_then_upgraded(
    uri: str, widget_sets: dict[str, SqlMigrations], installed: Any
) -> None:
    installed(widget_sets["v1"])
    SqlStore(uri).close()
    assert _columns(uri, "widgets") == ["widget_id", "name"]
    installed(widget_sets["v2"])  # the plugin was upgraded, the database not yet
    with pytest.raises(TrackletException) as caught:
        SqlStore(uri)
    assert caught.value.error_code == INVALID_STATE
    assert "tracklet-widgets's tables at revision w001" in caught.value.message
    assert "needs revision w002" in caught.value.message
    assert "tracklet db upgrade" in caught.value.message
    current = CliRunner().invoke(db, ["current", uri])
    assert "tracklet-widgets tables at revision w001 (older than w002" in current.output
    result = CliRunner().invoke(db, ["upgrade", uri])
    assert result.exit_code == 0, result.output
    assert (
        "Upgraded tracklet-widgets's tables of" in result.output
        and "from revision w001 to w002" in result.output
    )
    assert "The tracklet schema of" in result.output and "already at revision" in result.output
    assert _columns(uri, "widgets") == ["widget_id", "name", "color"]
    assert _revision(uri) == "w002"
    SqlStore(uri).close()  # opens again


def test_a_newer_set_is_refused(uri: str, widget_sets: dict[str, SqlMigrations], installed: Any) -> None:
    installed(widget_sets["v2"])
    SqlStore(uri).close()
    installed(widget_sets["v1"])  # an older plugin on a database a newer one upgraded
    with pytest.raises(TrackletException) as caught:
        SqlStore(uri)
    assert caught.value.error_code == INVALID_STATE
    assert "revision w002, which the installed tracklet-widgets (revision w001) does not know" in (
        caught.value.message
    )
    assert "pip install -U tracklet-widgets" in caught.value.message
    result = CliRunner().invoke(db, ["upgrade", uri])
    assert result.exit_code != 0
    assert "pip install -U tracklet-widgets" in str(result.exception)  # the tracklet CLI prints it


def test_db_upgrade_adds_a_set_to_an_existing_database(
    tmp_path: pathlib.Path, widget_sets: dict[str, SqlMigrations], installed: Any
) -> None:
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(uri)
    migrations.upgrade(engine)  # tracklet-sql's schema alone: the plugin came later
    engine.dispose()
    installed(widget_sets["v2"])
    result = CliRunner().invoke(db, ["upgrade", uri])
    assert result.exit_code == 0, result.output
    assert "Created tracklet-widgets's tables at revision w002" in result.output
    assert _revision(uri) == "w002"


def test_tables_of_the_set_without_its_version_table_are_refused(
    tmp_path: pathlib.Path, widget_sets: dict[str, SqlMigrations], installed: Any
) -> None:
    uri = f"sqlite:///{tmp_path / 'foreign.db'}"
    engine = make_engine(uri)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE widgets (x INTEGER)")
    engine.dispose()
    installed(widget_sets["v2"])
    with pytest.raises(TrackletException, match="tables named like tracklet-widgets's \\(widgets\\)"):
        SqlStore(uri)


# -- the engine other plugins get through the core ------------------------------------------------


def test_the_engine_from_the_hook_has_every_set_prepared(
    uri: str, widget_sets: dict[str, SqlMigrations], installed: Any
) -> None:
    installed(widget_sets["v2"])
    engine = plugins.sql_engine(uri)
    assert engine is plugins.sql_engine(uri)  # one per URI per process
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO widgets (widget_id, name, color) VALUES (1, 'w', 'red')"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM widgets")).scalar() == "w"
        assert conn.execute(sa.text("SELECT name FROM experiments WHERE experiment_id = 0")).scalar() is None
    assert _revision(uri) == "w002"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_the_engine_works_in_a_forked_child(
    tmp_path: pathlib.Path, widget_sets: dict[str, SqlMigrations], installed: Any
) -> None:
    installed(widget_sets["v2"])
    uri = f"sqlite:///{tmp_path / 'fork.db'}"
    engine = plugins.sql_engine(uri)
    with engine.begin() as conn:  # the parent holds a pooled connection
        conn.execute(sa.text("INSERT INTO widgets (widget_id, name) VALUES (1, 'parent')"))
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            child = plugins.sql_engine(uri)
            with child.begin() as conn:
                conn.execute(sa.text("INSERT INTO widgets (widget_id, name) VALUES (2, 'child')"))
                names = sorted(conn.execute(sa.text("SELECT name FROM widgets")).scalars())
            report: Any = {"same_engine": child is engine, "names": names}
        except BaseException as exc:  # noqa: BLE001
            report = {"error": repr(exc)}
        os.write(write_end, json.dumps(report).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as out:
        report = json.loads(out.read() or b"{}")
    os.waitpid(pid, 0)
    assert report == {"same_engine": True, "names": ["child", "parent"]}
    with engine.connect() as conn:
        assert sorted(conn.execute(sa.text("SELECT name FROM widgets")).scalars()) == ["child", "parent"]


def test_tracklet_sql_never_imports_the_registry() -> None:
    source = pathlib.Path(migrations.__file__).parent
    for path in source.rglob("*.py"):
        assert "tracklet_registry" not in path.read_text(encoding="utf-8"), path
    code = textwrap.dedent(
        """
        import sys, tracklet_sql.plugin, tracklet_sql._migrations, tracklet_sql._engine, tracklet_sql.cli
        print(any(name.startswith("tracklet_registry") for name in sys.modules))
        """
    )
    import subprocess

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
