"""Loading registry rows as entities, a page at a time: one query per kind of row.

A page of versions costs three queries whatever its size (the versions with their
model's name, their tags, the model's aliases pointing at them); a page of models
costs four (models, tags, aliases, latest version per stage with those versions' tags
folded into the same load). No query runs per row.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import sqlalchemy as sa

from tracklet.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)

from . import schema as s

__all__ = ["VersionKey", "latest_versions", "load_models", "load_versions", "version_entity"]

VersionKey = tuple[int, int]  # (model_key, version)
rm, mv = s.registered_models, s.model_versions
_VERSION_COLUMNS = (*mv.c, rm.c.name)
_VERSIONS_JOIN = mv.join(rm, rm.c.model_key == mv.c.model_key)


def version_entity(row: Any, tags: dict[str, str], aliases: list[str]) -> ModelVersion:
    """A :class:`ModelVersion` from a ``model_versions`` row joined with its model's ``name``."""
    return ModelVersion(
        name=row.name,
        version=str(row.version),
        creation_timestamp=row.creation_time,
        last_updated_timestamp=row.last_updated_time,
        description=row.description,
        user_id=row.user_id,
        current_stage=row.current_stage,
        source=row.source,
        run_id=row.run_id,
        status=row.status,
        status_message=row.status_message,
        tags=[ModelVersionTag(k, v) for k, v in tags.items()],
        run_link=row.run_link,
        aliases=aliases,
        model_id=row.logged_model_id,
    )


def _version_tags(conn: sa.Connection, keys: Sequence[VersionKey]) -> dict[VersionKey, dict[str, str]]:
    out: dict[VersionKey, dict[str, str]] = defaultdict(dict)
    if keys:
        t = s.model_version_tags
        rows = conn.execute(
            sa.select(t.c.model_key, t.c.version, t.c.key, t.c.value).where(
                sa.tuple_(t.c.model_key, t.c.version).in_(list(keys))
            )
        )
        for model_key, version, key, value in rows:
            out[(model_key, version)][key] = value
    return out


def _aliases(conn: sa.Connection, model_keys: Iterable[int]) -> list[tuple[int, str, int]]:
    """``(model_key, alias, version)`` of every alias of these models, by alias name."""
    keys = sorted(set(model_keys))
    if not keys:
        return []
    a = s.registered_model_aliases
    rows = conn.execute(
        sa.select(a.c.model_key, a.c.alias, a.c.version).where(a.c.model_key.in_(keys)).order_by(a.c.alias)
    )
    return [(k, alias, v) for k, alias, v in rows]


def _entities(conn: sa.Connection, rows: Sequence[Any]) -> list[ModelVersion]:
    keys = [(row.model_key, row.version) for row in rows]
    tags = _version_tags(conn, keys)
    by_version: dict[VersionKey, list[str]] = defaultdict(list)
    for model_key, alias, version in _aliases(conn, (k for k, _ in keys)):
        by_version[(model_key, version)].append(alias)
    return [
        version_entity(row, tags.get(key, {}), by_version.get(key, []))
        for row, key in zip(rows, keys, strict=True)
    ]


def load_versions(conn: sa.Connection, keys: Sequence[VersionKey]) -> list[ModelVersion]:
    """The versions ``keys`` name, in that order (missing ones left out)."""
    if not keys:
        return []
    rows = conn.execute(
        sa.select(*_VERSION_COLUMNS)
        .select_from(_VERSIONS_JOIN)
        .where(sa.tuple_(mv.c.model_key, mv.c.version).in_(list(keys)))
    ).all()
    found = {(row.model_key, row.version): row for row in rows}
    return _entities(conn, [found[key] for key in keys if key in found])


def _latest_rows(conn: sa.Connection, where: Any) -> list[Any]:
    """The latest version of each stage of the models ``where`` selects, each model's
    stages ordered by their first version (MLflow's order)."""
    per_stage = (
        sa.select(
            mv.c.model_key,
            sa.func.max(mv.c.version).label("last"),
            sa.func.min(mv.c.version).label("first"),
        )
        .where(mv.c.model_key.in_(sa.select(rm.c.model_key).where(where).scalar_subquery()))
        .group_by(mv.c.model_key, mv.c.current_stage)
        .subquery()
    )
    statement = (
        sa.select(*_VERSION_COLUMNS)
        .select_from(
            per_stage.join(
                mv, sa.and_(mv.c.model_key == per_stage.c.model_key, mv.c.version == per_stage.c.last)
            ).join(rm, rm.c.model_key == mv.c.model_key)
        )
        .order_by(per_stage.c.model_key, per_stage.c.first)
    )
    return list(conn.execute(statement).all())


def latest_versions(conn: sa.Connection, where: Any) -> dict[int, list[ModelVersion]]:
    """model_key -> its latest version per stage, for the models ``where`` selects."""
    out: dict[int, list[ModelVersion]] = defaultdict(list)
    rows = _latest_rows(conn, where)
    for entity, row in zip(_entities(conn, rows), rows, strict=True):
        out[row.model_key].append(entity)
    return out


def load_models(conn: sa.Connection, model_keys: Sequence[int]) -> list[RegisteredModel]:
    """The registered models ``model_keys`` name, in that order, with tags, aliases and
    latest versions."""
    if not model_keys:
        return []
    keys = list(model_keys)
    rows = {row.model_key: row for row in conn.execute(sa.select(rm).where(rm.c.model_key.in_(keys)))}
    t = s.registered_model_tags
    tags: dict[int, list[RegisteredModelTag]] = defaultdict(list)
    for model_key, key, value in conn.execute(
        sa.select(t.c.model_key, t.c.key, t.c.value).where(t.c.model_key.in_(keys))
    ):
        tags[model_key].append(RegisteredModelTag(key, value))
    aliases: dict[int, list[RegisteredModelAlias]] = defaultdict(list)
    for model_key, alias, version in _aliases(conn, keys):
        aliases[model_key].append(RegisteredModelAlias(alias, str(version)))
    latest = latest_versions(conn, rm.c.model_key.in_(keys))
    return [
        RegisteredModel(
            name=row.name,
            creation_timestamp=row.creation_time,
            last_updated_timestamp=row.last_updated_time,
            description=row.description,
            latest_versions=latest.get(key, []),
            tags=tags.get(key, []),
            aliases=aliases.get(key, []),
            deployment_job_id=row.deployment_job_id,
        )
        for key in keys
        if (row := rows.get(key)) is not None
    ]
