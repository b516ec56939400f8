"""MlflowSchemaRegistryStore: the model registry on a database in MLflow's own schema.

Rows are read and written exactly as MLflow 3.17.2's SQL store does, so MLflow keeps
working on the same database afterwards (and sees what tracklet wrote):

* a new version is one more than the model's highest row, deleted ones included, taken
  under the model row's lock (PostgreSQL/MySQL: ``SELECT ... FOR UPDATE``; sqlite: the
  write transaction's ``BEGIN IMMEDIATE``), so concurrent writers get 1, 2, 3, ...; an
  MLflow process writing at the same time takes no lock, so a number it took first is
  met as a duplicate key and the version is numbered again (MLflow retries so too);
* deleting a version keeps its row with stage ``Deleted_Internal``, its description,
  user, status message cleared and source, run id and run link redacted (MLflow's
  words), and removes the aliases pointing at it; its tags stay;
* creating or deleting a version and a stage transition update the model's
  ``last_updated_time``; a description update or a tag does not;
* ``deployment_job_id`` and a version's ``model_id`` have no column in MLflow's schema:
  they are not kept (MLflow's SQL store drops them too).

Searches load the candidate rows and filter, sort and page them with the core's
in-memory evaluator, so the answers are the other stores' answers. Logged models are
served from MLflow's logged-model tables (:mod:`._mlflow_logged_models`).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tracklet import search
from tracklet.entities import PagedList
from tracklet.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.stores.registry import (
    RegistryStore,
    alias_not_found,
    no_such_model_version,
    no_such_registered_model,
    registered_model_exists,
)
from tracklet.utils.time import now_ms

from . import _mlflow_import
from ._engine import dialect_name, open_engine, write
from ._mlflow_logged_models import MlflowLoggedModels
from ._mlflow_read import load_models, load_versions, model_names, version_rows
from .mlflow_schema import DELETED_STAGE, MlflowTables, detect_mlflow_schema

__all__ = ["MlflowSchemaRegistryStore"]

_STAGE_NONE = "None"
_STAGE_ARCHIVED = "Archived"
_READY = "READY"
_CREATE_RETRIES = 5
#: What MLflow writes over a deleted version's fields.
_REDACTED = {
    "description": None,
    "user_id": None,
    "source": "REDACTED-SOURCE-PATH",
    "run_id": "REDACTED-RUN-ID",
    "run_link": "REDACTED-RUN-LINK",
    "status_message": None,
}


class MlflowSchemaRegistryStore(MlflowLoggedModels, RegistryStore):
    """Registry (and logged-model) store on a database MLflow created, in MLflow's schema.

    :param store_uri: the database's URI; its engine comes from tracklet-sql through the
        core. :func:`tracklet_registry.sql.factory.sql_registry_store` picks this class
        for a database in MLflow's schema.
    :param tables: MLflow's tables as detected (detected again when omitted).
    """

    capabilities = frozenset({"logged_models", "concurrent_versions", "import"})

    def __init__(self, store_uri: str | None = None, tables: MlflowTables | None = None) -> None:
        if not store_uri:
            raise TrackletException(
                "MlflowSchemaRegistryStore needs a database URI such as sqlite:///mlflow.db.",
                INVALID_PARAMETER_VALUE,
            )
        RegistryStore.__init__(self, store_uri)
        self.engine = open_engine(store_uri)
        self.dialect = dialect_name(self.engine)
        found = tables or detect_mlflow_schema(self.engine)
        if found is None:
            raise TrackletException(
                f"The database {self.engine.url.render_as_string(hide_password=True)} does not hold "
                "MLflow's schema; open it with tracklet_registry.sql.store.SqlRegistryStore.",
                INVALID_PARAMETER_VALUE,
            )
        self.t = found

    # -- lookups -----------------------------------------------------------------------------

    def _model_row(self, conn: sa.Connection, name: str, *, lock: bool = False) -> Any:
        rm = self.t.registered_models
        query = sa.select(rm).where(*self.t.in_workspace(rm), rm.c.name == name)
        if lock and self.dialect != "sqlite":
            query = query.with_for_update()
        row = conn.execute(query).first()
        if row is None:
            raise no_such_registered_model(name)
        return row

    def _version_where(self, name: str, version: int) -> list[Any]:
        mv = self.t.model_versions
        return [*self.t.in_workspace(mv), mv.c.name == name, mv.c.version == version]

    def _require_version(self, conn: sa.Connection, name: str, version: str) -> int:
        """The number of a visible version (:func:`no_such_model_version` otherwise)."""
        number = int(version)
        mv = self.t.model_versions
        found = conn.execute(
            sa.select(mv.c.version).where(
                *self._version_where(name, number), mv.c.current_stage != DELETED_STAGE
            )
        ).first()
        if found is None:
            raise no_such_model_version(name, version)
        return number

    def _touch_model(self, conn: sa.Connection, name: str, now: int) -> None:
        rm = self.t.registered_models
        conn.execute(
            rm.update().where(*self.t.in_workspace(rm), rm.c.name == name).values(last_updated_time=now)
        )

    def _read_version(self, name: str, number: int) -> ModelVersion:
        with self.engine.connect() as conn:
            rows = version_rows(conn, self.t, [name], self.t.model_versions.c.version == number)
            if not rows:
                raise no_such_model_version(name, number)
            return load_versions(conn, self.t, rows)[0]

    def _read_model(self, name: str) -> RegisteredModel:
        with self.engine.connect() as conn:
            found = load_models(conn, self.t, [name])
        if not found:
            raise no_such_registered_model(name)
        return found[0]

    # -- registered models -------------------------------------------------------------------

    def _create_registered_model(
        self,
        name: str,
        tags: list[RegisteredModelTag],
        description: str | None,
        deployment_job_id: str | None,
    ) -> RegisteredModel:
        now = now_ms()
        t = self.t
        tag_values = {tag.key: tag.value for tag in tags}

        def create(conn: sa.Connection) -> None:
            rm = t.registered_models
            if conn.execute(sa.select(rm.c.name).where(*t.in_workspace(rm), rm.c.name == name)).first():
                raise registered_model_exists(name)
            conn.execute(
                rm.insert().values(
                    t.row(name=name, creation_time=now, last_updated_time=now, description=description)
                )
            )
            if tag_values:
                rows = [t.row(name=name, key=k, value=v) for k, v in tag_values.items()]
                conn.execute(t.registered_model_tags.insert(), rows)

        try:
            write(self.engine, create)
        except IntegrityError:
            raise registered_model_exists(name) from None
        return self._read_model(name)

    def _get_registered_model(self, name: str) -> RegisteredModel:
        return self._read_model(name)

    def _update_registered_model(
        self, name: str, description: str | None, deployment_job_id: str | None
    ) -> RegisteredModel:
        rm = self.t.registered_models
        values = {"description": description, "last_updated_time": now_ms()}

        def update(conn: sa.Connection) -> None:
            where = [*self.t.in_workspace(rm), rm.c.name == name]
            if conn.execute(rm.update().where(*where).values(**values)).rowcount == 0:
                raise no_such_registered_model(name)

        write(self.engine, update)
        return self._read_model(name)

    def _rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        now, t = now_ms(), self.t

        def rename(conn: sa.Connection) -> None:
            self._model_row(conn, name, lock=True)
            rm = t.registered_models
            if conn.execute(sa.select(rm.c.name).where(*t.in_workspace(rm), rm.c.name == new_name)).first():
                raise registered_model_exists(new_name)
            conn.execute(
                rm.update()
                .where(*t.in_workspace(rm), rm.c.name == name)
                .values(name=new_name, last_updated_time=now)
            )
            # the foreign keys cascade the new name where they are enforced (PostgreSQL,
            # MySQL, sqlite with foreign keys on); these updates move what is left elsewhere
            children = (
                t.model_versions,
                t.registered_model_tags,
                t.model_version_tags,
                t.registered_model_aliases,
            )
            for table in children:
                conn.execute(
                    table.update().where(*t.in_workspace(table), table.c.name == name).values(name=new_name)
                )
            mv = t.model_versions
            conn.execute(
                mv.update().where(*t.in_workspace(mv), mv.c.name == new_name).values(last_updated_time=now)
            )

        try:
            write(self.engine, rename)
        except IntegrityError:
            raise registered_model_exists(new_name) from None
        return self._read_model(new_name)

    def _delete_registered_model(self, name: str) -> None:
        t = self.t

        def delete(conn: sa.Connection) -> None:
            self._model_row(conn, name, lock=True)
            for table in (
                t.registered_model_aliases,
                t.model_version_tags,
                t.model_versions,
                t.registered_model_tags,
                t.registered_models,
            ):
                conn.execute(table.delete().where(*t.in_workspace(table), table.c.name == name))

        write(self.engine, delete)

    def _search_registered_models(
        self, filter_string: str | None, max_results: int, order_by: list[str], page_token: str | None
    ) -> PagedList[RegisteredModel]:
        with self.engine.connect() as conn:
            models = load_models(conn, self.t, model_names(conn, self.t))
        return search.filter_registered_models(
            models,
            filter_string=filter_string,
            order_by=order_by,
            max_results=max_results,
            page_token=page_token,
        )

    def _get_latest_versions(self, name: str, stages: list[str]) -> list[ModelVersion]:
        wanted = set(stages)
        return [v for v in self._read_model(name).latest_versions or [] if v.current_stage in wanted]

    def _set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        t = self.t

        def set_tag(conn: sa.Connection) -> None:
            self._model_row(conn, name)
            table = t.registered_model_tags
            where = [*t.in_workspace(table), table.c.name == name, table.c.key == tag.key]
            conn.execute(table.delete().where(*where))
            conn.execute(table.insert().values(t.row(name=name, key=tag.key, value=tag.value)))

        write(self.engine, set_tag)

    def _delete_registered_model_tag(self, name: str, key: str) -> None:
        t = self.t

        def delete(conn: sa.Connection) -> None:
            self._model_row(conn, name)
            table = t.registered_model_tags
            conn.execute(
                table.delete().where(*t.in_workspace(table), table.c.name == name, table.c.key == key)
            )

        write(self.engine, delete)

    # -- model versions ----------------------------------------------------------------------

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
        now, t = now_ms(), self.t
        tag_values = {tag.key: tag.value for tag in tags}

        def create(conn: sa.Connection) -> int:
            self._model_row(conn, name, lock=True)
            mv = t.model_versions
            highest = conn.execute(
                sa.select(sa.func.max(mv.c.version)).where(*t.in_workspace(mv), mv.c.name == name)
            ).scalar()
            version = int(highest or 0) + 1
            self._touch_model(conn, name, now)
            conn.execute(
                mv.insert().values(
                    t.row(
                        name=name,
                        version=version,
                        creation_time=now,
                        last_updated_time=now,
                        description=description,
                        user_id=None,
                        current_stage=_STAGE_NONE,
                        source=source,
                        storage_location=storage_location,
                        run_id=run_id,
                        run_link=run_link,
                        status=_READY,
                        status_message=None,
                    )
                )
            )
            if tag_values:
                rows = [t.row(name=name, version=version, key=k, value=v) for k, v in tag_values.items()]
                conn.execute(t.model_version_tags.insert(), rows)
            return version

        # MLflow's own writers take no row lock: one of them may take the number between our
        # read and our insert; as MLflow does, read the highest number again and retry
        for attempt in range(_CREATE_RETRIES):
            try:
                return self._read_version(name, write(self.engine, create))
            except IntegrityError:
                if attempt == _CREATE_RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _get_model_version(self, name: str, version: str) -> ModelVersion:
        return self._read_version(name, int(version))

    def _update_model_version(self, name: str, version: str, description: str | None) -> ModelVersion:
        now, mv = now_ms(), self.t.model_versions

        def update(conn: sa.Connection) -> int:
            number = self._require_version(conn, name, version)
            conn.execute(
                mv.update()
                .where(*self._version_where(name, number))
                .values(description=description, last_updated_time=now)
            )
            return number

        return self._read_version(name, write(self.engine, update))

    def _transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        now, t = now_ms(), self.t
        mv = t.model_versions

        def transition(conn: sa.Connection) -> int:
            number = self._require_version(conn, name, version)
            if archive_existing_versions:
                conn.execute(
                    mv.update()
                    .where(
                        *t.in_workspace(mv),
                        mv.c.name == name,
                        mv.c.version != number,
                        mv.c.current_stage == stage,
                    )
                    .values(current_stage=_STAGE_ARCHIVED, last_updated_time=now)
                )
            conn.execute(
                mv.update()
                .where(*self._version_where(name, number))
                .values(current_stage=stage, last_updated_time=now)
            )
            self._touch_model(conn, name, now)
            return number

        return self._read_version(name, write(self.engine, transition))

    def _delete_model_version(self, name: str, version: str) -> None:
        now, t = now_ms(), self.t

        def delete(conn: sa.Connection) -> None:
            number = self._require_version(conn, name, version)
            a = t.registered_model_aliases
            conn.execute(a.delete().where(*t.in_workspace(a), a.c.name == name, a.c.version == number))
            conn.execute(
                t.model_versions.update()
                .where(*self._version_where(name, number))
                .values(current_stage=DELETED_STAGE, last_updated_time=now, **_REDACTED)
            )
            self._touch_model(conn, name, now)

        write(self.engine, delete)

    def _get_model_version_download_uri(self, name: str, version: str) -> str:
        mv = self.t.model_versions
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(mv.c.storage_location, mv.c.source).where(
                    *self._version_where(name, int(version)), mv.c.current_stage != DELETED_STAGE
                )
            ).first()
        if row is None:
            raise no_such_model_version(name, version)
        return str(row[0] or row[1])

    def _search_model_versions(
        self, filter_string: str | None, max_results: int, order_by: list[str], page_token: str | None
    ) -> PagedList[ModelVersion]:
        with self.engine.connect() as conn:
            versions = load_versions(conn, self.t, version_rows(conn, self.t, None))
        return search.filter_model_versions(
            versions,
            filter_string=filter_string,
            order_by=order_by or None,
            max_results=max_results,
            page_token=page_token,
        )

    def _set_model_version_tag(self, name: str, version: str, tag: ModelVersionTag) -> None:
        t = self.t

        def set_tag(conn: sa.Connection) -> None:
            number = self._require_version(conn, name, version)
            table = t.model_version_tags
            where = [
                *t.in_workspace(table),
                table.c.name == name,
                table.c.version == number,
                table.c.key == tag.key,
            ]
            conn.execute(table.delete().where(*where))
            conn.execute(
                table.insert().values(t.row(name=name, version=number, key=tag.key, value=tag.value))
            )

        write(self.engine, set_tag)

    def _delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        t = self.t

        def delete(conn: sa.Connection) -> None:
            number = self._require_version(conn, name, version)
            table = t.model_version_tags
            conn.execute(
                table.delete().where(
                    *t.in_workspace(table),
                    table.c.name == name,
                    table.c.version == number,
                    table.c.key == key,
                )
            )

        write(self.engine, delete)

    # -- aliases -----------------------------------------------------------------------------

    def _set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        t = self.t

        def set_alias(conn: sa.Connection) -> None:
            number = self._require_version(conn, name, version)
            a = t.registered_model_aliases
            conn.execute(a.delete().where(*t.in_workspace(a), a.c.name == name, a.c.alias == alias))
            conn.execute(a.insert().values(t.row(name=name, alias=alias, version=number)))

        write(self.engine, set_alias)

    def _delete_registered_model_alias(self, name: str, alias: str) -> None:
        t = self.t

        def delete(conn: sa.Connection) -> None:
            self._model_row(conn, name)
            a = t.registered_model_aliases
            conn.execute(a.delete().where(*t.in_workspace(a), a.c.name == name, a.c.alias == alias))

        write(self.engine, delete)

    def _get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        a = self.t.registered_model_aliases
        with self.engine.connect() as conn:
            self._model_row(conn, name)
            number = conn.execute(
                sa.select(a.c.version).where(*self.t.in_workspace(a), a.c.name == name, a.c.alias == alias)
            ).scalar()
        if number is None:
            raise alias_not_found(alias)
        return self._read_version(name, int(number))

    # -- copy primitives (capability ``import``) -------------------------------------------

    def _get_last_version_number(self, name: str) -> int:
        return _mlflow_import.last_version_number(self.engine, self.t, name)

    def _import_registered_model(self, model: RegisteredModel, last_version: int) -> None:
        _mlflow_import.import_model(self.engine, self.t, model, last_version)

    def _import_model_version(self, version: ModelVersion, number: int, storage_location: str) -> None:
        _mlflow_import.import_version(self.engine, self.t, version, number, storage_location)

    def _import_registered_model_aliases(self, name: str, aliases: dict[str, int]) -> None:
        _mlflow_import.import_aliases(self.engine, self.t, name, aliases)
