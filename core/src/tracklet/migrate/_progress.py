"""One tqdm bar per phase on stderr, or nothing (library calls are quiet unless asked)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from typing import Any

__all__ = ["phase"]


class _Quiet:
    total: int | None = None

    def update(self, n: int = 1) -> None:
        pass

    def refresh(self) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass


@contextlib.contextmanager
def phase(label: str, total: int | None, enabled: bool) -> Iterator[Any]:
    """A bar for one phase (``update``, ``set_postfix_str``), closed at the end."""
    if not enabled:
        yield _Quiet()
        return
    from tqdm import tqdm

    with tqdm(total=total, desc=label, unit=" obj", file=sys.stderr, dynamic_ncols=True) as bar:
        yield bar
