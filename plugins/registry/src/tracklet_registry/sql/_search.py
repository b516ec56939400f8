"""Registry searches compiled to SQL from the core's parsed filter and order-by.

``search_registered_models`` and ``search_model_versions`` each run one statement
that filters, sorts and cuts the page in the database; tags are correlated ``EXISTS``
lookups on their primary keys, so a search never loads rows it does not return.
Semantics are the in-memory evaluator's (:mod:`tracklet.search`): a model lacking a
tag never matches a clause on it, strings compare exactly (:mod:`._text`), names sort
by code point. The order is total: the user's keys, then MLflow's defaults (models:
name ascending; versions: name ascending, version descending), so an offset page
token resumes exactly where the previous page stopped.

Statements are built once per (dialect, filter, order-by) and cached; the page bounds
are bound parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tracklet.search import TAG, And, Comparison, Expr, OrderKey

from . import schema as s
from ._text import TextOps

__all__ = [
    "DEFAULT_MODEL_VERSION_ORDER",
    "has_prompts",
    "model_search",
    "parse_search",
    "uses_ilike",
    "version_search",
]

Leaf = Callable[[Comparison], ColumnElement[bool]]
_IS_PROMPT = "mlflow.prompt.is_prompt"
#: MLflow's order of a version search without ``order_by`` (its SQL and file stores alike).
DEFAULT_MODEL_VERSION_ORDER = ["last_updated_timestamp DESC", "name ASC", "version_number DESC"]
rm, mv = s.registered_models, s.model_versions

#: Attribute spellings the parser may hand over -> column, for each searched table.
_MODEL_COLUMNS = {
    "name": rm.c.name,
    "creation_timestamp": rm.c.creation_time,
    "creation_time": rm.c.creation_time,
    "last_updated_timestamp": rm.c.last_updated_time,
    "last_updated_time": rm.c.last_updated_time,
    "timestamp": rm.c.last_updated_time,
    "description": rm.c.description,
}
_VERSION_COLUMNS = {
    "name": rm.c.name,
    "version_number": mv.c.version,
    "version": mv.c.version,
    "run_id": mv.c.run_id,
    "source_path": mv.c.source,
    "source": mv.c.source,
    "creation_timestamp": mv.c.creation_time,
    "creation_time": mv.c.creation_time,
    "last_updated_timestamp": mv.c.last_updated_time,
    "last_updated_time": mv.c.last_updated_time,
    "timestamp": mv.c.last_updated_time,
    "current_stage": mv.c.current_stage,
    "status": mv.c.status,
    "user_id": mv.c.user_id,
    "description": mv.c.description,
    "model_id": mv.c.logged_model_id,
}
_NUMERIC = frozenset(
    {mv.c.version, mv.c.creation_time, mv.c.last_updated_time, rm.c.creation_time, rm.c.last_updated_time}
)


def parse_search(
    kind: str, filter_string: str | None, order_by: list[str]
) -> tuple[Expr | None, tuple[OrderKey, ...]]:
    """The parsed filter and the complete order (MLflow's tie-breakers included) of a
    ``kind`` search (``registered_model`` or ``model_version``), from the core's parser
    (the store's public method has already refused a bad one with MLflow's words).
    Repeated searches reuse the parse (the AST is immutable)."""
    return _parse(kind, filter_string, tuple(order_by))


@lru_cache(maxsize=256)
def _parse(
    kind: str, filter_string: str | None, order_by: tuple[str, ...]
) -> tuple[Expr | None, tuple[OrderKey, ...]]:
    from tracklet import search

    if kind == "registered_model":
        return search.parse_registered_model_filter(filter_string), tuple(
            search.registered_model_sort_keys(list(order_by))
        )
    keys = search.model_version_sort_keys(list(order_by) or DEFAULT_MODEL_VERSION_ORDER)
    return search.parse_model_version_filter(filter_string), tuple(keys)


def uses_ilike(expr: Expr | None) -> bool:
    """Whether any clause of ``expr`` is an ``ILIKE`` (sqlite then needs its own lower())."""
    if expr is None:
        return False
    if isinstance(expr, Comparison):
        return expr.op == "ILIKE"
    return any(uses_ilike(item) for item in expr.items)


def _compile(expr: Expr, leaf: Leaf) -> ColumnElement[bool]:
    if isinstance(expr, Comparison):
        return leaf(expr)
    parts = [_compile(item, leaf) for item in expr.items]
    return sa.and_(*parts) if isinstance(expr, And) else sa.or_(*parts)


def _numeric(column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    if op in ("IN", "NOT IN"):
        numbers = [int(v) for v in value]
        return column.in_(numbers) if op == "IN" else column.not_in(numbers)
    number = int(value)
    ops: dict[str, Callable[[], ColumnElement[bool]]] = {
        "=": lambda: column == number,
        "!=": lambda: column != number,
        "<": lambda: column < number,
        "<=": lambda: column <= number,
        ">": lambda: column > number,
        ">=": lambda: column >= number,
    }
    return ops[op]()


def _tag(
    tags: sa.Table,
    keys: Sequence[tuple[ColumnElement[Any], ColumnElement[Any]]],
    owner: sa.Table,
    comparison: Comparison,
    text: TextOps,
) -> ColumnElement[bool]:
    """A tag clause: the owner's (key) tag row exists and its value passes."""
    lookup = sa.select(sa.literal(1)).where(
        *(tag_col == owner_col for tag_col, owner_col in keys), text.equals(tags.c.key, comparison.key)
    )
    if comparison.op == "IS NULL":
        return ~sa.exists(lookup.correlate(owner))
    if comparison.op != "IS NOT NULL":
        lookup = lookup.where(text.compare(tags.c.value, comparison.op, comparison.value))
    return sa.exists(lookup.correlate(owner))


def _attribute(columns: dict[str, Any], comparison: Comparison, text: TextOps) -> ColumnElement[bool]:
    column = columns[comparison.key]
    if column in _NUMERIC:
        return _numeric(column, comparison.op, comparison.value)
    return text.compare(column, comparison.op, comparison.value)


def model_filter(expr: Expr, text: TextOps) -> ColumnElement[bool]:
    """The condition on a ``registered_models`` row for a parsed registered-model filter."""
    tag_keys = [(s.registered_model_tags.c.model_key, rm.c.model_key)]

    def leaf(comparison: Comparison) -> ColumnElement[bool]:
        if comparison.entity_type == TAG:
            return _tag(s.registered_model_tags, tag_keys, rm, comparison, text)
        return _attribute(_MODEL_COLUMNS, comparison, text)

    return _compile(expr, leaf)


def version_filter(expr: Expr, text: TextOps) -> ColumnElement[bool]:
    """The condition on a ``model_versions`` row (joined to its model) for a version filter."""
    tags = s.model_version_tags
    tag_keys = [(tags.c.model_key, mv.c.model_key), (tags.c.version, mv.c.version)]

    def leaf(comparison: Comparison) -> ColumnElement[bool]:
        if comparison.entity_type == TAG:
            return _tag(tags, tag_keys, mv, comparison, text)
        return _attribute(_VERSION_COLUMNS, comparison, text)

    return _compile(expr, leaf)


def _sort(columns: dict[str, Any], keys: tuple[OrderKey, ...], text: TextOps) -> tuple[list[Any], set[str]]:
    """ORDER BY terms for the user's keys (NULL last either way), and the columns they used."""
    terms: list[Any] = []
    used: set[str] = set()
    for key in keys:
        column = columns[key.key]
        if column.name in used:
            continue
        used.add(column.name)
        if column.nullable:
            terms.append(sa.case((column.is_(None), 1), else_=0))
        value = column if column in _NUMERIC else text.exact(column)
        terms.append(value.asc() if key.ascending else value.desc())
    return terms, used


def _not_prompt(
    tags: sa.Table, keys: list[tuple[Any, Any]], owner: sa.Table, text: TextOps
) -> ColumnElement[bool]:
    """Not marked as a prompt (MLflow keeps prompts as registered models and leaves them
    out of these searches): no ``mlflow.prompt.is_prompt`` tag whose value is ``true`` in
    any case."""
    lookup = sa.select(sa.literal(1)).where(
        *(tag_col == owner_col for tag_col, owner_col in keys),
        text.equals(tags.c.key, _IS_PROMPT),
        sa.func.lower(tags.c.value) == "true",
    )
    return ~sa.exists(lookup.correlate(owner))


def has_prompts(conn: sa.Connection, tags: sa.Table) -> bool:
    """Whether any row of ``tags`` marks a prompt (one index probe on the tag key): when
    none does, searches leave the per-row prompt test out."""
    return conn.execute(_HAS_PROMPT[tags.name]).first() is not None


_HAS_PROMPT = {
    tags.name: sa.select(sa.literal(1)).where(tags.c.key == _IS_PROMPT).limit(1)
    for tags in (s.registered_model_tags, s.model_version_tags)
}


@lru_cache(maxsize=256)
def model_search(
    dialect: str, expr: Expr | None, keys: tuple[OrderKey, ...], prompts: bool = True
) -> sa.Select[Any]:
    """The statement selecting the model keys of a page (bind ``limit`` and ``offset``);
    ``keys`` is the complete order (the last key makes it total); ``prompts``: whether
    prompt-marked models may exist and must be left out."""
    text = TextOps(dialect)
    t = s.registered_model_tags
    statement = sa.select(rm.c.model_key)
    if prompts:
        statement = statement.where(_not_prompt(t, [(t.c.model_key, rm.c.model_key)], rm, text))
    if expr is not None:
        statement = statement.where(model_filter(expr, text))
    terms, _ = _sort(_MODEL_COLUMNS, keys, text)
    return _paged(statement.order_by(*terms))


@lru_cache(maxsize=256)
def version_search(
    dialect: str, expr: Expr | None, keys: tuple[OrderKey, ...], prompts: bool = True
) -> sa.Select[Any]:
    """The statement selecting ``(model_key, version)`` of a page's versions (bind
    ``limit``, ``offset`` and ``cutoff`` = offset + limit - 1): narrow rows keep the
    database's sort small; ``keys`` is the complete order (name and version number make
    it total). ``prompts``: whether prompt-marked versions may exist and must be left out.

    When the order starts with a timestamp (the default order does), the page is cut to
    the rows whose timestamp reaches that of the ``cutoff``-th match, found on the
    timestamp alone (an index-only scan for a run_id filter): the rows past it sort after
    the page anyway, and the join and full sort then see about a page of rows instead of
    every match.
    """
    text = TextOps(dialect)
    t = s.model_version_tags
    tag_keys = [(t.c.model_key, mv.c.model_key), (t.c.version, mv.c.version)]
    joined = mv.join(rm, rm.c.model_key == mv.c.model_key)
    where: list[ColumnElement[bool]] = []
    if prompts:
        where.append(_not_prompt(t, tag_keys, mv, text))
    if expr is not None:
        where.append(version_filter(expr, text))
    statement = sa.select(mv.c.model_key, mv.c.version).select_from(joined).where(*where)
    first = _VERSION_COLUMNS[keys[0].key] if keys else None
    if first is not None and first in _CUTOFF_COLUMNS:
        # the model's row is joined only when the filter needs its name
        source = joined if _names_model(expr) else mv
        statement = statement.where(_cutoff(first, keys[0].ascending, source, where))
    terms, _ = _sort(_VERSION_COLUMNS, keys, text)
    return _paged(statement.order_by(*terms))


def _names_model(expr: Expr | None) -> bool:
    """Whether a version filter reads the model's ``name`` (a column of ``registered_models``)."""
    if expr is None:
        return False
    if isinstance(expr, Comparison):
        return expr.entity_type != TAG and _VERSION_COLUMNS[expr.key].table is rm
    return any(_names_model(item) for item in expr.items)


#: Version timestamps that are never NULL: a page can be cut on them.
_CUTOFF_COLUMNS = frozenset({mv.c.last_updated_time, mv.c.creation_time})
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


def _cutoff(
    column: Any, ascending: bool, source: Any, where: list[ColumnElement[bool]]
) -> ColumnElement[bool]:
    """``column`` reaches the ``cutoff``-th matching value in sort order (true for every
    row when fewer match)."""
    ordered = column.asc() if ascending else column.desc()
    boundary = (
        sa.select(column)
        .select_from(source)
        .where(*where)
        .order_by(ordered)
        .limit(1)
        .offset(sa.bindparam("cutoff", type_=sa.BigInteger))
        .correlate(None)
        .scalar_subquery()
    )
    if ascending:
        reached: ColumnElement[bool] = column <= sa.func.coalesce(boundary, _INT64_MAX)
    else:
        reached = column >= sa.func.coalesce(boundary, _INT64_MIN)
    return reached


def _paged(statement: sa.Select[Any]) -> sa.Select[Any]:
    return statement.limit(sa.bindparam("limit", type_=sa.Integer)).offset(
        sa.bindparam("offset", type_=sa.BigInteger)
    )
