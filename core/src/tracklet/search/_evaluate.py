"""Compile a filter AST into a Python predicate over runs or experiments.

Compiling once (rather than walking the tree for every run) keeps a file store's
search over thousands of runs cheap: each clause becomes a closure holding its
getter, its comparison and its prepared value (a set for IN, a regex for LIKE).

Semantics follow MLflow's in-memory search: a run that lacks the field never
matches (not even ``!=`` or ``NOT IN``) except through ``IS NULL``; dataset
clauses hold when any of the run's dataset inputs satisfies them.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, TypeVar

from tracklet.entities import Experiment, Run
from tracklet.search._ast import ATTRIBUTE, DATASET, METRIC, PARAM, TAG, And, Comparison, Expr
from tracklet.utils.mlflow_tags import MLFLOW_DATASET_CONTEXT

T = TypeVar("T")
Predicate = Callable[[T], bool]
_Test = Callable[[Any], bool]

_ORDERED = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def like_regex(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """SQL ``LIKE`` as a regex: ``%`` is any run of characters, ``_`` any one character."""
    parts = (".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
    return re.compile("".join(parts), flags)


def _value_test(op: str, value: Any) -> _Test:
    """A test of the field's value (never None here) against the clause's value."""
    if op in _ORDERED:
        compare = _ORDERED[op]
        return lambda v: bool(compare(v, value))
    if op == "IN":
        members = frozenset(value)
        return lambda v: v in members
    if op == "NOT IN":
        excluded = frozenset(value)
        return lambda v: v not in excluded
    if op in ("LIKE", "ILIKE"):
        match = like_regex(value, ignore_case=op == "ILIKE").fullmatch
        return lambda v: match(v) is not None
    raise AssertionError(f"no value test for {op!r}")


def _clause(get: Callable[[T], Any], comparison: Comparison) -> Predicate[T]:
    """Combine a field getter with the clause's test, handling missing values."""
    if comparison.op == "IS NULL":
        return lambda item: get(item) is None
    if comparison.op == "IS NOT NULL":
        return lambda item: get(item) is not None
    test = _value_test(comparison.op, comparison.value)

    def predicate(item: T) -> bool:
        value = get(item)
        return value is not None and test(value)

    return predicate


def _dataset_clause(comparison: Comparison) -> Predicate[Run]:
    test = _value_test(comparison.op, comparison.value)
    if comparison.key == "context":

        def context_matches(run: Run) -> bool:
            return any(
                test(tag.value)
                for dataset_input in run.inputs.dataset_inputs
                for tag in dataset_input.tags
                if tag.key == MLFLOW_DATASET_CONTEXT
            )

        return context_matches
    get = operator.attrgetter(f"dataset.{comparison.key}")
    return lambda run: any(test(get(dataset_input)) for dataset_input in run.inputs.dataset_inputs)


def run_getter(entity_type: str, key: str) -> Callable[[Run], Any]:
    """Read one field of a run: a metric, param or tag value, or a RunInfo attribute."""
    if entity_type == METRIC:
        return lambda run: run.data.metrics.get(key)
    if entity_type == PARAM:
        return lambda run: run.data.params.get(key)
    if entity_type == TAG:
        return lambda run: run.data.tags.get(key)
    if entity_type == ATTRIBUTE:
        return operator.attrgetter(f"info.{key}")
    raise AssertionError(f"no run getter for {entity_type!r}")


def experiment_getter(entity_type: str, key: str) -> Callable[[Experiment], Any]:
    """Read one field of an experiment: a tag value or an attribute."""
    if entity_type == TAG:
        return lambda experiment: experiment.tags.get(key)
    if entity_type == ATTRIBUTE:
        return operator.attrgetter(key)
    raise AssertionError(f"no experiment getter for {entity_type!r}")


def _all(predicates: list[Predicate[T]]) -> Predicate[T]:
    if len(predicates) == 2:
        first, second = predicates
        return lambda item: first(item) and second(item)

    def all_hold(item: T) -> bool:
        for predicate in predicates:
            if not predicate(item):
                return False
        return True

    return all_hold


def _any(predicates: list[Predicate[T]]) -> Predicate[T]:
    def any_holds(item: T) -> bool:
        for predicate in predicates:
            if predicate(item):
                return True
        return False

    return any_holds


def _compile(expr: Expr, leaf: Callable[[Comparison], Predicate[T]]) -> Predicate[T]:
    if isinstance(expr, Comparison):
        return leaf(expr)
    parts = [_compile(item, leaf) for item in expr.items]
    return _all(parts) if isinstance(expr, And) else _any(parts)  # else: an Or


def _run_leaf(comparison: Comparison) -> Predicate[Run]:
    if comparison.entity_type == DATASET:
        return _dataset_clause(comparison)
    return _clause(run_getter(comparison.entity_type, comparison.key), comparison)


def _experiment_leaf(comparison: Comparison) -> Predicate[Experiment]:
    return _clause(experiment_getter(comparison.entity_type, comparison.key), comparison)


@lru_cache(maxsize=256)
def compile_run_filter(expr: Expr | None) -> Predicate[Run]:
    """A predicate telling whether a :class:`~tracklet.entities.Run` matches ``expr``."""
    if expr is None:
        return lambda run: True
    return _compile(expr, _run_leaf)


@lru_cache(maxsize=256)
def compile_experiment_filter(expr: Expr | None) -> Predicate[Experiment]:
    """A predicate telling whether an :class:`~tracklet.entities.Experiment` matches ``expr``."""
    if expr is None:
        return lambda experiment: True
    return _compile(expr, _experiment_leaf)
