"""The cycle collector paused around bulk building of small acyclic objects."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator

__all__ = ["gc_paused"]


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """The cycle collector off for the block, back on after it if it was on.

    Building 100,000 small acyclic objects (a metric history) would otherwise run the
    collector dozens of times over an ever larger heap; stores building entities in bulk
    pause it (a long history is ~40% faster)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
