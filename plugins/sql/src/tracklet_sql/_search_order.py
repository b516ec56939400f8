"""Order-by keys as SQL sort columns, in the reference order (``tracklet.search._sort``).

Every order key becomes two sort columns: a small integer *bucket* (always
ascending) that sends NaN metrics and missing values last whatever the direction,
then the value itself (never NULL, so keyset comparisons need no NULL logic) in the
requested direction. Metric buckets also place the infinities, whose stored stand-ins
(±DBL_MAX) would otherwise tie with the largest finite doubles::

    ascending:  -inf 0, finite 1, +inf 2, NaN 3, missing 4
    descending: +inf 0, finite 1, -inf 2, NaN 3, missing 4

The user's keys come first, then the default order, then the row's id, so the
order is total and a page can resume right after its last row (keyset paging).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from tracklet.search import ATTRIBUTE, METRIC, PARAM, OrderKey
from tracklet_sql._schemas import Schema
from tracklet_sql._search_filter import RUN_COLUMNS
from tracklet_sql._search_text import TextOps

__all__ = ["RunOrder", "SortColumn", "experiment_sort", "run_sort", "sort_labels"]

ValueKind = Literal["int", "float", "str"]


@dataclass(frozen=True)
class SortColumn:
    """One ORDER BY term: ``expr`` is sorted and compared, ``value`` selected into tokens."""

    expr: ColumnElement[Any]
    value: ColumnElement[Any]
    ascending: bool
    kind: ValueKind


@dataclass(frozen=True)
class RunOrder:
    """A run search's sort columns, the FROM clause they need (``runs`` and an outer join
    per metric, param or tag key), and those joined rows by ``(entity_type, key)``: a
    filter clause on the same key can test the joined row instead of looking it up again
    (:func:`tracklet_sql._search_filter.run_filter`)."""

    columns: list[SortColumn]
    source: FromClause
    rows: dict[tuple[str, str], FromClause]


def sort_labels(columns: Sequence[SortColumn]) -> list[ColumnElement[Any]]:
    """The selected values of ``columns``, labelled ``sort_0``, ``sort_1``, … (the page
    token's cursor is read back from them)."""
    return [column.value.label(f"sort_{i}") for i, column in enumerate(columns)]


def _int_column(column: ColumnElement[Any], ascending: bool) -> list[SortColumn]:
    """A nullable integer column (times): present values first, then NULL."""
    bucket = sa.case((column.is_(None), 1), else_=0)
    value = sa.func.coalesce(column, 0)
    return [SortColumn(bucket, bucket, True, "int"), SortColumn(value, value, ascending, "int")]


def _text_column(column: ColumnElement[Any], ascending: bool, text: TextOps) -> list[SortColumn]:
    """A nullable string column: present values in code-point order, then NULL."""
    bucket = sa.case((column.is_(None), 1), else_=0)
    value = sa.func.coalesce(column, "")
    return [SortColumn(bucket, bucket, True, "int"), SortColumn(text.exact(value), value, ascending, "str")]


def _metric_columns(schema: Schema, metric: FromClause, ascending: bool) -> list[SortColumn]:
    nonfinite = metric.c.nonfinite
    bucket = sa.case(
        (metric.c.run_uuid.is_(None), 4),
        (schema.is_nan(nonfinite), 3),
        (schema.is_infinite(nonfinite, ascending), 2),
        (schema.is_infinite(nonfinite, not ascending), 0),
        else_=1,
    )
    value = sa.case((schema.is_finite(nonfinite), metric.c.value), else_=0.0)
    return [SortColumn(bucket, bucket, True, "int"), SortColumn(value, value, ascending, "float")]


def _key_columns(schema: Schema, key: OrderKey, row: FromClause, text: TextOps) -> list[SortColumn]:
    """Sort columns for a metric/param/tag key from its joined (run_uuid, key) ``row``."""
    if key.entity_type == METRIC:
        return _metric_columns(schema, row, key.ascending)
    return _text_column(row.c.value, key.ascending, text)


def _run_attribute(schema: Schema, key: str, ascending: bool, text: TextOps) -> list[SortColumn]:
    column = schema.runs.c[RUN_COLUMNS.get(key, key)]
    if key in ("start_time", "end_time"):
        return _int_column(column, ascending)
    return _text_column(column, ascending, text)


def run_sort(schema: Schema, order_keys: Sequence[OrderKey], text: TextOps) -> RunOrder:
    """The sort columns of a run search and the FROM clause they need (runs + joins)."""
    runs = schema.runs
    columns: list[SortColumn] = []
    source: FromClause = runs
    rows: dict[tuple[str, str], FromClause] = {}
    for index, key in enumerate(order_keys):
        if key.entity_type == ATTRIBUTE:
            columns += _run_attribute(schema, key.key, key.ascending, text)
            continue
        row = rows.get((key.entity_type, key.key))
        if row is None:  # a key ordered by twice is joined once
            table = {METRIC: schema.latest_metrics, PARAM: schema.params}.get(key.entity_type, schema.tags)
            row = table.alias(f"order_{index}")
            source = source.outerjoin(
                row, sa.and_(row.c.run_uuid == runs.c.run_uuid, text.compare(row.c.key, "=", key.key))
            )
            rows[(key.entity_type, key.key)] = row
        columns += _key_columns(schema, key, row, text)
    # the default order: start_time DESC (NULL last), then run_id ASC, which is unique
    columns += _int_column(runs.c.start_time, ascending=False)
    run_id = runs.c.run_uuid
    columns.append(SortColumn(text.exact(run_id), run_id, True, "str"))
    return RunOrder(columns, source, rows)


_DEFAULT_EXPERIMENT_ORDER = (
    OrderKey(ATTRIBUTE, "creation_time", ascending=False),
    OrderKey(ATTRIBUTE, "experiment_id", ascending=True),
)


def experiment_sort(schema: Schema, order_keys: Sequence[OrderKey], text: TextOps) -> list[SortColumn]:
    """The sort columns of an experiment search; the last one is ``experiment_id``."""
    experiments = schema.experiments
    keys = list(order_keys) or list(_DEFAULT_EXPERIMENT_ORDER)
    id_key = next((k for k in keys if k.key == "experiment_id"), None)
    if id_key is None:
        id_key = OrderKey(ATTRIBUTE, "experiment_id", ascending=False)
    columns: list[SortColumn] = []
    for key in keys:
        if key.key == "experiment_id":
            break  # ids are unique: nothing after the first id key can matter
        if key.key == "name":
            columns += _text_column(experiments.c.name, key.ascending, text)
        else:
            columns += _int_column(experiments.c[key.key], key.ascending)
    experiment_id = experiments.c.experiment_id
    columns.append(SortColumn(experiment_id, experiment_id, id_key.ascending, "int"))
    return columns
