"""search_runs / search_experiments compiled to one SQL query per page.

The store calls :func:`search_runs` (a page of whole runs: on PostgreSQL the page query
and its runs' rows in one statement, elsewhere the page's ids then their bulk loads) and
:func:`search_experiment_ids` (then loads the experiments of the ids returned). On
PostgreSQL the filter is applied in a materialized CTE before the order-by rows are
joined, so only the runs that pass are probed for their sort values, and a search that
reads every run of experiments that are most of a large store runs with hash joins
(:mod:`tracklet_sql._search_plan`).

Filters compile to correlated lookups on the (run_uuid, key) primary keys
(:mod:`tracklet_sql._search_filter`), order-by keys to outer joins on the same keys
(:mod:`tracklet_sql._search_order`); the database filters, sorts and cuts the page,
so Python never sees the rest of the experiment.
Statements are built once per (dialect, filter, order-by) and cached; everything that
varies between calls (experiment ids, stages, the cursor, limit) is a bound parameter.

Paging is keyset paging: a token carries the sort values of the last row returned
and the next page starts strictly after them, which stays correct while runs are
being added. The token format (MLflow's ``{"offset": N}`` plus the cursor) is in
:mod:`tracklet_sql._search_token`; a plain MLflow offset token still works, through
``OFFSET``. Results are exactly those of the in-memory reference,
``tracklet.search.search_runs_in_memory`` / ``search_experiments_in_memory``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tracklet.entities import Run
from tracklet.search import ATTRIBUTE, Expr, OrderKey, parse_filter, parse_order_by
from tracklet_sql._engine import dialect_name
from tracklet_sql._read import array_statement, load_runs, page_rows, runs_of_rows, with_run_rows
from tracklet_sql._schemas import Schema, tracklet_schema
from tracklet_sql._search_filter import RUN_COLUMNS, experiment_filter, run_filter, uses_ilike
from tracklet_sql._search_keyset import NULL_CURSOR, keyset_page, label_order, newest_order, serves
from tracklet_sql._search_order import SortColumn, experiment_sort, run_sort, sort_labels
from tracklet_sql._search_plan import hash_joins, reads_every_run, run_without_nested_loops
from tracklet_sql._search_text import TextOps, register_sqlite_functions
from tracklet_sql._search_token import Cursor, decode_cursor, encode_cursor, query_hash

__all__ = ["search_experiment_ids", "search_run_ids", "search_runs"]

_CONVERT = {"int": int, "float": float, "str": str}
_BIND_TYPES = {"int": sa.BigInteger, "float": sa.Float, "str": sa.String}


@dataclass(frozen=True)
class _Query:
    """A search's statement without its page bounds, and what paging needs to know."""

    select: sa.Select[Any]
    columns: tuple[SortColumn, ...]  # the sort columns; the last one is the row id
    after: ColumnElement[bool]  # "sorts after the cursor", with parameters after_0, after_1, ...
    fingerprint: str  # ties tokens to the filter and order-by
    #: In the default order (:mod:`tracklet_sql._search_keyset`): the page after a cursor,
    #: given whether the cursor is among runs without a start time.
    page_after: Callable[[bool], sa.Select[Any]] | None = None

    @property
    def kinds(self) -> list[str]:
        return [column.kind for column in self.columns]


def _after(columns: Sequence[SortColumn]) -> ColumnElement[bool]:
    """Rows sorting strictly after the cursor: (c0, c1, ...) > (after_0, after_1, ...) in sort order."""
    values = [sa.bindparam(f"after_{i}", type_=_BIND_TYPES[c.kind]()) for i, c in enumerate(columns)]
    alternatives = []
    for index, (column, value) in enumerate(zip(columns, values, strict=True)):
        beyond = column.expr > value if column.ascending else column.expr < value
        ties = [c.expr == v for c, v in zip(columns[:index], values[:index], strict=True)]
        alternatives.append(sa.and_(*ties, beyond))
    return sa.or_(*alternatives)


def _query(
    source: Any, columns: Sequence[SortColumn], where: list[ColumnElement[bool]], fingerprint: str
) -> _Query:
    selected = sort_labels(columns)
    order = [column.expr.asc() if column.ascending else column.expr.desc() for column in columns]
    select = sa.select(*selected).select_from(source).where(*where).order_by(*order)
    return _Query(select, tuple(columns), _after(columns), fingerprint)


@lru_cache(maxsize=256)
def _run_query(
    schema: Schema, dialect: str, expr: Expr | None, order_keys: tuple[OrderKey, ...], single: bool = False
) -> _Query:
    """The statement of a run search; ``single``: over one experiment and one stage, bound
    as ``experiment_id`` and ``stage`` (PostgreSQL orders by an index only after equalities)."""
    text = TextOps(dialect, binary_like=not schema.owns_ddl)
    runs = schema.runs
    where: list[ColumnElement[bool]] = (
        [
            runs.c.experiment_id == sa.bindparam("experiment_id", type_=sa.Integer),
            runs.c.lifecycle_stage == sa.bindparam("stage", type_=sa.String),
        ]
        if single
        else [
            runs.c.experiment_id.in_(sa.bindparam("experiment_ids", expanding=True)),
            runs.c.lifecycle_stage.in_(sa.bindparam("stages", expanding=True)),
        ]
    )
    fingerprint = query_hash("run", expr, order_keys)
    order = run_sort(schema, order_keys, text)
    # PostgreSQL filters first, then joins the order-by rows to the runs that passed: it
    # would otherwise join them to every run of the experiments before filtering (which
    # it does on a database never analyzed), one primary-key probe per run. Elsewhere a
    # clause on a joined key tests the joined row.
    filter_first = dialect == "postgresql" and bool(order.rows)
    if expr is not None:
        where.append(run_filter(schema, expr, text, {} if filter_first else order.rows))
    if serves(dialect, order_keys):
        columns = order.columns
        selected = sort_labels(columns)
        select = sa.select(*selected).where(*where).order_by(*newest_order(runs, text))
        page_after = partial(keyset_page, runs, tuple(columns), tuple(where), text)
        return _Query(select, tuple(columns), _after(columns), fingerprint, page_after)
    if filter_first and expr is not None:
        needed = {"run_uuid", "start_time"} | {
            RUN_COLUMNS.get(k.key, k.key) for k in order_keys if k.entity_type == ATTRIBUTE
        }
        kept = [column for column in runs.c if column.key in needed]
        filtered = sa.select(*kept).where(*where).cte("filtered").prefix_with("MATERIALIZED")
        view = dataclasses.replace(schema, runs=cast(sa.Table, filtered))
        order = run_sort(view, order_keys, text)
        return _query(order.source, order.columns, [], fingerprint)
    return _query(order.source, order.columns, where, fingerprint)


@lru_cache(maxsize=256)
def _experiment_query(
    schema: Schema, dialect: str, expr: Expr | None, order_keys: tuple[OrderKey, ...]
) -> _Query:
    text = TextOps(dialect, binary_like=not schema.owns_ddl)
    experiments = schema.experiments
    where: list[ColumnElement[bool]] = [
        experiments.c.lifecycle_stage.in_(sa.bindparam("stages", expanding=True))
    ]
    if expr is not None:
        where.append(experiment_filter(schema, expr, text))
    columns = experiment_sort(schema, order_keys, text)
    return _query(experiments, columns, where, query_hash("experiment", expr, order_keys))


def _resume(query: _Query, cursor: Cursor) -> str:
    """How a page starts: ``"start"``, ``"offset"``, ``"after"`` (a keyset cursor) or
    :data:`NULL_CURSOR` (one among runs without a start time, in the default order)."""
    if cursor.after is not None:
        # the default order's bucket of start_time, 1 for NULL, is third from the end
        return NULL_CURSOR if query.page_after is not None and cursor.after[-3] == 1 else "after"
    return "offset" if cursor.offset else "start"


@lru_cache(maxsize=512)
def _page_statement(query: _Query, resume: str) -> sa.Select[Any]:
    """The page query of ``query`` for a resume mode (:func:`_resume`), with parameters
    ``page_limit`` and ``after_<i>`` or ``page_offset``."""
    limit = sa.bindparam("page_limit", type_=sa.BigInteger)
    if resume == "offset":
        return query.select.offset(sa.bindparam("page_offset", type_=sa.BigInteger)).limit(limit)
    if resume == "start":
        return query.select.limit(limit)
    if query.page_after is not None:
        return query.page_after(resume == NULL_CURSOR)
    return query.select.where(query.after).limit(limit)


def _bounds(cursor: Cursor, max_results: int) -> dict[str, Any]:
    """The page parameters of :func:`_page_statement`: one row more than the page tells
    whether another page follows."""
    bounds: dict[str, Any] = {"page_limit": max_results + 1}
    if cursor.after is not None:
        bounds.update({f"after_{i}": value for i, value in enumerate(cursor.after)})
    elif cursor.offset:
        bounds["page_offset"] = cursor.offset
    return bounds


def _page(
    conn: sa.Connection, query: _Query, cursor: Cursor, max_results: int, parameters: dict[str, Any]
) -> tuple[list[Any], str | None]:
    """Run the page query: the ids of the page and the next page's token."""
    statement = _page_statement(query, _resume(query, cursor))
    bound = {**parameters, **_bounds(cursor, max_results)}
    if conn.dialect.name == "sqlite":
        rows = page_rows(conn, statement, bound)
    else:
        rows = conn.execute(statement, bound).all()
    page = rows[:max_results]
    return [row[-1] for row in page], _next_token(query, cursor, rows, max_results)


def _next_token(query: _Query, cursor: Cursor, rows: Sequence[Any], max_results: int) -> str | None:
    """The token of the page after ``rows[:max_results]``; None when ``rows`` (fetched with
    one row more than the page) holds no more."""
    if len(rows) <= max_results:
        return None
    last = rows[max_results - 1]
    values = [_CONVERT[column.kind](value) for column, value in zip(query.columns, last, strict=False)]
    return encode_cursor(cursor.offset + max_results, values, query.fingerprint)


@lru_cache(maxsize=256)
def _pg_run_page(
    dialect: sa.Dialect,
    schema: Schema,
    expr: Expr | None,
    order_keys: tuple[OrderKey, ...],
    resume: str,
    single: bool,
) -> tuple[str, dict[str, Any]]:
    """PostgreSQL: the driver-level SQL of a whole run search page, the page query and its
    runs' rows in one statement (:func:`tracklet_sql._read.with_run_rows`), and its
    constant parameters; ``resume`` as :func:`_resume` gives it. Per call it takes
    ``experiment_ids`` and ``stages`` (arrays; ``experiment_id`` and ``stage`` when
    ``single``), and :func:`_bounds`' parameters."""
    query = _run_query(schema, "postgresql", expr, order_keys, single)
    page = _page_statement(query, resume)
    statement = with_run_rows(schema, page, f"sort_{len(query.columns) - 1}")
    order = label_order(query.columns, statement.selected_columns, TextOps("postgresql"))
    return array_statement(dialect, statement.order_by(*order))


def _pg_search_runs(
    conn: sa.Connection,
    query: _Query,
    cursor: Cursor,
    sql: tuple[str, dict[str, Any]],
    parameters: dict[str, Any],
    max_results: int,
    schema: Schema,
    large: bool,
) -> tuple[list[Run], str | None]:
    statement, constants = sql
    parameters = {**constants, **parameters, **_bounds(cursor, max_results)}
    if large:  # see tracklet_sql._search_plan
        rows = run_without_nested_loops(conn, statement, parameters)
    else:
        # one statement on its own is one snapshot: no BEGIN or ROLLBACK round trips
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        rows = autocommit.exec_driver_sql(statement, parameters).fetchall()
    page = rows[:max_results]
    return runs_of_rows(schema, page, len(query.columns)), _next_token(query, cursor, rows, max_results)


def _prepare(conn: sa.Connection, dialect: str, expr: Expr | None) -> None:
    if dialect == "sqlite" and uses_ilike(expr):
        register_sqlite_functions(conn)


def _run_search(
    schema: Schema,
    dialect: str,
    filter_string: str | None,
    order_by: Sequence[str] | None,
    page_token: str | None,
) -> tuple[Expr | None, tuple[OrderKey, ...], _Query, Cursor]:
    """A run search's parsed filter and order, its statement and its page cursor; every
    input is checked here, before any query runs."""
    expr = parse_filter(filter_string, "run")
    order_keys = tuple(parse_order_by(order_by, "run"))
    query = _run_query(schema, dialect, expr, order_keys)
    return expr, order_keys, query, decode_cursor(page_token, query.fingerprint, query.kinds)


def search_run_ids(
    conn: sa.Connection,
    experiment_ids: Sequence[int],
    stages: Sequence[str],
    filter_string: str | None,
    order_by: Sequence[str] | None,
    max_results: int,
    page_token: str | None,
    schema: Schema | None = None,
) -> tuple[list[str], str | None]:
    """One page of run ids (``run_uuid``) matching the search, and the next page's token.

    :param experiment_ids: experiments to search (ints; the store converted them).
    :param schema: the tables searched (tracklet's when None).
    :param stages: lifecycle stages to include, e.g. ``["active"]``.
    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` for a bad filter, order-by or
        page token, before any query runs.
    """
    dialect = dialect_name(conn)
    expr, order_keys, query, cursor = _run_search(
        schema or tracklet_schema(), dialect, filter_string, order_by, page_token
    )
    if not experiment_ids or not stages:
        return [], None
    _prepare(conn, dialect, expr)
    parameters = {"experiment_ids": list(experiment_ids), "stages": list(stages)}
    return _page(conn, query, cursor, max_results, parameters)


def search_runs(
    conn: sa.Connection,
    experiment_ids: Sequence[int],
    stages: Sequence[str],
    filter_string: str | None,
    order_by: Sequence[str] | None,
    max_results: int,
    page_token: str | None,
    schema: Schema | None = None,
) -> tuple[list[Run], str | None]:
    """One page of runs matching the search, loaded whole, and the next page's token
    (arguments as :func:`search_run_ids`').

    On PostgreSQL this is one statement, one round trip (the page query with its runs'
    rows attached), with nested-loop joins off when the search reads every run of
    experiments that are most of a large store (:mod:`tracklet_sql._search_plan`; that
    check adds a round trip or two once a minute); elsewhere the page query, then the
    bulk loads of :func:`tracklet_sql._read.load_runs`. ``conn`` must not be in a
    transaction yet on PostgreSQL (the statement runs in autocommit).
    """
    schema = schema or tracklet_schema()
    dialect = dialect_name(conn)
    if dialect != "postgresql":
        ids, token = search_run_ids(
            conn, experiment_ids, stages, filter_string, order_by, max_results, page_token, schema
        )
        found = load_runs(schema, conn, ids)
        return [found[i] for i in ids if i in found], token
    expr, order_keys, query, cursor = _run_search(schema, dialect, filter_string, order_by, page_token)
    if not experiment_ids or not stages:
        return [], None
    single = len(experiment_ids) == 1 and len(stages) == 1
    sql = _pg_run_page(conn.dialect, schema, expr, order_keys, _resume(query, cursor), single)
    parameters: dict[str, Any] = (
        {"experiment_id": experiment_ids[0], "stage": stages[0]}
        if single
        else {"experiment_ids": list(experiment_ids), "stages": list(stages)}
    )
    large = reads_every_run(expr, order_keys, query.page_after is not None) and hash_joins(
        conn, schema, experiment_ids, stages
    )
    return _pg_search_runs(conn, query, cursor, sql, parameters, max_results, schema, large)


def search_experiment_ids(
    conn: sa.Connection,
    stages: Sequence[str],
    filter_string: str | None,
    order_by: Sequence[str] | None,
    max_results: int,
    page_token: str | None,
    schema: Schema | None = None,
) -> tuple[list[int], str | None]:
    """One page of experiment ids matching the search, and the next page's token.

    :param stages: lifecycle stages to include, e.g. ``["active", "deleted"]``.
    :raises TrackletException: ``INVALID_PARAMETER_VALUE`` for a bad filter, order-by or
        page token, before any query runs.
    """
    expr = parse_filter(filter_string, "experiment")
    order_keys = tuple(parse_order_by(order_by, "experiment"))
    dialect = dialect_name(conn)
    query = _experiment_query(schema or tracklet_schema(), dialect, expr, order_keys)
    cursor = decode_cursor(page_token, query.fingerprint, query.kinds)
    if not stages:
        return [], None
    _prepare(conn, dialect, expr)
    return _page(conn, query, cursor, max_results, {"stages": list(stages)})
