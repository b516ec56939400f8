"""MLflow's search grammar: filter strings, order-by lists and page tokens.

One parser turns a filter such as ``"metrics.loss < 0.5 AND params.model = 'cnn'"``
into a small typed AST (:class:`Comparison`, :class:`And`, :class:`Or`) and an
order-by list such as ``["metrics.loss ASC", "start_time DESC"]`` into
:class:`OrderKey` entries. Stores that filter in memory use
:func:`search_runs_in_memory` / :func:`search_experiments_in_memory`; SQL stores
compile the same AST to SQL. Beyond MLflow, filters accept ``OR`` and parentheses
(``AND`` binds tighter) and ``IN`` on any string field. The user reference is
``docs/search.md``.
"""

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
    Op,
    Or,
    OrderKey,
    Value,
)
from tracklet.search._evaluate import compile_experiment_filter, compile_run_filter, like_regex
from tracklet.search._memory import (
    filter_experiments,
    filter_runs,
    search_experiments_in_memory,
    search_runs_in_memory,
    sort_experiments,
    sort_runs,
)
from tracklet.search._paging import decode_page_token, encode_page_token, paginate
from tracklet.search._parser import parse_filter, parse_order_by

__all__ = [
    "ATTRIBUTE",
    "DATASET",
    "METRIC",
    "PARAM",
    "TAG",
    "And",
    "Comparison",
    "EntityType",
    "Expr",
    "Op",
    "Or",
    "OrderKey",
    "Value",
    "compile_experiment_filter",
    "compile_run_filter",
    "decode_page_token",
    "encode_page_token",
    "filter_experiments",
    "filter_runs",
    "like_regex",
    "paginate",
    "parse_filter",
    "parse_order_by",
    "search_experiments_in_memory",
    "search_runs_in_memory",
    "sort_experiments",
    "sort_runs",
]
