"""Writing queued records to a store: coalesced into ``log_batch`` calls, exactly once.

The worker of :class:`~tracklet.async_logging.logger.AsyncLogger` and the replay of a
spool (:func:`~tracklet.async_logging.replay.sync_spool`) both hand a list of records to
:func:`apply_records`. It

* groups them per run into ``log_batch`` calls within the store contract's limits (1,000
  metrics, 100 params and tags, 1,000 entities per call), keeping each run's order: a tag
  set twice keeps its last value, a param logged twice with one value is sent once;
* creates runs that were started offline (``"c"`` records) and rewrites their local ids
  to the store's, and ends runs (``"e"``) after everything logged to them before;
* finds the records a store refuses by splitting the failed call, so one bad record
  fails alone and the rest are stored;
* stops at the first sign that the store cannot be reached (:func:`is_unavailable`),
  raising that error: the caller retries the same records later with ``uncertain=True``;
* with ``uncertain=True`` (a retry, or a spool's records whose outcome a crash left
  unknown) first reads what the store already holds and drops metric values it has, so
  nothing is stored twice. Params and tags need no such care: writing the same value
  again changes nothing.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from tracklet.async_logging.records import CREATE_RUN, END_RUN, METRIC, PARAM, TAG, Record
from tracklet.entities import Metric, Param, RunTag
from tracklet.exceptions import (
    REQUEST_LIMIT_EXCEEDED,
    TEMPORARILY_UNAVAILABLE,
    TrackletException,
)
from tracklet.validation import MAX_METRICS_PER_BATCH, MAX_PARAMS_TAGS_PER_BATCH

if TYPE_CHECKING:
    from tracklet.stores import TrackingStore

__all__ = ["LOCAL_RUN_ID_TAG", "apply_records", "is_unavailable"]

_logger = logging.getLogger("tracklet.async_logging")

#: Tag set on a run created from a run started offline: its local id, so a replay that
#: lost the mapping finds the run instead of creating it twice.
LOCAL_RUN_ID_TAG = "tracklet.spool.localRunId"

_RUN_KINDS = frozenset({METRIC, PARAM, TAG, END_RUN})
_RETRYABLE_CODES = frozenset({TEMPORARILY_UNAVAILABLE, REQUEST_LIMIT_EXCEEDED})


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means "the store cannot be reached now" (try again later) rather
    than "the store refused this": a ``TEMPORARILY_UNAVAILABLE`` or
    ``REQUEST_LIMIT_EXCEEDED`` error (tracklet-http raises the first when the server is
    down once its own retries are spent), or an ``OSError`` (a connection, a disk)."""
    if isinstance(exc, TrackletException):
        return exc.error_code in _RETRYABLE_CODES
    return isinstance(exc, OSError)


class _RunBatch:
    """What is pending for one run, with the indices of the records behind each item."""

    __slots__ = ("metrics", "metric_idx", "params", "param_idx", "small", "tags", "tag_idx")

    def __init__(self) -> None:
        self.metrics: list[Metric] = []
        self.metric_idx: list[int] = []
        self.params: dict[str, str] = {}
        self.param_idx: dict[str, list[int]] = {}
        self.tags: dict[str, str] = {}
        self.tag_idx: dict[str, list[int]] = {}
        self.small = 0  # params + tags

    def __bool__(self) -> bool:
        return bool(self.metrics or self.params or self.tags)

    def full(self) -> bool:
        return (
            self.small >= MAX_PARAMS_TAGS_PER_BATCH or len(self.metrics) + self.small >= MAX_METRICS_PER_BATCH
        )


def _batch_writer(store: TrackingStore, trusted: bool) -> Callable[..., None]:
    """``store.log_batch``; for records checked already (``trusted``), the contract's
    primitive ``_log_batch`` behind it, which skips checking them a second time. A store
    that overrides ``log_batch`` itself keeps its own."""
    from tracklet.stores import TrackingStore

    public = store.log_batch
    if trusted and isinstance(store, TrackingStore) and type(store).log_batch is TrackingStore.log_batch:
        return store._log_batch
    return public


def _point(m: Metric) -> tuple[str, int, int, Any]:
    value: Any = m.value
    if isinstance(value, float) and math.isnan(value):
        value = "nan"
    return (m.key, int(m.timestamp), int(m.step), value)


class _Applier:
    def __init__(
        self,
        store: TrackingStore,
        uncertain: bool,
        run_map: dict[str, str],
        on_run_created: Callable[[str, str], None] | None,
        trusted: bool = False,
    ) -> None:
        self.store = store
        self.log_batch = _batch_writer(store, trusted)
        self.uncertain = uncertain
        self.run_map = run_map
        self.on_run_created = on_run_created
        self.errors: dict[int, BaseException] = {}
        self.stored: dict[tuple[str, str], Counter[tuple[str, int, int, Any]]] = {}
        self.duplicates = 0

    # -- sending --------------------------------------------------------------------------

    def send(self, run_id: str, batch: _RunBatch) -> None:
        metrics, metric_idx = batch.metrics, batch.metric_idx
        if self.uncertain and metrics:
            metrics, metric_idx = self._unseen(run_id, metrics, metric_idx)
        params = [Param(k, v) for k, v in batch.params.items()]
        tags = [RunTag(k, v) for k, v in batch.tags.items()]
        if not (metrics or params or tags):
            return
        try:
            self.log_batch(run_id, metrics, params, tags)
        except Exception as exc:
            if is_unavailable(exc):
                raise
            self._split(run_id, exc, metrics, metric_idx, batch)

    def _split(
        self, run_id: str, exc: Exception, metrics: list[Metric], metric_idx: list[int], batch: _RunBatch
    ) -> None:
        """Send each item alone to find the ones the store refuses (``exc`` is the whole
        batch's error; with a single item it is that item's)."""
        singles: list[tuple[list[int], list[Metric], list[Param], list[RunTag]]] = []
        singles += [([i], [m], [], []) for m, i in zip(metrics, metric_idx, strict=True)]
        singles += [(batch.param_idx[k], [], [Param(k, v)], []) for k, v in batch.params.items()]
        singles += [(batch.tag_idx[k], [], [], [RunTag(k, v)]) for k, v in batch.tags.items()]
        if len(singles) == 1:
            for i in singles[0][0]:
                self.errors[i] = exc
            return
        for indices, ms, ps, ts in singles:
            try:
                self.store.log_batch(run_id, ms, ps, ts)
            except Exception as single_exc:
                if is_unavailable(single_exc):
                    raise
                for i in indices:
                    self.errors[i] = single_exc

    def _unseen(
        self, run_id: str, metrics: list[Metric], metric_idx: list[int]
    ) -> tuple[list[Metric], list[int]]:
        """The metric values the store does not hold yet (a multiset difference)."""
        kept: list[Metric] = []
        kept_idx: list[int] = []
        for m, i in zip(metrics, metric_idx, strict=True):
            counter = self._stored_points(run_id, m.key)
            point = _point(m)
            if counter[point] > 0:
                counter[point] -= 1
                self.duplicates += 1
            else:
                kept.append(m)
                kept_idx.append(i)
        return kept, kept_idx

    def _stored_points(self, run_id: str, key: str) -> Counter[tuple[str, int, int, Any]]:
        found = self.stored.get((run_id, key))
        if found is None:
            points: list[Metric] = []
            token = None
            while True:
                page = self.store.get_metric_history(run_id, key, None, token)
                points.extend(page)
                token = getattr(page, "token", None)
                if not token:
                    break
            found = self.stored[(run_id, key)] = Counter(_point(m) for m in points)
        return found

    # -- runs started offline ---------------------------------------------------------------

    def create_run(self, record: Record) -> None:
        _, local_id, experiment_id, start_time, run_name, tags = record
        if local_id in self.run_map:
            return
        found = self._find_created(experiment_id, local_id) if self.uncertain else None
        if found is None:
            tags = {**(tags or {}), LOCAL_RUN_ID_TAG: local_id}
            run = self.store.create_run(
                experiment_id=str(experiment_id),
                user_id=str(tags.get("mlflow.user") or "unknown"),
                start_time=int(start_time),
                tags=[RunTag(k, str(v)) for k, v in tags.items()],
                run_name=run_name,
            )
            found = run.info.run_id
        self.run_map[local_id] = found
        if self.on_run_created is not None:
            self.on_run_created(local_id, found)

    def _find_created(self, experiment_id: str, local_id: str) -> str | None:
        runs = self.store.search_runs(
            [str(experiment_id)], f"tags.`{LOCAL_RUN_ID_TAG}` = '{local_id}'", 3, 10, None, None
        )
        return runs[0].info.run_id if runs else None


def apply_records(
    store: TrackingStore,
    records: Sequence[Record],
    *,
    uncertain: bool = False,
    run_map: dict[str, str] | None = None,
    on_run_created: Callable[[str, str], None] | None = None,
    trusted: bool = False,
) -> tuple[dict[int, BaseException], int]:
    """Write ``records`` to ``store``; return ``(errors, duplicates)``: the store's error
    for each refused record (by index into ``records``) and how many metric values were
    skipped because the store already held them.

    :param uncertain: some of these records may already be stored (a retry, a replay):
        compare metric values with the store's histories first.
    :param run_map: local run id → store run id of runs started offline; updated as
        ``"c"`` records create runs (``on_run_created(local, store)`` is told too).
    :param trusted: the records were checked when they were accepted (by this process,
        or the one whose spool segment a drain reads): skip the store's second check.
    :raises Exception: the store's error when it cannot be reached
        (:func:`is_unavailable`); records before it may have been written, so retry all
        of them with ``uncertain=True``.
    """
    applier = _Applier(store, uncertain, run_map if run_map is not None else {}, on_run_created, trusted)
    pending: dict[str, _RunBatch] = {}
    mapped = applier.run_map

    def flush(run_id: str) -> None:
        batch = pending.pop(run_id, None)
        if batch:
            applier.send(run_id, batch)

    for index, record in enumerate(records):
        kind = record[0]
        if kind == CREATE_RUN:
            try:
                applier.create_run(record)
            except Exception as exc:
                if is_unavailable(exc):
                    raise
                applier.errors[index] = exc
            continue
        if kind not in _RUN_KINDS:
            applier.errors[index] = TrackletException(f"Unreadable queued record {record!r:.80}.")
            continue
        run_id: str = str(mapped.get(record[1], record[1]) if mapped else record[1])
        if kind == END_RUN:
            flush(run_id)
            try:
                store.update_run_info(run_id, record[2], int(record[3]), None)
            except Exception as exc:
                if is_unavailable(exc):
                    raise
                applier.errors[index] = exc
            continue
        batch = pending.get(run_id)
        if batch is None:
            batch = pending[run_id] = _RunBatch()
        if kind == METRIC:
            metrics = batch.metrics
            metrics.append(Metric(record[2], record[3], record[4], record[5]))
            batch.metric_idx.append(index)
            if len(metrics) + batch.small >= MAX_METRICS_PER_BATCH:
                flush(run_id)
            continue
        if kind == PARAM:
            key, value = record[2], str(record[3])
            if key in batch.params and batch.params[key] != value:
                flush(run_id)  # the store judges the second value on its own
                batch = pending[run_id] = _RunBatch()
            batch.params[key] = value
            batch.param_idx.setdefault(key, []).append(index)
            batch.small = len(batch.params) + len(batch.tags)
        else:
            batch.tags[record[2]] = "" if record[3] is None else str(record[3])
            batch.tag_idx.setdefault(record[2], []).append(index)
            batch.small = len(batch.params) + len(batch.tags)
        if batch.full():
            flush(run_id)
    for run_id in list(pending):
        flush(run_id)
    return applier.errors, applier.duplicates
