"""Pages of a run search in the default order, read in order from the runs index.

A search with no order-by (or only ``start_time DESC``, the same order) sorts runs by
``start_time`` descending with NULL last, then by ``run_uuid``: the order of the index
``ix_runs_experiment_stage_newest`` (revision 0003) on sqlite and PostgreSQL. Written on
the plain columns (the bucket and ``coalesce`` sort columns of
:mod:`tracklet_sql._search_order` hide them from the planner), the first page is the
index's first rows, and the page after a cursor ``(start_time t, run_uuid id)`` is three
index ranges, each cut at the page size, merged and cut again:

* ``start_time = t AND run_uuid > id`` (the rest of the cursor's tie),
* ``start_time < t`` (older runs),
* ``start_time IS NULL`` (runs without a start time, last);

or, for a cursor among the runs without a start time, ``start_time IS NULL AND run_uuid
> id`` alone. A page therefore costs the same at any depth and whatever the experiment's
size (a condition over the sort expressions cannot be an index range: every page scanned
and sorted the experiment again). Tokens are unchanged: the sort values selected are
those of :func:`tracklet_sql._search_order.run_sort`. The index gives the order when the
search is over one experiment and one lifecycle stage (equalities; PostgreSQL is given
them as such); otherwise the database sorts the ranges' rows, as before.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from tracklet.search import ATTRIBUTE, OrderKey
from tracklet_sql._search_order import SortColumn, sort_labels
from tracklet_sql._search_text import TextOps

__all__ = ["NULL_CURSOR", "keyset_page", "label_order", "newest_order", "serves"]

#: The resume mode of a cursor among runs without a start time.
NULL_CURSOR = "after_null"


def serves(dialect: str, order_keys: Sequence[OrderKey]) -> bool:
    """Whether the search's order is the default one and the dialect has its index."""
    return dialect in ("sqlite", "postgresql") and all(
        key.entity_type == ATTRIBUTE and key.key == "start_time" and not key.ascending for key in order_keys
    )


def newest_order(runs: Any, text: TextOps) -> list[ColumnElement[Any]]:
    """ORDER BY terms of the default order as the index has them."""
    start = runs.c.start_time.desc()
    if text.dialect == "postgresql":
        start = start.nulls_last()  # sqlite puts NULL last in a descending order by itself
    return [start, text.exact(runs.c.run_uuid).asc()]


def label_order(columns: Sequence[SortColumn], rows: Any, text: TextOps) -> list[ColumnElement[Any]]:
    """ORDER BY the sort order over the columns ``sort_0``, ``sort_1``, … (the values
    selected) of the column collection ``rows``."""
    order = []
    for index, column in enumerate(columns):
        value: ColumnElement[Any] = rows[f"sort_{index}"]
        if column.kind == "str":
            value = text.exact(value)
        order.append(value.asc() if column.ascending else value.desc())
    return order


def keyset_page(
    runs: Any,
    columns: Sequence[SortColumn],
    where: Sequence[ColumnElement[bool]],
    text: TextOps,
    null_cursor: bool,
) -> sa.Select[Any]:
    """The page after the cursor bound as ``after_<i>``: its index ranges, merged and
    limited to ``page_limit`` rows. ``columns`` are :func:`run_sort`'s (default order last)."""
    selected = sort_labels(columns)
    last = len(columns) - 1
    start, run_id = runs.c.start_time, text.exact(runs.c.run_uuid)
    limit = sa.bindparam("page_limit", type_=sa.BigInteger)
    after_time = sa.bindparam(f"after_{last - 1}", type_=sa.BigInteger)
    after_id = sa.bindparam(f"after_{last}", type_=sa.String)

    def branch(*conditions: ColumnElement[bool], by: list[ColumnElement[Any]]) -> Any:
        rows = sa.select(*selected).where(*where, *conditions).order_by(*by).limit(limit)
        return sa.select(rows.subquery())

    # each range in the index's own order (PostgreSQL sorts an IS NULL range by id otherwise)
    newest = newest_order(runs, text)
    if null_cursor:
        branches = [branch(start.is_(None), run_id > after_id, by=newest)]
    else:
        branches = [
            branch(start == after_time, run_id > after_id, by=newest),
            branch(start < after_time, by=newest),
            branch(start.is_(None), by=newest),
        ]
    merged = sa.union_all(*branches).subquery("keyset")
    return sa.select(*merged.c).order_by(*label_order(columns, merged.c, text)).limit(limit)
