"""Down-sampling for ``metrics/get-history-bulk-interval`` (the UI's charts), as MLflow
3.17's server does it. MLflow samples two ways, by backend, and so does tracklet:

* a database (:func:`sample_bulk_interval`): each run on its own, by rows in (step,
  timestamp, value) order: the first row of each of ``max_results`` groups SQL's
  ``NTILE`` makes, and the run's last row always (in place of the last group's first
  when the sample is full). Ten steps with ``max_results=5`` give steps 0, 2, 4, 6, 9;
* a folder (:func:`sample_by_steps`, MLflow's ``FileStore``): steps chosen once over all
  runs (``max_results`` of them at equal intervals, plus the last and every run's first
  and last step), then each run's points at those steps. Ten steps give 0, 2, 4, 6, 8, 9.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from tracklet.entities import Metric

__all__ = ["sample_bulk_interval", "sample_by_steps", "sample_run_history"]


def _ntile_firsts(count: int, buckets: int) -> list[int]:
    """The first index of each of the ``buckets`` groups SQL's ``NTILE(buckets)`` makes of
    ``count`` ordered rows (the first ``count % buckets`` groups one row larger)."""
    if count <= buckets:
        return list(range(count))
    size, larger = divmod(count, buckets)
    firsts, at = [], 0
    for group in range(buckets):
        firsts.append(at)
        at += size + (1 if group < larger else 0)
    return firsts


def _evenly_spaced(total: int, limit: int) -> list[int]:
    """At most ``limit`` indices into ``range(total)`` at equal intervals, first and last
    kept (MLflow's ``_evenly_spaced_indices``, rounding included)."""
    if total <= limit:
        return list(range(total))
    if limit == 1:
        return [total - 1]
    step = (total - 1) / (limit - 1)
    return sorted({round(i * step) for i in range(limit)})


def _order(points: Sequence[Metric]) -> list[Metric]:
    return sorted(points, key=lambda m: (m.step, m.timestamp, m.value))


def sample_run_history(points: Sequence[Metric], max_results: int) -> list[Metric]:
    """One run's points, sampled as MLflow's SQL store does (see the module's text)."""
    ordered = _order(points)
    if not ordered:
        return []
    picked = [ordered[i] for i in _ntile_firsts(len(ordered), max_results)]
    if picked[-1] is not ordered[-1]:
        if len(picked) >= max_results:
            picked[-1] = ordered[-1]
        else:
            picked.append(ordered[-1])
    return picked


def _by_run(points: Sequence[Metric], run_ids: Sequence[str]) -> dict[str, list[Metric]]:
    by_run: dict[str, list[Metric]] = {run_id: [] for run_id in run_ids}
    for m in points:
        bucket = by_run.get(m.run_id or "")
        if bucket is not None:
            bucket.append(m)
    return by_run


def sample_bulk_interval(
    points: Sequence[Metric],
    run_ids: Sequence[str],
    start_step: int | None,
    end_step: int | None,
    max_results: int,
) -> list[Metric]:
    """Points outside ``[start_step, end_step]`` dropped, then each run sampled on its own
    (:func:`sample_run_history`), runs in the order asked for."""
    out: list[Metric] = []
    for ms in _by_run(points, run_ids).values():
        kept = [
            m
            for m in ms
            if (start_step is None or m.step >= start_step) and (end_step is None or m.step <= end_step)
        ]
        out.extend(sample_run_history(kept, max(1, max_results)))
    return out


def sample_by_steps(
    points: Sequence[Metric],
    run_ids: Sequence[str],
    start_step: int | None,
    end_step: int | None,
    max_results: int,
) -> list[Metric]:
    """MLflow's ``FileStore`` sampling (see the module's text), runs in the order asked for."""
    max_results = max(1, max_results)
    by_run = _by_run(points, run_ids)
    runs_steps = [[m.step for m in ms] for ms in by_run.values()]
    ends = {step for steps in runs_steps if steps for step in (min(steps), max(steps))}
    all_steps = sorted({step for steps in runs_steps for step in steps})
    if start_step is None or end_step is None:
        start_step, end_step = 0, (all_steps[-1] if all_steps else 0)
    ends = {step for step in ends if start_step <= step <= end_step}
    first = bisect.bisect_left(all_steps, start_step)
    stop = bisect.bisect_right(all_steps, end_step)
    if stop - first <= max_results:
        chosen = set(all_steps[first:stop])
    else:
        interval = (stop - first) / max_results
        chosen = {
            all_steps[first + int(i * interval)]
            for i in range(max_results)
            if first + int(i * interval) < stop
        }
        chosen.add(all_steps[stop - 1])
    chosen |= ends
    per_run = max(max_results, len(chosen))
    out: list[Metric] = []
    for ms in by_run.values():
        kept = sorted((m for m in ms if m.step in chosen), key=lambda m: (m.step, m.timestamp))
        out.extend(kept[i] for i in _evenly_spaced(len(kept), per_run))
    return out
