"""SqlRegistryStore: the model registry and logged models on sqlite, PostgreSQL and MySQL/MariaDB.

It writes the primitives of :class:`tracklet.stores.registry.RegistryStore` and
:class:`~tracklet.stores.registry.LoggedModelStore`, which have checked every argument.
Each write is one transaction (:func:`._engine.write`), so a refused or interrupted call
changes nothing. A new version number comes from the model's ``last_version`` counter,
raised by an ``UPDATE`` that holds the model row's lock until commit: concurrent
processes registering versions of one model get 1, 2, 3, ... with no gap, duplicate or
retry. Reads load whole pages in a fixed number of queries (:mod:`._read`); searches are
compiled to SQL (:mod:`._search`).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError, IntegrityError

from tracklet.entities import (
    LoggedModel,
    LoggedModelInput,
    LoggedModelOutput,
    LoggedModelParameter,
    LoggedModelStatus,
    LoggedModelTag,
    Metric,
    PagedList,
)
from tracklet.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.search import decode_page_token, encode_page_token
from tracklet.stores import refusals
from tracklet.stores.registry import (
    LoggedModelStore,
    RegistryStore,
    alias_not_found,
    logged_model_experiment_not_active,
    no_logged_model_tag,
    no_such_logged_model,
    no_such_model_version,
    no_such_registered_model,
    registered_model_exists,
)
from tracklet.uri import append_to_uri_path
from tracklet.utils.time import now_ms

from . import _import
from . import schema as s
from ._engine import dialect_name, open_engine, write
from ._read import (
    VERSION_COLUMNS,
    VERSIONS_JOIN,
    latest_versions,
    load_models,
    load_page,
    load_versions,
    logged_model_from_row,
    versions_from_rows,
)
from ._search import has_prompts, model_search, parse_search, uses_ilike, version_search
from ._text import TextOps, register_sqlite_lower

__all__ = ["SqlRegistryStore"]

rm, mv = s.registered_models, s.model_versions
_STAGE_ARCHIVED = "Archived"
_STAGE_NONE = "None"
_READY = "READY"
#: The first integer past a signed 64-bit column's range.
_BIGINT_END = 2**63
_ACTIVE, _DELETED = "active", "deleted"


class _Statements:
    """The statements every call runs, built once per dialect with bound parameters (a
    statement built per call costs more in SQLAlchemy than the query costs in sqlite)."""

    def __init__(self, dialect: str) -> None:
        text = TextOps(dialect)
        name_is = text.equals(rm.c.name, sa.bindparam("model_name"))
        self.model_key = sa.select(rm.c.model_key).where(name_is)
        self.model_key_locked = self.model_key if dialect == "sqlite" else self.model_key.with_for_update()
        self.version_key = (
            sa.select(mv.c.model_key)
            .select_from(mv.join(rm, rm.c.model_key == mv.c.model_key))
            .where(name_is, mv.c.version == sa.bindparam("version"))
        )
        raise_counter = (
            rm.update()
            .where(name_is)
            .values(last_version=rm.c.last_version + 1, last_updated_time=sa.bindparam("now_ms"))
        )
        # MariaDB has no UPDATE ... RETURNING: it reads the counter after raising it, under
        # the row lock the UPDATE holds until commit
        self.returning = dialect in ("postgresql", "sqlite")
        self.raise_counter = (
            raise_counter.returning(rm.c.model_key, rm.c.last_version) if self.returning else raise_counter
        )
        self.read_counter = sa.select(rm.c.model_key, rm.c.last_version).where(name_is)
        self.version_row = (
            sa.select(*VERSION_COLUMNS)
            .select_from(VERSIONS_JOIN)
            .where(name_is, mv.c.version == sa.bindparam("version"))
        )
        self.insert_version = mv.insert()
        self.insert_version_tags = s.model_version_tags.insert()


@lru_cache(maxsize=8)
def _statements(dialect: str) -> _Statements:
    return _Statements(dialect)


class SqlRegistryStore(RegistryStore, LoggedModelStore):
    """Registry store on a SQL database named by a SQLAlchemy URL (the tracking database).

    :param store_uri: ``sqlite:///path.db``, ``postgresql://…`` or ``mysql://…``. The
        engine, and the registry's tables, come from tracklet-sql through the core.
    """

    capabilities = frozenset({"logged_models", "concurrent_versions", "import"})

    def __init__(self, store_uri: str | None = None) -> None:
        if not store_uri:
            raise TrackletException(
                "SqlRegistryStore needs a database URI such as sqlite:///mlflow.db.", INVALID_PARAMETER_VALUE
            )
        super().__init__(store_uri)
        self.engine = open_engine(store_uri)
        self.dialect = dialect_name(self.engine)
        self.text = TextOps(self.dialect)
        self.sql = _statements(self.dialect)

    # -- lookups shared by the primitives ----------------------------------------------------

    def _name_is(self, name: str) -> Any:
        return self.text.equals(rm.c.name, name)

    def _model_key(self, conn: sa.Connection, name: str, *, lock: bool = False) -> int:
        """The model's key; ``lock`` holds its row until commit (sqlite: BEGIN IMMEDIATE
        already holds the database's write lock)."""
        statement = self.sql.model_key_locked if lock else self.sql.model_key
        key = conn.execute(statement, {"model_name": name}).scalar()
        if key is None:
            raise no_such_registered_model(name)
        return int(key)

    def _version_key(self, conn: sa.Connection, name: str, version: str) -> int:
        """The model key of an existing version (:func:`no_such_model_version` otherwise)."""
        key = conn.execute(self.sql.version_key, {"model_name": name, "version": int(version)}).scalar()
        if key is None:
            raise no_such_model_version(name, version)
        return int(key)

    def _touch_model(self, conn: sa.Connection, model_key: int, now: int) -> None:
        conn.execute(rm.update().where(rm.c.model_key == model_key).values(last_updated_time=now))

    def _read_model(self, name: str) -> RegisteredModel:
        with self.engine.connect() as conn:
            key = self._model_key(conn, name)
            return load_models(conn, [key])[0]

    def _read_version(self, conn: sa.Connection, model_key: int, version: int) -> ModelVersion:
        return load_versions(conn, [(model_key, version)])[0]

    # -- registered models -------------------------------------------------------------------

    def _create_registered_model(
        self,
        name: str,
        tags: list[RegisteredModelTag],
        description: str | None,
        deployment_job_id: str | None,
    ) -> RegisteredModel:
        now = now_ms()

        def create(conn: sa.Connection) -> int:
            if conn.execute(sa.select(rm.c.model_key).where(self._name_is(name))).first() is not None:
                raise registered_model_exists(name)
            result = conn.execute(
                rm.insert().values(
                    name=name,
                    creation_time=now,
                    last_updated_time=now,
                    description=description,
                    deployment_job_id=deployment_job_id or None,
                    last_version=0,
                )
            )
            inserted = result.inserted_primary_key
            assert inserted is not None
            key = int(inserted[0])
            rows = {t.key: {"model_key": key, "key": t.key, "value": t.value} for t in tags}
            if rows:
                conn.execute(s.registered_model_tags.insert(), list(rows.values()))
            return key

        try:
            write(self.engine, create)
        except IntegrityError:
            raise registered_model_exists(name) from None  # another process took the name meanwhile
        return RegisteredModel(
            name=name,
            creation_timestamp=now,
            last_updated_timestamp=now,
            description=description,
            latest_versions=[],
            tags=[RegisteredModelTag(t.key, t.value) for t in {t.key: t for t in tags}.values()],
            aliases=[],
            deployment_job_id=deployment_job_id,
        )

    def _get_registered_model(self, name: str) -> RegisteredModel:
        return self._read_model(name)

    def _update_registered_model(
        self, name: str, description: str | None, deployment_job_id: str | None
    ) -> RegisteredModel:
        values: dict[str, Any] = {"description": description, "last_updated_time": now_ms()}
        if deployment_job_id is not None:
            values["deployment_job_id"] = deployment_job_id or None

        def update(conn: sa.Connection) -> None:
            if conn.execute(rm.update().where(self._name_is(name)).values(**values)).rowcount == 0:
                raise no_such_registered_model(name)

        write(self.engine, update)
        return self._read_model(name)

    def _rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        now = now_ms()

        def rename(conn: sa.Connection) -> None:
            key = self._model_key(conn, name, lock=True)
            taken = conn.execute(sa.select(rm.c.model_key).where(self._name_is(new_name))).first()
            if taken is not None:
                raise registered_model_exists(new_name)
            conn.execute(
                rm.update().where(rm.c.model_key == key).values(name=new_name, last_updated_time=now)
            )
            conn.execute(mv.update().where(mv.c.model_key == key).values(last_updated_time=now))

        try:
            write(self.engine, rename)
        except IntegrityError:
            raise registered_model_exists(new_name) from None
        return self._read_model(new_name)

    def _delete_registered_model(self, name: str) -> None:
        def delete(conn: sa.Connection) -> None:
            key = self._model_key(conn, name, lock=True)
            # children first: MySQL/MariaDB cascade, but not every sqlite connection has
            # foreign keys on, and explicit deletes cost the same
            for table in (s.registered_model_aliases, s.model_version_tags, mv, s.registered_model_tags):
                conn.execute(table.delete().where(table.c.model_key == key))
            conn.execute(rm.delete().where(rm.c.model_key == key))

        write(self.engine, delete)

    def _search_registered_models(
        self, filter_string: str | None, max_results: int, order_by: list[str], page_token: str | None
    ) -> PagedList[RegisteredModel]:
        expr, keys = parse_search("registered_model", filter_string, order_by)
        offset = decode_page_token(page_token)
        with self.engine.connect() as conn:
            prompts = has_prompts(conn, s.registered_model_tags)
            statement = model_search(self.dialect, expr, keys, prompts)
            if self.dialect == "sqlite" and uses_ilike(expr):
                register_sqlite_lower(conn)
            found = conn.execute(statement, {"limit": max_results + 1, "offset": offset}).scalars().all()
            models = load_models(conn, list(found[:max_results]))
        token = encode_page_token(offset + max_results) if len(found) > max_results else None
        return PagedList(models, token)

    def _get_latest_versions(self, name: str, stages: list[str]) -> list[ModelVersion]:
        with self.engine.connect() as conn:
            key = self._model_key(conn, name)
            versions = latest_versions(conn, [key]).get(key, [])
        wanted = set(stages)
        return [v for v in versions if v.current_stage in wanted]

    def _set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        def set_tag(conn: sa.Connection) -> None:
            key = self._model_key(conn, name)
            row = {"model_key": key, "key": tag.key, "value": tag.value}
            self._upsert(conn, s.registered_model_tags, row)

        write(self.engine, set_tag)

    def _delete_registered_model_tag(self, name: str, key: str) -> None:
        def delete(conn: sa.Connection) -> None:
            model_key = self._model_key(conn, name)
            t = s.registered_model_tags
            conn.execute(t.delete().where(t.c.model_key == model_key, self.text.equals(t.c.key, key)))

        write(self.engine, delete)

    # -- model versions ----------------------------------------------------------------------

    def _next_version(self, conn: sa.Connection, name: str, now: int) -> tuple[int, int]:
        """Raise the model's counter under its row lock: ``(model_key, new version)``.

        The ``UPDATE`` takes the row's write lock (sqlite: the database's, taken already by
        ``BEGIN IMMEDIATE``) and keeps it until commit, so the next writer reads the raised
        counter: no two transactions can take the same number, and a rolled-back one
        gives its number back.
        """
        parameters = {"model_name": name, "now_ms": now}
        result = conn.execute(self.sql.raise_counter, parameters)
        if self.sql.returning:
            row = result.first()
        else:
            row = conn.execute(self.sql.read_counter, parameters).first() if result.rowcount else None
        if row is None:
            raise no_such_registered_model(name)
        return int(row[0]), int(row[1])

    def _create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: list[ModelVersionTag],
        run_link: str | None,
        description: str | None,
        model_id: str | None,
        storage_location: str,
    ) -> ModelVersion:
        now = now_ms()
        values = {
            "creation_time": now,
            "last_updated_time": now,
            "description": description,
            "user_id": None,
            "current_stage": _STAGE_NONE,
            "source": source,
            "storage_location": storage_location,
            "run_id": run_id,
            "run_link": run_link,
            "status": _READY,
            "status_message": None,
            "logged_model_id": model_id,
        }
        tag_values = {t.key: t.value for t in tags}

        def create(conn: sa.Connection) -> int:
            model_key, version = self._next_version(conn, name, now)
            conn.execute(self.sql.insert_version, {"model_key": model_key, "version": version, **values})
            if tag_values:
                rows = [
                    {"model_key": model_key, "version": version, "key": k, "value": v}
                    for k, v in tag_values.items()
                ]
                conn.execute(self.sql.insert_version_tags, rows)
            return version

        version = write(self.engine, create)
        # a new version has no alias yet: no need to read it back
        return ModelVersion(
            name=name,
            version=int(version),
            creation_timestamp=now,
            last_updated_timestamp=now,
            description=description,
            current_stage=_STAGE_NONE,
            source=source,
            run_id=run_id,
            status=_READY,
            tags=[ModelVersionTag(k, v) for k, v in tag_values.items()],
            run_link=run_link,
            model_id=model_id,
        )

    def _get_model_version(self, name: str, version: str) -> ModelVersion:
        with self.engine.connect() as conn:
            row = conn.execute(self.sql.version_row, {"model_name": name, "version": int(version)}).first()
            if row is None:
                raise no_such_model_version(name, version)
            return versions_from_rows(conn, [row])[0]

    def _update_model_version(self, name: str, version: str, description: str | None) -> ModelVersion:
        now, number = now_ms(), int(version)

        def update(conn: sa.Connection) -> int:
            key = self._version_key(conn, name, version)
            conn.execute(
                mv.update()
                .where(mv.c.model_key == key, mv.c.version == number)
                .values(description=description, last_updated_time=now)
            )
            return key

        key = write(self.engine, update)
        with self.engine.connect() as conn:
            return self._read_version(conn, key, number)

    def _transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        now, number = now_ms(), int(version)

        def transition(conn: sa.Connection) -> int:
            key = self._version_key(conn, name, version)
            if archive_existing_versions:
                conn.execute(
                    mv.update()
                    .where(mv.c.model_key == key, mv.c.version != number, mv.c.current_stage == stage)
                    .values(current_stage=_STAGE_ARCHIVED, last_updated_time=now)
                )
            conn.execute(
                mv.update()
                .where(mv.c.model_key == key, mv.c.version == number)
                .values(current_stage=stage, last_updated_time=now)
            )
            self._touch_model(conn, key, now)
            return key

        key = write(self.engine, transition)
        with self.engine.connect() as conn:
            return self._read_version(conn, key, number)

    def _delete_model_version(self, name: str, version: str) -> None:
        now, number = now_ms(), int(version)

        def delete(conn: sa.Connection) -> None:
            key = self._version_key(conn, name, version)
            for table in (s.registered_model_aliases, s.model_version_tags, mv):
                conn.execute(table.delete().where(table.c.model_key == key, table.c.version == number))
            self._touch_model(conn, key, now)

        write(self.engine, delete)

    def _get_model_version_download_uri(self, name: str, version: str) -> str:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(mv.c.storage_location, mv.c.source)
                .select_from(mv.join(rm, rm.c.model_key == mv.c.model_key))
                .where(self._name_is(name), mv.c.version == int(version))
            ).first()
        if row is None:
            raise no_such_model_version(name, version)
        return str(row[0] or row[1])

    def _search_model_versions(
        self, filter_string: str | None, max_results: int, order_by: list[str], page_token: str | None
    ) -> PagedList[ModelVersion]:
        expr, keys = parse_search("model_version", filter_string, order_by)
        offset = decode_page_token(page_token)
        with self.engine.connect() as conn:
            prompts = has_prompts(conn, s.model_version_tags)
            statement = version_search(self.dialect, expr, keys, prompts)
            if self.dialect == "sqlite" and uses_ilike(expr):
                register_sqlite_lower(conn)
            bounds = {"limit": max_results + 1, "offset": offset, "cutoff": offset + max_results}
            found = conn.execute(statement, bounds).all()
            versions = load_page(conn, [(int(k), int(v)) for k, v in found[:max_results]])
        token = encode_page_token(offset + max_results) if len(found) > max_results else None
        return PagedList(versions, token)

    def _set_model_version_tag(self, name: str, version: str, tag: ModelVersionTag) -> None:
        def set_tag(conn: sa.Connection) -> None:
            key = self._version_key(conn, name, version)
            row = {"model_key": key, "version": int(version), "key": tag.key, "value": tag.value}
            self._upsert(conn, s.model_version_tags, row)

        write(self.engine, set_tag)

    def _delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        t = s.model_version_tags

        def delete(conn: sa.Connection) -> None:
            model_key = self._version_key(conn, name, version)
            conn.execute(
                t.delete().where(
                    t.c.model_key == model_key, t.c.version == int(version), self.text.equals(t.c.key, key)
                )
            )

        write(self.engine, delete)

    # -- aliases -----------------------------------------------------------------------------

    def _set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        def set_alias(conn: sa.Connection) -> None:
            key = self._version_key(conn, name, version)
            row = {"model_key": key, "alias": alias, "version": int(version)}
            self._upsert(conn, s.registered_model_aliases, row)

        write(self.engine, set_alias)

    def _delete_registered_model_alias(self, name: str, alias: str) -> None:
        a = s.registered_model_aliases

        def delete(conn: sa.Connection) -> None:
            key = self._model_key(conn, name)
            conn.execute(a.delete().where(a.c.model_key == key, self.text.equals(a.c.alias, alias)))

        write(self.engine, delete)

    def _get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        a = s.registered_model_aliases
        joined = rm.outerjoin(a, sa.and_(a.c.model_key == rm.c.model_key, self.text.equals(a.c.alias, alias)))
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(rm.c.model_key, a.c.version).select_from(joined).where(self._name_is(name))
            ).first()
            if row is None:
                raise no_such_registered_model(name)
            if row[1] is None:
                raise alias_not_found(alias)
            return self._read_version(conn, int(row[0]), int(row[1]))

    # -- copy primitives (capability ``import``) -------------------------------------------

    def _get_last_version_number(self, name: str) -> int:
        return _import.last_version_number(self, name)

    def _import_registered_model(self, model: RegisteredModel, last_version: int) -> None:
        _import.import_model(self, model, last_version)

    def _import_model_version(self, version: ModelVersion, number: int, storage_location: str) -> None:
        _import.import_version(self, version, number, storage_location)

    def _import_registered_model_aliases(self, name: str, aliases: dict[str, int]) -> None:
        _import.import_aliases(self, name, aliases)

    # -- helpers -----------------------------------------------------------------------------

    def _upsert(self, conn: sa.Connection, table: sa.Table, row: dict[str, Any]) -> None:
        """Insert ``row`` or overwrite the non-key columns of the row with its key."""
        keys = [c.name for c in table.primary_key.columns]
        values = {k: v for k, v in row.items() if k not in keys}
        if self.dialect == "postgresql":
            from sqlalchemy.dialects import postgresql

            pg = postgresql.insert(table).values(**row)
            conn.execute(pg.on_conflict_do_update(index_elements=keys, set_=values))
        elif self.dialect == "mysql":
            from sqlalchemy.dialects import mysql

            my = mysql.insert(table).values(**row)
            conn.execute(my.on_duplicate_key_update(**values))
        else:
            from sqlalchemy.dialects import sqlite

            lite = sqlite.insert(table).values(**row)
            conn.execute(lite.on_conflict_do_update(index_elements=keys, set_=values))

    # -- logged models -----------------------------------------------------------------------

    def _experiment_artifact_location(self, experiment_id: str) -> str:
        """The artifact location of an active experiment, from the tracking store of the same URI."""
        from tracklet.entities import LifecycleStage
        from tracklet.plugins import get_tracking_store

        assert self.store_uri is not None
        experiment = get_tracking_store(self.store_uri).get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise logged_model_experiment_not_active(experiment_id)
        return str(experiment.artifact_location)

    def _create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None,
        tags: list[LoggedModelTag],
        params: list[LoggedModelParameter],
        model_type: str | None,
    ) -> LoggedModel:
        root = self._experiment_artifact_location(experiment_id)
        model_id = f"m-{uuid.uuid4().hex}"
        location = append_to_uri_path(root, "models", model_id, "artifacts")
        now = now_ms()
        tag_values = {t.key: t.value for t in tags}
        param_values = {p.key: str(p.value) for p in params}

        def create(conn: sa.Connection) -> None:
            conn.execute(
                s.logged_models.insert().values(
                    model_id=model_id,
                    experiment_id=int(experiment_id),
                    name=name,
                    artifact_location=location,
                    creation_timestamp_ms=now,
                    last_updated_timestamp_ms=now,
                    status=LoggedModelStatus.PENDING.to_int(),
                    lifecycle_stage=_ACTIVE,
                    model_type=model_type,
                    source_run_id=source_run_id,
                )
            )
            for table, values in ((s.logged_model_tags, tag_values), (s.logged_model_params, param_values)):
                if values:
                    rows = [{"model_id": model_id, "key": k, "value": v} for k, v in values.items()]
                    conn.execute(table.insert(), rows)

        write(self.engine, create)
        return LoggedModel(
            experiment_id=experiment_id,
            model_id=model_id,
            name=name,
            artifact_location=location,
            creation_timestamp=now,
            last_updated_timestamp=now,
            model_type=model_type,
            source_run_id=source_run_id,
            status=LoggedModelStatus.PENDING,
            tags=dict(tag_values),
            params=dict(param_values),
        )

    def _load_logged_models(self, conn: sa.Connection, where: Any) -> list[LoggedModel]:
        """The logged models ``where`` selects, with tags, params and metrics (four queries)."""
        lm = s.logged_models
        rows = conn.execute(sa.select(lm).where(where)).all()
        ids = [row.model_id for row in rows]
        if not ids:
            return []
        tags: dict[str, dict[str, str]] = {i: {} for i in ids}
        params: dict[str, dict[str, str]] = {i: {} for i in ids}
        for table, out in ((s.logged_model_tags, tags), (s.logged_model_params, params)):
            for model_id, key, value in conn.execute(
                sa.select(table.c.model_id, table.c.key, table.c.value).where(table.c.model_id.in_(ids))
            ):
                out[model_id][key] = value
        metrics = _load_metrics(conn, ids)
        return [
            logged_model_from_row(row, tags[row.model_id], params[row.model_id], metrics.get(row.model_id))
            for row in rows
        ]

    def _get_logged_model(self, model_id: str, allow_deleted: bool) -> LoggedModel:
        lm = s.logged_models
        where = lm.c.model_id == model_id
        if not allow_deleted:
            where = sa.and_(where, lm.c.lifecycle_stage == _ACTIVE)
        with self.engine.connect() as conn:
            found = self._load_logged_models(conn, where)
        if not found:
            raise no_such_logged_model(model_id)
        return found[0]

    def _logged_model_write(self, model_id: str, fn: Any) -> None:
        """Run ``fn(conn)`` in one write transaction once the (active) model is found, and
        mark the model updated."""
        lm = s.logged_models

        def run(conn: sa.Connection) -> None:
            touched = conn.execute(
                lm.update()
                .where(lm.c.model_id == model_id, lm.c.lifecycle_stage == _ACTIVE)
                .values(last_updated_timestamp_ms=now_ms())
            )
            if not touched.rowcount:
                raise no_such_logged_model(model_id)
            fn(conn)

        write(self.engine, run)

    def _finalize_logged_model(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        lm = s.logged_models
        number = status.to_int()
        self._logged_model_write(
            model_id,
            lambda conn: conn.execute(lm.update().where(lm.c.model_id == model_id).values(status=number)),
        )
        return self._get_logged_model(model_id, False)

    def _delete_logged_model(self, model_id: str) -> None:
        lm = s.logged_models
        self._logged_model_write(
            model_id,
            lambda conn: conn.execute(
                lm.update().where(lm.c.model_id == model_id).values(lifecycle_stage=_DELETED)
            ),
        )

    def _set_logged_model_tags(self, model_id: str, tags: list[LoggedModelTag]) -> None:
        def set_tags(conn: sa.Connection) -> None:
            for key, value in {t.key: t.value for t in tags}.items():
                self._upsert(conn, s.logged_model_tags, {"model_id": model_id, "key": key, "value": value})

        self._logged_model_write(model_id, set_tags)

    def _delete_logged_model_tag(self, model_id: str, key: str) -> None:
        t = s.logged_model_tags

        def delete(conn: sa.Connection) -> None:
            gone = conn.execute(t.delete().where(t.c.model_id == model_id, self.text.equals(t.c.key, key)))
            if not gone.rowcount:
                raise no_logged_model_tag(model_id, key)

        self._logged_model_write(model_id, delete)

    def _log_logged_model_params(self, model_id: str, params: list[LoggedModelParameter]) -> None:
        def log(conn: sa.Connection) -> None:
            for key, value in {p.key: str(p.value) for p in params}.items():
                self._upsert(conn, s.logged_model_params, {"model_id": model_id, "key": key, "value": value})

        self._logged_model_write(model_id, log)

    def _log_outputs(self, run_id: str, models: list[LoggedModelOutput]) -> None:
        """Record that an active run produced these logged models (once per model)."""
        from tracklet.entities import LifecycleStage
        from tracklet.plugins import get_tracking_store

        assert self.store_uri is not None
        run = get_tracking_store(self.store_uri).get_run(run_id)  # RESOURCE_DOES_NOT_EXIST if unknown
        if run.info.lifecycle_stage != LifecycleStage.ACTIVE:
            raise refusals.run_not_active(run_id, run.info.lifecycle_stage)
        rows = {
            m.model_id: {"run_id": run_id, "model_id": m.model_id, "step": int(m.step or 0)} for m in models
        }
        lm, out = s.logged_models, s.logged_model_outputs

        def record(conn: sa.Connection) -> None:
            known = set(conn.execute(sa.select(lm.c.model_id).where(lm.c.model_id.in_(list(rows)))).scalars())
            for model_id in rows:
                if model_id not in known:
                    raise no_such_logged_model(model_id)
            done = set(
                conn.execute(
                    sa.select(out.c.model_id).where(out.c.run_id == run_id, out.c.model_id.in_(list(rows)))
                ).scalars()
            )
            fresh = [row for model_id, row in rows.items() if model_id not in done]
            if fresh:
                conn.execute(out.insert(), fresh)

        if rows:
            write(self.engine, record)

    def _active_run(self, run_id: str) -> None:
        """Refuse an unknown run (``RESOURCE_DOES_NOT_EXIST``) and one not active."""
        from tracklet.entities import LifecycleStage
        from tracklet.plugins import get_tracking_store

        assert self.store_uri is not None
        run = get_tracking_store(self.store_uri).get_run(run_id)
        if run.info.lifecycle_stage != LifecycleStage.ACTIVE:
            raise refusals.run_not_active(run_id, run.info.lifecycle_stage)

    def _log_logged_model_metrics(self, run_id: str, metrics: list[Metric]) -> None:
        """Each metric becomes a row of its model's metrics (the same key, time, step and
        run again overwrite the value, as MLflow's merge)."""
        lm = s.logged_models
        ids = sorted({str(m.model_id) for m in metrics})

        def record(conn: sa.Connection) -> None:
            known = set(
                conn.execute(
                    sa.select(lm.c.model_id).where(lm.c.model_id.in_(ids), lm.c.lifecycle_stage == _ACTIVE)
                ).scalars()
            )
            for model_id in ids:
                if model_id not in known:
                    raise no_such_logged_model(model_id)
            for m in metrics:
                value, nonfinite = _stored_value(float(m.value))
                row = {
                    "model_id": str(m.model_id),
                    "key": m.key,
                    "timestamp": int(m.timestamp),
                    "step": int(m.step or 0),
                    "run_id": run_id,
                    "value": value,
                    "nonfinite": nonfinite,
                    "dataset_name": m.dataset_name,
                    "dataset_digest": m.dataset_digest,
                }
                self._upsert(conn, s.logged_model_metrics, row)

        write(self.engine, record)

    def _log_model_inputs(self, run_id: str, models: list[LoggedModelInput]) -> None:
        """Rows of the tracking ``inputs`` table as MLflow writes them (``RUN_INPUT`` ->
        ``MODEL_INPUT``), once per model; the tracking store reads only its dataset rows."""
        self._active_run(run_id)
        ids = list(dict.fromkeys(m.model_id for m in models))
        lm, edges = s.logged_models, _RUN_INPUTS

        def record(conn: sa.Connection) -> None:
            known = set(conn.execute(sa.select(lm.c.model_id).where(lm.c.model_id.in_(ids))).scalars())
            for model_id in ids:
                if model_id not in known:
                    raise no_such_logged_model(model_id)
            done = set(
                conn.execute(
                    sa.select(edges.c.destination_id).where(
                        *_model_input_edge(run_id), edges.c.destination_id.in_(ids)
                    )
                ).scalars()
            )
            fresh = [
                {
                    "input_uuid": uuid.uuid4().hex,
                    "source_type": "RUN_INPUT",
                    "source_id": run_id,
                    "destination_type": "MODEL_INPUT",
                    "destination_id": model_id,
                }
                for model_id in ids
                if model_id not in done
            ]
            if fresh:
                conn.execute(edges.insert(), fresh)

        write(self.engine, record)

    def _get_run_model_links(self, run_id: str) -> tuple[list[LoggedModelInput], list[LoggedModelOutput]]:
        """One prebuilt query on the driver's cursor: part of every ``runs/get`` (the client
        adds a run's model links to it), where two SQLAlchemy-built queries cost more than
        the rest of the call."""
        sql, positions, constants = _links_statement(self.engine.dialect)
        bound = {**constants, "run_id": run_id}
        rows = _driver_rows(self.engine, sql, [bound[name] for name in positions] if positions else bound)
        inputs = [LoggedModelInput(model_id) for kind, model_id, _ in rows if kind == 0]
        outputs = [LoggedModelOutput(model_id, int(step)) for kind, model_id, step in rows if kind == 1]
        return inputs, outputs

    def _search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        datasets: list[dict[str, Any]],
        max_results: int,
        order_by: list[dict[str, Any]],
        page_token: str | None,
    ) -> PagedList[LoggedModel]:
        """The experiments' active models are loaded in bulk (four queries) and filtered,
        sorted and paged by the core's in-memory evaluator, so every store answers alike."""
        from tracklet import search

        lm = s.logged_models
        # an id no experiment can have (not a number, or past BIGINT) matches nothing
        numbers = [int(e) for e in experiment_ids if e.isdecimal() and int(e) < _BIGINT_END]
        with self.engine.connect() as conn:
            models = self._load_logged_models(
                conn, sa.and_(lm.c.experiment_id.in_(numbers), lm.c.lifecycle_stage == _ACTIVE)
            )
        result: PagedList[LoggedModel] = search.filter_logged_models(
            models,
            filter_string=filter_string,
            datasets=datasets,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
            experiment_ids=experiment_ids,
        )
        return result


def _load_metrics(conn: sa.Connection, ids: Sequence[str]) -> dict[str, list[Metric]]:
    """model_id -> the metrics runs logged against it."""
    t = s.logged_model_metrics
    out: dict[str, list[Metric]] = {}
    for row in conn.execute(sa.select(t).where(t.c.model_id.in_(list(ids)))):
        value = _NONFINITE.get(row.nonfinite, row.value)
        out.setdefault(row.model_id, []).append(
            Metric(
                key=row.key,
                value=value,
                timestamp=row.timestamp,
                step=row.step,
                model_id=row.model_id,
                dataset_name=row.dataset_name,
                dataset_digest=row.dataset_digest,
                run_id=row.run_id,
            )
        )
    return out


_NONFINITE = {1: math.nan, 2: math.inf, 3: -math.inf}


def _stored_value(value: float) -> tuple[float, int]:
    """``(value, nonfinite)`` as the metrics columns keep it (MySQL has no NaN/infinity)."""
    if math.isnan(value):
        return 0.0, 1
    if math.isinf(value):
        return 0.0, 2 if value > 0 else 3
    return value, 0


# The tracking schema's ``inputs`` table (MLflow's, created by tracklet-sql in the same
# database): MLflow records a run's model inputs there, and so does this store. Declared
# on its own MetaData: it is not one of this plugin's tables.
_RUN_INPUTS = sa.Table(
    "inputs",
    sa.MetaData(),
    sa.Column("input_uuid", sa.String(36), nullable=False),
    sa.Column("source_type", sa.String(36), nullable=False),
    sa.Column("source_id", sa.String(36), nullable=False),
    sa.Column("destination_type", sa.String(36), nullable=False),
    sa.Column("destination_id", sa.String(36), nullable=False),
)


def _model_input_edge(run_id: str) -> tuple[Any, ...]:
    c = _RUN_INPUTS.c
    return (c.source_type == "RUN_INPUT", c.source_id == run_id, c.destination_type == "MODEL_INPUT")


@lru_cache(maxsize=8)
def _links_statement(dialect: sa.Dialect) -> tuple[str, list[str] | None, dict[str, Any]]:
    """A run's model inputs (kind 0, step 0) and outputs (kind 1) in one query, each kind
    ordered by model id, compiled for ``dialect``: the driver-level SQL, the order of its
    positional parameters (None for named ones) and its constant parameters (the run's
    id binds to ``run_id``)."""
    c, out = _RUN_INPUTS.c, s.logged_model_outputs.c
    run_id = sa.bindparam("run_id", type_=sa.String)
    inputs = sa.select(
        sa.literal_column("0").label("kind"),
        c.destination_id.label("model_id"),
        sa.literal_column("0").label("step"),
    ).where(c.source_type == "RUN_INPUT", c.source_id == run_id, c.destination_type == "MODEL_INPUT")
    outputs = sa.select(sa.literal_column("1"), out.model_id, out.step).where(out.run_id == run_id)
    compiled = (
        sa.union_all(inputs, outputs)
        .order_by(sa.literal_column("kind"), sa.literal_column("model_id"))
        .compile(dialect=dialect)
    )
    constants = {name: value for name, value in compiled.params.items() if name != "run_id"}
    positions = list(compiled.positiontup) if compiled.positiontup is not None else None
    return compiled.string, positions, constants


def _driver_rows(engine: sa.Engine, sql: str, params: Any) -> list[tuple[Any, ...]]:
    """The rows of one read on a pooled driver connection's own cursor (SQLAlchemy's
    execution layer costs more than a small query). A driver error leaves as SQLAlchemy's
    :class:`~sqlalchemy.exc.DBAPIError`, the connection dropped if it was lost; the pool's
    reset on return ends the read's transaction."""
    dialect = engine.dialect
    fairy = engine.raw_connection()
    cursor = None
    try:
        cursor = fairy.cursor()
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    except dialect.loaded_dbapi.Error as exc:
        lost = dialect.is_disconnect(exc, fairy.dbapi_connection, cursor)
        if lost:
            fairy.invalidate(exc)
        raise DBAPIError.instance(
            sql, params, exc, dialect.loaded_dbapi.Error, connection_invalidated=lost, dialect=dialect
        ) from exc
    finally:
        if cursor is not None:
            cursor.close()
        fairy.close()
