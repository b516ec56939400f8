"""Compile a search filter AST (:mod:`tracklet.search`) into a SQL ``WHERE`` condition.

Each clause becomes a condition on one row of ``runs`` (or ``experiments``); metrics,
params, tags and dataset inputs are correlated ``EXISTS`` subqueries that look up
their (run, key) primary key, so a search never reads other runs' rows; a clause on a
key the order-by already joins tests that joined row instead.

Semantics are the in-memory reference's (``tracklet.search._evaluate``):

* a run lacking the field never matches, not even ``!=`` or ``NOT IN``; only
  ``IS NULL`` matches it (``NOT EXISTS``). SQL's NULL logic gives the same for
  nullable columns because the compiled condition never negates a clause;
* a metric compares its latest value. NaN satisfies ``!=`` only; ±inf are stored as
  ±DBL_MAX with a ``nonfinite`` marker and compare as true infinities;
* a dataset clause holds when any of the run's dataset inputs satisfies it.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import FromClause

from tracklet.search import ATTRIBUTE, DATASET, METRIC, PARAM, TAG, And, Comparison, Expr, any_comparison
from tracklet_sql._schemas import Schema
from tracklet_sql._search_text import TextOps

__all__ = ["experiment_filter", "run_filter", "uses_ilike"]

_DATASET_CONTEXT = "mlflow.data.context"  # the input tag holding a dataset's context
#: Attribute name -> runs column.
RUN_COLUMNS = {"run_id": "run_uuid", "run_name": "name"}

Leaf = Callable[[Comparison], ColumnElement[bool]]


def uses_ilike(expr: Expr | None) -> bool:
    """Whether any clause of ``expr`` is an ``ILIKE`` (sqlite then needs its lower())."""
    return any_comparison(expr, lambda c: c.op == "ILIKE")


def _compile(expr: Expr, leaf: Leaf) -> ColumnElement[bool]:
    if isinstance(expr, Comparison):
        return leaf(expr)
    parts = [_compile(item, leaf) for item in expr.items]
    return sa.and_(*parts) if isinstance(expr, And) else sa.or_(*parts)


def _ordered(column: ColumnElement[Any], op: str, value: Any) -> ColumnElement[bool]:
    """``column <op> value`` for a numeric attribute (a NULL column matches nothing)."""
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    raise AssertionError(f"no numeric comparison for {op!r}")


def metric_test(
    schema: Schema, value: ColumnElement[Any], nonfinite: ColumnElement[Any], op: str, x: float
) -> ColumnElement[bool]:
    """A stored ``(value, nonfinite)`` metric compared with ``x`` as Python compares floats
    (on MLflow's schema, where ±inf are stored as ±DBL_MAX, with those values as MLflow)."""
    if math.isnan(x):
        return sa.true() if op == "!=" else sa.false()
    if math.isinf(x):
        return _infinity_test(schema, nonfinite, op, x > 0)
    finite = schema.is_finite(nonfinite)
    if op == "=":
        return sa.and_(finite, value == x)
    if op == "!=":
        return sa.or_(sa.not_(finite), value != x)
    if op in (">", ">="):
        beyond = value > x if op == ">" else value >= x
        return sa.or_(schema.is_infinite(nonfinite, True), sa.and_(finite, beyond))
    if op in ("<", "<="):
        beyond = value < x if op == "<" else value <= x
        return sa.or_(schema.is_infinite(nonfinite, False), sa.and_(finite, beyond))
    raise AssertionError(f"no metric comparison for {op!r}")


def _infinity_test(
    schema: Schema, nonfinite: ColumnElement[Any], op: str, positive: bool
) -> ColumnElement[bool]:
    """Compare with +inf (``positive``) or -inf: only the marker matters."""
    # "beyond" is > for +inf and < for -inf: nothing is beyond an infinity.
    beyond, within = (">", "<") if positive else ("<", ">")
    if op in ("=", beyond + "="):
        return schema.is_infinite(nonfinite, positive)
    if op == "!=":
        return schema.not_infinite(nonfinite, positive)
    if op == beyond:
        return sa.false()
    if op == within:
        return schema.finite_or_infinite(nonfinite, not positive)
    if op == within + "=":
        return schema.not_nan(nonfinite)
    raise AssertionError(f"no metric comparison for {op!r}")


def _exists(select: sa.Select[Any], owner: sa.Table) -> ColumnElement[bool]:
    return sa.exists(select.correlate(owner))


def _key_value(
    table: sa.Table, owner: sa.Table, owner_key: str, comparison: Comparison, text: TextOps
) -> ColumnElement[bool]:
    """A param/tag clause: the (owner, key) row exists and its value passes."""
    lookup = sa.select(sa.literal(1)).where(
        table.c[owner_key] == owner.c[owner_key], text.compare(table.c.key, "=", comparison.key)
    )
    if comparison.op == "IS NULL":
        return ~_exists(lookup, owner)
    if comparison.op != "IS NOT NULL":
        lookup = lookup.where(text.compare(table.c.value, comparison.op, comparison.value))
    return _exists(lookup, owner)


def _metric(schema: Schema, comparison: Comparison, text: TextOps) -> ColumnElement[bool]:
    value = comparison.value
    assert isinstance(value, (int, float))
    latest_metrics, runs = schema.latest_metrics, schema.runs
    test = metric_test(
        schema, latest_metrics.c.value, latest_metrics.c.nonfinite, comparison.op, float(value)
    )
    lookup = sa.select(sa.literal(1)).where(
        latest_metrics.c.run_uuid == runs.c.run_uuid,
        text.compare(latest_metrics.c.key, "=", comparison.key),
        test,
    )
    return _exists(lookup, runs)


def _dataset(schema: Schema, comparison: Comparison, text: TextOps) -> ColumnElement[bool]:
    inputs, input_tags, datasets, runs = schema.inputs, schema.input_tags, schema.datasets, schema.runs
    lookup = sa.select(sa.literal(1)).where(
        inputs.c.destination_type == "RUN",
        inputs.c.destination_id == runs.c.run_uuid,
        inputs.c.source_type == "DATASET",
    )
    if comparison.key == "context":
        lookup = lookup.join(input_tags, input_tags.c.input_uuid == inputs.c.input_uuid).where(
            input_tags.c.name == _DATASET_CONTEXT,
            text.compare(input_tags.c.value, comparison.op, comparison.value),
        )
    else:
        lookup = lookup.join(datasets, datasets.c.dataset_uuid == inputs.c.source_id).where(
            text.compare(datasets.c[comparison.key], comparison.op, comparison.value)
        )
    return _exists(lookup, runs)


def _joined_row(
    schema: Schema, row: FromClause, comparison: Comparison, text: TextOps
) -> ColumnElement[bool]:
    """A metric/param/tag clause tested on the run's (run_uuid, key) row already joined
    for the order-by (absent: NULL columns); the same truth as the lookup's ``EXISTS``."""
    present = row.c.run_uuid.is_not(None)
    op = comparison.op
    if op == "IS NULL":
        return row.c.run_uuid.is_(None)
    if op == "IS NOT NULL":
        return present
    if comparison.entity_type == METRIC:
        value = comparison.value
        assert isinstance(value, (int, float))
        return sa.and_(present, metric_test(schema, row.c.value, row.c.nonfinite, op, float(value)))
    return sa.and_(present, text.compare(row.c.value, op, comparison.value))


def run_filter(
    schema: Schema, expr: Expr, text: TextOps, joined: Mapping[tuple[str, str], FromClause] | None = None
) -> ColumnElement[bool]:
    """The condition on a ``runs`` row for a parsed run filter. ``joined``: the rows the
    order-by joins to ``runs``, by ``(entity_type, key)``
    (:class:`tracklet_sql._search_order.RunOrder`); a clause on one of those keys tests
    that row instead of looking the key up a second time (on sqlite a sixth of a
    filtered search that orders by the metric it filters on)."""
    runs = schema.runs
    joined = joined or {}

    def leaf(comparison: Comparison) -> ColumnElement[bool]:
        row = joined.get((comparison.entity_type, comparison.key))
        if row is not None:
            return _joined_row(schema, row, comparison, text)
        if comparison.entity_type == METRIC:
            return _metric(schema, comparison, text)
        if comparison.entity_type == PARAM:
            return _key_value(schema.params, runs, "run_uuid", comparison, text)
        if comparison.entity_type == TAG:
            return _key_value(schema.tags, runs, "run_uuid", comparison, text)
        if comparison.entity_type == DATASET:
            return _dataset(schema, comparison, text)
        assert comparison.entity_type == ATTRIBUTE
        column = runs.c[RUN_COLUMNS.get(comparison.key, comparison.key)]
        if comparison.key in ("start_time", "end_time"):
            return _ordered(column, comparison.op, comparison.value)
        return text.compare(column, comparison.op, comparison.value)

    return _compile(expr, leaf)


def _canonical_id(value: str) -> int | None:
    """The experiment id a string names, or None when no id prints as ``value``."""
    if value.isascii() and value.isdecimal() and str(int(value)) == value:
        return int(value)
    return None


def _experiment_id(schema: Schema, comparison: Comparison, text: TextOps) -> ColumnElement[bool]:
    """Experiment ids are strings to the reference and integers in the table."""
    column = schema.experiments.c.experiment_id
    op, value = comparison.op, comparison.value
    if op in ("LIKE", "ILIKE"):
        return text.compare(sa.cast(column, sa.String), op, value)
    if op in ("=", "!="):
        assert isinstance(value, str)
        number = _canonical_id(value)
        if number is None:
            return sa.false() if op == "=" else sa.true()
        return column == number if op == "=" else column != number
    assert isinstance(value, tuple)
    numbers = [n for n in map(_canonical_id, value) if n is not None]
    if op == "IN":
        return column.in_(numbers) if numbers else sa.false()
    return column.not_in(numbers) if numbers else sa.true()


def experiment_filter(schema: Schema, expr: Expr, text: TextOps) -> ColumnElement[bool]:
    """The condition on an ``experiments`` row for a parsed experiment filter."""
    experiments = schema.experiments

    def leaf(comparison: Comparison) -> ColumnElement[bool]:
        if comparison.entity_type == TAG:
            return _key_value(schema.experiment_tags, experiments, "experiment_id", comparison, text)
        assert comparison.entity_type == ATTRIBUTE
        if comparison.key == "experiment_id":
            return _experiment_id(schema, comparison, text)
        column = experiments.c[comparison.key]
        if comparison.key in ("creation_time", "last_update_time"):
            return _ordered(column, comparison.op, comparison.value)
        return text.compare(column, comparison.op, comparison.value)

    return _compile(expr, leaf)
