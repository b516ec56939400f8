"""Ordering runs and experiments the way MLflow does.

Runs: by default newest first (``start_time`` descending), ties broken by
``run_id`` ascending; each order-by key then re-sorts stably, last key first, so
the first key wins and the default order breaks remaining ties.

Experiments: by default ``creation_time DESC, experiment_id ASC``; with an explicit
order-by, ``experiment_id DESC`` is appended as the tie-breaker unless the
order-by already names it. Experiment ids made of digits compare as numbers
(MLflow's file store compares them as strings, its SQL store as numbers).

Whatever the direction, an item without a value sorts last, and a NaN metric
just before those, as in MLflow.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from tracklet.entities import Experiment, Run
from tracklet.search._ast import ATTRIBUTE, OrderKey
from tracklet.search._evaluate import experiment_getter, run_getter

T = TypeVar("T")

_DEFAULT_EXPERIMENT_ORDER = (
    OrderKey(ATTRIBUTE, "creation_time", ascending=False),
    OrderKey(ATTRIBUTE, "experiment_id", ascending=True),
)


def _null_last_key(get: Callable[[T], Any], ascending: bool) -> Callable[[T], tuple[int, Any]]:
    """Sort key putting values first, then NaN, then None; descending sorts use reverse=True,
    so there the ranks are flipped."""
    value_rank, nan_rank, none_rank = (0, 1, 2) if ascending else (2, 1, 0)

    def key(item: T) -> tuple[int, Any]:
        value = get(item)
        if value is None:
            return (none_rank, 0)
        if value != value:  # NaN
            return (nan_rank, 0)
        return (value_rank, value)

    return key


def _sort_by(items: list[T], keys: Sequence[tuple[Callable[[T], Any], bool]]) -> list[T]:
    """Stable multi-key sort: one pass per key, last key first."""
    for get, ascending in reversed(keys):
        # Python keeps equal items in their original order even with reverse=True.
        items = sorted(items, key=_null_last_key(get, ascending), reverse=not ascending)
    return items


def _default_run_order(run: Run) -> tuple[bool, int, str]:
    start_time = run.info.start_time
    return (start_time is None, -(start_time or 0), run.info.run_id)


def sort_runs_by(runs: Iterable[Run], order_keys: Sequence[OrderKey]) -> list[Run]:
    """Runs in the default order, then re-sorted by ``order_keys`` (first key wins)."""
    ordered = sorted(runs, key=_default_run_order)
    keys = [(run_getter(k.entity_type, k.key), k.ascending) for k in order_keys]
    return _sort_by(ordered, keys)


def _experiment_id_key(experiment: Experiment) -> tuple[int, int | str]:
    experiment_id = experiment.experiment_id
    if experiment_id.isascii() and experiment_id.isdecimal():
        return (0, int(experiment_id))
    return (1, experiment_id)


def _experiment_field(order_key: OrderKey) -> Callable[[Experiment], Any]:
    if order_key.entity_type == ATTRIBUTE and order_key.key == "experiment_id":
        return _experiment_id_key
    return experiment_getter(order_key.entity_type, order_key.key)


def sort_experiments_by(
    experiments: Iterable[Experiment], order_keys: Sequence[OrderKey]
) -> list[Experiment]:
    """Experiments ordered by ``order_keys`` (default: newest first), ids breaking ties."""
    keys = list(order_keys) or list(_DEFAULT_EXPERIMENT_ORDER)
    if not any(k.entity_type == ATTRIBUTE and k.key == "experiment_id" for k in keys):
        keys.append(OrderKey(ATTRIBUTE, "experiment_id", ascending=False))
    return _sort_by(list(experiments), [(_experiment_field(k), k.ascending) for k in keys])
