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

from collections import namedtuple
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine.interfaces import Compiled
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from tracklet.search import METADATA, TAG, And, Comparison, Expr, OrderKey, TraceSearch
from tracklet_sql._mlflow_traces import SESSION_KEY
from tracklet_sql._schemas import Schema, tracklet_schema
from tracklet_sql._search import _after
from tracklet_sql._search_filter import _ordered, uses_ilike
from tracklet_sql._search_order import SortColumn, _int_column, _text_column, sort_labels
from tracklet_sql._search_text import TextOps, register_sqlite_functions
from tracklet_sql._search_token import decode_cursor, encode_cursor, query_hash

__all__ = ["INFO_NAMES", "TracePage", "info_columns", "search_trace_rows"]

#: trace_info's columns a page's rows carry (after the sort values), tracklet's table order;
#: MLflow's table has more, which tracklet neither reads nor writes.
INFO_NAMES = (
    "request_id",
    "experiment_id",
    "timestamp_ms",
    "execution_time_ms",
    "status",
    "client_request_id",
    "request_preview",
    "response_preview",
)
_CONVERT = {"int": int, "float": float, "str": str}
_TRACE_NAME_TAG = "mlflow.traceName"
_INT_ATTRIBUTES = frozenset({"timestamp_ms", "execution_time_ms", "end_time_ms", "experiment_id"})


@dataclass(frozen=True)
class _Tables:
    """One schema's trace tables as the compiler addresses them."""

    trace_info: sa.Table
    info_columns: tuple[ColumnElement[Any], ...]
    #: Canonical attributes (tracklet.search._traces) -> trace_info expressions; int-valued
    #: ones are compared as numbers. end_time_ms is NULL while the duration is.
    attributes: dict[str, ColumnElement[Any]]
    by_kind: dict[str, sa.Table]  # TAG / METADATA -> table
    #: (TAG or METADATA, key) -> the trace_info column MLflow keeps that tag or metadata in
    #: (the name; the session on revisions promoting it), instead of a key/value row
    in_columns: dict[tuple[str, str], ColumnElement[Any]]


@cache
def _tables(schema: Schema) -> _Tables:
    ti = schema.trace_info.c
    return _Tables(
        schema.trace_info,
        tuple(ti[name] for name in INFO_NAMES),
        {
            "trace_id": ti.request_id,
            "client_request_id": ti.client_request_id,
            "status": ti.status,
            "timestamp_ms": ti.timestamp_ms,
            "execution_time_ms": ti.execution_time_ms,
            "end_time_ms": ti.timestamp_ms + ti.execution_time_ms,
            "experiment_id": ti.experiment_id,
        },
        {TAG: schema.trace_tags, METADATA: schema.trace_request_metadata},
        _in_columns(schema),
    )


def _in_columns(schema: Schema) -> dict[tuple[str, str], ColumnElement[Any]]:
    ti = schema.trace_info.c
    out = {}
    if schema.trace_name_column is not None:
        out[TAG, _TRACE_NAME_TAG] = ti[schema.trace_name_column]
    if schema.promoted_metadata:
        out[METADATA, SESSION_KEY] = ti.session_id
    return out


def _name_column(tables: _Tables, entity_type: str, key: str) -> ColumnElement[Any] | None:
    """The column standing for a tag or metadata MLflow's schema keeps in a column, else None."""
    return tables.in_columns.get((entity_type, key))


def info_columns(schema: Schema) -> tuple[ColumnElement[Any], ...]:
    """The ``trace_info`` columns of :data:`INFO_NAMES` in ``schema``."""
    return _tables(schema).info_columns


def _column(tables: _Tables, key: str) -> ColumnElement[Any]:
    column = tables.attributes.get(key)
    if column is None:
        raise AssertionError(f"no trace_info column for attribute {key!r}")
    return column


def _key_value(
    tables: _Tables, table: sa.Table, comparison: Comparison, text: TextOps, correlated: bool
) -> ColumnElement[bool]:
    """``request_id [NOT] IN (SELECT request_id FROM <table> WHERE key = … AND value …)``,
    or (``correlated``) ``[NOT] EXISTS (… WHERE request_id = trace_info.request_id …)``."""
    request_id = tables.trace_info.c.request_id
    lookup = sa.select(table.c.request_id).where(text.compare(table.c.key, "=", comparison.key))
    if comparison.op != "IS NULL" and comparison.op != "IS NOT NULL":
        lookup = lookup.where(text.compare(table.c.value, comparison.op, comparison.value))
    if correlated:
        found = sa.exists(lookup.where(table.c.request_id == request_id).correlate(tables.trace_info))
        return ~found if comparison.op == "IS NULL" else found
    if comparison.op == "IS NULL":
        return request_id.not_in(lookup)
    return request_id.in_(lookup)


def _leaf(tables: _Tables, comparison: Comparison, text: TextOps, correlated: bool) -> ColumnElement[bool]:
    name = _name_column(tables, comparison.entity_type, comparison.key)
    if name is not None:
        if comparison.op in ("IS NULL", "IS NOT NULL"):
            return name.is_(None) if comparison.op == "IS NULL" else name.is_not(None)
        return text.compare(name, comparison.op, comparison.value)
    table = tables.by_kind.get(comparison.entity_type)
    if table is not None:
        return _key_value(tables, table, comparison, text, correlated)
    column = _column(tables, comparison.key)
    if comparison.key in _INT_ATTRIBUTES:
        return _ordered(column, comparison.op, comparison.value)
    return text.compare(column, comparison.op, comparison.value)


def _compile(tables: _Tables, expr: Expr, text: TextOps, correlated: bool) -> ColumnElement[bool]:
    if isinstance(expr, Comparison):
        return _leaf(tables, expr, text, correlated)
    parts = [_compile(tables, item, text, correlated) for item in expr.items]
    return sa.and_(*parts) if isinstance(expr, And) else sa.or_(*parts)


def _sort(tables: _Tables, order: Sequence[OrderKey], text: TextOps) -> tuple[list[SortColumn], FromClause]:
    """Sort columns for the complete order (it names ``trace_id``, which is unique: the
    keys after it cannot matter and are left out)."""
    _ti = tables.trace_info.c
    columns: list[SortColumn] = []
    source: FromClause = tables.trace_info
    for index, key in enumerate(order):
        table = tables.by_kind.get(key.entity_type)
        name = _name_column(tables, key.entity_type, key.key)
        if name is not None:
            columns += _text_column(name, key.ascending, text)
        elif table is not None:
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
            column = _column(tables, key.key)
            columns.append(SortColumn(column, column, key.ascending, "int"))
        elif key.key in _INT_ATTRIBUTES:
            columns += _int_column(_column(tables, key.key), key.ascending)
        else:
            columns += _text_column(_column(tables, key.key), key.ascending, text)
    # an order without trace_id (not from parse_trace_order_by): make it total
    columns.append(SortColumn(text.exact(_ti.request_id), _ti.request_id, True, "str"))
    return columns, source


@dataclass(frozen=True)
class _Query:
    select: sa.Select[Any]
    columns: tuple[SortColumn, ...]
    after: ColumnElement[bool]
    fingerprint: str
    #: compiled page statements by (dialect, variant): see :func:`_compiled_page`
    compiled: dict[tuple[Any, str], Compiled] = field(default_factory=dict, compare=False, hash=False)

    @property
    def kinds(self) -> list[str]:
        return [column.kind for column in self.columns]


@lru_cache(maxsize=256)
def _query(
    schema: Schema, dialect: str, expr: Expr | None, order: tuple[OrderKey, ...], by_key: bool = False
) -> _Query:
    """The page statement. ``by_key`` (sqlite): keep sqlite off the experiment's index, so
    it fetches the matches of a selective condition by key and sorts them."""
    text = TextOps(dialect, binary_like=not schema.owns_ddl)
    tables = _tables(schema)
    _ti = tables.trace_info.c
    columns, source = _sort(tables, order, text)
    experiment_id: ColumnElement[Any] = _ti.experiment_id
    if by_key:
        # "+ 0" keeps sqlite from using an index for the term
        experiment_id = experiment_id + 0
        columns = [
            SortColumn(c.expr + 0, c.value, c.ascending, c.kind) if c.expr is _ti.timestamp_ms else c
            for c in columns
        ]
    where: list[ColumnElement[bool]] = [experiment_id.in_(sa.bindparam("experiment_ids", expanding=True))]
    if expr is not None:
        # sqlite walking the experiment's index in order: a lookup per trace visited
        # (an IN list would first collect every trace having the value)
        where.append(_compile(tables, expr, text, correlated=dialect == "sqlite" and not by_key))
    selected = sort_labels(columns)
    terms = [column.expr.asc() if column.ascending else column.expr.desc() for column in columns]
    select = sa.select(*selected, *tables.info_columns).select_from(source).where(*where).order_by(*terms)
    return _Query(select, tuple(columns), _after(columns), query_hash("trace", expr, order))


#: Below this many traces matching one condition, fetching them by key and sorting beats
#: walking the experiment's index in order (which visits ~page x traces / matches rows).
FEW_MATCHES = 1000


def _key_conditions(expr: Expr | None) -> list[Comparison]:
    """The ``=``/``IN`` conditions on a trace id, tag or metadata value that every match
    must meet (top-level conjuncts)."""
    items = expr.items if isinstance(expr, And) else (expr,) if isinstance(expr, Comparison) else ()
    return [
        c
        for c in items
        if isinstance(c, Comparison)
        and c.op in ("=", "IN")
        and (c.entity_type in (TAG, METADATA) or (c.entity_type == "attribute" and c.key == "trace_id"))
    ]


@lru_cache(maxsize=256)
def _probe(schema: Schema, dialect: str, comparison: Comparison) -> sa.Select[Any]:
    """How many rows (up to FEW_MATCHES) a tag/metadata condition matches."""
    table = _tables(schema).by_kind[comparison.entity_type]
    text = TextOps(dialect, binary_like=not schema.owns_ddl)
    rows = (
        sa.select(sa.literal(1))
        .where(
            text.compare(table.c.key, "=", comparison.key),
            text.compare(table.c.value, comparison.op, comparison.value),
        )
        .limit(FEW_MATCHES)
        .subquery()
    )
    return sa.select(sa.func.count()).select_from(rows)


@lru_cache(maxsize=256)
def _compiled_probe(sa_dialect: sa.Dialect, schema: Schema, dialect: str, comparison: Comparison) -> Compiled:
    return _probe(schema, dialect, comparison).compile(dialect=sa_dialect)


def _by_key(conn: sa.Connection, schema: Schema, dialect: str, expr: Expr | None) -> bool:
    """sqlite has no statistics: without help it walks ix_trace_info_experiment_timestamp
    (no sort needed) testing every trace, even when an index names the few matches. Use
    the keys when a condition every match meets is an id, or a tag/metadata value that
    fewer than FEW_MATCHES traces have (counted through the (key, value) index)."""
    if dialect != "sqlite":
        return False
    for comparison in _key_conditions(expr):
        if comparison.entity_type not in (TAG, METADATA):
            return True
        count = _driver_fetch(conn, _compiled_probe(conn.dialect, schema, dialect, comparison), {})[0][0]
        if count < FEW_MATCHES:
            return True
    return False


@dataclass(frozen=True)
class TracePage:
    rows: list[Any]  # trace_info rows (InfoRow: attribute access by column name)
    token: str | None


def search_trace_rows(
    conn: sa.Connection,
    dialect: str,
    experiment_ids: Sequence[int],
    search: TraceSearch,
    schema: Schema | None = None,
) -> TracePage:
    """One page of ``trace_info`` rows for a checked search, and the next page's token.

    The token is MLflow's ``{"offset": N}`` plus a keyset cursor (the last row's sort
    values): the next page starts right after that row, so traces logged while a client
    pages neither repeat nor shift what it has not seen. An offset-only token (MLflow's,
    another store's) resumes with ``OFFSET``.

    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` for a token issued for
        another filter or order (before any query runs).
    """
    schema = schema or tracklet_schema()
    query = _query(schema, dialect, search.filter, tuple(search.order))
    cursor = decode_cursor(search.page_token, query.fingerprint, query.kinds)
    if not experiment_ids:
        return TracePage([], None)
    if _by_key(conn, schema, dialect, search.filter):
        query = _query(schema, dialect, search.filter, tuple(search.order), by_key=True)
    if dialect == "sqlite" and uses_ilike(search.filter):
        register_sqlite_functions(conn)
    max_results = search.max_results
    parameters: dict[str, Any] = {"experiment_ids": list(experiment_ids), "page_limit": max_results + 1}
    if cursor.after is not None:
        variant = "after"
        parameters.update({f"after_{i}": value for i, value in enumerate(cursor.after)})
    elif cursor.offset:
        variant = "offset"
        parameters["page_offset"] = cursor.offset
    else:
        variant = "first"
    rows = _driver_fetch(conn, _compiled_page(conn.dialect, query, variant), parameters)
    page = rows[:max_results]
    sort_count = len(query.columns)
    infos = [InfoRow._make(row[sort_count:]) for row in page]
    if len(rows) <= max_results:
        return TracePage(infos, None)
    last = [_CONVERT[c.kind](v) for c, v in zip(query.columns, page[-1][:sort_count], strict=True)]
    return TracePage(infos, encode_cursor(cursor.offset + len(page), last, query.fingerprint))


#: A page's ``trace_info`` row (the columns by name, as a SQLAlchemy row has them).
InfoRow = namedtuple("InfoRow", INFO_NAMES)  # type: ignore[misc]  # noqa: PYI024


def _compiled_page(sa_dialect: sa.Dialect, query: _Query, variant: str) -> Compiled:
    """The page statement compiled once per dialect and variant (``first``; ``after`` a
    keyset cursor; ``offset``), limit and offset as parameters: a search runs it on the
    driver's cursor, skipping SQLAlchemy's per-call statement caching and result set-up
    (most of a small page's cost on sqlite)."""
    key = (sa_dialect, variant)
    compiled = query.compiled.get(key)
    if compiled is None:
        statement = query.select
        if variant == "after":
            statement = statement.where(query.after)
        elif variant == "offset":
            statement = statement.offset(sa.bindparam("page_offset", type_=sa.Integer))
        statement = statement.limit(sa.bindparam("page_limit", type_=sa.Integer))
        compiled = statement.compile(dialect=sa_dialect)
        if len(query.compiled) > 32:  # engines come and go (tests): keep it small
            query.compiled.clear()
        query.compiled[key] = compiled
    return compiled


def _driver_fetch(conn: sa.Connection, compiled: Any, parameters: dict[str, Any]) -> list[Any]:
    """Every row of a compiled statement run on the connection's driver cursor (expanding
    ``IN`` lists, applying bind processors as SQLAlchemy would)."""
    state = compiled.construct_expanded_state(parameters)
    values = state.parameters
    if state.processors:
        values = {k: (state.processors[k](v) if k in state.processors else v) for k, v in values.items()}
    arguments: Any = values if state.positiontup is None else tuple(values[k] for k in state.positiontup)
    cursor = conn.connection.cursor()
    try:
        cursor.execute(state.statement, arguments)
        return list(cursor.fetchall())
    finally:
        cursor.close()
