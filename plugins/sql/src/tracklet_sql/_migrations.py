"""Schema versions: checked when a store opens, created and upgraded with Alembic.

The revision a database is at lives in the table ``tracklet_alembic_version`` (not
Alembic's default ``alembic_version``, which is MLflow's). Opening a store costs one
query when the schema is current (:data:`HEAD` is a constant, so that path never
imports Alembic). A database without tracklet's tables gets them created at once,
under a lock every dialect honours across processes, so any number of processes can
open a brand-new database together. A database at another revision is refused with
what to do: ``tracklet db upgrade URI`` when it is older, ``pip install -U
tracklet-sql`` when it is newer.

A database holding MLflow's own schema (its ``alembic_version`` table, no tracklet
revision) is served as it is (:func:`mlflow_schema_of`): no table, index or version
table is created there, tracklet's or a plugin's, and nothing is upgraded. Its revision
must be one of MLflow's known here (:mod:`tracklet_sql._mlflow_revisions`), from MLflow
2.4's on; an older one is refused with ``mlflow db upgrade``, an unknown one naming it.

Alembic runs programmatically: no ``alembic.ini``, the connection is handed to
``migrations/env.py`` through ``Config.attributes``. To add a revision, write
``migrations/versions/NNNN_<what>.py`` by hand (``script.py.mako`` is the template;
``alembic.autogenerate.compare_metadata`` lists what changed) and append it to
:data:`REVISIONS`.

Other plugins keep tables in the same database through the ``tracklet_sql_migrations``
hook (:class:`tracklet.plugins.SqlMigrations`: the model registry's, for one). Each such
set has its own version table and Alembic folder, and is handled here right after
tracklet-sql's own schema, under the same lock: a set with none of its tables yet is
created from its ``MetaData`` and stamped at its head (a fresh database, or one made
before the plugin was installed); a set at an older revision is refused on open and
upgraded by ``tracklet db upgrade``; a newer one is refused, naming the set's package.
The set's ``env.py`` runs on ``config.attributes["connection"]`` as tracklet-sql's does
(``config.attributes["version_table"]`` names its table).
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from tracklet.exceptions import INVALID_STATE, TrackletException

from . import _mlflow_revisions as mlflow_revisions
from ._engine import dialect_name
from ._schema import metadata
from ._schemas import Schema, mlflow_schema, tracklet_schema

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD",
    "OWN_SET",
    "REVISIONS",
    "VERSION_TABLE",
    "SetStatus",
    "current_revision",
    "mlflow_revision",
    "migration_sets",
    "prepare_database",
    "set_statuses",
    "upgrade",
    "upgrade_all",
]

#: Every revision of ``migrations/versions``, oldest first.
REVISIONS: tuple[str, ...] = ("0001", "0002", "0003", "0004")
#: The revision this tracklet-sql writes and reads.
HEAD = REVISIONS[-1]
#: Where the revision is recorded; MLflow's own table is ``alembic_version``.
VERSION_TABLE = "tracklet_alembic_version"
MLFLOW_VERSION_TABLE = "alembic_version"
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")

_TABLES = frozenset(metadata.tables)
#: The tables a database holding MLflow's schema must have for tracklet-sql to serve it.
_MLFLOW_TRACKING_TABLES = frozenset(
    {
        "experiments",
        "experiment_tags",
        "runs",
        "params",
        "tags",
        "metrics",
        "latest_metrics",
        "datasets",
        "inputs",
        "input_tags",
    }
)
_READ_VERSION = sa.text(f"SELECT version_num FROM {VERSION_TABLE}")
# pg_advisory_xact_lock takes a bigint; advisory locks are per database.
_PG_LOCK_KEY = int.from_bytes(hashlib.sha256(b"tracklet_sql.migrations").digest()[:8], "big", signed=True)
_MYSQL_LOCK_TIMEOUT_S = 600


@dataclasses.dataclass(frozen=True)
class _State:
    """What a database holds, as far as the schema is concerned."""

    revision: str | None  # None: no tracklet revision recorded
    tables: frozenset[str]  # every table name in the database (default schema)

    @property
    def is_mlflow(self) -> bool:
        return self.revision is None and MLFLOW_VERSION_TABLE in self.tables

    @property
    def foreign_tables(self) -> frozenset[str]:
        """Tables named like tracklet's that tracklet did not record creating."""
        return self.tables & _TABLES if self.revision is None else frozenset()


#: The name tracklet-sql's own schema goes by in messages and ``tracklet db`` output.
OWN_SET = "tracklet-sql"


def migration_sets() -> list[Any]:
    """The other plugins' migration sets (:func:`tracklet.plugins.sql_migrations`)."""
    from tracklet.plugins import sql_migrations

    sets = sql_migrations()
    for entry in sets:
        if entry.version_table in (VERSION_TABLE, MLFLOW_VERSION_TABLE):
            raise TrackletException(
                f"The SQL migration set {entry.name!r} records its revision in {entry.version_table!r}, "
                "which is tracklet-sql's or MLflow's: the set needs a version table of its own.",
                INVALID_STATE,
            )
    return sets


def prepare_database(engine: sa.Engine) -> Schema:
    """Make the database ready for a store and say which schema it serves: MLflow's when
    the database holds MLflow's (checked, never changed); else tracklet's, created if
    there is none, else checked; then the same for every plugin's migration set.

    ``engine`` must come from :func:`tracklet_sql._engine.make_engine` (on sqlite, the
    creation relies on its ``sqlite_begin`` execution option for a transactional lock).

    :raises TrackletException: ``INVALID_STATE`` when a schema is older or newer than
        the installed code, or the database belongs to something else.
    """
    sets = migration_sets()
    own = _fast_revision(engine)
    if own == HEAD and all(_fast_revision(engine, entry.version_table) == entry.head for entry in sets):
        return tracklet_schema()
    if own is None:
        revision = _fast_revision(engine, MLFLOW_VERSION_TABLE)
        if revision is not None:
            return mlflow_schema_of(engine, revision)
    with _locked(engine) as conn:
        state = _read_state(conn)
        if state.revision != HEAD:
            _check(state, engine, upgrading=False)
            _run_upgrade(conn)
        for entry in sets:
            _prepare_set(conn, engine, entry, upgrading=False)
    return tracklet_schema()


def mlflow_schema_of(engine: sa.Engine, revision: str) -> Schema:
    """MLflow's schema at ``revision`` (read from its ``alembic_version``), if served.

    :raises TrackletException: ``INVALID_STATE`` for a revision older than MLflow 2.4's
        datasets (upgrade with MLflow first) or one MLflow 3.17.2 does not know.
    """
    where = _display(engine)
    at = mlflow_revisions.position(revision)
    newest = mlflow_revisions.HEAD
    if at is None:
        raise TrackletException(
            f"The database {where} holds MLflow's schema at revision {revision!r}, which this "
            f"tracklet-sql does not know: it knows MLflow's revisions up to {newest} (MLflow "
            "3.17.2's head), so a newer MLflow wrote it. tracklet-sql serves MLflow's tables only at "
            "a revision it knows and never changes them: upgrade tracklet-sql (pip install -U "
            "tracklet-sql), or keep using MLflow on this database.",
            INVALID_STATE,
        )
    first = mlflow_revisions.position(mlflow_revisions.FIRST_SERVED)
    if first is not None and at < first:
        raise TrackletException(
            f"The database {where} holds MLflow's schema at revision {revision}, older than the "
            f"oldest tracklet-sql serves ({mlflow_revisions.FIRST_SERVED}, MLflow 2.4's datasets). "
            f"Back the database up, then upgrade it with MLflow first: mlflow db upgrade {where}",
            INVALID_STATE,
        )
    with engine.connect() as conn:
        missing = sorted(_MLFLOW_TRACKING_TABLES - set(sa.inspect(conn).get_table_names()))
    if missing:
        raise TrackletException(
            f"The database {where} records MLflow's revision {revision} in {MLFLOW_VERSION_TABLE!r} "
            f"but lacks MLflow's tracking tables ({', '.join(missing)}), so tracklet-sql will not use "
            "it. If MLflow's creation of it was interrupted, run: mlflow db upgrade "
            f"{where}; else point tracklet at another database.",
            INVALID_STATE,
        )
    return mlflow_schema(revision)


def mlflow_revision(engine: sa.Engine) -> str | None:
    """The revision of MLflow's schema the database holds, or None when it holds none
    (or tracklet's)."""
    with engine.connect() as conn:
        state = _read_state(conn)
        if not state.is_mlflow:
            return None
        return _one_revision(list(conn.execute(_read_version(MLFLOW_VERSION_TABLE)).scalars()))


def upgrade(engine: sa.Engine) -> tuple[str | None, str]:
    """Bring tracklet-sql's own schema to :data:`HEAD` (creating it in an empty database),
    then every plugin's set to its head (:func:`upgrade_all` reports them all).

    :returns: ``(revision before, revision after)`` of tracklet-sql's own schema; they
        are equal when nothing was to do.
    :raises TrackletException: ``INVALID_STATE`` for a newer schema or a database that is
        not tracklet's.
    """
    return upgrade_all(engine)[0][1:]  # type: ignore[return-value]


def upgrade_all(engine: sa.Engine) -> list[tuple[str, str | None, str]]:
    """Upgrade (or create) tracklet-sql's schema and every plugin's migration set.

    :returns: ``(set name, revision before, revision after)`` for each set, tracklet-sql's first.
    """
    sets = migration_sets()
    with _locked(engine) as conn:
        state = _read_state(conn)
        _check(state, engine, upgrading=True)
        if state.revision != HEAD:
            _run_upgrade(conn)
        done: list[tuple[str, str | None, str]] = [(OWN_SET, state.revision, HEAD)]
        for entry in sets:
            before = _prepare_set(conn, engine, entry, upgrading=True)
            done.append((entry.name, before, entry.head))
        return done


@dataclasses.dataclass(frozen=True)
class SetStatus:
    """Where one migration set of a database stands (``tracklet db current``)."""

    name: str
    revision: str | None  # None: none of the set's schema recorded
    head: str
    known: bool  # whether the installed code knows ``revision`` (False: newer)

    @property
    def state(self) -> str:
        """``"current"``, ``"missing"``, ``"older"`` or ``"newer"``."""
        if self.revision == self.head:
            return "current"
        if self.revision is None:
            return "missing"
        return "older" if self.known else "newer"


def set_statuses(engine: sa.Engine) -> list[SetStatus]:
    """The revision of tracklet-sql's schema and of every plugin's set, own first."""
    with engine.connect() as conn:
        own = _read_state(conn).revision
        out = [SetStatus(OWN_SET, own, HEAD, own is None or own in REVISIONS)]
        tables = frozenset(sa.inspect(conn).get_table_names())
        for entry in migration_sets():
            revision = _set_revision(conn, entry.version_table, tables)
            known = revision is None or _known_revision(entry, revision)
            out.append(SetStatus(entry.name, revision, entry.head, known))
    return out


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database records, or None when it holds no tracklet schema."""
    with engine.connect() as conn:
        return _read_state(conn).revision


def is_mlflow_database(engine: sa.Engine) -> bool:
    """True when the database holds MLflow's schema and not tracklet's."""
    with engine.connect() as conn:
        return _read_state(conn).is_mlflow


def _fast_revision(engine: sa.Engine, version_table: str = VERSION_TABLE) -> str | None:
    """The recorded revision in one query; None when it cannot be read (no table yet)."""
    query = _READ_VERSION if version_table == VERSION_TABLE else _read_version(version_table)
    try:
        with engine.connect() as conn:
            rows = conn.execute(query).scalars().all()
    except DBAPIError:
        return None  # the locked path looks again, and reports real errors
    return _one_revision(rows)


def _one_revision(rows: list[str]) -> str | None:
    # Alembic keeps one row per branch head; tracklet has a single line of revisions.
    return ",".join(sorted(rows)) if rows else None


def _read_state(conn: sa.Connection) -> _State:
    tables = frozenset(sa.inspect(conn).get_table_names())
    revision = None
    if VERSION_TABLE in tables:
        revision = _one_revision(list(conn.execute(_READ_VERSION).scalars()))
    return _State(revision, tables)


def _display(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _check(state: _State, engine: sa.Engine, upgrading: bool) -> None:
    """Refuse what :func:`upgrade` must not touch (and, unless ``upgrading``, an older schema)."""
    where = _display(engine)
    if state.is_mlflow:
        raise TrackletException(
            f"The database {where} holds MLflow's schema (table {MLFLOW_VERSION_TABLE!r}), which "
            "tracklet-sql serves as it is and never creates, changes or upgrades: upgrade it with "
            f"MLflow (mlflow db upgrade {where}); if it records no revision, MLflow's creation of "
            "it was interrupted: run that command too.",
            INVALID_STATE,
        )
    if state.foreign_tables:
        names = ", ".join(sorted(state.foreign_tables))
        raise TrackletException(
            f"The database {where} has tables named like tracklet's ({names}) but no "
            f"{VERSION_TABLE!r} table recording a tracklet schema, so tracklet-sql will not use "
            "or change them. Point tracklet at an empty database; if these tables are what is "
            "left of an interrupted creation, drop them and try again.",
            INVALID_STATE,
        )
    if state.revision is None or state.revision == HEAD:
        return
    if state.revision in REVISIONS:
        if upgrading:
            return
        raise TrackletException(
            f"The database {where} has tracklet's schema at revision {state.revision}, and this "
            f"tracklet-sql needs revision {HEAD}. Back the database up, then upgrade it with: "
            f"tracklet db upgrade <uri>",
            INVALID_STATE,
        )
    raise TrackletException(
        f"The database {where} has tracklet's schema at revision {state.revision}, which this "
        f"tracklet-sql (schema revision {HEAD}) does not know: it was written by a newer "
        "tracklet-sql. Upgrade with: pip install -U tracklet-sql",
        INVALID_STATE,
    )


@contextlib.contextmanager
def _locked(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection in a transaction that holds the database's schema lock.

    sqlite: ``BEGIN IMMEDIATE`` takes the write lock (and sqlite's DDL is transactional).
    PostgreSQL: a transaction-scoped advisory lock. MySQL/MariaDB commit DDL implicitly,
    so a session lock (``GET_LOCK``) is held around the transaction instead.
    """
    dialect = dialect_name(engine)
    if dialect == "mysql":
        with engine.connect() as conn:
            name = _mysql_lock_name(conn)
            got = conn.execute(
                sa.text("SELECT GET_LOCK(:name, :timeout)"), {"name": name, "timeout": _MYSQL_LOCK_TIMEOUT_S}
            ).scalar()
            conn.commit()
            if got != 1:
                raise TrackletException(
                    f"Timed out after {_MYSQL_LOCK_TIMEOUT_S} s waiting for another process to "
                    f"finish creating or upgrading the schema of {_display(engine)}. Try again.",
                    INVALID_STATE,
                )
            try:
                with conn.begin():
                    yield conn
            finally:
                conn.execute(sa.text("SELECT RELEASE_LOCK(:name)"), {"name": name})
                conn.commit()
        return
    with engine.connect().execution_options(sqlite_begin="BEGIN IMMEDIATE") as conn, conn.begin():
        if dialect == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        yield conn


def _mysql_lock_name(conn: sa.Connection) -> str:
    # GET_LOCK names are server-wide (64 characters at most): one lock per database.
    database = conn.execute(sa.text("SELECT DATABASE()")).scalar() or ""
    return "tracklet_sql." + hashlib.sha256(database.encode()).hexdigest()[:40]


def alembic_config(conn: sa.Connection | None = None) -> Config:
    """An Alembic configuration for the packaged migrations (no ``alembic.ini``).

    :param conn: the connection ``migrations/env.py`` runs on (None to only read scripts).
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", MIGRATIONS_DIR)
    config.set_main_option("path_separator", "os")
    if conn is not None:
        config.attributes["connection"] = conn
    return config


def _run_upgrade(conn: sa.Connection) -> None:
    """Run every revision up to head on ``conn``, inside the caller's transaction."""
    from alembic import command

    command.upgrade(alembic_config(conn), "head")


# -- the other plugins' migration sets ----------------------------------------------------------


def _read_version(version_table: str) -> sa.TextClause:
    quoted = sa.sql.quoted_name(version_table, quote=None)
    if not version_table.replace("_", "").isalnum():
        raise TrackletException(f"Not a usable version table name: {version_table!r}", INVALID_STATE)
    return sa.text(f"SELECT version_num FROM {quoted}")


def _set_revision(conn: sa.Connection, version_table: str, tables: frozenset[str]) -> str | None:
    if version_table not in tables:
        return None
    return _one_revision(list(conn.execute(_read_version(version_table)).scalars()))


def _set_config(entry: Any, conn: sa.Connection) -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", entry.script_location)
    config.set_main_option("path_separator", "os")
    config.attributes["connection"] = conn
    config.attributes["version_table"] = entry.version_table
    return config


def _known_revision(entry: Any, revision: str) -> bool:
    """Whether the set's installed scripts know ``revision`` (else a newer package wrote it)."""
    from alembic.script import ScriptDirectory
    from alembic.util import CommandError

    script = ScriptDirectory(entry.script_location)
    try:
        return all(script.get_revision(rev) is not None for rev in revision.split(","))
    except CommandError:
        return False


def _prepare_set(conn: sa.Connection, engine: sa.Engine, entry: Any, upgrading: bool) -> str | None:
    """Create, check or (``upgrading``) upgrade one plugin's set on ``conn``, which holds
    the schema lock; returns the revision it was at."""
    tables = frozenset(sa.inspect(conn).get_table_names())
    revision = _set_revision(conn, entry.version_table, tables)
    if revision == entry.head:
        return revision
    where = _display(engine)
    if revision is None:
        metadata_ = entry.load_metadata()
        present = tables & frozenset(metadata_.tables)
        if present:
            names = ", ".join(sorted(present))
            raise TrackletException(
                f"The database {where} has tables named like {entry.name}'s ({names}) but no "
                f"{entry.version_table!r} table recording them, so tracklet will not use or change "
                "them. Point tracklet at another database; if they are what is left of an "
                "interrupted creation, drop them and try again.",
                INVALID_STATE,
            )
        metadata_.create_all(conn)
        from alembic import command

        command.stamp(_set_config(entry, conn), entry.head)
        return None
    if not _known_revision(entry, revision):
        raise TrackletException(
            f"The database {where} has {entry.name}'s tables at revision {revision}, which the "
            f"installed {entry.name} (revision {entry.head}) does not know: a newer {entry.name} "
            f"wrote it. Upgrade with: pip install -U {entry.name}",
            INVALID_STATE,
        )
    if not upgrading:
        raise TrackletException(
            f"The database {where} has {entry.name}'s tables at revision {revision}, and the "
            f"installed {entry.name} needs revision {entry.head}. Back the database up, then "
            "upgrade it with: tracklet db upgrade <uri>",
            INVALID_STATE,
        )
    from alembic import command

    command.upgrade(_set_config(entry, conn), entry.head)
    return revision
