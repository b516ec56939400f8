"""Loading registry rows as entities, a page at a time: one query per kind of row.

A page of versions costs two queries beyond the search that selected its rows (their
tags, their aliases), whatever its size; a page of models costs six (models, tags,
aliases, the latest version per stage, and those versions' tags and aliases). No query
runs per row.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa

from tracklet.entities import LoggedModel, LoggedModelStatus, Metric
from tracklet.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)

from . import schema as s
from ._engine import dialect_name

__all__ = [
    "VERSIONS_JOIN",
    "VERSION_COLUMNS",
    "VersionKey",
    "latest_versions",
    "load_models",
    "load_page",
    "load_versions",
    "logged_model_from_row",
    "version_entity",
    "versions_from_rows",
]

VersionKey = tuple[int, int]  # (model_key, version)


def logged_model_from_row(
    row: Any, tags: dict[str, str], params: dict[str, str], metrics: list[Metric] | None
) -> LoggedModel:
    """A ``logged_models`` row (tracklet's schema or MLflow's: the same columns) with its
    tags, params and metrics, as the entity."""
    return LoggedModel(
        experiment_id=str(row.experiment_id),
        model_id=row.model_id,
        name=row.name,
        artifact_location=row.artifact_location,
        creation_timestamp=row.creation_timestamp_ms,
        last_updated_timestamp=row.last_updated_timestamp_ms,
        model_type=row.model_type,
        source_run_id=row.source_run_id,
        status=LoggedModelStatus.from_int(row.status),
        status_message=row.status_message,
        tags=tags,
        params=params,
        metrics=metrics or None,
    )


rm, mv = s.registered_models, s.model_versions
VERSION_COLUMNS = (*mv.c, rm.c.name)
VERSIONS_JOIN = mv.join(rm, rm.c.model_key == mv.c.model_key)


def version_entity(row: Any, tags: dict[str, str], aliases: list[str]) -> ModelVersion:
    """A :class:`ModelVersion` from a row of :data:`VERSION_COLUMNS` (``model_versions``
    joined with its model's ``name``), unpacked by position: a page builds many."""
    (
        _model_key,
        version,
        creation_time,
        last_updated_time,
        description,
        user_id,
        current_stage,
        source,
        _storage_location,
        run_id,
        run_link,
        status,
        status_message,
        logged_model_id,
        name,
    ) = row
    return ModelVersion(
        name=name,
        version=int(version),  # as MLflow's SQL store gives it (its REST store: a string)
        creation_timestamp=creation_time,
        last_updated_timestamp=last_updated_time,
        description=description,
        user_id=user_id,
        current_stage=current_stage,
        source=source,
        run_id=run_id,
        status=status,
        status_message=status_message,
        tags=[ModelVersionTag(k, v) for k, v in tags.items()],
        run_link=run_link,
        aliases=aliases,
        model_id=logged_model_id,
    )


def _pairs(dialect: str) -> str:
    """A derived table ``p(k, v)`` of the ``(model_key, version)`` pairs in the JSON
    parameter ``:pairs`` (``[{"k": 1, "v": 3}, ...]``): one bound value whatever the page
    size, joined on the tables' primary keys (a row-value ``IN`` list makes sqlite scan)."""
    if dialect == "postgresql":
        return "jsonb_to_recordset(CAST(:pairs AS jsonb)) AS p(k integer, v integer)"
    if dialect == "mysql":
        return "JSON_TABLE(:pairs, '$[*]' COLUMNS (k INT PATH '$.k', v INT PATH '$.v')) AS p"
    return "(SELECT json_extract(value, '$.k') AS k, json_extract(value, '$.v') AS v FROM json_each(:pairs)) AS p"


@lru_cache(maxsize=8)
def _page_queries(dialect: str) -> tuple[sa.TextClause, sa.TextClause]:
    """The tags and the aliases of a page of versions."""
    pairs = _pairs(dialect)
    tags = sa.text(
        f"SELECT t.model_key, t.version, t.key, t.value FROM {pairs} "
        "JOIN model_version_tags t ON t.model_key = p.k AND t.version = p.v"
    )
    aliases = sa.text(
        f"SELECT a.model_key, a.version, a.alias FROM {pairs} "
        "JOIN registered_model_aliases a ON a.model_key = p.k AND a.version = p.v"
    )
    return tags, aliases


def _entities(conn: sa.Connection, rows: Sequence[Any]) -> list[ModelVersion]:
    """Versions from ``model_versions`` rows joined with their model's ``name``, with their
    tags and aliases (two queries for the whole page)."""
    if not rows:
        return []
    keys = [(row[0], row[1]) for row in rows]
    tags_query, aliases_query = _page_queries(dialect_name(conn))
    pairs = {"pairs": json.dumps([{"k": k, "v": v} for k, v in keys])}
    tags: dict[VersionKey, dict[str, str]] = defaultdict(dict)
    for model_key, version, key, value in conn.execute(tags_query, pairs):
        tags[(model_key, version)][key] = value
    aliases: dict[VersionKey, list[str]] = defaultdict(list)
    for model_key, version, alias in conn.execute(aliases_query, pairs):
        aliases[(model_key, version)].append(alias)
    return [
        version_entity(row, tags.get(key, {}), sorted(aliases.get(key, [])))
        for row, key in zip(rows, keys, strict=True)
    ]


_KEYS: sa.BindParameter[Any] = sa.bindparam("keys", expanding=True)
_ALIASES = sa.select(
    s.registered_model_aliases.c.model_key,
    s.registered_model_aliases.c.alias,
    s.registered_model_aliases.c.version,
).where(s.registered_model_aliases.c.model_key.in_(_KEYS))


def _aliases(conn: sa.Connection, model_keys: Iterable[int]) -> list[tuple[int, str, int]]:
    """``(model_key, alias, version)`` of every alias of these models, by alias name."""
    keys = sorted(set(model_keys))
    if not keys:
        return []
    rows = conn.execute(_ALIASES, {"keys": keys})
    return sorted(((k, alias, v) for k, alias, v in rows), key=lambda row: row[1])


_VERSION = (
    sa.select(*VERSION_COLUMNS)
    .select_from(VERSIONS_JOIN)
    .where(mv.c.model_key == sa.bindparam("model_key"), mv.c.version == sa.bindparam("version"))
)


def load_versions(conn: sa.Connection, keys: Sequence[VersionKey]) -> list[ModelVersion]:
    """The versions ``keys`` name, in that order (missing ones left out); for a few keys."""
    rows = []
    for model_key, version in keys:
        row = conn.execute(_VERSION, {"model_key": model_key, "version": version}).first()
        if row is not None:
            rows.append(row)
    return _entities(conn, rows)


@lru_cache(maxsize=8)
def _rows_query(dialect: str) -> sa.TextClause:
    """A page's version rows with their model's name, one row per tag (or one with NULL
    tag columns for a version without tags)."""
    columns = ", ".join(f"v.{c.name}" for c in mv.c)
    return sa.text(
        f"SELECT {columns}, m.name, t.key, t.value FROM {_pairs(dialect)} "
        "JOIN model_versions v ON v.model_key = p.k AND v.version = p.v "
        "JOIN registered_models m ON m.model_key = v.model_key "
        "LEFT JOIN model_version_tags t ON t.model_key = v.model_key AND t.version = v.version"
    )


def load_page(conn: sa.Connection, keys: Sequence[VersionKey]) -> list[ModelVersion]:
    """The versions ``keys`` name, in that order (missing ones left out): rows with tags in
    one query, aliases in another, whatever the page's size."""
    if not keys:
        return []
    dialect = dialect_name(conn)
    pairs = {"pairs": json.dumps([{"k": k, "v": v} for k, v in keys])}
    rows: dict[VersionKey, Any] = {}
    tags: dict[VersionKey, dict[str, str]] = defaultdict(dict)
    width = len(VERSION_COLUMNS)
    for record in conn.execute(_rows_query(dialect), pairs):
        key = (record[0], record[1])
        if key not in rows:
            rows[key] = record[:width]
        if record[width] is not None:
            tags[key][record[width]] = record[width + 1]
    aliases: dict[VersionKey, list[str]] = defaultdict(list)
    for model_key, version, alias in conn.execute(_page_queries(dialect)[1], pairs):
        aliases[(model_key, version)].append(alias)
    return [
        version_entity(rows[key], tags.get(key, {}), sorted(aliases.get(key, [])))
        for key in keys
        if key in rows
    ]


def versions_from_rows(conn: sa.Connection, rows: Sequence[Any]) -> list[ModelVersion]:
    """Versions from whole ``model_versions`` rows (with the model's ``name``) a search selected."""
    return _entities(conn, rows)


def _latest_statement() -> sa.Select[Any]:
    """The latest version of each stage of the models in ``:keys``, each model's stages
    ordered by their first version (MLflow's order). Per model, the index on
    (model_key, current_stage, version) answers the grouping without reading the rows."""
    per_stage = (
        sa.select(
            mv.c.model_key,
            sa.func.max(mv.c.version).label("last"),
            sa.func.min(mv.c.version).label("first"),
        )
        .where(mv.c.model_key.in_(_KEYS))
        .group_by(mv.c.model_key, mv.c.current_stage)
        .subquery()
    )
    return (
        sa.select(*VERSION_COLUMNS)
        .select_from(
            per_stage.join(
                mv, sa.and_(mv.c.model_key == per_stage.c.model_key, mv.c.version == per_stage.c.last)
            ).join(rm, rm.c.model_key == mv.c.model_key)
        )
        .order_by(per_stage.c.model_key, per_stage.c.first)
    )


_LATEST = _latest_statement()


def latest_versions(conn: sa.Connection, model_keys: Sequence[int]) -> dict[int, list[ModelVersion]]:
    """model_key -> its latest version per stage."""
    out: dict[int, list[ModelVersion]] = defaultdict(list)
    rows = conn.execute(_LATEST, {"keys": list(model_keys)}).all()
    for entity, row in zip(_entities(conn, rows), rows, strict=True):
        out[row[0]].append(entity)
    return out


_MODELS = sa.select(rm).where(rm.c.model_key.in_(_KEYS))
_MODEL_TAGS = sa.select(
    s.registered_model_tags.c.model_key, s.registered_model_tags.c.key, s.registered_model_tags.c.value
).where(s.registered_model_tags.c.model_key.in_(_KEYS))


def load_models(conn: sa.Connection, model_keys: Sequence[int]) -> list[RegisteredModel]:
    """The registered models ``model_keys`` name, in that order, with tags, aliases and
    latest versions."""
    if not model_keys:
        return []
    keys = list(model_keys)
    rows = {row.model_key: row for row in conn.execute(_MODELS, {"keys": keys})}
    tags: dict[int, list[RegisteredModelTag]] = defaultdict(list)
    for model_key, key, value in conn.execute(_MODEL_TAGS, {"keys": keys}):
        tags[model_key].append(RegisteredModelTag(key, value))
    aliases: dict[int, list[RegisteredModelAlias]] = defaultdict(list)
    for model_key, alias, version in _aliases(conn, keys):
        aliases[model_key].append(RegisteredModelAlias(alias, int(version)))
    latest = latest_versions(conn, keys)
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
