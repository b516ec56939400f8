"""search_traces compiled to SQL: one query per page over ``trace_info``.

The filter (parsed by :func:`tracklet.search.parse_trace_filter`) becomes a ``WHERE``
on ``trace_info``; each tag or metadata clause is an uncorrelated
``request_id IN (SELECT request_id FROM trace_tags WHERE key = … AND value …)``, which
every dialect evaluates once per query through the ``(key, value)`` index (sqlite,
MySQL) or the primary key, so a selective tag filter reads only the traces it matches.
Order-by keys are sort columns as for runs (:mod:`tracklet_sql._search_order`): the
user's keys, then the default ``timestamp_ms DESC, request_id ASC`` (the
``ix_trace_info_experiment_timestamp`` order), then the unique id. Paging is keyset
paging with MLflow's ``{"offset": N}`` inside the token (:mod:`tracklet_sql._search_token`);
a plain MLflow offset token resumes with ``OFFSET``.

Semantics are those of the in-memory reference (``tracklet.search.filter_traces``): a
trace lacking a tag or metadata key matches no clause on it but ``IS NULL``; a NULL
column (``execution_time_ms`` of a running trace) matches nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from tracklet.search import METADATA, TAG, And, Comparison, Expr, OrderKey, TraceSearch
from tracklet_sql._schema import trace_info, trace_request_metadata, trace_tags
from tracklet_sql._search import _after
from tracklet_sql._search_filter import _ordered, uses_ilike
from tracklet_sql._search_order import SortColumn, _int_column, _text_column
from tracklet_sql._search_text import TextOps, register_sqlite_functions
from tracklet_sql._search_token import decode_cursor, encode_cursor, query_hash

__all__ = ["INFO_COLUMNS", "TracePage", "search_trace_rows"]

#: trace_info's columns, in the order a page's rows carry them (after the sort values).
INFO_COLUMNS = tuple(trace_info.c)
_CONVERT = {"int": int, "float": float, "str": str}
_ti = trace_info.c
#: Canonical attributes (tracklet.search._traces) -> trace_info expressions; int-valued
#: ones are compared as numbers. end_time_ms is NULL while the duration is.
_ATTRIBUTES: dict[str, ColumnElement[Any]] = {
    "trace_id": _ti.request_id,
    "client_request_id": _ti.client_request_id,
    "status": _ti.status,
    "timestamp_ms": _ti.timestamp_ms,
    "execution_time_ms": _ti.execution_time_ms,
    "end_time_ms": _ti.timestamp_ms + _ti.execution_time_ms,
    "experiment_id": _ti.experiment_id,
}
_INT_ATTRIBUTES = frozenset({"timestamp_ms", "execution_time_ms", "end_time_ms", "experiment_id"})
_TABLES = {TAG: trace_tags, METADATA: trace_request_metadata}


def _column(key: str) -> ColumnElement[Any]:
    column = _ATTRIBUTES.get(key)
    if column is None:
        raise AssertionError(f"no trace_info column for attribute {key!r}")
    return column


def _key_value(table: sa.Table, comparison: Comparison, text: TextOps) -> ColumnElement[bool]:
    """``request_id [NOT] IN (SELECT request_id FROM <table> WHERE key = … AND value …)``."""
    lookup = sa.select(table.c.request_id).where(text.compare(table.c.key, "=", comparison.key))
    if comparison.op == "IS NULL":
        return trace_info.c.request_id.not_in(lookup)
    if comparison.op != "IS NOT NULL":
        lookup = lookup.where(text.compare(table.c.value, comparison.op, comparison.value))
    return trace_info.c.request_id.in_(lookup)


def _leaf(comparison: Comparison, text: TextOps) -> ColumnElement[bool]:
    table = _TABLES.get(comparison.entity_type)
    if table is not None:
        return _key_value(table, comparison, text)
    column = _column(comparison.key)
    if comparison.key in _INT_ATTRIBUTES:
        return _ordered(column, comparison.op, comparison.value)
    return text.compare(column, comparison.op, comparison.value)


def _compile(expr: Expr, text: TextOps) -> ColumnElement[bool]:
    if isinstance(expr, Comparison):
        return _leaf(expr, text)
    parts = [_compile(item, text) for item in expr.items]
    return sa.and_(*parts) if isinstance(expr, And) else sa.or_(*parts)


def _sort(order: Sequence[OrderKey], text: TextOps) -> tuple[list[SortColumn], FromClause]:
    """Sort columns for the complete order (it names ``trace_id``, which is unique: the
    keys after it cannot matter and are left out)."""
    columns: list[SortColumn] = []
    source: FromClause = trace_info
    for index, key in enumerate(order):
        table = _TABLES.get(key.entity_type)
        if table is not None:
            row = table.alias(f"order_{index}")
            source = source.outerjoin(
                row,
                sa.and_(row.c.request_id == _ti.request_id, text.compare(row.c.key, "=", key.key)),
            )
            columns += _text_column(row.c.value, key.ascending, text)
        elif key.key == "trace_id":
            columns.append(SortColumn(text.exact(_ti.request_id), _ti.request_id, key.ascending, "str"))
            return columns, source
        elif key.key in ("timestamp_ms", "experiment_id"):  # NOT NULL: the index can serve the order
            column = _column(key.key)
            columns.append(SortColumn(column, column, key.ascending, "int"))
        elif key.key in _INT_ATTRIBUTES:
            columns += _int_column(_column(key.key), key.ascending)
        else:
            columns += _text_column(_column(key.key), key.ascending, text)
    # an order without trace_id (not from parse_trace_order_by): make it total
    columns.append(SortColumn(text.exact(_ti.request_id), _ti.request_id, True, "str"))
    return columns, source


@dataclass(frozen=True)
class _Query:
    select: sa.Select[Any]
    columns: tuple[SortColumn, ...]
    after: ColumnElement[bool]
    fingerprint: str

    @property
    def kinds(self) -> list[str]:
        return [column.kind for column in self.columns]


@lru_cache(maxsize=256)
def _query(dialect: str, expr: Expr | None, order: tuple[OrderKey, ...]) -> _Query:
    text = TextOps(dialect)
    columns, source = _sort(order, text)
    experiment_id: ColumnElement[Any] = _ti.experiment_id
    if dialect == "sqlite" and _selective(expr):
        # sqlite has no statistics and would walk ix_trace_info_experiment_timestamp to
        # skip the sort, testing every trace of the experiment; with an id or tag/metadata
        # equality among the conditions the matches are few: fetch them by primary key and
        # sort those. "+ 0" keeps sqlite from using an index for the term.
        experiment_id = experiment_id + 0
        columns = [
            SortColumn(c.expr + 0, c.value, c.ascending, c.kind) if c.expr is _ti.timestamp_ms else c
            for c in columns
        ]
    where: list[ColumnElement[bool]] = [experiment_id.in_(sa.bindparam("experiment_ids", expanding=True))]
    if expr is not None:
        where.append(_compile(expr, text))
    selected = [column.value.label(f"sort_{i}") for i, column in enumerate(columns)]
    terms = [column.expr.asc() if column.ascending else column.expr.desc() for column in columns]
    select = sa.select(*selected, *INFO_COLUMNS).select_from(source).where(*where).order_by(*terms)
    return _Query(select, tuple(columns), _after(columns), query_hash("trace", expr, order))


def _selective(expr: Expr | None) -> bool:
    """Whether a condition every match must meet looks a trace up by id or by a tag or
    metadata value (``=`` or ``IN``): an index finds its few matches."""
    if isinstance(expr, Comparison):
        if expr.op not in ("=", "IN"):
            return False
        return expr.entity_type in _TABLES or (expr.entity_type == "attribute" and expr.key == "trace_id")
    if isinstance(expr, And):
        return any(_selective(item) for item in expr.items)
    return False


@dataclass(frozen=True)
class TracePage:
    rows: list[Any]  # trace_info rows (attribute access by column name)
    token: str | None


def search_trace_rows(
    conn: sa.Connection, dialect: str, experiment_ids: Sequence[int], search: TraceSearch
) -> TracePage:
    """One page of ``trace_info`` rows for a checked search, and the next page's token.

    The token is MLflow's ``{"offset": N}`` plus a keyset cursor (the last row's sort
    values): the next page starts right after that row, so traces logged while a client
    pages neither repeat nor shift what it has not seen. An offset-only token (MLflow's,
    another store's) resumes with ``OFFSET``.

    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` for a token issued for
        another filter or order (before any query runs).
    """
    query = _query(dialect, search.filter, tuple(search.order))
    cursor = decode_cursor(search.page_token, query.fingerprint, query.kinds)
    if not experiment_ids:
        return TracePage([], None)
    if dialect == "sqlite" and uses_ilike(search.filter):
        register_sqlite_functions(conn)
    statement = query.select
    parameters: dict[str, Any] = {"experiment_ids": list(experiment_ids)}
    if cursor.after is not None:
        statement = statement.where(query.after)
        parameters.update({f"after_{i}": value for i, value in enumerate(cursor.after)})
    elif cursor.offset:
        statement = statement.offset(cursor.offset)
    max_results = search.max_results
    rows = conn.execute(statement.limit(max_results + 1), parameters).all()
    page = rows[:max_results]
    if len(rows) <= max_results:
        return TracePage(page, None)
    sort_count = len(query.columns)
    last = [_CONVERT[c.kind](v) for c, v in zip(query.columns, page[-1][:sort_count], strict=True)]
    return TracePage(page, encode_cursor(cursor.offset + len(page), last, query.fingerprint))
