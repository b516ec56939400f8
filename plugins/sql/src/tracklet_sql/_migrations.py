"""Schema versions: checked when a store opens, created and upgraded with Alembic.

The revision a database is at lives in the table ``tracklet_alembic_version`` (not
Alembic's default ``alembic_version``, which is MLflow's). Opening a store costs one
query when the schema is current (:data:`HEAD` is a constant, so that path never
imports Alembic). A database without tracklet's tables gets them created at once,
under a lock every dialect honours across processes, so any number of processes can
open a brand-new database together. A database at another revision is refused with
what to do: ``tracklet db upgrade URI`` when it is older, ``pip install -U
tracklet-sql`` when it is newer.

Alembic runs programmatically: no ``alembic.ini``, the connection is handed to
``migrations/env.py`` through ``Config.attributes``. To add a revision, write
``migrations/versions/NNNN_<what>.py`` by hand (``script.py.mako`` is the template;
``alembic.autogenerate.compare_metadata`` lists what changed) and append it to
:data:`REVISIONS`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError

from tracklet.exceptions import INVALID_STATE, TrackletException

from ._engine import dialect_name
from ._schema import metadata

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = [
    "HEAD",
    "REVISIONS",
    "VERSION_TABLE",
    "current_revision",
    "prepare_database",
    "upgrade",
]

#: Every revision of ``migrations/versions``, oldest first.
REVISIONS: tuple[str, ...] = ("0001",)
#: The revision this tracklet-sql writes and reads.
HEAD = REVISIONS[-1]
#: Where the revision is recorded; MLflow's own table is ``alembic_version``.
VERSION_TABLE = "tracklet_alembic_version"
MLFLOW_VERSION_TABLE = "alembic_version"
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")

_TABLES = frozenset(metadata.tables)
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


def prepare_database(engine: sa.Engine) -> None:
    """Make the database ready for a store: create the schema if it has none, else check
    its revision.

    ``engine`` must come from :func:`tracklet_sql._engine.make_engine` (on sqlite, the
    creation relies on its ``sqlite_begin`` execution option for a transactional lock).

    :raises TrackletException: ``INVALID_STATE`` when the schema is older or newer than
        this tracklet-sql, or the database belongs to MLflow or something else.
    """
    if _fast_revision(engine) == HEAD:
        return
    with _locked(engine) as conn:
        state = _read_state(conn)
        if state.revision == HEAD:
            return  # another process created it while we waited for the lock
        _check(state, engine, upgrading=False)
        _run_upgrade(conn)


def upgrade(engine: sa.Engine) -> tuple[str | None, str]:
    """Bring the schema to :data:`HEAD` (creating it in an empty database).

    :returns: ``(revision before, revision after)``; they are equal when nothing was to do.
    :raises TrackletException: ``INVALID_STATE`` for a newer schema or a database that is
        not tracklet's.
    """
    with _locked(engine) as conn:
        state = _read_state(conn)
        _check(state, engine, upgrading=True)
        if state.revision != HEAD:
            _run_upgrade(conn)
        return state.revision, HEAD


def current_revision(engine: sa.Engine) -> str | None:
    """The revision the database records, or None when it holds no tracklet schema."""
    with engine.connect() as conn:
        return _read_state(conn).revision


def is_mlflow_database(engine: sa.Engine) -> bool:
    """True when the database holds MLflow's schema and not tracklet's."""
    with engine.connect() as conn:
        return _read_state(conn).is_mlflow


def _fast_revision(engine: sa.Engine) -> str | None:
    """The recorded revision in one query; None when it cannot be read (no table yet)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(_READ_VERSION).scalars().all()
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
            f"The database {where} holds MLflow's schema (table {MLFLOW_VERSION_TABLE!r}), not "
            "tracklet's. tracklet-sql keeps its own schema and does not read or change MLflow's "
            "tables: point tracklet at a separate, empty database (for example a new sqlite file) "
            "and keep this one for MLflow.",
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
