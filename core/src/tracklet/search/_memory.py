"""Search for stores that hold their runs and experiments in memory (or read them all).

Each function validates everything first (filter, order-by, max_results, page
token), so a bad request fails before any work and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tracklet.entities import Experiment, PagedList, Run
from tracklet.search._evaluate import compile_experiment_filter, compile_run_filter
from tracklet.search._paging import decode_page_token, paginate
from tracklet.search._parser import parse_filter, parse_order_by
from tracklet.search._sort import sort_experiments_by, sort_runs_by
from tracklet.validation import SEARCH_MAX_RESULTS_DEFAULT, validate_max_results


def filter_runs(runs: Iterable[Run], filter_string: str | None) -> list[Run]:
    """The runs matching ``filter_string`` (all of them for None or ``""``), in input order."""
    predicate = compile_run_filter(parse_filter(filter_string, "run"))
    return [run for run in runs if predicate(run)]


def sort_runs(runs: Iterable[Run], order_by: Sequence[str] | None) -> list[Run]:
    """Runs ordered by ``order_by`` after the default (start_time DESC, then run_id)."""
    return sort_runs_by(runs, parse_order_by(order_by, "run"))


def filter_experiments(experiments: Iterable[Experiment], filter_string: str | None) -> list[Experiment]:
    """The experiments matching ``filter_string``, in input order."""
    predicate = compile_experiment_filter(parse_filter(filter_string, "experiment"))
    return [experiment for experiment in experiments if predicate(experiment)]


def sort_experiments(experiments: Iterable[Experiment], order_by: Sequence[str] | None) -> list[Experiment]:
    """Experiments ordered by ``order_by`` (default creation_time DESC, experiment_id ASC)."""
    return sort_experiments_by(experiments, parse_order_by(order_by, "experiment"))


def _page_size(max_results: int | None) -> int:
    validate_max_results(max_results)
    return SEARCH_MAX_RESULTS_DEFAULT if max_results is None else max_results


def search_runs_in_memory(
    runs: Iterable[Run],
    filter_string: str | None,
    order_by: Sequence[str] | None,
    max_results: int,
    page_token: str | None,
) -> PagedList[Run]:
    """One page of ``runs`` filtered, ordered and paged as ``search_runs`` does.

    ``runs`` are the candidates (the store has already applied experiment ids and
    view type). The returned list's ``token`` fetches the next page; None on the last.
    """
    size = _page_size(max_results)
    predicate = compile_run_filter(parse_filter(filter_string, "run"))
    order_keys = parse_order_by(order_by, "run")
    decode_page_token(page_token)  # a bad token fails before any work
    return paginate(sort_runs_by(filter(predicate, runs), order_keys), page_token, size)


def search_experiments_in_memory(
    experiments: Iterable[Experiment],
    filter_string: str | None,
    order_by: Sequence[str] | None,
    max_results: int,
    page_token: str | None,
) -> PagedList[Experiment]:
    """One page of ``experiments`` filtered, ordered and paged as ``search_experiments`` does."""
    size = _page_size(max_results)
    predicate = compile_experiment_filter(parse_filter(filter_string, "experiment"))
    order_keys = parse_order_by(order_by, "experiment")
    decode_page_token(page_token)
    return paginate(sort_experiments_by(filter(predicate, experiments), order_keys), page_token, size)
