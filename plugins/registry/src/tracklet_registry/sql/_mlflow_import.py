"""The copy primitives of the registry on MLflow's schema (capability ``import``).

Rows are written as MLflow keeps them. A number the source gave to a version since
deleted becomes a row as MLflow leaves a deleted version (stage ``Deleted_Internal``,
fields redacted), so MLflow and tracklet both number the next version after it. A
version's logged model id has no column in MLflow's schema and is not kept.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tracklet.entities.model_registry import ModelVersion, RegisteredModel
from tracklet.stores.registry import no_such_model_version, no_such_registered_model

from ._engine import write
from .mlflow_schema import DELETED_STAGE, MlflowTables

__all__ = ["import_aliases", "import_model", "import_version", "last_version_number"]


def _exists(conn: sa.Connection, t: MlflowTables, name: str) -> bool:
    rm = t.registered_models
    return (
        conn.execute(sa.select(rm.c.name).where(*t.in_workspace(rm), rm.c.name == name)).first() is not None
    )


def _highest(conn: sa.Connection, t: MlflowTables, name: str) -> int:
    mv = t.model_versions
    found = conn.execute(
        sa.select(sa.func.max(mv.c.version)).where(*t.in_workspace(mv), mv.c.name == name)
    ).scalar()
    return int(found or 0)


def last_version_number(engine: sa.Engine, t: MlflowTables, name: str) -> int:
    with engine.connect() as conn:
        if not _exists(conn, t, name):
            raise no_such_registered_model(name)
        return _highest(conn, t, name)


def _upsert(
    conn: sa.Connection, t: MlflowTables, table: sa.Table, where: list[Any], values: dict[str, Any]
) -> None:
    """Update the row ``where`` selects, or insert it (``values`` holds its key columns)."""
    if conn.execute(table.update().where(*t.in_workspace(table), *where).values(**values)).rowcount == 0:
        conn.execute(table.insert().values(t.row(**values)))


def import_model(engine: sa.Engine, t: MlflowTables, model: RegisteredModel, last_version: int) -> None:
    rm, tags = t.registered_models, t.registered_model_tags
    created = int(model.creation_timestamp or 0)
    updated = int(model.last_updated_timestamp or created)
    values = {
        "name": model.name,
        "creation_time": created,
        "last_updated_time": updated,
        "description": model.description,
    }

    def run(conn: sa.Connection) -> None:
        _upsert(conn, t, rm, [rm.c.name == model.name], values)
        conn.execute(tags.delete().where(*t.in_workspace(tags), tags.c.name == model.name))
        rows = [t.row(name=model.name, key=k, value=v) for k, v in model.tags.items()]
        if rows:
            conn.execute(tags.insert(), rows)
        if last_version > _highest(conn, t, model.name):
            conn.execute(
                t.model_versions.insert().values(
                    t.row(
                        name=model.name,
                        version=last_version,
                        creation_time=updated,
                        last_updated_time=updated,
                        description=None,
                        user_id=None,
                        current_stage=DELETED_STAGE,
                        source="REDACTED-SOURCE-PATH",
                        storage_location=None,
                        run_id="REDACTED-RUN-ID",
                        run_link="REDACTED-RUN-LINK",
                        status="READY",
                        status_message=None,
                    )
                )
            )

    write(engine, run)


def import_version(
    engine: sa.Engine, t: MlflowTables, version: ModelVersion, number: int, storage_location: str
) -> None:
    mv, tags = t.model_versions, t.model_version_tags
    values = {
        "name": version.name,
        "version": number,
        "creation_time": int(version.creation_timestamp),
        "last_updated_time": int(version.last_updated_timestamp or version.creation_timestamp),
        "description": version.description,
        "user_id": version.user_id,
        "current_stage": version.current_stage,
        "source": version.source,
        "storage_location": storage_location,
        "run_id": version.run_id,
        "run_link": version.run_link,
        "status": version.status or "READY",
        "status_message": version.status_message,
    }

    def run(conn: sa.Connection) -> None:
        if not _exists(conn, t, version.name):
            raise no_such_registered_model(version.name)
        _upsert(conn, t, mv, [mv.c.name == version.name, mv.c.version == number], values)
        conn.execute(
            tags.delete().where(*t.in_workspace(tags), tags.c.name == version.name, tags.c.version == number)
        )
        rows = [t.row(name=version.name, version=number, key=k, value=v) for k, v in version.tags.items()]
        if rows:
            conn.execute(tags.insert(), rows)

    write(engine, run)


def import_aliases(engine: sa.Engine, t: MlflowTables, name: str, aliases: dict[str, int]) -> None:
    a, mv = t.registered_model_aliases, t.model_versions

    def run(conn: sa.Connection) -> None:
        if not _exists(conn, t, name):
            raise no_such_registered_model(name)
        wanted = sorted(set(aliases.values()))
        found = set(
            conn.execute(
                sa.select(mv.c.version).where(
                    *t.in_workspace(mv),
                    mv.c.name == name,
                    mv.c.version.in_(wanted),
                    mv.c.current_stage != DELETED_STAGE,
                )
            ).scalars()
        )
        for number in wanted:
            if number not in found:
                raise no_such_model_version(name, number)
        conn.execute(a.delete().where(*t.in_workspace(a), a.c.name == name))
        rows = [t.row(name=name, alias=alias, version=number) for alias, number in aliases.items()]
        if rows:
            conn.execute(a.insert(), rows)

    write(engine, run)
