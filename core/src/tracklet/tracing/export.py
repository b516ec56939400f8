"""Trace export: ended traces go to the tracking store (and/or an OTLP collector) from a
background thread, so tracing never gets in the traced code's way.

How it works
------------
When a trace completes (its root span ended and none of its spans is still open) the
runtime calls :meth:`TraceExporter.export`. In the default **asynchronous** mode that
only puts the trace on a bounded in-memory queue and returns; one daemon thread
(``tracklet-trace-export``) takes the traces off the queue in batches and writes each
with :meth:`tracklet.tracing.client.TracingClient.log_trace` (and/or sends the batch to
the OTLP endpoint, :mod:`tracklet.tracing.otlp`).

Guarantees
----------
* The traced function's return value and exception are never touched by export: every
  export error is caught, counted and logged (the first failure at WARNING, later ones
  at DEBUG, so a dead store does not flood the log).
* A slow or dead store never blocks the traced code: the queue is bounded
  (``TRACKLET_TRACE_QUEUE_SIZE``, else MLflow's ``MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE``,
  default 1000); when it is full the trace is dropped, the drops are counted
  (:attr:`TraceExporter.dropped`) and logged once at WARNING.
* Flush interval: the worker wakes as soon as a trace is queued and then waits at most
  ``TRACKLET_TRACE_FLUSH_INTERVAL`` seconds (default 0.5) to gather a batch of up to
  ``TRACKLET_TRACE_BATCH_SIZE`` traces (default 100) before writing them. So an ended
  trace is on its way to the store within the flush interval (plus the time the store
  takes for the traces ahead of it): a crash (``kill -9``) loses at most the traces that
  ended in the last interval, or that a slow store had not yet accepted.
* Process exit flushes: an ``atexit`` hook waits for the queue to drain, at most
  ``TRACKLET_TRACE_FLUSH_TIMEOUT`` seconds (default 30), then gives up (counted as
  dropped) rather than hang the exit on a dead store.
* Fork-safe: a forked child starts with an empty queue and no worker thread (a new
  one starts on its first trace); the parent's queued traces stay the parent's.

``MLFLOW_ENABLE_ASYNC_TRACE_LOGGING=false`` (MLflow's variable; ``TRACKLET_`` form too)
switches to **synchronous** export: the trace is written in the thread that ended it
before the traced call returns (errors still caught and logged) — for tests and
debugging. :func:`flush_trace_async_logging` waits for everything queued so far.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tracklet.utils import environment

if TYPE_CHECKING:
    from tracklet.entities import Trace

__all__ = ["TraceExporter", "flush_trace_async_logging", "get_exporter"]

_logger = logging.getLogger("tracklet.tracing.export")

DEFAULT_FLUSH_INTERVAL = 0.5
DEFAULT_QUEUE_SIZE = 1000
DEFAULT_BATCH_SIZE = 100
DEFAULT_FLUSH_TIMEOUT = 30.0
_FLUSH_POLL_SECONDS = 0.02


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise ValueError(text)
    return value


def _settings() -> tuple[bool, float, int, int, float]:
    async_found = environment.lookup("ENABLE_ASYNC_TRACE_LOGGING")
    is_async = async_found is None or async_found[1].lower() in ("1", "true", "yes", "on")
    interval = environment.get_parsed(
        ("TRACKLET_TRACE_FLUSH_INTERVAL",),
        DEFAULT_FLUSH_INTERVAL,
        _positive_float,
        "it must be a number of seconds above 0",
    )
    queue_size = environment.get_parsed(
        ("TRACKLET_TRACE_QUEUE_SIZE", "MLFLOW_ASYNC_TRACE_LOGGING_MAX_QUEUE_SIZE"),
        DEFAULT_QUEUE_SIZE,
        _positive_int,
        "it must be a whole number of at least 1",
    )
    batch_size = environment.get_parsed(
        ("TRACKLET_TRACE_BATCH_SIZE",),
        DEFAULT_BATCH_SIZE,
        _positive_int,
        "it must be a whole number of at least 1",
    )
    flush_timeout = environment.get_parsed(
        ("TRACKLET_TRACE_FLUSH_TIMEOUT",),
        DEFAULT_FLUSH_TIMEOUT,
        _positive_float,
        "it must be a number of seconds above 0",
    )
    return is_async, interval, queue_size, batch_size, flush_timeout


@dataclass
class _Item:
    trace: Any  # a Trace, or the runtime's completed trace (turned into one by the worker)
    tracking_uri: str


class TraceExporter:
    """Writes ended traces to their destinations; see the module documentation."""

    def __init__(self) -> None:
        (
            self.is_async,
            self.flush_interval,
            self.queue_size,
            self.batch_size,
            self.flush_timeout,
        ) = _settings()
        self._queue: queue.Queue[_Item] = queue.Queue(maxsize=self.queue_size)
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._pending = 0  # queued or being written
        self._flushers = 0  # flush() calls waiting: the worker writes without waiting for more
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._clients: dict[str, Any] = {}
        #: traces dropped because the queue was full or the exit flush timed out
        self.dropped = 0
        #: traces (or OTLP batches) whose write failed
        self.failed = 0
        #: traces written to the store
        self.exported = 0
        self._drop_logged = False
        self._failure_logged = False

    # -- producer side -----------------------------------------------------------------

    def export(self, trace: Any, tracking_uri: str | None = None) -> None:
        """Queue (or, in synchronous mode, write) one ended trace (a ``Trace``, or anything
        with ``to_trace()`` giving one). Never raises."""
        try:
            if tracking_uri is None:
                from tracklet import _config

                tracking_uri = _config.get_tracking_uri()
            item = _Item(trace, tracking_uri)
            if not self.is_async:
                _import_writers()
                self._write_batch([item])
                return
            with self._lock:
                self._pending += 1
            try:
                self._queue.put_nowait(item)
            except queue.Full:
                with self._lock:
                    self._pending -= 1
                    self._idle.notify_all()
                self._count_drop(1, "the export queue is full (the store is slower than the traced code)")
                return
            self._ensure_worker()
        except Exception:  # never the traced code's problem
            _logger.debug("Failed to queue a trace for export.", exc_info=True)

    def _count_drop(self, count: int, why: str) -> None:
        with self._lock:
            self.dropped += count
            first = not self._drop_logged
            self._drop_logged = True
        if first:
            _logger.warning(
                "Dropped %d trace(s): %s. Further drops are counted but not logged again "
                "(tracklet.tracing.export.get_exporter().dropped). Raise TRACKLET_TRACE_QUEUE_SIZE "
                "(now %d) or check the tracking store.",
                count,
                why,
                self.queue_size,
            )

    def _ensure_worker(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        _import_writers()  # here, not in the worker: imports can fail once the interpreter exits
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="tracklet-trace-export", daemon=True)
            self._thread.start()

    # -- worker side -------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            batch = [first]
            try:  # build the store now (not at exit, when imports may no longer work)
                self._client(first.tracking_uri)
                from tracklet.tracing.provider import env_metadata

                env_metadata()
            except Exception:
                pass  # the write below reports it
            deadline = time.monotonic() + self.flush_interval
            while len(batch) < self.batch_size:
                remaining = deadline - time.monotonic()
                try:
                    if remaining <= 0 or self._flushers:
                        batch.append(self._queue.get_nowait())
                    else:  # short waits, so that a flush() cuts the batching window short
                        batch.append(self._queue.get(timeout=min(remaining, _FLUSH_POLL_SECONDS)))
                except queue.Empty:
                    if remaining <= 0 or self._flushers:
                        break
            try:
                self._write_batch(batch)
            finally:
                with self._lock:
                    self._pending -= len(batch)
                    self._idle.notify_all()

    def _write_batch(self, batch: list[_Item]) -> None:
        from tracklet.tracing import otlp

        traces: list[tuple[Trace, str]] = []
        for item in batch:
            try:  # a trace in progress popped by the runtime: snapshot it here, off the traced code
                trace = item.trace.to_trace() if hasattr(item.trace, "to_trace") else item.trace
                traces.append((trace, item.tracking_uri))
            except Exception as e:
                self._count_failure(f"Failed to finalise a trace for export: {e}")
        if otlp.destination() != "otlp":
            for trace, tracking_uri in traces:
                try:
                    self._client(tracking_uri).log_trace(trace)
                    self.exported += 1
                except Exception as e:
                    self._count_failure(
                        f"Failed to log trace {trace.info.trace_id} to the tracking store at {tracking_uri!r}: {e}"
                    )
        if otlp.endpoint() is not None and traces:
            try:
                otlp.send_traces([trace for trace, _ in traces])
            except Exception as e:
                self._count_failure(
                    f"Failed to send {len(traces)} trace(s) to the OTLP endpoint {otlp.endpoint()!r}: {e}"
                )

    def _client(self, tracking_uri: str) -> Any:
        client = self._clients.get(tracking_uri)
        if client is None:
            from tracklet.tracing.client import TracingClient

            client = self._clients[tracking_uri] = TracingClient(tracking_uri)
        return client

    def _count_failure(self, message: str) -> None:
        with self._lock:
            self.failed += 1
            first = not self._failure_logged
            self._failure_logged = True
        if first:
            _logger.warning(
                "%s. The traced code is not affected; further export failures are logged at DEBUG "
                "level only (tracklet.tracing.export.get_exporter().failed counts them).",
                message,
                exc_info=_logger.isEnabledFor(logging.DEBUG),
            )
        else:
            _logger.debug(message, exc_info=True)

    # -- flushing ----------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every trace queued so far is written; False if ``timeout`` ran out."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            self._flushers += 1
            try:
                while self._pending > 0:
                    if self._thread is None or not self._thread.is_alive():
                        break  # nothing will drain it (a worker that died)
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._idle.wait(timeout=0.1 if remaining is None else min(remaining, 0.1))
                return self._pending == 0
            finally:
                self._flushers -= 1

    def _flush_at_exit(self) -> None:
        if os.getpid() != self._pid:
            return
        try:
            if not self.flush(self.flush_timeout):
                with self._lock:
                    pending = self._pending
                self._count_drop(
                    pending,
                    f"they were still unwritten {self.flush_timeout:g}s after the process began to "
                    "exit (TRACKLET_TRACE_FLUSH_TIMEOUT)",
                )
        except Exception:
            _logger.debug("Failed to flush traces at exit.", exc_info=True)


def _import_writers() -> None:
    """What a write needs, imported by the caller's thread (a worker thread importing during
    interpreter shutdown fails: ``concurrent.futures`` refuses to register its exit hook)."""
    import concurrent.futures.thread  # noqa: F401  (the module that registers the exit hook)

    import tracklet.stores  # noqa: F401
    import tracklet.tracing.client  # noqa: F401
    from tracklet.tracing import otlp

    if otlp.endpoint() is not None:
        import urllib.request  # noqa: F401


_exporter: TraceExporter | None = None
_exporter_lock = threading.Lock()
_atexit_registered = False


def get_exporter() -> TraceExporter:
    """The process's exporter (created on first use, with the environment's settings)."""
    global _exporter, _atexit_registered
    exporter = _exporter
    if exporter is None:
        with _exporter_lock:
            if _exporter is None:
                _exporter = TraceExporter()
                if not _atexit_registered:
                    atexit.register(_flush_at_exit)
                    _atexit_registered = True
            exporter = _exporter
    return exporter


def _flush_at_exit() -> None:
    exporter = _exporter
    if exporter is not None:
        exporter._flush_at_exit()


def reset_exporter() -> None:
    """Flush and forget the exporter; the next trace builds one from the environment."""
    global _exporter
    with _exporter_lock:
        exporter, _exporter = _exporter, None
    if exporter is not None:
        exporter.flush(exporter.flush_timeout)


def flush_trace_async_logging(terminate: bool = False) -> None:
    """Wait for every trace queued so far to be written (MLflow's name). With
    ``terminate=True`` the exporter is also discarded (a new one starts on the next trace)."""
    exporter = _exporter
    if exporter is None:
        return
    try:
        exporter.flush(exporter.flush_timeout)
    except Exception:
        _logger.debug("Failed to flush the trace export queue.", exc_info=True)
    if terminate:
        reset_exporter()


def _after_fork_in_child() -> None:
    global _exporter, _exporter_lock
    _exporter_lock = threading.Lock()
    _exporter = None  # the parent's queue and thread are the parent's


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
