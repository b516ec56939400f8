"""The cycle collector's settings in a server worker.

A worker's heap after start-up (the store, SQLAlchemy, Starlette, uvicorn: ~60,000
tracked objects) never becomes garbage, yet Python's default thresholds (700, 10, 10)
made the collector walk it again and again: a request building a search page or a
1,000-point history allocates thousands of dicts, which ran a young collection several
times per request, promoted the page to the older generations, and every ~100 requests
ran a full collection over the whole heap (~27 ms, the worker stalled meanwhile).

:func:`tune_worker_gc` runs once, after the app is built: it collects what start-up
left, moves every surviving object out of the collector's sight (``gc.freeze()``: they
are never walked again) and raises the young generation's threshold to
:data:`GEN0_THRESHOLD`, so a request's objects are freed by reference counting before
the collector starts. Cycles are still collected, only later (after that many net
allocations of container objects, a few MB at most).
"""

from __future__ import annotations

import gc

__all__ = ["GEN0_THRESHOLD", "tune_worker_gc"]

#: Net container allocations before a young collection (Python's default: 700). Above
#: what one request keeps alive at once (a 100-run search page: ~2,000 dicts and lists),
#: so a request's own objects no longer trigger collections.
GEN0_THRESHOLD = 10_000


def tune_worker_gc() -> None:
    """Collect, freeze the surviving start-up heap, raise the young threshold (the older
    generations keep their ratios)."""
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GEN0_THRESHOLD, gen1, gen2)
