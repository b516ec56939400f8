"""What a wrong password may cost the server: a bounded amount of scrypt, never the event loop.

* :class:`FailureLimiter` counts failed logins per (user name, client address) and per
  client address whatever the user name. Once either count reaches its limit within the
  window (default 10 and 100 within 300 s, see :mod:`~tracklet_http.server.auth.config`),
  further logins from there are answered 429 ``REQUEST_LIMIT_EXCEEDED`` with a
  ``Retry-After`` header *before* any hashing, until the window that began with the first
  counted failure has passed. On the event loop such an answer is sent after
  :data:`THROTTLED_ANSWER_DELAY` (an ``asyncio.sleep``), so a client that ignores
  Retry-After gets one answer a second per connection rather than a busy loop's worth.
  A correct password clears its own (user, address) count. The windows are fixed (one
  counter and one start time per key), in-process and bounded: at most :data:`MAX_KEYS`
  keys of each kind, the least recently failed dropped first.
* :class:`HashingPool` runs every password check (a users-table lookup and scrypt, ~0.1 s
  of CPU) on a few dedicated threads per worker process (default half the CPUs, at most 4),
  with a bounded queue behind them: beyond it a login is answered 429 at once. So a flood
  of wrong passwords takes at most those threads' cores, and neither the event loop nor
  the store's threads.

Both are per process and thread-safe; a forked child starts with fresh counters and its
own threads (state is keyed on the process id), never its parent's. The client address is
the TCP peer uvicorn reports (``scope["client"]``): behind a reverse proxy it is the
proxy's, so the per-address limit then counts every client of that proxy together.
"""

from __future__ import annotations

import asyncio
import math
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from tracklet.exceptions import REQUEST_LIMIT_EXCEEDED, TrackletException

__all__ = ["MAX_KEYS", "THROTTLED_ANSWER_DELAY", "FailureLimiter", "HashingPool", "LoginThrottled"]

T = TypeVar("T")

#: Most (user, address) keys, and separately most addresses, a limiter remembers.
MAX_KEYS = 10_000
#: Seconds the server waits (without blocking anything) before sending such a 429.
THROTTLED_ANSWER_DELAY = 1.0


class LoginThrottled(TrackletException):
    """A login refused without checking its password (429); ``retry_after`` in whole seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, REQUEST_LIMIT_EXCEEDED)
        self.retry_after = max(1, retry_after)


class _Counts:
    """Failures per key in fixed windows: key -> [count, window start], oldest first."""

    def __init__(self, limit: int, window: float, max_keys: int) -> None:
        self.limit, self.window, self.max_keys = limit, window, max_keys
        self.entries: OrderedDict[Any, list[float]] = OrderedDict()

    def wait(self, key: Any, now: float) -> float:
        """Seconds until ``key`` may try again (0: it may now)."""
        entry = self.entries.get(key)
        if self.limit <= 0 or entry is None:
            return 0.0
        count, start = entry
        if now - start >= self.window:
            del self.entries[key]
            return 0.0
        return start + self.window - now if count >= self.limit else 0.0

    def add(self, key: Any, now: float) -> None:
        if self.limit <= 0:
            return
        entry = self.entries.pop(key, None)
        if entry is None or now - entry[1] >= self.window:
            entry = [0, now]
        entry[0] += 1
        self.entries[key] = entry  # most recently failed last
        while len(self.entries) > self.max_keys:
            self.entries.popitem(last=False)


class FailureLimiter:
    """Failed logins per (user, address) and per address (see the module docstring)."""

    def __init__(
        self,
        max_failures: int,
        max_address_failures: int,
        window: float,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.max_address_failures = max_address_failures
        self.window = window
        self.max_keys = max_keys
        self.clock = clock
        self._pid = -1
        self._reset()

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._pairs = _Counts(self.max_failures, self.window, self.max_keys)
        self._addresses = _Counts(self.max_address_failures, self.window, self.max_keys)
        self._pid = os.getpid()

    def _fresh(self) -> None:
        if self._pid != os.getpid():  # forked: the parent's counts (and lock) are not ours
            self._reset()

    def check(self, username: str, address: str) -> None:
        """Refuse (:class:`LoginThrottled`) a login from a user and address over a limit."""
        if self.window <= 0:
            return
        self._fresh()
        now = self.clock()
        with self._lock:
            pair_wait = self._pairs.wait((username, address), now)
            address_wait = self._addresses.wait(address, now)
        wait = max(pair_wait, address_wait)
        if wait <= 0:
            return
        if pair_wait >= address_wait:
            what = f"{self.max_failures} failed logins as user '{username}' from your address"
            setting = "TRACKLET_AUTH_MAX_FAILURES"
        else:
            what = f"{self.max_address_failures} failed logins from your address"
            setting = "TRACKLET_AUTH_MAX_ADDRESS_FAILURES"
        seconds = math.ceil(wait)
        raise LoginThrottled(
            f"Too many failed logins: {what} within {self.window:g} s. Try again in {seconds} s "
            f"(Retry-After), with the right password; the server's admin sets the limit ({setting}, "
            "TRACKLET_AUTH_FAILURE_WINDOW_SECONDS).",
            seconds,
        )

    def failed(self, username: str, address: str) -> None:
        """Count a failed login."""
        if self.window <= 0:
            return
        self._fresh()
        now = self.clock()
        with self._lock:
            self._pairs.add((username, address), now)
            self._addresses.add(address, now)

    def succeeded(self, username: str, address: str) -> None:
        """Forget the (user, address) failures after a correct password (the address's stay)."""
        self._fresh()
        with self._lock:
            self._pairs.entries.pop((username, address), None)


class HashingPool:
    """A few threads for password checks, with a bounded queue (see the module docstring)."""

    def __init__(self, threads: int, queue: int) -> None:
        self.threads = max(1, threads)
        self.queue = max(0, queue)
        self._pid = -1
        self._executor: ThreadPoolExecutor | None = None
        self._pending = 0
        self._lock = threading.Lock()

    def _admit(self) -> ThreadPoolExecutor:
        if self._pid != os.getpid():  # forked: the parent's threads do not exist here
            self._lock = threading.Lock()
            self._executor, self._pending, self._pid = None, 0, os.getpid()
        with self._lock:
            if self._pending >= self.threads + self.queue:
                raise LoginThrottled(
                    f"The server is checking {self._pending} logins already: try again in a second "
                    "(Retry-After). Clients that send the right password are answered from a cache "
                    "once it has been checked; the server's admin sets TRACKLET_AUTH_HASH_THREADS "
                    "and TRACKLET_AUTH_HASH_QUEUE.",
                    1,
                )
            self._pending += 1
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="tracklet-auth-hash")
            return self._executor

    def _done(self, _future: Any = None) -> None:
        with self._lock:
            self._pending -= 1

    def _submit(self, fn: Callable[..., T], *args: Any) -> Future[T]:
        executor = self._admit()
        try:
            future = executor.submit(fn, *args)
        except BaseException:
            self._done()
            raise
        future.add_done_callback(self._done)
        return future

    def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a hashing thread; this thread waits for it."""
        return self._submit(fn, *args).result()

    async def run_async(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a hashing thread; the event loop goes on meanwhile."""
        return await asyncio.wrap_future(self._submit(fn, *args))
