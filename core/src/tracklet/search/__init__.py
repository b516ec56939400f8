"""MLflow's search grammar: filter strings, order-by lists and page tokens.

One parser turns a filter such as ``"metrics.loss < 0.5 AND params.model = 'cnn'"``
into a small typed AST (:class:`Comparison`, :class:`And`, :class:`Or`) and an
order-by list such as ``["metrics.loss ASC", "start_time DESC"]`` into
:class:`OrderKey` entries. Stores that filter in memory use
:func:`search_runs_in_memory` / :func:`search_experiments_in_memory`; SQL stores
compile the same AST to SQL. The registry's searches (registered models, model
versions, logged models) use the same grammar: :func:`filter_registered_models`,
:func:`filter_model_versions`, :func:`filter_logged_models` in memory, the
``parse_*_filter`` / ``*_sort_keys`` functions for a compiler. Traces (MLflow 3's
``SearchTraceUtils`` fields) likewise: :func:`parse_trace_filter`,
:func:`parse_trace_order_by`, :func:`filter_traces` / :func:`search_traces_in_memory`
(see :mod:`tracklet.search._traces` for the AST a compiler meets). Beyond MLflow,
filters accept ``OR`` and parentheses (``AND`` binds tighter) and ``IN`` on any string
field. A search's size is bounded
(``MAX_FILTER_*``, ``MAX_ORDER_BY_*``, ``MAX_PAGE_OFFSET``): a bigger one is refused with
``INVALID_PARAMETER_VALUE`` naming the limit. The user reference is ``docs/search.md``.
"""

import importlib
from typing import TYPE_CHECKING, Any

from tracklet.search._ast import (
    ATTRIBUTE,
    DATASET,
    METRIC,
    PARAM,
    TAG,
    And,
    Comparison,
    EntityType,
    Expr,
    LoggedModelOrderKey,
    Op,
    Or,
    OrderKey,
    Value,
    any_comparison,
)
from tracklet.search._paging import (
    MAX_PAGE_OFFSET,
    decode_page_token,
    encode_page_token,
    paginate,
    read_page_token,
)
from tracklet.search._parser import (
    MAX_FILTER_COMPARISONS,
    MAX_FILTER_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_FILTER_VALUES,
    MAX_ORDER_BY_CLAUSE_LENGTH,
    MAX_ORDER_BY_CLAUSES,
    parse_filter,
    parse_order_by,
)

if TYPE_CHECKING:
    from tracklet.search._evaluate import compile_experiment_filter, compile_run_filter, like_regex
    from tracklet.search._memory import (
        filter_experiments,
        filter_runs,
        search_experiments_in_memory,
        search_runs_in_memory,
        sort_experiments,
        sort_runs,
    )
    from tracklet.search._registry import (
        compile_logged_model_filter,
        compile_model_version_filter,
        compile_registered_model_filter,
        encode_logged_models_page_token,
        filter_logged_models,
        filter_model_versions,
        filter_registered_models,
        logged_model_sort_keys,
        model_version_sort_keys,
        parse_logged_model_filter,
        parse_logged_model_order_by,
        parse_model_version_filter,
        parse_model_version_order_by,
        parse_registered_model_filter,
        parse_registered_model_order_by,
        read_offset,
        registered_model_sort_keys,
        sort_logged_models,
        sort_model_versions,
        sort_registered_models,
    )
    from tracklet.search._traces import (
        METADATA,
        TraceSearch,
        compile_trace_filter,
        filter_traces,
        make_trace_search,
        parse_trace_filter,
        parse_trace_order_by,
        search_traces_in_memory,
        sort_traces,
        trace_getter,
    )

#: Public name -> the submodule defining it, imported on first use: a SQL store's run
#: search needs only the AST, the parser and the page tokens, not the in-memory
#: evaluators, the registry's grammar or the traces' (a few ms of every new process).
_LAZY: dict[str, str] = {
    "compile_experiment_filter": "_evaluate",
    "compile_run_filter": "_evaluate",
    "like_regex": "_evaluate",
    "filter_experiments": "_memory",
    "filter_runs": "_memory",
    "search_experiments_in_memory": "_memory",
    "search_runs_in_memory": "_memory",
    "sort_experiments": "_memory",
    "sort_runs": "_memory",
    "compile_logged_model_filter": "_registry",
    "compile_model_version_filter": "_registry",
    "compile_registered_model_filter": "_registry",
    "encode_logged_models_page_token": "_registry",
    "filter_logged_models": "_registry",
    "filter_model_versions": "_registry",
    "filter_registered_models": "_registry",
    "logged_model_sort_keys": "_registry",
    "model_version_sort_keys": "_registry",
    "parse_logged_model_filter": "_registry",
    "parse_logged_model_order_by": "_registry",
    "parse_model_version_filter": "_registry",
    "parse_model_version_order_by": "_registry",
    "parse_registered_model_filter": "_registry",
    "parse_registered_model_order_by": "_registry",
    "read_offset": "_registry",
    "registered_model_sort_keys": "_registry",
    "sort_logged_models": "_registry",
    "sort_model_versions": "_registry",
    "sort_registered_models": "_registry",
    "METADATA": "_traces",
    "TraceSearch": "_traces",
    "compile_trace_filter": "_traces",
    "filter_traces": "_traces",
    "make_trace_search": "_traces",
    "parse_trace_filter": "_traces",
    "parse_trace_order_by": "_traces",
    "search_traces_in_memory": "_traces",
    "sort_traces": "_traces",
    "trace_getter": "_traces",
}

__all__ = [
    "ATTRIBUTE",
    "DATASET",
    "MAX_FILTER_COMPARISONS",
    "MAX_FILTER_DEPTH",
    "MAX_FILTER_LENGTH",
    "MAX_FILTER_VALUES",
    "MAX_ORDER_BY_CLAUSES",
    "MAX_ORDER_BY_CLAUSE_LENGTH",
    "MAX_PAGE_OFFSET",
    "METADATA",
    "METRIC",
    "PARAM",
    "TAG",
    "And",
    "Comparison",
    "EntityType",
    "Expr",
    "LoggedModelOrderKey",
    "Op",
    "Or",
    "OrderKey",
    "TraceSearch",
    "Value",
    "any_comparison",
    "compile_experiment_filter",
    "compile_logged_model_filter",
    "compile_model_version_filter",
    "compile_registered_model_filter",
    "compile_run_filter",
    "compile_trace_filter",
    "decode_page_token",
    "encode_logged_models_page_token",
    "encode_page_token",
    "filter_experiments",
    "filter_logged_models",
    "filter_model_versions",
    "filter_registered_models",
    "filter_runs",
    "filter_traces",
    "like_regex",
    "logged_model_sort_keys",
    "make_trace_search",
    "model_version_sort_keys",
    "paginate",
    "parse_filter",
    "parse_logged_model_filter",
    "parse_logged_model_order_by",
    "parse_model_version_filter",
    "parse_model_version_order_by",
    "parse_order_by",
    "parse_registered_model_filter",
    "parse_registered_model_order_by",
    "parse_trace_filter",
    "parse_trace_order_by",
    "read_offset",
    "read_page_token",
    "registered_model_sort_keys",
    "search_experiments_in_memory",
    "search_runs_in_memory",
    "search_traces_in_memory",
    "sort_experiments",
    "sort_logged_models",
    "sort_model_versions",
    "sort_registered_models",
    "sort_runs",
    "sort_traces",
    "trace_getter",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'tracklet.search' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tracklet.search.{module}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
