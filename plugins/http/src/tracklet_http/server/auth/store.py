"""Users and per-experiment grants in a SQL database (SQLAlchemy Core).

Three tables, prefixed ``tracklet_auth_`` so they can live in the tracking database itself
(sqlite, PostgreSQL or MySQL) next to the tracking store's tables without clashing:

* ``tracklet_auth_users``: ``id``, ``username`` (unique), ``password_hash``, ``is_admin``;
* ``tracklet_auth_experiment_permissions``: ``user_id``, ``experiment_id``, ``permission``,
  one row per (user, experiment);
* ``tracklet_auth_registered_model_permissions``: ``user_id``, ``name``, ``permission``,
  one row per (user, registered model), as MLflow's ``registered_model_permissions``.
  A registered model is known by its name, so these rows follow it: renaming a model
  renames them, deleting it deletes them (:meth:`AuthStore.rename_model_grants`,
  :meth:`AuthStore.delete_model_grants`).

The tables are created on first use; servers starting together on one database (replicas,
workers) may all try at once, so creation takes a PostgreSQL advisory lock and is retried
when another process won the race. This module stores hashes; hashing is the caller's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.pool import StaticPool

from tracklet.exceptions import (
    INVALID_PARAMETER_VALUE,
    RESOURCE_ALREADY_EXISTS,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)

__all__ = [
    "AuthStore",
    "ExperimentGrant",
    "ModelGrant",
    "User",
    "experiment_permissions",
    "metadata",
    "registered_model_permissions",
    "users",
]

logger = logging.getLogger("tracklet_http.server.auth")

T = TypeVar("T")

#: Longest user name and experiment id stored (both are indexed strings).
MAX_NAME = 255
#: Longest registered model name a grant may name (MLflow's registry column is 256 long).
MAX_MODEL_NAME = 256
_SQLITE_BUSY_TIMEOUT_S = 60.0
#: A key for pg_advisory_xact_lock that serialises table creation across processes.
_SCHEMA_LOCK_KEY = 0x7472_6B6C_6175_7468  # "trklauth"
_CREATE_ATTEMPTS = 6

metadata = sa.MetaData()

users = sa.Table(
    "tracklet_auth_users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(MAX_NAME), nullable=False, unique=True),
    sa.Column("password_hash", sa.String(512), nullable=False),
    sa.Column("is_admin", sa.Boolean, nullable=False, default=False),
)

experiment_permissions = sa.Table(
    "tracklet_auth_experiment_permissions",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("tracklet_auth_users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("experiment_id", sa.String(MAX_NAME), primary_key=True),
    sa.Column("permission", sa.String(32), nullable=False),
)

registered_model_permissions = sa.Table(
    "tracklet_auth_registered_model_permissions",
    metadata,
    sa.Column(
        "user_id", sa.Integer, sa.ForeignKey("tracklet_auth_users.id", ondelete="CASCADE"), primary_key=True
    ),
    sa.Column("name", sa.String(MAX_MODEL_NAME), primary_key=True),
    sa.Column("permission", sa.String(32), nullable=False),
    sa.Index("tracklet_auth_rmp_name", "name"),
)


@dataclass(frozen=True)
class User:
    """A row of the users table."""

    id: int
    username: str
    password_hash: str
    is_admin: bool


@dataclass(frozen=True)
class ExperimentGrant:
    """One user's permission on one experiment."""

    experiment_id: str
    user_id: int
    permission: str

    def to_json(self) -> dict[str, Any]:
        return {"experiment_id": self.experiment_id, "user_id": self.user_id, "permission": self.permission}


@dataclass(frozen=True)
class ModelGrant:
    """One user's permission on one registered model (MLflow's ``RegisteredModelPermission``)."""

    name: str
    user_id: int
    permission: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "user_id": self.user_id, "permission": self.permission}


def _user_not_found(username: str) -> TrackletException:
    return TrackletException(f"User with username={username} not found", RESOURCE_DOES_NOT_EXIST)


def _grant_not_found(experiment_id: str, username: str) -> TrackletException:
    return TrackletException(
        f"Experiment permission with experiment_id={experiment_id} and username={username} not found",
        RESOURCE_DOES_NOT_EXIST,
    )


def _model_grant_not_found(name: str, username: str) -> TrackletException:
    return TrackletException(
        f"Registered model permission with name={name} and username={username} not found",
        RESOURCE_DOES_NOT_EXIST,
    )


def make_engine(uri: str) -> sa.Engine:
    """An engine for the users database. sqlite gets WAL, a long busy timeout and
    ``BEGIN IMMEDIATE`` for writes (``execution_options(sqlite_begin=...)``), so
    concurrent writers wait for each other instead of failing."""
    url = sa.engine.make_url(uri)
    if url.get_backend_name() != "sqlite":
        try:
            return sa.create_engine(url, pool_pre_ping=True, pool_recycle=3600)
        except ModuleNotFoundError as exc:
            raise TrackletException(
                f"The database driver for the users database {url.drivername!r} is not installed "
                f"({exc.name}); install it, or choose another database with --auth-db-uri.",
                INVALID_PARAMETER_VALUE,
            ) from None
    database = url.database or ""
    memory = database in ("", ":memory:") or database.startswith("file::memory:")
    options: dict[str, Any] = {
        "connect_args": {"timeout": _SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False}
    }
    if memory:
        options["poolclass"] = StaticPool
    engine = sa.create_engine(url, **options)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # BEGIN is emitted by _on_begin
        cursor = dbapi_connection.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))

    return engine


class AuthStore:
    """The users database: users, their password hashes and their experiment grants."""

    def __init__(self, uri: str) -> None:
        self.uri = uri
        self.engine = make_engine(uri)
        self._writer = self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        self._create_tables()

    def close(self) -> None:
        self.engine.dispose()

    # -- schema --------------------------------------------------------------------------

    def _create_tables(self) -> None:
        """Create the tables if missing. Concurrent creators: PostgreSQL serialises them
        with an advisory lock; elsewhere the loser's "already exists" error is retried,
        and the retry finds the tables (``create_all`` checks first)."""
        for attempt in range(_CREATE_ATTEMPTS):
            try:
                with self._writer.begin() as conn:
                    if conn.dialect.name == "postgresql":
                        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _SCHEMA_LOCK_KEY})
                    metadata.create_all(conn, checkfirst=True)
                return
            except DBAPIError as exc:
                if attempt == _CREATE_ATTEMPTS - 1:
                    raise
                logger.debug("Creating the auth tables raced another process (%s); retrying.", exc.orig)
                time.sleep(0.05 * (attempt + 1))

    # -- transactions ----------------------------------------------------------------------

    def _read(self, fn: Callable[[sa.Connection], T]) -> T:
        with self.engine.connect() as conn:
            return fn(conn)

    def _write(self, fn: Callable[[sa.Connection], T]) -> T:
        with self._writer.begin() as conn:
            return fn(conn)

    # -- users -----------------------------------------------------------------------------

    @staticmethod
    def _user(row: Any) -> User:
        return User(int(row.id), row.username, row.password_hash, bool(row.is_admin))

    @staticmethod
    def _find(conn: sa.Connection, username: str) -> User | None:
        row = conn.execute(sa.select(users).where(users.c.username == username)).first()
        return None if row is None else AuthStore._user(row)

    def find_user(self, username: str) -> User | None:
        """The user called ``username``, or None."""
        return self._read(lambda conn: self._find(conn, username))

    def get_user(self, username: str) -> User:
        """The user called ``username``; RESOURCE_DOES_NOT_EXIST if there is none."""
        user = self.find_user(username)
        if user is None:
            raise _user_not_found(username)
        return user

    def list_users(self) -> list[User]:
        return self._read(
            lambda conn: [self._user(r) for r in conn.execute(sa.select(users).order_by(users.c.id))]
        )

    def count_admins(self) -> int:
        return int(
            self._read(
                lambda conn: conn.execute(
                    sa.select(sa.func.count()).select_from(users).where(users.c.is_admin.is_(sa.true()))
                ).scalar_one()
            )
        )

    def create_user(self, username: str, password_hash: str, is_admin: bool = False) -> User:
        """A new user; RESOURCE_ALREADY_EXISTS if the name is taken (also when another
        process took it a moment ago)."""

        taken = TrackletException(f"User (username={username}) already exists.", RESOURCE_ALREADY_EXISTS)

        def insert(conn: sa.Connection) -> User:
            if self._find(conn, username) is not None:
                raise taken
            result = conn.execute(
                users.insert().values(username=username, password_hash=password_hash, is_admin=is_admin)
            )
            key = result.inserted_primary_key
            if key is None:  # every dialect tracklet supports reports it
                raise RuntimeError("the database did not report the new user's id")
            return User(int(key[0]), username, password_hash, is_admin)

        try:
            return self._write(insert)
        except IntegrityError:  # created by another process between the check and the insert
            raise taken from None

    def _update_user(self, username: str, **values: Any) -> None:
        def update(conn: sa.Connection) -> None:
            result = conn.execute(users.update().where(users.c.username == username).values(**values))
            if result.rowcount == 0:
                raise _user_not_found(username)

        self._write(update)

    def update_password(self, username: str, password_hash: str) -> None:
        self._update_user(username, password_hash=password_hash)

    def replace_password_hash(self, username: str, old_hash: str, new_hash: str) -> bool:
        """Store ``new_hash`` only while the stored hash is still ``old_hash`` (a password
        changed meanwhile is never undone); whether it was stored."""

        def update(conn: sa.Connection) -> bool:
            condition = sa.and_(users.c.username == username, users.c.password_hash == old_hash)
            return bool(conn.execute(users.update().where(condition).values(password_hash=new_hash)).rowcount)

        return self._write(update)

    def update_admin(self, username: str, is_admin: bool) -> None:
        self._update_user(username, is_admin=is_admin)

    def delete_user(self, username: str) -> None:
        """Delete a user and their grants."""

        def delete(conn: sa.Connection) -> None:
            user = self._find(conn, username)
            if user is None:
                raise _user_not_found(username)
            conn.execute(experiment_permissions.delete().where(experiment_permissions.c.user_id == user.id))
            rmp = registered_model_permissions
            conn.execute(rmp.delete().where(rmp.c.user_id == user.id))
            conn.execute(users.delete().where(users.c.id == user.id))

        self._write(delete)

    # -- grants ----------------------------------------------------------------------------

    def permission_of(self, user_id: int, experiment_id: str) -> str | None:
        """The permission granted to a user on an experiment, or None."""
        ep = experiment_permissions
        return self._read(
            lambda conn: conn.execute(
                sa.select(ep.c.permission).where(ep.c.user_id == user_id, ep.c.experiment_id == experiment_id)
            ).scalar_one_or_none()
        )

    def grants_of(self, user_id: int) -> list[ExperimentGrant]:
        """Every grant a user holds, by experiment id."""
        ep = experiment_permissions
        rows = self._read(
            lambda conn: conn.execute(
                sa.select(ep.c.experiment_id, ep.c.permission)
                .where(ep.c.user_id == user_id)
                .order_by(ep.c.experiment_id)
            ).all()
        )
        return [ExperimentGrant(r.experiment_id, user_id, r.permission) for r in rows]

    def _user_id(self, conn: sa.Connection, username: str) -> int:
        user = self._find(conn, username)
        if user is None:
            raise _user_not_found(username)
        return user.id

    def get_grant(self, experiment_id: str, username: str) -> ExperimentGrant:
        def get(conn: sa.Connection) -> ExperimentGrant:
            user_id = self._user_id(conn, username)
            ep = experiment_permissions
            permission = conn.execute(
                sa.select(ep.c.permission).where(ep.c.user_id == user_id, ep.c.experiment_id == experiment_id)
            ).scalar_one_or_none()
            if permission is None:
                raise _grant_not_found(experiment_id, username)
            return ExperimentGrant(experiment_id, user_id, permission)

        return self._read(get)

    def create_grant(self, experiment_id: str, username: str, permission: str) -> ExperimentGrant:
        """A new grant; RESOURCE_ALREADY_EXISTS if the user already has one there."""

        def insert(conn: sa.Connection) -> ExperimentGrant:
            user_id = self._user_id(conn, username)
            conn.execute(
                experiment_permissions.insert().values(
                    user_id=user_id, experiment_id=experiment_id, permission=permission
                )
            )
            return ExperimentGrant(experiment_id, user_id, permission)

        try:
            return self._write(insert)
        except IntegrityError:
            raise TrackletException(
                f"Experiment permission (experiment_id={experiment_id}, username={username}) already exists.",
                RESOURCE_ALREADY_EXISTS,
            ) from None

    def update_grant(self, experiment_id: str, username: str, permission: str) -> None:
        def update(conn: sa.Connection) -> None:
            user_id = self._user_id(conn, username)
            ep = experiment_permissions
            result = conn.execute(
                ep.update()
                .where(ep.c.user_id == user_id, ep.c.experiment_id == experiment_id)
                .values(permission=permission)
            )
            if result.rowcount == 0:
                raise _grant_not_found(experiment_id, username)

        self._write(update)

    def delete_grant(self, experiment_id: str, username: str) -> None:
        def delete(conn: sa.Connection) -> None:
            user_id = self._user_id(conn, username)
            ep = experiment_permissions
            result = conn.execute(
                ep.delete().where(ep.c.user_id == user_id, ep.c.experiment_id == experiment_id)
            )
            if result.rowcount == 0:
                raise _grant_not_found(experiment_id, username)

        self._write(delete)

    def set_grant(self, experiment_id: str, user_id: int, permission: str) -> None:
        """Insert or overwrite a grant (the creator's MANAGE on a new experiment)."""
        ep = experiment_permissions

        def upsert(conn: sa.Connection) -> None:
            result = conn.execute(
                ep.update()
                .where(ep.c.user_id == user_id, ep.c.experiment_id == experiment_id)
                .values(permission=permission)
            )
            if result.rowcount == 0:
                conn.execute(
                    ep.insert().values(user_id=user_id, experiment_id=experiment_id, permission=permission)
                )

        try:
            self._write(upsert)
        except IntegrityError:  # inserted by another process in between: overwrite it
            self._write(upsert)

    # -- registered model grants -----------------------------------------------------------

    def model_permission_of(self, user_id: int, name: str) -> str | None:
        """The permission granted to a user on a registered model, or None."""
        rmp = registered_model_permissions
        return self._read(
            lambda conn: conn.execute(
                sa.select(rmp.c.permission).where(rmp.c.user_id == user_id, rmp.c.name == name)
            ).scalar_one_or_none()
        )

    def model_grants_of(self, user_id: int) -> list[ModelGrant]:
        """Every registered model grant a user holds, by model name."""
        rmp = registered_model_permissions
        rows = self._read(
            lambda conn: conn.execute(
                sa.select(rmp.c.name, rmp.c.permission).where(rmp.c.user_id == user_id).order_by(rmp.c.name)
            ).all()
        )
        return [ModelGrant(r.name, user_id, r.permission) for r in rows]

    def get_model_grant(self, name: str, username: str) -> ModelGrant:
        """A user's grant on a registered model; RESOURCE_DOES_NOT_EXIST (in MLflow's
        words) when the user or the grant is missing."""

        def get(conn: sa.Connection) -> ModelGrant:
            user_id = self._user_id(conn, username)
            rmp = registered_model_permissions
            permission = conn.execute(
                sa.select(rmp.c.permission).where(rmp.c.user_id == user_id, rmp.c.name == name)
            ).scalar_one_or_none()
            if permission is None:
                raise _model_grant_not_found(name, username)
            return ModelGrant(name, user_id, permission)

        return self._read(get)

    def create_model_grant(self, name: str, username: str, permission: str) -> ModelGrant:
        """A new grant on a registered model; RESOURCE_ALREADY_EXISTS if the user has one."""

        def insert(conn: sa.Connection) -> ModelGrant:
            user_id = self._user_id(conn, username)
            conn.execute(
                registered_model_permissions.insert().values(
                    user_id=user_id, name=name, permission=permission
                )
            )
            return ModelGrant(name, user_id, permission)

        try:
            return self._write(insert)
        except IntegrityError:
            raise TrackletException(
                f"Registered model permission (name={name}, username={username}) already exists.",
                RESOURCE_ALREADY_EXISTS,
            ) from None

    def update_model_grant(self, name: str, username: str, permission: str) -> ModelGrant:
        def update(conn: sa.Connection) -> ModelGrant:
            user_id = self._user_id(conn, username)
            rmp = registered_model_permissions
            result = conn.execute(
                rmp.update().where(rmp.c.user_id == user_id, rmp.c.name == name).values(permission=permission)
            )
            if result.rowcount == 0:
                raise _model_grant_not_found(name, username)
            return ModelGrant(name, user_id, permission)

        return self._write(update)

    def delete_model_grant(self, name: str, username: str) -> None:
        def delete(conn: sa.Connection) -> None:
            user_id = self._user_id(conn, username)
            rmp = registered_model_permissions
            result = conn.execute(rmp.delete().where(rmp.c.user_id == user_id, rmp.c.name == name))
            if result.rowcount == 0:
                raise _model_grant_not_found(name, username)

        self._write(delete)

    def set_model_grant(self, name: str, user_id: int, permission: str) -> None:
        """Insert or overwrite a grant (the creator's MANAGE on a new registered model)."""
        rmp = registered_model_permissions

        def upsert(conn: sa.Connection) -> None:
            result = conn.execute(
                rmp.update().where(rmp.c.user_id == user_id, rmp.c.name == name).values(permission=permission)
            )
            if result.rowcount == 0:
                conn.execute(rmp.insert().values(user_id=user_id, name=name, permission=permission))

        try:
            self._write(upsert)
        except IntegrityError:  # inserted by another process in between: overwrite it
            self._write(upsert)

    def rename_model_grants(self, old_name: str, new_name: str) -> None:
        """Move every grant on ``old_name`` to ``new_name`` (the model was renamed). A user
        holding grants on both names keeps the one that came with the model."""
        if old_name == new_name:
            return
        rmp = registered_model_permissions

        def rename(conn: sa.Connection) -> None:
            # two statements: MySQL refuses a DELETE reading its own table in a subquery
            holders = list(conn.execute(sa.select(rmp.c.user_id).where(rmp.c.name == old_name)).scalars())
            if holders:
                conn.execute(rmp.delete().where(rmp.c.name == new_name, rmp.c.user_id.in_(holders)))
            conn.execute(rmp.update().where(rmp.c.name == old_name).values(name=new_name))

        self._write(rename)

    def delete_model_grants(self, name: str) -> None:
        """Delete every grant on a registered model (the model was deleted: a new model of
        the same name must not inherit them)."""
        rmp = registered_model_permissions
        self._write(lambda conn: conn.execute(rmp.delete().where(rmp.c.name == name)))
