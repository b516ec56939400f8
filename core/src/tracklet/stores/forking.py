"""Fork safety for what a store keeps per process: connection pools, SDK clients, locks
and caches.

Training code forks (``multiprocessing``, data-loader workers) after it has used the
client, and the child gets a copy of everything the store holds: a pooled keep-alive
socket the parent goes on reading from (two processes on one socket read each other's
answers), an SDK client full of such sockets, a lock that another thread of the parent
held at that moment (nothing in the child will ever release it). A store must rebuild
these in the child; the conformance suite checks that it does
(``test_forked_processes_each_read_their_own_objects``). Two tools:

* :class:`ProcessCache`: values (a pool, an SDK client) built once per key in each
  process, under a lock. A forked child starts with none, and a fresh lock.
* :func:`after_fork_in_child`: run a function in every forked child for as long as an
  object lives, to give it fresh locks and empty caches there.

What the parent built is left alone in the child, never closed (that could shut down
what the parent still uses) and kept referenced, so that no finaliser runs on it either.
"""

from __future__ import annotations

import itertools
import os
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["ProcessCache", "after_fork_in_child"]

_K = TypeVar("_K", bound=Hashable)
_V = TypeVar("_V")
_O = TypeVar("_O")

_resets: dict[int, tuple[weakref.ref[Any], Callable[[Any], None]]] = {}
_keys = itertools.count()
_hook_installed = False


def after_fork_in_child(owner: _O, reset: Callable[[_O], None]) -> None:
    """Call ``reset(owner)`` in every process forked from this one, right after the fork,
    for as long as ``owner`` lives (it is held weakly).

    ``reset`` must not hold ``owner`` itself: pass a plain function or an unbound method
    (``MyStore._after_fork``), not ``self._after_fork``, or ``owner`` never dies. It runs
    in the child's only thread, before anything else; it should only replace locks and
    drop caches.
    """
    global _hook_installed
    key = next(_keys)
    _resets[key] = (weakref.ref(owner, lambda _ref: _resets.pop(key, None)), reset)
    if not _hook_installed and hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=_run_resets)
        _hook_installed = True


def _run_resets() -> None:
    for ref, reset in list(_resets.values()):
        owner = ref()
        if owner is not None:
            reset(owner)


class ProcessCache(Generic[_K, _V]):
    """Values built once per key in each process, thread-safe.

    ``get(key, build)`` returns this process's value for ``key``, calling ``build()``
    under the cache's lock the first time. In a forked child the cache starts empty,
    with a new lock, so the child builds its own pools and clients.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: dict[_K, _V] = {}
        self._inherited: list[dict[_K, _V]] = []
        after_fork_in_child(self, ProcessCache._forget_parent)

    def get(self, key: _K, build: Callable[[], _V]) -> _V:
        """This process's value for ``key``, built by ``build()`` on first use."""
        try:
            return self._values[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._values:
                self._values[key] = build()
            return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def pop_all(self) -> list[_V]:
        """Empty the cache and return what it held (for the caller to close)."""
        with self._lock:
            values = list(self._values.values())
            self._values.clear()
        return values

    def _forget_parent(self) -> None:
        self._inherited.append(self._values)
        self._values = {}
        self._lock = threading.Lock()
