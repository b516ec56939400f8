"""Registry searches: registered models, model versions and logged models.

The same grammar as run search (with tracklet's ``OR`` and parentheses) over MLflow's
registry fields, MLflow's orderings and tie-breakers, and MLflow's page tokens. Stores
that hold their models in memory (or read them all, as a file store does) call
:func:`filter_registered_models`, :func:`filter_model_versions` and
:func:`filter_logged_models`; a SQL store compiles the parsed AST
(:func:`parse_registered_model_filter`…) and the complete order
(:func:`registered_model_sort_keys`…) instead.

Orders (the first keys are the caller's, the rest MLflow's tie-breakers, added unless
the caller named that field):

* registered models: ``name ASC``;
* model versions: ``name ASC, version_number DESC``; without an order-by,
  ``last_updated_timestamp DESC, name ASC, version_number DESC`` (MLflow's file and SQL
  stores' default);
* logged models: ``creation_timestamp DESC, model_id ASC``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from tracklet.entities import LoggedModel, PagedList
from tracklet.entities.model_registry import ModelVersion, RegisteredModel
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.search._ast import (
    ATTRIBUTE,
    METRIC,
    PARAM,
    TAG,
    Comparison,
    Expr,
    LoggedModelOrderKey,
    OrderKey,
    any_comparison,
)
from tracklet.search._evaluate import _clause, _compile
from tracklet.search._paging import encode_page_token, paginate, read_page_token
from tracklet.search._parser import parse_filter, parse_order_by
from tracklet.search._sort import _sort_by

__all__ = [
    "compile_logged_model_filter",
    "encode_logged_models_page_token",
    "compile_model_version_filter",
    "compile_registered_model_filter",
    "filter_logged_models",
    "filter_model_versions",
    "filter_registered_models",
    "logged_model_sort_keys",
    "model_version_sort_keys",
    "parse_logged_model_filter",
    "parse_logged_model_order_by",
    "parse_model_version_filter",
    "parse_model_version_order_by",
    "parse_registered_model_filter",
    "parse_registered_model_order_by",
    "read_offset",
    "registered_model_sort_keys",
    "sort_logged_models",
    "sort_model_versions",
    "sort_registered_models",
]

T = TypeVar("T")
Predicate = Callable[[T], bool]

_IS_PROMPT = "mlflow.prompt.is_prompt"
_DELETED_INTERNAL = "Deleted_Internal"
_LOGGED_MODEL_ORDER_ATTRIBUTES = frozenset(
    {
        "name",
        "model_id",
        "model_type",
        "status",
        "source_run_id",
        "creation_timestamp",
        "creation_time",
        "last_updated_timestamp",
        "last_updated_time",
    }
)
_LOGGED_MODEL_ATTRIBUTE_ALIASES = {
    "creation_time": "creation_timestamp",
    "last_updated_time": "last_updated_timestamp",
}


def _bad(message: str) -> TrackletException:
    return TrackletException(message, INVALID_PARAMETER_VALUE)


# == parsing ====================================================================================


def parse_registered_model_filter(filter_string: str | None) -> Expr | None:
    """A registered-model filter (``name``, ``name LIKE '...'``, ``tags.<key>``) as an AST."""
    return parse_filter(filter_string, "registered_model")


def parse_model_version_filter(filter_string: str | None) -> Expr | None:
    """A model-version filter (``name``, ``version_number``, ``run_id [NOT] IN (...)``,
    ``source_path``, ``tags.<key>``) as an AST."""
    return parse_filter(filter_string, "model_version")


def parse_logged_model_filter(filter_string: str | None) -> Expr | None:
    """A logged-model filter (attributes, ``tags.``, ``params.``, ``metrics.``) as an AST."""
    return parse_filter(filter_string, "logged_model")


def _no_duplicates(keys: list[OrderKey], order_by: Sequence[str] | None) -> list[OrderKey]:
    seen: set[str] = set()
    for key in keys:
        if key.key in seen:
            raise _bad(f"`order_by` contains duplicate fields: {list(order_by or [])}")
        seen.add(key.key)
    return keys


def parse_registered_model_order_by(order_by: Sequence[str] | None) -> list[OrderKey]:
    """Order-by clauses over ``name``, ``creation_timestamp``, ``last_updated_timestamp``
    (each at most once), without the tie-breaker."""
    return _no_duplicates(parse_order_by(order_by, "registered_model"), order_by)


def parse_model_version_order_by(order_by: Sequence[str] | None) -> list[OrderKey]:
    """Order-by clauses over ``name``, ``version_number``, ``creation_timestamp``,
    ``last_updated_timestamp`` (each at most once), without the tie-breakers."""
    return _no_duplicates(parse_order_by(order_by, "model_version"), order_by)


def parse_logged_model_order_by(order_by: Sequence[dict[str, Any]] | None) -> list[LoggedModelOrderKey]:
    """MLflow's logged-model ``order_by`` dicts (``field_name``, ``ascending``,
    ``dataset_name``, ``dataset_digest``) as keys, with MLflow's refusals."""
    keys = []
    for entry in order_by or []:
        if not isinstance(entry, dict):
            raise _bad("`order_by` must be a list of dictionaries.")
        field_name = entry.get("field_name")
        if field_name is None:
            raise _bad("`field_name` in the `order_by` clause must be specified.")
        if not isinstance(field_name, str):
            raise _bad(f"Invalid order by field name: {field_name}.")
        if "." in field_name:
            entity, key = field_name.split(".", 1)
            if entity != "metrics":
                raise _bad(f"Invalid order by field name: {entity}, only `metrics.<name>` is allowed.")
            entity_type = METRIC
        else:
            key = field_name.strip()
            if key not in _LOGGED_MODEL_ORDER_ATTRIBUTES:
                raise _bad(f"Invalid order by field name: {key}.")
            key = _LOGGED_MODEL_ATTRIBUTE_ALIASES.get(key, key)
            entity_type = ATTRIBUTE
        ascending = entry.get("ascending", True)
        if ascending not in (True, False):
            raise _bad(
                "Value of `ascending` in the `order_by` clause must be a boolean, got "
                f"{type(ascending)} for field {field_name}."
            )
        dataset_name = entry.get("dataset_name")
        dataset_digest = entry.get("dataset_digest")
        if dataset_digest and not dataset_name:
            raise _bad("`dataset_digest` can only be specified if `dataset_name` is also specified.")
        keys.append(LoggedModelOrderKey(entity_type, key, bool(ascending), dataset_name, dataset_digest))
    return keys


def registered_model_sort_keys(order_by: Sequence[str] | None) -> list[OrderKey]:
    """The complete order of a registered-model search: the caller's keys, then ``name ASC``."""
    keys = parse_registered_model_order_by(order_by)
    if not any(k.key == "name" for k in keys):
        keys.append(OrderKey(ATTRIBUTE, "name", True))
    return keys


def model_version_sort_keys(order_by: Sequence[str] | None) -> list[OrderKey]:
    """The complete order of a model-version search: the caller's keys (by default
    ``last_updated_timestamp DESC``), then ``name ASC`` and ``version_number DESC``."""
    keys = parse_model_version_order_by(order_by)
    if not keys:
        keys = [OrderKey(ATTRIBUTE, "last_updated_timestamp", False)]
    if not any(k.key == "name" for k in keys):
        keys.append(OrderKey(ATTRIBUTE, "name", True))
    if not any(k.key == "version_number" for k in keys):
        keys.append(OrderKey(ATTRIBUTE, "version_number", False))
    return keys


def logged_model_sort_keys(order_by: Sequence[dict[str, Any]] | None) -> list[LoggedModelOrderKey]:
    """The complete order of a logged-model search: the caller's keys, then
    ``creation_timestamp DESC`` and ``model_id ASC``."""
    keys = parse_logged_model_order_by(order_by)
    attributes = {k.key for k in keys if k.entity_type == ATTRIBUTE}
    if "creation_timestamp" not in attributes:
        keys.append(LoggedModelOrderKey(ATTRIBUTE, "creation_timestamp", False))
    if "model_id" not in attributes:
        keys.append(LoggedModelOrderKey(ATTRIBUTE, "model_id", True))
    return keys


# == evaluation =================================================================================


def _registered_model_getter(entity_type: str, key: str) -> Callable[[RegisteredModel], Any]:
    if entity_type == TAG:  # every tag, the prompt marker included (as MLflow)
        return lambda model: model._tags.get(key)
    return operator.attrgetter(key)


def _model_version_getter(entity_type: str, key: str) -> Callable[[ModelVersion], Any]:
    if entity_type == TAG:
        return lambda version: version.tags.get(key)
    if key == "version_number":
        return lambda version: int(version.version)
    if key == "source_path":
        return operator.attrgetter("source")
    return operator.attrgetter(key)


def _registered_model_leaf(comparison: Comparison) -> Predicate[RegisteredModel]:
    return _clause(_registered_model_getter(comparison.entity_type, comparison.key), comparison)


def _model_version_leaf(comparison: Comparison) -> Predicate[ModelVersion]:
    return _clause(_model_version_getter(comparison.entity_type, comparison.key), comparison)


def compile_registered_model_filter(expr: Expr | None) -> Predicate[RegisteredModel]:
    """A predicate telling whether a :class:`RegisteredModel` matches ``expr``."""
    if expr is None:
        return lambda model: True
    return _compile(expr, _registered_model_leaf)


def compile_model_version_filter(expr: Expr | None) -> Predicate[ModelVersion]:
    """A predicate telling whether a :class:`ModelVersion` matches ``expr``."""
    if expr is None:
        return lambda version: True
    return _compile(expr, _model_version_leaf)


def _on_datasets(metric: Any, datasets: Sequence[dict[str, Any]]) -> bool:
    return any(
        metric.dataset_name == d.get("dataset_name")
        and (d.get("dataset_digest") is None or d.get("dataset_digest") == metric.dataset_digest)
        for d in datasets
    )


def _logged_model_getter(
    entity_type: str, key: str, datasets: Sequence[dict[str, Any]]
) -> Callable[[LoggedModel], Any]:
    if entity_type == TAG:
        return lambda model: model.tags.get(key)
    if entity_type == PARAM:
        return lambda model: model.params.get(key)
    if entity_type == METRIC:

        def metric_value(model: LoggedModel) -> Any:
            for metric in model.metrics or []:
                if metric.key == key and (not datasets or _on_datasets(metric, datasets)):
                    return metric.value
            return None

        return metric_value
    if key == "status":
        return lambda model: str(model.status)
    return operator.attrgetter(key)


def compile_logged_model_filter(
    expr: Expr | None, datasets: Sequence[dict[str, Any]] | None = None
) -> Predicate[LoggedModel]:
    """A predicate telling whether a :class:`LoggedModel` matches ``expr``.

    Metric clauses read the first value of the metric (on one of ``datasets`` when
    given); with ``datasets`` and no metric clause, a model matches only if it has a
    metric on one of them (MLflow's rule).
    """
    sets = list(datasets or [])

    def leaf(comparison: Comparison) -> Predicate[LoggedModel]:
        return _clause(_logged_model_getter(comparison.entity_type, comparison.key, sets), comparison)

    matches: Predicate[LoggedModel] = (lambda model: True) if expr is None else _compile(expr, leaf)
    if sets and not any_comparison(expr, lambda c: c.entity_type == METRIC):
        inner = matches

        def with_dataset_metrics(model: LoggedModel) -> bool:
            return any(_on_datasets(m, sets) for m in model.metrics or []) and inner(model)

        return with_dataset_metrics
    return matches


# == sorting and paging =========================================================================


def _page_size(max_results: int | None, default: int, limit: int) -> int:
    size = default if max_results is None else max_results
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise _bad(f"Invalid value for max_results. It must be a positive integer, but got {size}")
    if size > limit:
        raise _bad(
            "Invalid value for request parameter max_results. It must be at most "
            f"{limit}, but got value {size}"
        )
    return size


def _is_prompt(tags: dict[str, str]) -> bool:
    return str(tags.get(_IS_PROMPT, "false")).lower() == "true"


def sort_registered_models(
    models: Iterable[RegisteredModel], order_by: Sequence[str] | None
) -> list[RegisteredModel]:
    """Registered models in the search order (see the module docstring)."""
    keys = registered_model_sort_keys(order_by)
    return _sort_by(
        list(models), [(_registered_model_getter(k.entity_type, k.key), k.ascending) for k in keys]
    )


def sort_model_versions(
    versions: Iterable[ModelVersion], order_by: Sequence[str] | None
) -> list[ModelVersion]:
    """Model versions in the search order (see the module docstring)."""
    keys = model_version_sort_keys(order_by)
    return _sort_by(
        list(versions), [(_model_version_getter(k.entity_type, k.key), k.ascending) for k in keys]
    )


def _logged_model_order_getter(key: LoggedModelOrderKey) -> Callable[[LoggedModel], Any]:
    if key.entity_type != METRIC:
        return _logged_model_getter(key.entity_type, key.key, ())

    def latest(model: LoggedModel) -> Any:
        found = [
            m
            for m in model.metrics or []
            if m.key == key.key
            and (not key.dataset_name or m.dataset_name == key.dataset_name)
            and (not key.dataset_digest or m.dataset_digest == key.dataset_digest)
        ]
        return max(found, key=lambda m: m.timestamp).value if found else None

    return latest


def sort_logged_models(
    models: Iterable[LoggedModel], order_by: Sequence[dict[str, Any]] | None
) -> list[LoggedModel]:
    """Logged models in the search order (see the module docstring)."""
    keys = logged_model_sort_keys(order_by)
    return _sort_by(list(models), [(_logged_model_order_getter(k), k.ascending) for k in keys])


def filter_registered_models(
    models: Iterable[RegisteredModel],
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int | None = None,
    page_token: str | None = None,
) -> PagedList[RegisteredModel]:
    """One page of ``models`` filtered, ordered and paged as ``search_registered_models``
    does (prompts, which MLflow keeps as registered models, are left out).

    Everything is checked before any work: a bad request fails and changes nothing.
    """
    size = _page_size(max_results, 100, 1000)
    predicate = compile_registered_model_filter(parse_registered_model_filter(filter_string))
    keys = registered_model_sort_keys(order_by)
    read_offset(page_token)
    kept = [m for m in models if not _is_prompt(m._tags) and predicate(m)]
    getters = [(_registered_model_getter(k.entity_type, k.key), k.ascending) for k in keys]
    return paginate(_sort_by(kept, getters), page_token, size)


def filter_model_versions(
    versions: Iterable[ModelVersion],
    filter_string: str | None = None,
    order_by: Sequence[str] | None = None,
    max_results: int | None = None,
    page_token: str | None = None,
) -> PagedList[ModelVersion]:
    """One page of ``versions`` filtered, ordered and paged as ``search_model_versions``
    does (deleted versions — stage ``Deleted_Internal`` in MLflow's file store — and
    prompt versions are left out)."""
    size = _page_size(max_results, 10_000, 200_000)
    predicate = compile_model_version_filter(parse_model_version_filter(filter_string))
    keys = model_version_sort_keys(order_by)
    read_offset(page_token)
    kept = [
        v
        for v in versions
        if v.current_stage != _DELETED_INTERNAL and not _is_prompt(v.tags) and predicate(v)
    ]
    getters = [(_model_version_getter(k.entity_type, k.key), k.ascending) for k in keys]
    return paginate(_sort_by(kept, getters), page_token, size)


def filter_logged_models(
    models: Iterable[LoggedModel],
    filter_string: str | None = None,
    datasets: Sequence[dict[str, Any]] | None = None,
    order_by: Sequence[dict[str, Any]] | None = None,
    max_results: int | None = None,
    page_token: str | None = None,
    experiment_ids: Sequence[str] | None = None,
) -> PagedList[LoggedModel]:
    """One page of ``models`` (the store has already kept the experiments' live models)
    filtered, ordered and paged as ``search_logged_models`` does.

    Page tokens are MLflow's for logged models: base64 JSON with ``experiment_ids``,
    ``filter_string``, ``order_by`` and ``offset``; a token from another search is
    refused with MLflow's words.
    """
    size = _page_size(max_results, 100, 2**62)
    expr = parse_logged_model_filter(filter_string)
    orders = [dict(o) for o in order_by or []]
    keys = logged_model_sort_keys(orders)
    ids = [str(e) for e in experiment_ids or []]
    start = 0
    if page_token:
        start, body = read_page_token(page_token)
        _check_logged_model_token(body, ids, filter_string or None, orders or None)
    predicate = compile_logged_model_filter(expr, datasets)
    kept = _sort_by(
        [m for m in models if predicate(m)], [(_logged_model_order_getter(k), k.ascending) for k in keys]
    )
    end = start + size
    token = None
    if end < len(kept):
        token = encode_logged_models_page_token(end, ids, filter_string or None, orders or None)
    return PagedList(kept[start:end], token)


def read_offset(page_token: str | None) -> int:
    """The offset of an MLflow page token (0 for None or ``""``); refuses a bad token."""
    if not page_token:
        return 0
    return read_page_token(page_token)[0]


def encode_logged_models_page_token(
    offset: int,
    experiment_ids: Sequence[str],
    filter_string: str | None,
    order_by: Sequence[dict[str, Any]] | None,
) -> str:
    """MLflow's logged-model page token (``SearchLoggedModelsPaginationToken``)."""
    import base64
    import json

    encode_page_token(offset)  # checks the offset
    body = {
        "experiment_ids": list(experiment_ids),
        "filter_string": filter_string,
        "order_by": list(order_by) if order_by else None,
        "offset": offset,
    }
    return base64.b64encode(json.dumps(body).encode("utf-8")).decode("utf-8")


def _check_logged_model_token(
    body: dict[str, Any],
    experiment_ids: list[str],
    filter_string: str | None,
    order_by: list[dict[str, Any]] | None,
) -> None:
    if "experiment_ids" in body and body["experiment_ids"] != experiment_ids:
        raise _bad(
            "Experiment IDs in the page token do not match the requested experiment IDs. "
            f"Expected: {experiment_ids}. Found: {body['experiment_ids']}"
        )
    if "filter_string" in body and (body["filter_string"] or None) != filter_string:
        raise _bad(
            "Filter string in the page token does not match the requested filter string. "
            f"Expected: {filter_string}. Found: {body['filter_string']}"
        )
    if "order_by" in body and (body["order_by"] or None) != order_by:
        raise _bad(
            "Order by in the page token does not match the requested order by. "
            f"Expected: {order_by}. Found: {body['order_by']}"
        )
