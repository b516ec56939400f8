"""Reading MLflow's registry rows as entities, as MLflow's own SQL store reads them.

Deleted versions (stage ``Deleted_Internal``) are never returned; a model's
``latest_versions`` hold the highest version of each other stage, stages ordered by
their first version; versions carry their aliases. Each function loads what it returns
in a fixed number of queries (one per kind of row), however many models or versions.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from tracklet.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)

from .mlflow_schema import DEFAULT_WORKSPACE, DELETED_STAGE, MlflowTables

__all__ = ["load_models", "load_versions", "model_names", "version_rows"]

VersionKey = tuple[str, int]


def model_names(conn: sa.Connection, t: MlflowTables, names: Sequence[str] | None = None) -> list[str]:
    """The names of the models stored (of ``names`` only, when given)."""
    rm = t.registered_models
    query = sa.select(rm.c.name).where(*t.in_workspace(rm))
    if names is not None:
        query = query.where(rm.c.name.in_(list(names)))
    return list(conn.execute(query).scalars())


def version_rows(conn: sa.Connection, t: MlflowTables, names: Sequence[str] | None, *where: Any) -> list[Any]:
    """The visible (not deleted) version rows of the models ``names`` (every model: None)."""
    mv = t.model_versions
    query = sa.select(mv).where(*t.in_workspace(mv), mv.c.current_stage != DELETED_STAGE, *where)
    if names is not None:
        query = query.where(mv.c.name.in_(list(names)))
    return list(conn.execute(query.order_by(mv.c.name, mv.c.version)))


def _version_tags(conn: sa.Connection, t: MlflowTables, names: list[str]) -> dict[VersionKey, dict[str, str]]:
    tags = t.model_version_tags
    out: dict[VersionKey, dict[str, str]] = defaultdict(dict)
    query = sa.select(tags.c.name, tags.c.version, tags.c.key, tags.c.value).where(
        *t.in_workspace(tags), tags.c.name.in_(names)
    )
    for name, version, key, value in conn.execute(query):
        out[(name, int(version))][key] = value
    return out


def _aliases(conn: sa.Connection, t: MlflowTables, names: list[str]) -> dict[str, list[tuple[str, int]]]:
    a = t.registered_model_aliases
    out: dict[str, list[tuple[str, int]]] = defaultdict(list)
    query = sa.select(a.c.name, a.c.alias, a.c.version).where(*t.in_workspace(a), a.c.name.in_(names))
    for name, alias, version in conn.execute(query.order_by(a.c.name, a.c.alias)):
        out[name].append((alias, int(version)))
    return out


def _entity(row: Any, tags: dict[str, str], aliases: list[str]) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=int(row.version),
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
        workspace=DEFAULT_WORKSPACE,
    )


def load_versions(conn: sa.Connection, t: MlflowTables, rows: Sequence[Any]) -> list[ModelVersion]:
    """Versions from ``model_versions`` rows, with their tags and aliases (two queries)."""
    if not rows:
        return []
    names = sorted({row.name for row in rows})
    tags = _version_tags(conn, t, names)
    aliases = _aliases(conn, t, names)
    return [
        _entity(
            row,
            tags.get((row.name, int(row.version)), {}),
            [alias for alias, v in aliases.get(row.name, []) if v == int(row.version)],
        )
        for row in rows
    ]


def _latest(rows: Sequence[Any]) -> dict[str, list[Any]]:
    """name -> the highest version row per stage, stages in the order of their first version."""
    per_model: dict[str, dict[str, Any]] = defaultdict(dict)
    for row in rows:  # ordered by name, version: a later row of a stage replaces the earlier
        per_model[row.name][row.current_stage] = row
    firsts: dict[tuple[str, str], int] = {}
    for row in rows:
        firsts.setdefault((row.name, row.current_stage), int(row.version))
    return {
        name: sorted(stages.values(), key=lambda r: firsts[(name, r.current_stage)])
        for name, stages in per_model.items()
    }


def load_models(conn: sa.Connection, t: MlflowTables, names: Sequence[str]) -> list[RegisteredModel]:
    """The models ``names`` names (in that order, unknown ones left out), with tags, aliases
    and latest versions."""
    if not names:
        return []
    wanted = list(dict.fromkeys(names))
    rm, tags_t = t.registered_models, t.registered_model_tags
    rows = {
        row.name: row for row in conn.execute(sa.select(rm).where(*t.in_workspace(rm), rm.c.name.in_(wanted)))
    }
    tags: dict[str, list[RegisteredModelTag]] = defaultdict(list)
    query = sa.select(tags_t.c.name, tags_t.c.key, tags_t.c.value).where(
        *t.in_workspace(tags_t), tags_t.c.name.in_(wanted)
    )
    for name, key, value in conn.execute(query):
        tags[name].append(RegisteredModelTag(key, value))
    aliases = _aliases(conn, t, wanted)
    latest_rows = _latest(version_rows(conn, t, wanted))
    flat = [row for name in wanted for row in latest_rows.get(name, [])]
    latest: dict[str, list[ModelVersion]] = defaultdict(list)
    for version in load_versions(conn, t, flat):
        latest[version.name].append(version)
    return [
        RegisteredModel(
            name=row.name,
            creation_timestamp=row.creation_time,
            last_updated_timestamp=row.last_updated_time,
            description=row.description,
            latest_versions=latest.get(name, []),
            tags=tags.get(name, []),
            aliases=[RegisteredModelAlias(alias, version) for alias, version in aliases.get(name, [])],
            workspace=DEFAULT_WORKSPACE,
        )
        for name in wanted
        if (row := rows.get(name)) is not None
    ]
