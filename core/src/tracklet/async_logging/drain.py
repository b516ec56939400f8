"""The drain: what writes a live spool segment to the store, beside the process logging.

With a spool (see :mod:`~tracklet.async_logging.logger`), a logging call only appends a
line to its process's segment. Reading the segment back and writing it to the store is
the drain's job, and by default the drain is a separate process
(``python -m tracklet.async_logging.drain``) started with the segment:

* the training process pays only for the append (about a microsecond): decoding,
  batching, the store's own work and any waiting on a database or a server happen on
  another core, outside the training process's GIL;
* the drain inherits the segment's lock, so no replayer takes the segment while either
  process lives;
* when the training process ends, however it ends (``kill -9`` included), the drain sees
  it (its stdin reaches end of file, or its parent process changes), writes what is left
  and removes the segment. If the store cannot be reached then, it keeps trying for
  ``TRACKLET_ASYNC_DRAIN_LINGER`` seconds (default 300) and then leaves the segment for
  the next process or ``tracklet sync``.

The drain talks back through the segment's files only: the ``.ack`` (how far it has
written, and since when the store has been unreachable) and the ``.err`` (the records
the store refused, with its error code and message), which the logging process reads
when it waits. A :class:`Drainer` can also run in a thread of the logging process
(``TRACKLET_ASYNC_DRAIN=thread``, or when the drain process cannot open the store, e.g.
a store registered at run time rather than by an installed plugin).
"""

from __future__ import annotations

import logging
import os
import select
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import TYPE_CHECKING

from tracklet.async_logging.apply import apply_records, is_unavailable
from tracklet.async_logging.records import Record, decode
from tracklet.exceptions import INTERNAL_ERROR

if TYPE_CHECKING:
    from tracklet.async_logging.spool import SpoolSegment
    from tracklet.stores import TrackingStore

__all__ = ["DrainProcess", "DrainThread", "Drainer", "NoDrain", "main"]

_log = logging.getLogger("tracklet.async_logging")

CHUNK = 10_000
#: How long an idle drain waits before looking again (doubling from the first to the
#: second); the writer wakes it at once when someone waits for the records.
_MIN_WAIT, _MAX_WAIT = 0.005, 0.2
#: Exit code of a drain process that stopped because it had nothing to do.
IDLE_EXIT_CODE = 4
READ_BYTES = 4 << 20
FSYNC_EVERY = 1.0
#: Error code the drain process records (at offset -1) when it cannot open the store.
NO_STORE = "DRAIN_CANNOT_OPEN_STORE"


class Drainer:
    """Writes a segment's records to a store, in order, marking progress in its files.

    :param idle: called when there is nothing to write; ``idle(timeout)`` waits up to
        ``timeout`` seconds for more and returns False once the writer has finished (no
        more records will come).
    :param linger: seconds to keep retrying an unreachable store after the writer has
        finished, before leaving the segment for a replay.
    :param idle_exit: stop after this many seconds with nothing to write (all of it
        written): :meth:`run` then returns False and the segment stays with its writer,
        which starts a drain again when it has more. None: never.
    """

    def __init__(
        self,
        segment: SpoolSegment,
        store: TrackingStore,
        idle: Callable[[float], bool],
        linger: float = 300.0,
        replay_orphans: bool = True,
        idle_exit: float | None = None,
    ) -> None:
        self.segment = segment
        self.store = store
        self.idle = idle
        self.linger = linger
        self.replay_orphans = replay_orphans
        self.idle_exit = idle_exit
        self.writer_done = False
        self._done_at: float | None = None
        self._last_fsync = 0.0
        self._unreachable_since = 0
        self.run_map: dict[str, str] = {}

    def run(self) -> bool:
        """Write until the writer is done and everything is written (then remove the
        segment and return True), or until the store stayed unreachable past ``linger``
        (then keep it for a replay), or until idle past ``idle_exit`` (both: False)."""
        from tracklet.async_logging.replay import _all_run_maps

        directory = os.path.dirname(self.segment.path)
        self.run_map = _all_run_maps(directory)
        if self.replay_orphans:
            self._replay_orphans(directory)
        offset, inflight = self.segment.acked()
        wait = _MIN_WAIT
        idle_since = time.monotonic()
        while True:
            lines, ends = self.segment.read_records(offset, READ_BYTES)
            if lines:
                for start in range(0, len(lines), CHUNK):
                    chunk_ends = ends[start : start + CHUNK]
                    records = _decode_all(lines[start : start + CHUNK])
                    if not self._write(records, chunk_ends, offset < inflight):
                        self.segment.close()
                        return False
                    offset = chunk_ends[-1]
                wait = _MIN_WAIT
                idle_since = time.monotonic()
                continue
            if self.writer_done:
                break
            if self.idle_exit is not None and time.monotonic() - idle_since > self.idle_exit:
                self.segment.close()
                return False
            if not self.idle(wait):
                self.writer_done = True  # read once more: the last lines may be new
            wait = min(wait * 2, _MAX_WAIT)
        self.segment.remove()
        return True

    def _write(self, records: list[Record], ends: list[int], uncertain: bool) -> bool:
        segment = self.segment
        segment.mark_inflight(ends[-1])
        pause = 0.2
        while True:
            try:
                errors, _ = apply_records(
                    self.store,
                    records,
                    uncertain=uncertain,
                    run_map=self.run_map,
                    on_run_created=segment.add_run,
                    trusted=True,
                )
                break
            except Exception as exc:
                if not is_unavailable(exc):
                    _log.exception("writing %d spooled records failed", len(records))
                    errors = dict.fromkeys(range(len(records)), exc)
                    break
                if not self._unreachable_since:
                    self._unreachable_since = time.time_ns() // 1_000_000
                    segment.mark_unreachable(self._unreachable_since)
                if self.writer_done:
                    self._done_at = self._done_at or time.monotonic()
                    if time.monotonic() - self._done_at > self.linger:
                        return False
                uncertain = True
                if not self.idle(pause):
                    self.writer_done = True
                pause = min(pause * 2, 5.0)
        if self._unreachable_since:
            self._unreachable_since = 0
            segment.mark_unreachable(0)
        for index, error in errors.items():
            segment.add_error(ends[index], getattr(error, "error_code", INTERNAL_ERROR), str(error))
        segment.mark_applied(ends[-1])
        now = time.monotonic()
        if now - self._last_fsync >= FSYNC_EVERY:
            self._last_fsync = now
            segment.flush_to_disk()
        return True

    def _replay_orphans(self, directory: str) -> None:
        from tracklet.async_logging.replay import replay_segments
        from tracklet.async_logging.spool import claim_orphans

        try:
            orphans = claim_orphans(directory, self.segment.tracking_uri)
            if orphans:
                replay_segments(self.store, orphans, directory, wait_while_unreachable=False)
        except Exception:
            _log.exception("replaying the spool %s failed; `tracklet sync` retries it", directory)


def _decode_all(lines: list[bytes]) -> list[Record]:
    records: list[Record] = []
    for line in lines:
        try:
            records.append(decode(line))
        except ValueError:
            records.append(("?",))
    return records


# -- the drain in a thread of the logging process -----------------------------------------------


class DrainThread:
    """A :class:`Drainer` in a daemon thread of this process."""

    def __init__(self, segment: SpoolSegment, store: TrackingStore, replay_orphans: bool = True) -> None:
        self._wake = threading.Event()
        self._finished = False
        self.drainer = Drainer(segment, store, self._idle, linger=0.0, replay_orphans=replay_orphans)
        self.thread = threading.Thread(target=self.drainer.run, name="tracklet-async-drain", daemon=True)
        self.thread.start()

    def _idle(self, timeout: float) -> bool:
        if self._finished:
            return False
        self._wake.wait(timeout)
        self._wake.clear()
        return not self._finished

    def wake(self) -> None:
        self._wake.set()

    def finish(self) -> None:
        """No more records will come: write the rest and stop."""
        self._finished = True
        self._wake.set()

    def alive(self) -> bool:
        return self.thread.is_alive()

    def exit_code(self) -> int | None:
        return None if self.thread.is_alive() else 0

    def forget_in_child(self) -> None:
        """(A forked child has no such thread.)"""


class NoDrain:
    """Offline mode: nothing writes the segment now; ``tracklet sync`` or the next process
    logging to the store does."""

    def wake(self) -> None:
        """Nothing to wake."""

    def finish(self) -> None:
        """Nothing to stop."""

    def alive(self) -> bool:
        return True

    def exit_code(self) -> int | None:
        return None

    def forget_in_child(self) -> None:
        """Nothing to forget."""


# -- the drain process ------------------------------------------------------------------------------


class DrainProcess:
    """The drain process of one segment, seen from the process that writes the segment."""

    def __init__(self, segment: SpoolSegment) -> None:
        read_end, self._write_end = os.pipe()
        lock_fd = segment._lock_fd
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        # the drain retries an unreachable store itself, and can be woken while it waits:
        # an HTTP store's own retries (seconds of sleep per call) would only delay it
        env["TRACKLET_HTTP_REQUEST_MAX_RETRIES"] = "0"
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "tracklet.async_logging.drain",
                    segment.path,
                    str(lock_fd),
                    str(os.getpid()),
                ],
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                pass_fds=(lock_fd,),
                env=env,
                start_new_session=True,  # Ctrl-C in a terminal stops training, not the drain
            )
        finally:
            os.close(read_end)
        os.set_blocking(self._write_end, False)

    def wake(self) -> None:
        """Tell the drain there is something to write now (it also looks every 5 ms)."""
        try:
            os.write(self._write_end, b"w")
        except (BlockingIOError, BrokenPipeError, OSError):
            pass

    def finish(self) -> None:
        """No more records will come: the drain writes the rest, removes the segment, ends."""
        if self._write_end >= 0:
            try:
                os.close(self._write_end)
            except OSError:
                pass
            self._write_end = -1

    def alive(self) -> bool:
        return self.process.poll() is None

    def exit_code(self) -> int | None:
        return self.process.poll()

    def forget_in_child(self) -> None:
        """In a forked child: close this process's copy of the pipe (the parent keeps its
        own), so the drain sees end of file when the parent ends, not when the child does.
        (The same as :meth:`finish`, which closes this process's copy too.)"""
        self.finish()


def _stdin_idle(parent_pid: int) -> Callable[[float], bool]:
    def idle(timeout: float) -> bool:
        ready, _, _ = select.select([0], [], [], timeout)
        if ready:
            try:
                data = os.read(0, 65536)
            except OSError:
                data = b""
            if not data:
                return False  # the writer closed its end, or died
        return os.getppid() == parent_pid

    return idle


def main(argv: list[str] | None = None) -> int:
    """``python -m tracklet.async_logging.drain SEGMENT LOCK_FD PARENT_PID``.

    Exit status 0: the segment is written and removed; 4 (:data:`IDLE_EXIT_CODE`):
    nothing to write for ``TRACKLET_ASYNC_DRAIN_IDLE_EXIT`` seconds (default 30), so a
    process that logs rarely, or a long notebook session, keeps no idle drain around (its
    writer starts another when it logs again); 3: the store cannot be opened here; 1:
    failed (the error is in the segment's ``.err``)."""
    from tracklet import plugins
    from tracklet.async_logging.spool import SpoolSegment
    from tracklet.utils import environment

    path, lock_fd, parent_pid = (argv or sys.argv[1:])[:3]
    segment = SpoolSegment.attach(path, int(lock_fd))
    try:
        store = plugins.get_tracking_store(segment.tracking_uri)
    except Exception as exc:
        segment.add_error(-1, NO_STORE, f"{type(exc).__name__}: {exc}")
        segment.close()
        return 3
    try:
        linger = float(environment.get("ASYNC_DRAIN_LINGER", "300"))
    except ValueError:
        linger = 300.0
    try:
        idle_exit = float(environment.get("ASYNC_DRAIN_IDLE_EXIT", "30"))
    except ValueError:
        idle_exit = 30.0
    try:
        drainer = Drainer(segment, store, _stdin_idle(int(parent_pid)), linger=linger, idle_exit=idle_exit)
        if not drainer.run() and not drainer.writer_done:
            return IDLE_EXIT_CODE
    except Exception:
        segment.add_error(-1, INTERNAL_ERROR, "the drain process failed:\n" + traceback.format_exc())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
