"""Schema creation, revision checks and the Alembic migrations of tracklet-sql.

Each test runs on a new sqlite file, and on a new PostgreSQL / MariaDB database
(created for the test, dropped afterwards) when the server is reachable.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import pathlib
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa  # noqa: E402
from alembic import command  # noqa: E402
from alembic.autogenerate import compare_metadata  # noqa: E402
from alembic.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy.schema import CreateIndex  # noqa: E402

from tracklet.exceptions import INVALID_STATE, TrackletException  # noqa: E402
from tracklet_sql import _migrations as migrations  # noqa: E402
from tracklet_sql import _mlflow_revisions as mlflow_revisions  # noqa: E402
from tracklet_sql._engine import dialect_name, make_engine  # noqa: E402
from tracklet_sql._schema import metadata  # noqa: E402

PROCESSES = 8


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def uri(request: pytest.FixtureRequest, tmp_path: pathlib.Path, new_server_database: Any) -> Iterator[str]:
    """A new, empty database of each dialect."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tracklet.db'}"
    else:
        with new_server_database(request.param) as uri:
            yield uri


@pytest.fixture
def engine(uri: str) -> Iterator[sa.Engine]:
    engine = make_engine(uri)
    yield engine
    engine.dispose()


def differences(engine: sa.Engine) -> list[object]:
    """What Alembic's autogenerate finds between the database and ``_schema.metadata``."""
    with engine.connect() as conn, _indexes_of_this_dialect_only(engine):
        others = _other_sets_tables()
        context = MigrationContext.configure(
            conn,
            opts={
                "version_table": migrations.VERSION_TABLE,
                "compare_type": True,
                # tables of other installed plugins' migration sets are theirs to check
                "include_name": lambda name, kind, parent: not (kind == "table" and name in others),
                # indexes the schema keeps for some dialects only (Index.ddl_if)
                "include_object": lambda obj, name, kind, reflected, compare_to: _for_dialect(obj, engine),
            },
        )
        found = compare_metadata(context, metadata)
        found = _without_unreflected_collations(conn, found)
    return [d for d in found if not _reflection_artefact(d)]


def _without_unreflected_collations(conn: sa.Connection, found: list[Any]) -> list[Any]:
    """``found`` less the remove/add pairs of a PostgreSQL index whose columns have a COLLATE:
    SQLAlchemy reflects such an index without it, so Alembic sees another index. The pair is
    dropped only when the index in the database (``pg_indexes``) has the very column list,
    collations included, that the metadata's index compiles to."""
    if conn.dialect.name != "postgresql":
        return found
    removed = {d[1].name: d for d in found if isinstance(d, tuple) and d[0] == "remove_index"}
    added = {d[1].name: d for d in found if isinstance(d, tuple) and d[0] == "add_index"}
    same = set()
    for name in removed.keys() & added.keys():
        wanted = str(CreateIndex(added[name][1]).compile(dialect=conn.dialect))
        actual = conn.execute(
            sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"), {"name": name}
        ).scalar_one()
        if _index_columns(wanted) == _index_columns(actual):
            same.add(name)
    return [
        d
        for d in found
        if not (isinstance(d, tuple) and d[1].name in same and d[0] in ("remove_index", "add_index"))
    ]


def _index_columns(ddl: str) -> str:
    # the column list, without the parentheses SQLAlchemy puts around a COLLATE expression
    return re.sub(r"[()\s]", "", ddl[ddl.index("(") :])


@contextlib.contextmanager
def _indexes_of_this_dialect_only(engine: sa.Engine) -> Iterator[None]:
    """Take the indexes kept for other dialects (``Index.ddl_if``) off the tables while Alembic
    compares. It pairs indexes by name before its object filter runs, and the schema has one
    name per dialect for the same index (``ix_runs_experiment_stage_newest`` on sqlite and on
    PostgreSQL): which of the two it paired depended on set order, so the comparison failed or
    passed with the tests run before it."""
    others = [
        (table, index)
        for table in metadata.tables.values()
        for index in list(table.indexes)
        if not _for_dialect(index, engine)
    ]
    for table, index in others:
        table.indexes.discard(index)
    try:
        yield
    finally:
        for table, index in others:
            table.indexes.add(index)


def _for_dialect(obj: object, engine: sa.Engine) -> bool:
    condition = getattr(obj, "_ddl_if", None)
    if condition is None or condition.dialect is None:
        return True
    dialects = (condition.dialect,) if isinstance(condition.dialect, str) else condition.dialect
    return engine.dialect.name in dialects


def _reflection_artefact(difference: object) -> bool:
    # MySQL stores FLOAT(53) as DOUBLE and reflects it so: the same type, spelled otherwise.
    if isinstance(difference, list) and len(difference) == 1:
        op, *_, reflected, wanted = difference[0]
        return (
            op == "modify_type"
            and type(reflected).__name__ == "DOUBLE"
            and isinstance(wanted, sa.Float)
            and wanted.precision == 53
        )
    return False


def tables(engine: sa.Engine) -> set[str]:
    """The database's tables, less those of other installed plugins' migration sets (the
    registry's…: test_contributed_migrations.py tests those)."""
    return set(sa.inspect(engine).get_table_names()) - _other_sets_tables()


def _other_sets_tables() -> set[str]:
    others: set[str] = set()
    for entry in migrations.migration_sets():
        others |= set(entry.load_metadata().tables) | {entry.version_table}
    return others


def set_revision(engine: sa.Engine, revision: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(f"UPDATE {migrations.VERSION_TABLE} SET version_num = :r"), {"r": revision})


def test_head_is_the_newest_script():
    scripts = ScriptDirectory.from_config(migrations.alembic_config())
    assert scripts.get_current_head() == migrations.HEAD
    assert tuple(s.revision for s in reversed(list(scripts.walk_revisions()))) == migrations.REVISIONS


def test_first_prepare_creates_the_schema_at_head(engine: sa.Engine):
    assert migrations.current_revision(engine) is None
    migrations.prepare_database(engine)
    assert migrations.current_revision(engine) == migrations.HEAD
    assert tables(engine) == set(metadata.tables) | {migrations.VERSION_TABLE}
    with engine.connect() as conn:
        # the store creates the Default experiment, not the migration
        assert conn.execute(sa.text("SELECT COUNT(*) FROM experiments")).scalar() == 0
    migrations.prepare_database(engine)  # at head: nothing to do
    assert migrations.current_revision(engine) == migrations.HEAD


def test_migration_builds_exactly_the_metadata(engine: sa.Engine):
    migrations.prepare_database(engine)
    assert differences(engine) == []


def test_migration_keeps_the_dialect_options(engine: sa.Engine):
    migrations.prepare_database(engine)
    dialect = dialect_name(engine)
    with engine.connect() as conn:
        if dialect == "sqlite":
            sql = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = 'metrics'")).scalar()
            assert "WITHOUT ROWID" in sql
        elif dialect == "mysql":
            rows = conn.execute(
                sa.text(
                    "SELECT table_name, table_collation FROM information_schema.tables "
                    "WHERE table_schema = DATABASE()"
                )
            ).all()
            collations = {name: collation for name, collation in rows if name in metadata.tables}
            assert collations == dict.fromkeys(metadata.tables, "utf8mb4_bin")
            text_type = conn.execute(
                sa.text(
                    "SELECT data_type FROM information_schema.columns "
                    "WHERE table_schema = DATABASE() AND table_name = 'tags' AND column_name = 'value'"
                )
            ).scalar()
            assert text_type.lower() == "mediumtext"


def _latest_metrics_options(engine: sa.Engine) -> list[str] | None:
    """PostgreSQL's storage parameters of ``latest_metrics`` (None: none set)."""
    with engine.connect() as conn:
        options = conn.execute(sa.text("SELECT reloptions FROM pg_class WHERE relname = 'latest_metrics'"))
        return options.scalar()


def test_latest_metrics_pages_keep_room_for_updates_on_postgresql(engine: sa.Engine):
    """Revision 0004: fillfactor 70 on a new database and on one upgraded from 0003, reset
    by its downgrade; nothing to do on sqlite and MySQL."""
    migrations.prepare_database(engine)
    if dialect_name(engine) != "postgresql":
        with engine.begin() as conn:  # the revision is recorded, and goes down and up cleanly
            command.downgrade(migrations.alembic_config(conn), "0003")
        assert migrations.upgrade(engine) == ("0003", migrations.HEAD)
        assert differences(engine) == []
        return
    assert _latest_metrics_options(engine) == ["fillfactor=70"]
    with engine.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), "0003")
    assert _latest_metrics_options(engine) is None
    with pytest.raises(TrackletException, match="tracklet db upgrade"):
        migrations.prepare_database(engine)
    assert migrations.upgrade(engine) == ("0003", migrations.HEAD)
    assert _latest_metrics_options(engine) == ["fillfactor=70"]
    assert differences(engine) == []


def test_upgrade_creates_then_has_nothing_to_do(engine: sa.Engine):
    assert migrations.upgrade(engine) == (None, migrations.HEAD)
    assert migrations.upgrade(engine) == (migrations.HEAD, migrations.HEAD)
    assert differences(engine) == []


def test_downgrade_to_base_then_upgrade_again(engine: sa.Engine):
    migrations.prepare_database(engine)
    with engine.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), "base")
    assert tables(engine) == {migrations.VERSION_TABLE}
    assert migrations.current_revision(engine) is None
    assert migrations.upgrade(engine) == (None, migrations.HEAD)
    assert differences(engine) == []


def test_an_older_schema_is_refused_with_the_upgrade_command(
    engine: sa.Engine, monkeypatch: pytest.MonkeyPatch
):
    migrations.prepare_database(engine)
    # what a newer tracklet-sql, with one more revision, sees in this database
    monkeypatch.setattr(migrations, "REVISIONS", (*migrations.REVISIONS, "9999"))
    monkeypatch.setattr(migrations, "HEAD", "9999")
    with pytest.raises(TrackletException) as info:
        migrations.prepare_database(engine)
    assert info.value.error_code == INVALID_STATE
    message = info.value.message
    assert f"revision {migrations.HEAD}" in message and "needs revision 9999" in message
    assert "tracklet db upgrade" in message and "Back the database up" in message


def test_a_newer_schema_is_refused_with_pip_upgrade(engine: sa.Engine):
    migrations.prepare_database(engine)
    set_revision(engine, "f00dcafe")
    for call in (migrations.prepare_database, migrations.upgrade):
        with pytest.raises(TrackletException, match=r"pip install -U tracklet-sql") as info:
            call(engine)
        assert info.value.error_code == INVALID_STATE
        assert "f00dcafe" in info.value.message
    assert migrations.current_revision(engine) == "f00dcafe"


def _mlflow_version_table(engine: sa.Engine, revision: str) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES (:r)"), {"r": revision})


def test_an_mlflow_version_table_without_mlflow_tables_is_refused(engine: sa.Engine):
    _mlflow_version_table(engine, "1b5f0d9ad7c1")
    with pytest.raises(TrackletException, match="lacks MLflow's tracking tables") as info:
        migrations.prepare_database(engine)
    assert info.value.error_code == INVALID_STATE
    assert "mlflow db upgrade" in info.value.message
    with pytest.raises(TrackletException, match="MLflow's schema") as info:
        migrations.upgrade(engine)
    assert "mlflow db upgrade" in info.value.message
    assert tables(engine) == {"alembic_version"}


def test_an_unknown_mlflow_revision_is_refused_naming_it(engine: sa.Engine):
    _mlflow_version_table(engine, "ffff00001111")
    with pytest.raises(TrackletException, match="ffff00001111") as info:
        migrations.prepare_database(engine)
    assert info.value.error_code == INVALID_STATE
    assert mlflow_revisions.HEAD in info.value.message and "newer MLflow" in info.value.message
    assert tables(engine) == {"alembic_version"}


def test_an_mlflow_revision_before_datasets_is_refused_with_mlflow_db_upgrade(engine: sa.Engine):
    old = mlflow_revisions.REVISIONS[mlflow_revisions.position(mlflow_revisions.FIRST_SERVED) - 1]
    _mlflow_version_table(engine, old)
    with pytest.raises(TrackletException, match=old) as info:
        migrations.prepare_database(engine)
    assert info.value.error_code == INVALID_STATE
    assert "mlflow db upgrade" in info.value.message
    assert tables(engine) == {"alembic_version"}


def test_the_mlflow_revisions_are_those_of_the_installed_mlflow():
    mlflow = pytest.importorskip("mlflow")
    folder = pathlib.Path(mlflow.__file__).parent / "store" / "db_migrations" / "versions"
    found = {}
    for path in folder.glob("*.py"):
        text = path.read_text()
        revision = re.search(r'^revision = "([^"]+)"', text, re.M)
        down = re.search(r"^down_revision = (.+)$", text, re.M)
        if revision and down:
            found[revision.group(1)] = (
                None if down.group(1).strip() == "None" else down.group(1).strip().strip('"')
            )
    chain, current = [], None
    by_down = {d: r for r, d in found.items()}
    while current in by_down:
        current = by_down[current]
        chain.append(current)
    if mlflow.__version__ == "3.17.2":
        assert tuple(chain) == mlflow_revisions.REVISIONS
    else:  # a later MLflow: the known chain is where its chain starts
        assert tuple(chain[: len(mlflow_revisions.REVISIONS)]) == mlflow_revisions.REVISIONS


def test_tables_named_like_ours_without_a_revision_are_refused(engine: sa.Engine):
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY)"))
    with pytest.raises(TrackletException, match="experiments") as info:
        migrations.prepare_database(engine)
    assert info.value.error_code == INVALID_STATE
    assert migrations.VERSION_TABLE in info.value.message


def test_other_tables_in_the_database_are_left_alone(engine: sa.Engine):
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE someone_elses (id INTEGER PRIMARY KEY)"))
    migrations.prepare_database(engine)
    assert "someone_elses" in tables(engine)
    assert migrations.current_revision(engine) == migrations.HEAD


@pytest.mark.interop
def test_a_real_mlflow_database_is_served_as_is(tmp_path: pathlib.Path):
    path = tmp_path / "mlflow.db"
    script = (
        "from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore; "
        f"SqlAlchemyStore({f'sqlite:///{path}'!r}, {str(tmp_path / 'artifacts')!r})"
    )
    subprocess.run([sys.executable, "-c", script], check=True, capture_output=True)
    engine = make_engine(f"sqlite:///{path}")
    before = tables(engine)
    assert "alembic_version" in before and "experiments" in before
    schema = migrations.prepare_database(engine)
    assert (schema.name, schema.revision, schema.owns_ddl) == ("mlflow", mlflow_revisions.HEAD, False)
    assert tables(engine) == before  # neither tracklet's tables nor any plugin's set
    with pytest.raises(TrackletException, match="mlflow db upgrade") as info:
        migrations.upgrade(engine)
    assert info.value.error_code == INVALID_STATE
    assert tables(engine) == before
    engine.dispose()


_PREPARE = textwrap.dedent(
    """
    from tracklet_sql._engine import make_engine
    from tracklet_sql._migrations import prepare_database

    engine = make_engine(uri)
    barrier.wait()
    prepare_database(engine)
    """
)


def test_processes_opening_a_new_database_at_once_all_succeed(uri: str):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    # exec is a builtin, so spawned children can run it without importing this test module
    processes = [
        context.Process(target=exec, args=(_PREPARE, {"uri": uri, "barrier": barrier}))
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
    assert [p.exitcode for p in processes] == [0] * PROCESSES
    engine = make_engine(uri)
    with engine.connect() as conn:
        versions = conn.execute(sa.text(f"SELECT version_num FROM {migrations.VERSION_TABLE}")).all()
    assert versions == [(migrations.HEAD,)]
    assert differences(engine) == []
    engine.dispose()


def test_the_open_path_does_not_import_alembic(tmp_path: pathlib.Path):
    uri = f"sqlite:///{tmp_path / 'tracklet.db'}"
    engine = make_engine(uri)
    migrations.prepare_database(engine)
    engine.dispose()
    script = (
        "import sys; from tracklet_sql._engine import make_engine; "
        "from tracklet_sql._migrations import prepare_database; "
        f"prepare_database(make_engine({uri!r})); "
        "assert 'alembic' not in sys.modules, 'alembic was imported'"
    )
    subprocess.run([sys.executable, "-c", script], check=True)


def test_a_database_at_0002_upgrades_to_the_default_order_index(engine: sa.Engine):
    migrations.prepare_database(engine)
    with engine.begin() as conn:
        command.downgrade(migrations.alembic_config(conn), "0002")
    dialect = dialect_name(engine)
    old, new = "ix_runs_experiment_stage_start", "ix_runs_experiment_stage_newest"
    assert {i["name"] for i in sa.inspect(engine).get_indexes("runs")} >= {old}
    with pytest.raises(TrackletException, match="tracklet db upgrade"):
        migrations.prepare_database(engine)
    assert migrations.upgrade(engine) == ("0002", migrations.HEAD)
    names = {i["name"] for i in sa.inspect(engine).get_indexes("runs")}
    assert names >= ({new} if dialect in ("sqlite", "postgresql") else {old})
    assert differences(engine) == []
