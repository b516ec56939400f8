"""The copy primitives of the SQL registry on tracklet's schema (capability ``import``).

Each call is one write transaction that makes the rows exactly what it is given. The
model's ``last_version`` counter only ever rises (to the number given, or to an imported
version's), so versions created after a copy continue where the source's would.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from tracklet.entities.model_registry import ModelVersion, RegisteredModel
from tracklet.stores.registry import no_such_model_version, no_such_registered_model

from . import schema as s
from ._engine import write

__all__ = ["import_aliases", "import_model", "import_version", "last_version_number"]

rm, mv = s.registered_models, s.model_versions


def _model_key(conn: sa.Connection, store: Any, name: str) -> int:
    key = conn.execute(sa.select(rm.c.model_key).where(store.text.equals(rm.c.name, name))).scalar()
    if key is None:
        raise no_such_registered_model(name)
    return int(key)


def last_version_number(store: Any, name: str) -> int:
    with store.engine.connect() as conn:
        found = conn.execute(sa.select(rm.c.last_version).where(store.text.equals(rm.c.name, name))).first()
    if found is None:
        raise no_such_registered_model(name)
    return int(found[0] or 0)


def import_model(store: Any, model: RegisteredModel, last_version: int) -> None:
    values = {
        "creation_time": int(model.creation_timestamp or 0),
        "last_updated_time": int(model.last_updated_timestamp or model.creation_timestamp or 0),
        "description": model.description,
        "deployment_job_id": model.deployment_job_id or None,
    }

    def run(conn: sa.Connection) -> None:
        row = conn.execute(
            sa.select(rm.c.model_key, rm.c.last_version).where(store.text.equals(rm.c.name, model.name))
        ).first()
        if row is None:
            inserted = conn.execute(rm.insert().values(name=model.name, last_version=last_version, **values))
            assert inserted.inserted_primary_key is not None
            key = int(inserted.inserted_primary_key[0])
        else:
            key = int(row[0])
            counter = max(int(row[1] or 0), last_version)
            conn.execute(rm.update().where(rm.c.model_key == key).values(last_version=counter, **values))
        tags = s.registered_model_tags
        conn.execute(tags.delete().where(tags.c.model_key == key))
        rows = [{"model_key": key, "key": k, "value": v} for k, v in model.tags.items()]
        if rows:
            conn.execute(tags.insert(), rows)

    write(store.engine, run)


def import_version(store: Any, version: ModelVersion, number: int, storage_location: str) -> None:
    values = {
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
        "logged_model_id": version.model_id,
    }

    def run(conn: sa.Connection) -> None:
        key = _model_key(conn, store, version.name)
        conn.execute(
            rm.update().where(rm.c.model_key == key, rm.c.last_version < number).values(last_version=number)
        )
        where = (mv.c.model_key == key, mv.c.version == number)
        if conn.execute(mv.update().where(*where).values(**values)).rowcount == 0:
            conn.execute(mv.insert().values(model_key=key, version=number, **values))
        tags = s.model_version_tags
        conn.execute(tags.delete().where(tags.c.model_key == key, tags.c.version == number))
        rows = [{"model_key": key, "version": number, "key": k, "value": v} for k, v in version.tags.items()]
        if rows:
            conn.execute(tags.insert(), rows)

    write(store.engine, run)


def import_aliases(store: Any, name: str, aliases: dict[str, int]) -> None:
    a = s.registered_model_aliases

    def run(conn: sa.Connection) -> None:
        key = _model_key(conn, store, name)
        wanted = sorted(set(aliases.values()))
        found = set(
            conn.execute(
                sa.select(mv.c.version).where(mv.c.model_key == key, mv.c.version.in_(wanted))
            ).scalars()
        )
        for number in wanted:
            if number not in found:
                raise no_such_model_version(name, number)
        conn.execute(a.delete().where(a.c.model_key == key))
        rows = [{"model_key": key, "alias": alias, "version": number} for alias, number in aliases.items()]
        if rows:
            conn.execute(a.insert(), rows)

    write(store.engine, run)
