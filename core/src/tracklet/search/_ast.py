"""The search AST: what a filter string and an order-by list parse into.

The parser resolves every alias before building these nodes, so a consumer (the
in-memory evaluator here, a SQL compiler in a store plugin) sees one spelling per
concept:

- ``entity_type`` is one of :data:`METRIC`, :data:`PARAM`, :data:`TAG`,
  :data:`ATTRIBUTE`, :data:`DATASET`;
- ``key`` is the canonical name: ``created`` is ``start_time``, ``run name`` is
  ``run_name``; for metrics, params and tags it is the user's key, unquoted;
- ``op`` is upper case: ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``LIKE``,
  ``ILIKE``, ``IN``, ``NOT IN``, ``IS NULL``, ``IS NOT NULL``;
- ``value`` has its final Python type: ``float`` for metrics, ``int`` or ``float``
  for numeric attributes, ``str`` for everything else, ``tuple[str, ...]`` for
  ``IN``/``NOT IN`` and ``None`` for ``IS [NOT] NULL``.

Type rules (which operator suits which field) are checked by the parser, so every
node is valid by construction.

Registry searches (kinds ``registered_model``, ``model_version``, ``logged_model``)
use the same nodes. What a SQL compiler meets there:

- registered models: ``Comparison("attribute", "name", op, str | tuple)`` and
  ``Comparison("tag", key, op, ...)``;
- model versions: attributes ``name``, ``run_id``, ``source_path`` (the version's
  ``source``) with string operators, ``version_number`` (an ``int``) with ``= != < <= >
  >=``, and tags;
- logged models: attributes ``name``, ``model_id``, ``model_type``, ``status``,
  ``source_run_id`` (strings), ``creation_timestamp``, ``last_updated_timestamp``
  (ints; ``creation_time`` and ``last_updated_time`` are resolved to these), tags,
  params (strings) and metrics (floats);
- order-by keys are ``OrderKey("attribute", key, ascending)`` for registered models
  (``name``, ``creation_timestamp``, ``last_updated_timestamp``) and model versions
  (``name``, ``version_number``, ``creation_timestamp``, ``last_updated_timestamp``),
  and :class:`LoggedModelOrderKey` for logged models. ``tracklet.search``'s
  ``*_sort_keys`` functions return the full order with MLflow's tie-breakers appended.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "ATTRIBUTE",
    "DATASET",
    "METRIC",
    "PARAM",
    "TAG",
    "And",
    "Comparison",
    "EntityType",
    "LoggedModelOrderKey",
    "Expr",
    "Op",
    "OrderKey",
    "Or",
    "Value",
]

EntityType = Literal["metric", "param", "tag", "attribute", "dataset"]
METRIC: EntityType = "metric"
PARAM: EntityType = "param"
TAG: EntityType = "tag"
ATTRIBUTE: EntityType = "attribute"
DATASET: EntityType = "dataset"

Op = Literal["=", "!=", "<", "<=", ">", ">=", "LIKE", "ILIKE", "IN", "NOT IN", "IS NULL", "IS NOT NULL"]
Value = float | int | str | tuple[str, ...] | None


@dataclass(frozen=True)
class Comparison:
    """One clause: ``<entity_type>.<key> <op> <value>``, e.g. ``metrics.loss < 0.5``.

    For ``dataset`` the key is ``name``, ``digest`` or ``context`` and the clause holds
    when *any* of the run's dataset inputs satisfies it.
    """

    entity_type: EntityType
    key: str
    op: Op
    value: Value


@dataclass(frozen=True)
class And:
    """All of ``items`` hold (two or more; nested ``And`` are flattened)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True)
class Or:
    """At least one of ``items`` holds (two or more; nested ``Or`` are flattened)."""

    items: tuple[Expr, ...]


Expr = Comparison | And | Or


def any_comparison(expr: Expr | None, test: Callable[[Comparison], bool]) -> bool:
    """Whether ``test`` holds for any comparison of ``expr`` (False for no filter), e.g.
    ``any_comparison(expr, lambda c: c.op == "ILIKE")``."""
    if expr is None:
        return False
    if isinstance(expr, Comparison):
        return test(expr)
    return any(any_comparison(item, test) for item in expr.items)


@dataclass(frozen=True)
class OrderKey:
    """One order-by entry, e.g. ``metrics.m2 DESC`` -> ``OrderKey("metric", "m2", False)``.

    Whatever the direction, items missing the key (and NaN metrics, just before them)
    sort last.
    """

    entity_type: EntityType
    key: str
    ascending: bool = True


@dataclass(frozen=True)
class LoggedModelOrderKey:
    """One ``order_by`` entry of a logged-model search (MLflow passes dicts).

    ``entity_type`` is :data:`ATTRIBUTE` or :data:`METRIC`; a metric orders by its latest
    value (by timestamp), among the values on ``dataset_name``/``dataset_digest`` when
    given. Models without a value sort last.
    """

    entity_type: EntityType
    key: str
    ascending: bool = True
    dataset_name: str | None = None
    dataset_digest: str | None = None
