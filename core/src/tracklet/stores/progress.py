"""Progress bars for long transfers, shared by every artifact repository.

A person waiting on a big upload or download sees a tqdm bar on the terminal; a
library call in a script, a notebook cell piped to a log, or a test stays quiet.
Bars are shown only when all three hold: the transfer is at least
:data:`PROGRESS_MIN_BYTES`, stderr is a terminal, and ``TRACKLET_DISABLE_PROGRESS``
is unset (or ``0``/``false``).
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable, Iterator

__all__ = ["PROGRESS_MIN_BYTES", "progress_enabled", "transfer_progress"]

#: Transfers at least this big show a progress bar (on a terminal).
PROGRESS_MIN_BYTES = 64 * 1024 * 1024

Advance = Callable[[int], object]


def progress_enabled(total: int) -> bool:
    """Whether a transfer of ``total`` bytes should show a bar here and now."""
    flag = os.environ.get("TRACKLET_DISABLE_PROGRESS", "").strip().lower()
    if flag not in ("", "0", "false", "no"):
        return False
    return total >= PROGRESS_MIN_BYTES and bool(getattr(sys.stderr, "isatty", lambda: False)())


@contextlib.contextmanager
def transfer_progress(total: int, label: str) -> Iterator[Advance]:
    """A callable that advances a bar by ``n`` bytes (thread-safe, so the parts of a
    parallel transfer can all report to it), or does nothing when no bar is due."""
    if not progress_enabled(total):
        yield lambda n: None
        return
    from tqdm import tqdm

    lock = threading.Lock()
    with tqdm(total=total, desc=label, unit="B", unit_scale=True, unit_divisor=1024, leave=False) as bar:

        def advance(n: int) -> None:
            with lock:
                bar.update(n)

        yield advance
        bar.refresh()  # the last frame, whatever tqdm's redraw interval skipped
