"""Which objects a copy covers: the two stores, the experiments and the runs, in a stable order.

Everything is read through the public :class:`~tracklet.stores.TrackingStore` calls, so any
store, a third party's or an MLflow server's, can be a source.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import TypeVar

from tracklet.entities import Experiment, PagedList, Run, ViewType
from tracklet.exceptions import (
    INVALID_PARAMETER_VALUE,
    NOT_IMPLEMENTED,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)
from tracklet.stores import TrackingStore

__all__ = ["Plan", "check_destination", "open_store", "plan"]

_T = TypeVar("_T")

#: Objects asked for per page when reading the source.
PAGE = 1000


@dataclasses.dataclass
class Plan:
    """The experiments to copy, and their runs read one experiment at a time (a source with
    a hundred thousand runs is never held in memory at once)."""

    src: TrackingStore
    experiments: list[Experiment]
    run_filter: str

    @property
    def whole_experiments(self) -> bool:
        """True when every run of the chosen experiments is covered (no run filter)."""
        return not self.run_filter

    def pages_of(self, experiment_id: str) -> Iterator[list[Run]]:
        """The chosen runs of one experiment, a page at a time, by start time (then run id,
        as stores break ties)."""
        token: str | None = None
        while True:
            page = self.src.search_runs(
                [experiment_id], self.run_filter, ViewType.ALL, PAGE, ["attributes.start_time ASC"], token
            )
            yield list(page)
            token = page.token
            if not token:
                return


def open_store(uri: str) -> TrackingStore:
    """The tracking store serving ``uri`` (the scheme's plugin builds it)."""
    from tracklet.plugins import get_tracking_store

    return get_tracking_store(uri)


def check_destination(dst: TrackingStore, dst_uri: str) -> None:
    """Refuse a destination that cannot take copies, before anything is read or written."""
    if "import" in frozenset(getattr(dst, "capabilities", ())):
        return
    raise TrackletException(
        f"The destination {dst_uri} ({type(dst).__name__}) cannot take a copy: it does not "
        "declare capability 'import'. Migrate into a store that does: a tracklet database "
        "(sqlite:///tracklet.db, postgresql://...), a folder, or a tracklet server; to fill an "
        "MLflow server, migrate into its database URI instead.",
        NOT_IMPLEMENTED,
    )


def plan(src: TrackingStore, wanted: tuple[str, ...], run_filter: str) -> Plan:
    """The experiments named in ``wanted`` (all when empty, deleted ones included) and their
    runs matching ``run_filter``."""
    return Plan(src, _experiments(src, wanted), run_filter)


def _experiments(src: TrackingStore, wanted: tuple[str, ...]) -> list[Experiment]:
    if not wanted:
        found = _all_pages(lambda token: src.search_experiments(ViewType.ALL, PAGE, None, None, token))
    else:
        by_id = {e.experiment_id: e for e in (_find_experiment(src, w) for w in wanted)}
        found = list(by_id.values())
    return sorted(found, key=lambda e: _id_order(e.experiment_id))


def _find_experiment(src: TrackingStore, id_or_name: str) -> Experiment:
    """``--experiment``: a name first (names are what people type), else an id."""
    by_name = src.get_experiment_by_name(id_or_name)
    if by_name is not None:
        return by_name
    try:
        return src.get_experiment(id_or_name)
    except TrackletException as exc:
        if exc.error_code not in (RESOURCE_DOES_NOT_EXIST, INVALID_PARAMETER_VALUE):
            raise
    raise TrackletException(
        f"No experiment named or numbered {id_or_name!r} in the source. Run `tracklet --tracking-uri "
        "SRC experiments list --view all` to see them.",
        RESOURCE_DOES_NOT_EXIST,
    )


def _id_order(experiment_id: str) -> tuple[int, int, str]:
    return (0, int(experiment_id), "") if experiment_id.isdigit() else (1, 0, experiment_id)


def _all_pages(fetch: Callable[[str | None], PagedList[_T]]) -> list[_T]:
    return [item for page in _pages(fetch) for item in page]


def _pages(fetch: Callable[[str | None], PagedList[_T]]) -> Iterator[PagedList[_T]]:
    token: str | None = None
    while True:
        page = fetch(token)
        yield page
        token = page.token
        if not token:
            return
