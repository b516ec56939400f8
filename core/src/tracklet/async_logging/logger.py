"""``AsyncLogger``: the queue behind ``synchronous=False``, and the thread that empties it.

One logger per tracking URI per process. A logging call checks its arguments in the
caller's thread (bad input raises there, as in the synchronous path), appends one record
and returns a :class:`~tracklet.async_logging.operations.RunOperations` ticket: a few
microseconds. A daemon worker thread takes whatever has queued up, writes it through
:func:`~tracklet.async_logging.apply.apply_records` (``log_batch`` calls of up to 1,000
values), and wakes the callers waiting in ``wait()`` or :meth:`AsyncLogger.flush`.

Two kinds of queue:

* **memory** (the default for local stores): a deque of record tuples. A process killed
  with records queued loses them; a normal exit waits for them (:func:`flush_at_exit`).
* **spool** (``TRACKLET_ASYNC_SPOOL``, on by default for ``http(s)://`` tracking URIs):
  each call appends its record's line to this process's spool segment *before* it
  returns, and the worker reads the segment back. A process killed at any moment loses
  no call that returned: the next process logging to the same URI with the same spool,
  or ``tracklet sync``, writes what was left (see :mod:`~tracklet.async_logging.replay`).
  A store that cannot be reached only makes the segment grow (up to
  ``TRACKLET_ASYNC_SPOOL_MAX_MB``; past it callers wait, with a warning).

When the store is unreachable (:func:`~tracklet.async_logging.apply.is_unavailable`) the
worker keeps the records and tries again with a growing pause (0.2 s to 5 s), and the
retry compares metric values with the store first, so a write whose answer was lost is
not stored twice. Callers never wait for any of this.

Fork safety: a forked child starts with an empty queue, no worker and no spool segment
(its parent's records stay the parent's to write); the child builds its own on first use.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING, Any

from tracklet.async_logging.apply import apply_records, is_unavailable
from tracklet.async_logging.operations import RunOperations, ticket
from tracklet.async_logging.records import CREATE_RUN, END_RUN, PARAM, TAG, Record, encode
from tracklet.exceptions import TrackletException
from tracklet.stores.forking import after_fork_in_child
from tracklet.utils import environment

if TYPE_CHECKING:
    from tracklet.async_logging.drain import DrainThread
    from tracklet.async_logging.spool import SpoolSegment
    from tracklet.client import MlflowClient
    from tracklet.entities import Run

__all__ = ["AsyncLogger", "flush_all", "flush_at_exit", "logger_for", "loggers_of"]

_log = logging.getLogger("tracklet.async_logging")

#: Records the worker takes in one go (then ~10 ``log_batch`` calls of 1,000).
TAKE_MAX = 10_000
#: A spool segment this large whose records are all written is replaced by a new one.
ROTATE_BYTES = 64 << 20
#: Refused records whose error nobody asked for are kept for ``wait()`` up to this many.
ERRORS_KEPT = 100_000
_MIN_PAUSE, _MAX_PAUSE = 0.2, 5.0
#: The spool's size limit, the drain's health and rotation are looked at every this many bytes.
_CHECK_EVERY = 256 << 10
_IDLE_EXIT_CODE = 4  # tracklet.async_logging.drain.IDLE_EXIT_CODE, without importing it
_monotonic = time.monotonic


def _float_env(name: str, default: float) -> float:
    raw = environment.get(name, "")
    try:
        return float(raw) if raw else default
    except ValueError:
        _log.warning("Ignoring %s=%r: not a number; using %s.", name, raw, default)
        return default


class _Generation:
    """One spool segment of a logger and its drain; ``base`` is the position (counted
    over all the logger's segments) where the segment's records begin."""

    __slots__ = ("base", "segment", "drain", "err_pos", "respawns")

    def __init__(self, base: int, segment: SpoolSegment, drain: Any) -> None:
        self.base = base
        self.segment = segment
        self.drain = drain
        self.err_pos = 0
        self.respawns = 0


class AsyncLogger:
    """The asynchronous logging queue of one tracking URI in this process.

    Get it with :func:`logger_for`; the client and fluent API call it for every
    ``synchronous=False`` call. Arguments reaching it have been checked already.

    :param client: the client whose store the records go to.
    :param spool_dir: the spool directory, or None for an in-memory queue.
    """

    def __init__(self, client: MlflowClient, spool_dir: str | None) -> None:
        self.client = client
        self.tracking_uri = client.tracking_uri
        self.spool_dir = spool_dir
        self.max_spool_bytes = int(_float_env("ASYNC_SPOOL_MAX_MB", 1024) * (1 << 20))
        self.buffering_seconds = _float_env("ASYNC_LOGGING_BUFFERING_SECONDS", 0.0)
        self.drain_mode = (environment.get("ASYNC_DRAIN", mlflow="") or "process").lower()
        self._gens: list[_Generation] = []
        self._reset()
        after_fork_in_child(self, AsyncLogger._reset)

    def _reset(self) -> None:
        """Fresh state: at creation, and in a forked child (see the module docstring)."""
        for gen in getattr(self, "_gens", []):
            gen.drain.forget_in_child()
        self._lock = threading.Lock()
        self._done = threading.Condition(threading.Lock())
        # memory queue
        self._queue: deque[Record] = deque()
        self._accepted = 0  # sequence number of the last record accepted
        self._taken = 0  # ... of the last record the worker has taken
        self._applied = 0  # every record up to this one is written (or refused)
        self._worker: threading.Thread | None = None
        self._wake = threading.Event()
        self._sleeping = False
        # spool
        self._segment: SpoolSegment | None = None
        self._gens = []
        self._base = 0
        self._next_check = 0
        self._next_check_time = 0.0
        self._room_warned = False
        self._outage_warned = False
        # both
        self._errors: dict[int, BaseException] = {}
        self._closing = False
        self._outage_since: float | None = None
        self.run_map: dict[str, str] = {}
        self.local_runs: set[str] = set()
        self.duplicates_skipped = 0

    # -- accepting calls (the caller's thread) ----------------------------------------------

    @property
    def spooled(self) -> bool:
        """Whether accepted calls go to a spool segment on disk (else to memory)."""
        return self.spool_dir is not None

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int, step: int) -> RunOperations:
        """Queue one metric value (``value`` a float, the rest checked)."""
        if self.spool_dir is None:
            with self._lock:
                self._queue.append(("m", run_id, key, value, timestamp, step))
                self._accepted += 1
                seq = self._accepted
                if self._worker is None:
                    self._start()
            if self._sleeping:
                self._wake.set()
            return ticket(self, seq, seq)
        line = f"m\t{run_id}\t{key}\t{value!r}\t{timestamp}\t{step}\n".encode()
        with self._lock:
            segment = self._segment or self._open_segment()
            end = segment.append(line)
            if end >= self._next_check or _monotonic() >= self._next_check_time:
                self._check(segment, end)
            position = self._base + end
        return ticket(self, position - len(line) + 1, position)

    def submit(self, records: list[Record]) -> RunOperations:
        """Queue several records (a batch, params, tags, run starts and ends) in order."""
        if self.spool_dir is None:
            with self._lock:
                first = self._accepted + 1
                self._queue.extend(records)
                self._accepted += len(records)
                last = self._accepted
                if self._worker is None:
                    self._start()
            self._wake.set()
            return ticket(self, first, last)
        data = b"".join(encode(r) for r in records)
        with self._lock:
            segment = self._segment or self._open_segment()
            end = segment.append(data)
            if end >= self._next_check or _monotonic() >= self._next_check_time:
                self._check(segment, end)
            position = self._base + end
        return ticket(self, position - len(data) + 1, position)

    def log_param(self, run_id: str, key: str, value: str) -> RunOperations:
        """Queue a param (``value`` already a string)."""
        return self.submit([(PARAM, run_id, key, value)])

    def set_tag(self, run_id: str, key: str, value: str) -> RunOperations:
        """Queue a tag (``value`` already a string)."""
        return self.submit([(TAG, run_id, key, value)])

    def create_run(
        self, experiment_id: str, start_time: int, tags: dict[str, str], run_name: str | None
    ) -> Run:
        """Start a run without the store (offline): a local id now, the store's run when
        the record is written (see :data:`~tracklet.async_logging.apply.LOCAL_RUN_ID_TAG`)."""
        from tracklet.entities import Run, RunData, RunInfo, RunTag

        local_id = uuid.uuid4().hex
        self.local_runs.add(local_id)
        self.submit([(CREATE_RUN, local_id, experiment_id, start_time, run_name, tags)])
        info = RunInfo(
            local_id,
            experiment_id,
            tags.get("mlflow.user", "unknown"),
            "RUNNING",
            start_time,
            None,
            "active",
            "",
            run_name or "",
        )
        return Run(info, RunData(tags=[RunTag(k, v) for k, v in tags.items()]))

    def set_terminated(self, run_id: str, status: str, end_time: int) -> RunOperations:
        """Queue the end of a run, after everything queued for it before."""
        return self.submit([(END_RUN, run_id, status, end_time)])

    # -- the spool: segments and their drains -------------------------------------------------

    def _open_segment(self) -> SpoolSegment:
        """A new segment and its drain (called holding ``_lock``)."""
        from tracklet.async_logging.spool import SpoolSegment

        assert self.spool_dir is not None
        previous = self._segment
        if previous is not None:
            self._base += previous.end
        segment = self._segment = SpoolSegment.create(self.spool_dir, self.tracking_uri)
        self._next_check = segment.end + _CHECK_EVERY
        self._gens.append(_Generation(self._base, segment, self._start_drain(segment, first=not self._gens)))
        return segment

    def _start_drain(self, segment: SpoolSegment, first: bool) -> Any:
        from tracklet.async_logging import is_offline
        from tracklet.async_logging.drain import DrainProcess, DrainThread, NoDrain

        if is_offline():
            return NoDrain()
        if self.drain_mode == "thread":
            return DrainThread(segment, self.client.store, replay_orphans=first)
        try:
            return DrainProcess(segment)
        except OSError as exc:
            _log.warning("Could not start the async logging drain process (%s); draining in a thread.", exc)
            self.drain_mode = "thread"
            return DrainThread(segment, self.client.store, replay_orphans=first)

    def _check(self, segment: SpoolSegment, end: int) -> None:
        """Every ``_CHECK_EVERY`` bytes or every second (holding ``_lock``): the size limit, the drain's
        health, the store's reachability, and rotation to a new segment."""
        self._next_check = end + _CHECK_EVERY
        self._next_check_time = _monotonic() + 1.0
        applied, since = segment.applied_on_disk()
        if since and not self._outage_warned:
            self._outage_warned = True
            _log.warning(
                "The tracking store %s cannot be reached; logging goes on into the spool %s "
                "and is written when the store is back.",
                self.tracking_uri,
                self.spool_dir,
            )
        elif not since:
            self._outage_warned = False
        for gen in self._gens:
            self._check_drain(gen)
        if end - applied > self.max_spool_bytes:
            self._wait_for_room(segment)
        if end >= ROTATE_BYTES:
            old = self._gens[-1]
            self._open_segment()
            old.drain.finish()

    def _check_drain(self, gen: _Generation) -> None:
        """Restart a drain that has stopped before its segment was written."""
        if gen.drain.alive():
            return
        applied, _ = gen.segment.applied_on_disk()
        if applied >= gen.segment.end and gen is not self._gens[-1]:
            return
        if gen.drain.exit_code() == _IDLE_EXIT_CODE:  # it stopped for want of work: start it again
            gen.segment._load_ack()
            gen.drain = self._start_drain(gen.segment, first=False)
            return
        cannot_open = False
        errors, gen.err_pos = gen.segment.errors_after(gen.err_pos)
        for end, code, message in errors:
            if end < 0:
                cannot_open = cannot_open or code == "DRAIN_CANNOT_OPEN_STORE"
                _log.warning("The async logging drain of %s stopped: %s", self.tracking_uri, message)
            else:
                self._errors[gen.base + end] = TrackletException(message, code)
        from tracklet.async_logging.drain import DrainThread

        gen.respawns += 1
        gen.segment._load_ack()
        if cannot_open or gen.respawns > 3 or self.drain_mode == "thread":
            gen.drain = DrainThread(gen.segment, self.client.store, replay_orphans=False)
        else:
            gen.drain = self._start_drain(gen.segment, first=False)

    def _wait_for_room(self, segment: SpoolSegment) -> None:
        """Back-pressure at the spool's size limit (called holding ``_lock``)."""
        if not self._room_warned:
            self._room_warned = True
            _log.warning(
                "The async logging spool %s holds %d MB not yet written to %s (the limit, "
                "TRACKLET_ASYNC_SPOOL_MAX_MB): logging calls now wait for it to drain. Raise "
                "the limit to keep going while the store is unreachable.",
                self.spool_dir,
                self.max_spool_bytes >> 20,
                self.tracking_uri,
            )
        while segment.end - segment.applied_on_disk()[0] > self.max_spool_bytes:
            self._gens[-1].drain.wake()
            self._check_drain(self._gens[-1])
            time.sleep(0.05)

    def _wait_position(self, position: int, timeout: float | None) -> bool:
        """Wait until the spooled records up to ``position`` are written."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for gen in list(self._gens):
            gen.drain.wake()
        pause = 0.0002
        while True:
            waiting = False
            for gen in list(self._gens):
                if gen.base >= position:
                    continue
                target = min(position - gen.base, gen.segment.end)
                if gen.segment.applied_on_disk()[0] < target:
                    waiting = True
                    with self._lock:
                        self._check_drain(gen)
            if not waiting:
                self._collect_errors()
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(pause)
            pause = min(pause * 2, 0.01)

    def _collect_errors(self) -> None:
        done: list[_Generation] = []
        for gen in list(self._gens):
            errors, gen.err_pos = gen.segment.errors_after(gen.err_pos)
            for end, code, message in errors:
                if end >= 0:
                    self._errors[gen.base + end] = TrackletException(message, code)
            if errors:
                _log.warning(
                    "%d asynchronously logged calls to %s were refused by the store: %s",
                    len(errors),
                    self.tracking_uri,
                    errors[0][2],
                )
            if gen is not self._gens[-1] and gen.segment.applied_on_disk()[0] >= gen.segment.end:
                done.append(gen)
        for gen in done:
            self._gens.remove(gen)
            if not isinstance(gen.drain, _thread_drain_type()):
                gen.segment.close()
        while len(self._errors) > ERRORS_KEPT:
            self._errors.pop(next(iter(self._errors)))

    # -- waiting ----------------------------------------------------------------------------

    def wait_for(self, first: int, last: int) -> list[BaseException]:
        """Wait until the records ``first..last`` (sequence numbers, or spool positions)
        are written; their errors, if any."""
        if self.spool_dir is None:
            self._wait_applied(last, None)
        elif not self.offline:
            self._wait_position(last, None)
        if not self._errors:
            return []
        with self._done:  # kept (up to ERRORS_KEPT): every wait() on a refused call raises, as MLflow's
            if self.spool_dir is None and last - first < len(self._errors):
                return [self._errors[s] for s in range(first, last + 1) if s in self._errors]
            return [e for p, e in list(self._errors.items()) if first <= p <= last]

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every call accepted so far is written (or refused); False if
        ``timeout`` seconds passed first."""
        if self.spool_dir is None:
            return self._wait_applied(self._accepted, timeout)
        segment = self._segment
        if segment is None or self.offline:
            return True  # offline: the calls are in the spool, which is all there is to wait for
        return self._wait_position(self._base + segment.end, timeout)

    def _wait_applied(self, seq: int, timeout: float | None) -> bool:
        if self._applied >= seq:
            return True
        if self._worker is None or not self._worker.is_alive():
            with self._lock:
                self._start()
        self._wake.set()
        with self._done:
            return self._done.wait_for(lambda: self._applied >= seq, timeout)

    @property
    def offline(self) -> bool:
        """Whether this logger's segments wait for ``tracklet sync`` (``TRACKLET_OFFLINE``)."""
        from tracklet.async_logging.drain import NoDrain

        return bool(self._gens) and isinstance(self._gens[-1].drain, NoDrain)

    @property
    def pending(self) -> int:
        """Calls accepted and not yet written (in memory); bytes of them (spool)."""
        if self.spool_dir is None:
            return self._accepted - self._applied
        return sum(max(0, g.segment.end - g.segment.applied_on_disk()[0]) for g in list(self._gens))

    @property
    def unreachable(self) -> bool:
        """Whether the store could not be reached at the last try (calls are being kept
        and retried)."""
        if self.spool_dir is None:
            return self._outage_since is not None
        return any(g.segment.applied_on_disk()[1] for g in list(self._gens))

    # -- the worker of the in-memory queue ----------------------------------------------------

    def _start(self) -> None:
        """Start the worker (called holding ``_lock``)."""
        self._worker = threading.Thread(target=self._work, name="tracklet-async-logging", daemon=True)
        self._worker.start()

    def _work(self) -> None:
        while True:
            taken = self._take()
            if taken is None:
                self._sleeping = True
                if self._accepted == self._taken:
                    self._wake.wait(0.1)
                self._wake.clear()
                self._sleeping = False
                continue
            records, first = taken
            self._write(records, first)
            if self.buffering_seconds:
                time.sleep(self.buffering_seconds)

    def _take(self) -> tuple[list[Record], int] | None:
        """The next records to write and the sequence number of the first."""
        with self._lock:
            count = min(len(self._queue), TAKE_MAX)
            if not count:
                return None
            records = [self._queue.popleft() for _ in range(count)]
            first = self._taken + 1
            self._taken += count
        return records, first

    def _write(self, records: list[Record], first: int) -> None:
        """Write ``records`` to the store, retrying while it is unreachable; record the
        refused ones' errors and wake the waiters."""
        uncertain = False
        pause = _MIN_PAUSE
        while True:
            try:
                errors, duplicates = apply_records(
                    self.client.store, records, uncertain=uncertain, run_map=self.run_map, trusted=True
                )
                break
            except Exception as exc:
                if not is_unavailable(exc):
                    _log.exception("Async logging failed unexpectedly writing %d records", len(records))
                    errors, duplicates = dict.fromkeys(range(len(records)), exc), 0
                    break
                self._note_outage(exc)
                uncertain = True
                self._wake.wait(pause)
                self._wake.clear()
                pause = min(pause * 2, _MAX_PAUSE)
        if self._outage_since is not None:
            _log.warning(
                "The tracking store %s is reachable again after %.0f s; queued calls are being written.",
                self.tracking_uri,
                time.monotonic() - self._outage_since,
            )
            self._outage_since = None
        self.duplicates_skipped += duplicates
        if errors:
            _log.warning(
                "%d of %d asynchronously logged calls to %s were refused by the store: %s",
                len(errors),
                len(records),
                self.tracking_uri,
                next(iter(errors.values())),
            )
        with self._done:
            for index, error in errors.items():
                self._errors[first + index] = error
            while len(self._errors) > ERRORS_KEPT:
                self._errors.pop(next(iter(self._errors)))
            self._applied = first + len(records) - 1
            self._done.notify_all()

    def _note_outage(self, exc: BaseException) -> None:
        if self._outage_since is None:
            self._outage_since = time.monotonic()
            _log.warning(
                "The tracking store %s cannot be reached (%s); %d logging calls are waiting in "
                "memory and will be written when it is back.",
                self.tracking_uri,
                exc,
                self.pending,
            )

    # -- closing ----------------------------------------------------------------------------

    def close(self, timeout: float | None) -> None:
        """Wait up to ``timeout`` seconds for the queue; then, with a spool, tell the
        drains that no more records will come (they finish writing and remove their
        segments, or leave them for a replay if the store stays unreachable)."""
        if self.spool_dir is None:
            if self._accepted and not self.flush(timeout):
                _log.error(
                    "%d async logging calls to %s were lost: the store did not take them within "
                    "%s s of the process's exit. Set TRACKLET_ASYNC_SPOOL=DIR to keep them on disk.",
                    self.pending,
                    self.tracking_uri,
                    timeout,
                )
            return
        done = True
        if self.offline:
            for gen in self._gens:
                gen.segment.close()
            _log.warning(
                "Offline: the calls logged to %s are kept in the spool %s; send them with "
                "`tracklet sync --spool %s` when the store can be reached.",
                self.tracking_uri,
                self.spool_dir,
                self.spool_dir,
            )
            self._gens = []
            self._segment = None
            return
        if self._segment is not None and not self.unreachable:
            done = self.flush(timeout)
        self._closing = True
        threads = []
        for gen in list(self._gens):
            self._check_drain(gen)  # one that stopped idle is started again to finish
            gen.drain.finish()
            if isinstance(gen.drain, _thread_drain_type()):
                threads.append(gen.drain.thread)
            else:
                gen.segment.close()  # the drain holds the lock now; it removes the files
        for thread in threads:
            thread.join(5.0 if done else 0.5)
        if not done or self.unreachable:
            _log.warning(
                "Async logging calls to %s are not all written yet (the store is unreachable or "
                "slow): they are kept in the spool %s and written by the drain process for up to "
                "TRACKLET_ASYNC_DRAIN_LINGER seconds, then by the next process logging there, or "
                "now by `tracklet sync --spool %s`.",
                self.tracking_uri,
                self.spool_dir,
                self.spool_dir,
            )
        self._gens = []
        self._segment = None


def _thread_drain_type() -> type[DrainThread]:
    from tracklet.async_logging.drain import DrainThread

    return DrainThread


# -- the loggers of this process ---------------------------------------------------------------

_loggers: dict[tuple[str, str | None], AsyncLogger] = {}
_loggers_lock = threading.Lock()
_atexit_registered = False


def logger_for(client: MlflowClient, spool_dir: str | None) -> AsyncLogger:
    """The logger of ``client``'s tracking URI and this spool (one per process)."""
    key = (client.tracking_uri, spool_dir)
    found = _loggers.get(key)
    if found is None:
        global _atexit_registered
        with _loggers_lock:
            found = _loggers.get(key)
            if found is None:
                found = _loggers[key] = AsyncLogger(client, spool_dir)
            if not _atexit_registered:
                atexit.register(flush_at_exit)
                _atexit_registered = True
    return found


def loggers_of(tracking_uri: str) -> list[AsyncLogger]:
    """This process's loggers for ``tracking_uri`` (one per spool folder used with it)."""
    return [logger for logger in list(_loggers.values()) if logger.tracking_uri == tracking_uri]


def flush_all(timeout: float | None = None) -> bool:
    """Wait until every logger of this process has written what it accepted."""
    done = True
    for logger in list(_loggers.values()):
        done = logger.flush(timeout) and done
    return done


def flush_at_exit() -> None:
    """At interpreter exit: give each logger ``TRACKLET_ASYNC_EXIT_TIMEOUT`` seconds
    (default 60) to finish, then let go of its spool segment."""
    timeout = _float_env("ASYNC_EXIT_TIMEOUT", 60.0)
    pid = os.getpid()
    for logger in list(_loggers.values()):
        if getattr(logger, "_pid_closed", None) == pid:
            continue
        logger._pid_closed = pid  # type: ignore[attr-defined]
        try:
            logger.close(timeout)
        except Exception:
            _log.exception("Closing the async logger of %s failed", logger.tracking_uri)
