"""The spool: write-ahead files that keep async logging calls until the store holds them.

A call logged with ``synchronous=False`` and the spool on is appended here (one
``os.write``) before the call returns; the worker sends what it reads back, and records
how far it got. A process that dies leaves its files behind, and any later process (or
``tracklet sync``) replays them. This module only keeps the files; what a record means
is :mod:`~tracklet.async_logging.records`', and sending them is the worker's and the
replayer's job.

On disk
=======

Every file sits in one directory (created ``0o700`` if missing: it holds run data;
files are ``0o600``), named after one *stem*, ``<created ms>-<pid>-<8 hex>``:

``<stem>.seg``
    Append-only, written by one process. The first line is the header,
    ``#tracklet-spool 1 {"tracking_uri": ..., "pid": ..., "created": <ms>}\\n``
    (compact JSON); then one record per line, each ending in ``\\n``. A last line without
    ``\\n`` is a write in progress or one cut by a crash: readers never return it.
``<stem>.ack``
    16 bytes: ``applied_end`` and ``inflight_end``, byte offsets into the ``.seg``
    (unsigned 64-bit, little-endian), overwritten in place with ``os.pwrite``; made on the
    first mark. Records before ``applied_end`` are in the store. Records in
    ``[applied_end, inflight_end)`` were being sent when the writer stopped, so whether the
    store has them is *uncertain*: the replayer checks before sending them again. Records
    after ``inflight_end`` were never sent. No ``.ack`` means nothing was ever sent.
``<stem>.runs``
    Lines ``local_run_id<TAB>store_run_id\\n``: runs created offline, under a local id,
    that the store has since created.
``<stem>.new``
    A segment being made: the header is written under this name, then the file is renamed
    to ``.seg``. So a ``.seg`` always starts with a whole header, and a claimer can never
    catch a writer between creating its file and locking it.

A segment's writer holds ``flock(LOCK_EX)`` on its ``.seg`` for as long as it keeps the
segment; a ``.seg`` nobody holds is an *orphan*, to be replayed. :func:`claim_orphans`
takes that lock itself (non-blocking) and then checks that the name still names the
locked file, since a replayer may have finished and deleted it in between. A fully applied
segment is deleted, ``.seg`` first (so a crash midway never leaves a ``.seg`` without its
``.ack``, which would replay it all); a stray ``.ack``/``.runs`` is cleaned up later.

What survives what
==================

* A record whose ``append`` returned is in the kernel's page cache: it survives a
  ``kill -9``, a crash or an ``os._exit`` of the process, since the file is the kernel's
  now, not the process's.
* It survives a power loss or a kernel crash only once :meth:`SpoolSegment.flush_to_disk`
  has ``fsync``-ed the segment (and the ``.ack``, and the directory's new entries). The
  worker does so after each applied batch, so a power loss can lose one drain cycle of
  records, and, if the ``.ack``'s last update was lost with it, send again what the store
  had already stored from the region it then thinks is unsent (metrics stored twice). On
  macOS ``fsync`` does not flush the drive's own cache either.
* A power loss can also leave a ``.seg`` with zeros or a cut-off header. A 0-byte ``.seg``
  is removed; one whose header cannot be read is left alone with a warning naming it (it
  may hold records someone wants).
* An ``.ack`` that makes no sense (offsets off a line boundary, past the end) is not
  trusted: everything after what can be trusted is treated as uncertain.

Locks, forks and processes
==========================

``flock`` locks belong to an *open file description* (what ``open`` returns, shared by
every descriptor ``dup``-ed or inherited from it), not to a process. So:

* A process that opens a segment again (a new description) conflicts with its own lock:
  :func:`claim_orphans` never hands a process its own live segments, nor one it claimed.
* ``os.fork()`` gives the child descriptors for the parent's descriptions, lock
  included. The child's :func:`claim_orphans` opens the file anew, conflicts with that
  lock, and skips the parent's live segment, as it should. But two things would go
  wrong if the child kept those descriptors: ``flock(LOCK_UN)`` on them would release
  the *parent's* lock, and a parent that dies would leave its segments locked (by the
  child's copies) until the child exits too, so nobody could replay them meanwhile. So in a
  forked child every segment inherited from the parent is closed at once, without
  unlocking (closing a copy leaves the lock to the descriptors still open, the parent's),
  and made unusable: ``append`` raises, ``close`` and ``remove`` do nothing (the files
  are the parent's). A child that logs makes its own segment.
* The descriptors are close-on-exec, so a subprocess started with ``exec``
  holds none of them.
* ``flock`` is not POSIX ``fcntl`` record locking, which a process loses when it closes
  *any* descriptor of the file and which forked children do not inherit. The spool belongs
  on a local file system; over NFS, ``flock`` is emulated with those record locks.

``fcntl`` does not exist on Windows: this module imports there, but making or claiming a
segment raises ``OSError``.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import secrets
import stat
import struct
import time
import weakref
from itertools import accumulate
from typing import Any

try:
    import fcntl
except ImportError:  # Windows: no flock; making or claiming a segment raises
    fcntl = None  # type: ignore[assignment]

__all__ = ["SpoolSegment", "claim_orphans", "header_of", "spool_size"]

_logger = logging.getLogger(__name__)

MAGIC = b"#tracklet-spool 1 "
"""How a segment's first line begins (format version 1)."""

SEG, ACK, RUNS, ERR, NEW = ".seg", ".ack", ".runs", ".err", ".new"

_ACK = struct.Struct("<QQ")
_U64 = struct.Struct("<Q")
_MAX_HEADER = 1 << 20
# a .new file nobody holds is a writer that died while making it; younger ones may
# still be on their way to being locked
_STALE_NEW_SECONDS = 600.0

_live: weakref.WeakSet[SpoolSegment] = weakref.WeakSet()
_warned: set[str] = set()


class SpoolSegment:
    """One ``.seg`` with its ``.ack`` and ``.runs``, locked by this process: made by
    :meth:`create` to write to, or returned by :func:`claim_orphans` to replay.

    Not thread-safe: the caller serialises :meth:`append`; reads and marks may run in
    another thread than the appends.
    """

    path: str
    """The ``.seg`` file."""
    tracking_uri: str
    created: int
    """When the segment was made, in ms since the epoch."""
    header_end: int
    """Offset of the first record (the header's length)."""
    end: int
    """Bytes written so far, header included (the file's size). A plain attribute, kept by
    :meth:`append`, so that reading it costs no ``fstat``."""

    def __init__(
        self,
        path: str,
        tracking_uri: str,
        created: int,
        header_end: int,
        end: int,
        *,
        write_fd: int,
        read_fd: int,
        lock_fd: int,
    ) -> None:
        # use create() or claim_orphans()
        self.path = path
        self.tracking_uri = tracking_uri
        self.created = created
        self.header_end = header_end
        self.end = end
        self._stem = path[: -len(SEG)]
        self._wfd = write_fd  # -1 for a claimed segment: it is replayed, never written
        self._rfd = read_fd
        self._lock_fd = lock_fd
        self._ack_fd = -1
        self._runs_fd = -1
        self._applied = header_end
        self._inflight = header_end
        self._ack_read_fd = -1
        self._err_fd = -1
        self._pid = os.getpid()
        self._dir_dirty = False
        self._broken: str | None = None
        _live.add(self)

    # -- making one --------------------------------------------------------------------

    @classmethod
    def create(cls, directory: str, tracking_uri: str) -> SpoolSegment:
        """A new, empty segment in ``directory`` (made ``0o700`` if missing) for records
        bound for ``tracking_uri``, locked by this process until :meth:`close` or
        :meth:`remove`."""
        _require_flock()
        os.makedirs(directory, mode=0o700, exist_ok=True)
        for _attempt in range(5):
            created = time.time_ns() // 1_000_000
            stem = os.path.join(directory, f"{created}-{os.getpid()}-{secrets.token_hex(4)}")
            header = (
                MAGIC
                + json.dumps(
                    {
                        "tracking_uri": tracking_uri,
                        "pid": os.getpid(),
                        "created": created,
                        "cwd": os.getcwd(),
                    },
                    ensure_ascii=False,
                    separators=(",", ":"),
                ).encode("utf-8")
                + b"\n"
            )
            new = stem + NEW
            wfd = os.open(new, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            rfd = -1
            try:
                fcntl.flock(wfd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                _write_all(wfd, header)
                rfd = os.open(new, os.O_RDONLY | os.O_CLOEXEC)
                os.rename(new, stem + SEG)
            except FileNotFoundError:
                # claim_orphans took it for a dead writer's (only after _STALE_NEW_SECONDS,
                # so hardly ever): start again under another name
                _close_quietly(wfd, rfd)
                continue
            except BaseException:
                _close_quietly(wfd, rfd)
                _unlink_quietly(new)
                raise
            segment = cls(
                stem + SEG,
                tracking_uri,
                created,
                len(header),
                len(header),
                write_fd=wfd,
                read_fd=rfd,
                lock_fd=wfd,
            )
            segment._dir_dirty = True
            return segment
        raise OSError(
            errno.EAGAIN, f"could not make a spool segment in {directory}: its files kept vanishing"
        )

    # -- writing -----------------------------------------------------------------------

    def append(self, data: bytes) -> int:
        """Append ``data`` (whole records, each ending in ``b"\\n"``) and return the new
        :attr:`end`. One ``os.write``; the caller serialises appends.

        If the write fails midway (disk full), what was written of it is cut off again, so
        the file never holds half a record followed by more records.
        """
        try:
            written = os.write(self._wfd, data)
        except OSError:
            self._not_writable()
            raise
        if written != len(data):
            self._write_rest(data, written)
        self.end += len(data)
        return self.end

    def _write_rest(self, data: bytes, written: int) -> None:
        try:
            _write_all(self._wfd, memoryview(data)[written:])
        except BaseException:
            try:
                os.ftruncate(self._wfd, self.end)
            except OSError as exc:
                self._broken = (
                    f"spool segment {self.path} holds a cut-off record that could not be removed ({exc})"
                )
                _close_quietly(self._wfd)
                self._wfd = -1
            raise

    def _not_writable(self) -> None:
        if self._wfd >= 0:
            return
        if self._broken:
            raise OSError(errno.EBADF, f"{self._broken}; make a new segment")
        if self._pid != os.getpid():
            raise OSError(
                errno.EBADF,
                f"spool segment {self.path} belongs to process {self._pid}, which forked this one;"
                " make a new segment in this process",
            )
        if self._lock_fd < 0:
            raise OSError(errno.EBADF, f"spool segment {self.path} is closed")
        raise OSError(errno.EBADF, f"spool segment {self.path} was claimed for replay; it is not appended to")

    # -- reading -----------------------------------------------------------------------

    def read_records(self, start: int, limit_bytes: int = 4 << 20) -> tuple[list[bytes], list[int]]:
        """The whole records from offset ``start`` (the header's end, if before it), about
        ``limit_bytes`` of them, without their ``b"\\n"``; and the end offset of each (the
        ``start`` of the next read). A record longer than ``limit_bytes`` comes alone.
        Stops before a last line that has no ``b"\\n"`` yet.
        """
        self._check_open()
        start = max(start, self.header_end)
        limit = max(limit_bytes, 1)
        buf = _pread_full(self._rfd, limit, start)
        cut = buf.rfind(b"\n")
        while cut < 0 and len(buf) >= limit:  # one line longer than limit_bytes
            more = _pread_full(self._rfd, limit, start + len(buf))
            if not more:
                break
            cut = more.find(b"\n")
            if cut >= 0:
                cut += len(buf)
            buf += more
        if cut < 0:
            return [], []
        lines = buf[:cut].split(b"\n")
        ends = list(accumulate((len(line) + 1 for line in lines), initial=start))
        del ends[0]
        return lines, ends

    # -- acknowledging -----------------------------------------------------------------

    def acked(self) -> tuple[int, int]:
        """``(applied_end, inflight_end)``: records before the first are in the store,
        records before the second were being sent. ``(header_end, header_end)`` until a
        mark is made."""
        return self._applied, self._inflight

    def mark_inflight(self, end: int) -> None:
        """Record that the records up to ``end`` are being sent (before sending them)."""
        self._check_open()
        self._inflight = end
        if self._ack_fd < 0:
            self._open_ack()
        else:
            os.pwrite(self._ack_fd, _U64.pack(end), 8)

    def mark_applied(self, end: int) -> None:
        """Record that the store holds the records up to ``end``."""
        self._check_open()
        self._applied = end
        self._inflight = max(self._inflight, end)
        if self._ack_fd < 0:
            self._open_ack()
        else:
            os.pwrite(self._ack_fd, _ACK.pack(self._applied, self._inflight), 0)

    def _open_ack(self) -> None:
        fd = os.open(self._stem + ACK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.pwrite(fd, _ACK.pack(self._applied, self._inflight), 0)
        except BaseException:
            os.close(fd)
            raise
        self._ack_fd = fd
        self._dir_dirty = True

    def _load_ack(self) -> None:
        """Read the ``.ack`` of a claimed segment; what cannot be trusted becomes uncertain."""
        try:
            fd = os.open(self._stem + ACK, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return
        self._ack_fd = fd
        raw = _pread_full(fd, _ACK.size, 0)
        applied = _U64.unpack(raw[:8])[0] if len(raw) >= 8 else self.header_end
        inflight = _U64.unpack(raw[8:16])[0] if len(raw) >= 16 else applied
        if not self._at_line_end(applied):
            _logger.warning(
                "spool segment %s: its .ack says %d bytes are applied, which is no record's end;"
                " every record in it will be checked against the store before it is sent",
                self.path,
                applied,
            )
            applied, inflight = self.header_end, self.end
        elif inflight < applied or not self._at_line_end(inflight):
            inflight = self.end
        self._applied, self._inflight = applied, inflight

    def _at_line_end(self, offset: int) -> bool:
        if offset == self.header_end:
            return True
        return self.header_end < offset <= self.end and os.pread(self._rfd, 1, offset - 1) == b"\n"

    # -- a drain process, and the writer that waits for it -------------------------------

    @classmethod
    def attach(cls, path: str, lock_fd: int) -> SpoolSegment:
        """The segment at ``path`` as seen by the process that writes its records to the
        store for the writer (the drain, :mod:`~tracklet.async_logging.drain`):
        ``lock_fd`` is the writer's descriptor, inherited, so the lock is held as long as
        either process lives. The drain reads and marks; it never appends."""
        rfd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            header = _read_header(rfd, path)
            if header is None:
                raise OSError(errno.EINVAL, f"{path} is not a spool segment")
            uri, created, header_end = header
            segment = cls(
                path,
                uri,
                created,
                header_end,
                os.fstat(rfd).st_size,
                write_fd=-1,
                read_fd=rfd,
                lock_fd=lock_fd,
            )
        except BaseException:
            _close_quietly(rfd)
            raise
        segment._load_ack()
        return segment

    def applied_on_disk(self) -> tuple[int, int]:
        """``(applied_end, unreachable_since_ms)`` as the ``.ack`` file says now (written
        by another process: the drain); ``unreachable_since_ms`` is 0 while the store can
        be reached."""
        if self._ack_read_fd < 0:
            try:
                self._ack_read_fd = os.open(self._stem + ACK, os.O_RDONLY | os.O_CLOEXEC)
            except FileNotFoundError:
                return self.header_end, 0
        raw = os.pread(self._ack_read_fd, 24, 0)
        applied = _U64.unpack(raw[:8])[0] if len(raw) >= 8 else self.header_end
        since = _U64.unpack(raw[16:24])[0] if len(raw) >= 24 else 0
        return applied, since

    def mark_unreachable(self, since_ms: int) -> None:
        """Record that the store cannot be reached since ``since_ms`` (0: it can again)."""
        self._check_open()
        if self._ack_fd < 0:
            self._open_ack()
        os.pwrite(self._ack_fd, _U64.pack(since_ms), 16)

    def add_error(self, end: int, error_code: str, message: str) -> None:
        """Record that the store refused the record ending at offset ``end``."""
        self._check_open()
        if self._err_fd < 0:
            self._err_fd = os.open(
                self._stem + ERR, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
        line = json.dumps([end, error_code, message], ensure_ascii=False, separators=(",", ":"))
        _write_all(self._err_fd, line.encode() + b"\n")

    def errors_after(self, position: int) -> tuple[list[tuple[int, str, str]], int]:
        """The refusals recorded from byte ``position`` of the ``.err`` file on, as
        ``(record end, error code, message)``, and the position to read from next."""
        try:
            with open(self._stem + ERR, "rb") as f:
                f.seek(position)
                data = f.read()
        except FileNotFoundError:
            return [], position
        cut = data.rfind(b"\n") + 1
        found: list[tuple[int, str, str]] = []
        for line in data[:cut].split(b"\n")[:-1]:
            try:
                end, code, message = json.loads(line)
                found.append((int(end), str(code), str(message)))
            except (ValueError, TypeError):
                continue
        return found, position + cut

    # -- offline runs ------------------------------------------------------------------

    def run_map(self) -> dict[str, str]:
        """The offline runs the store has created: local run id -> the store's run id."""
        try:
            with open(self._stem + RUNS, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return {}
        mapping: dict[str, str] = {}
        for line in data.split(b"\n")[:-1]:  # the last piece is b"" or a cut-off line
            local, sep, store = line.decode("utf-8", "replace").partition("\t")
            if sep and local and store:
                mapping[local] = store
        return mapping

    def add_run(self, local_id: str, store_id: str) -> None:
        """Remember that the run made offline as ``local_id`` is ``store_id`` in the store."""
        self._check_open()
        for name, value in (("local_id", local_id), ("store_id", store_id)):
            if not value or "\t" in value or "\n" in value:
                raise ValueError(f"{name} {value!r} must be a non-empty run id without tab or newline")
        if self._runs_fd < 0:
            self._runs_fd = os.open(
                self._stem + RUNS, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600
            )
            self._dir_dirty = True
        _write_all(self._runs_fd, f"{local_id}\t{store_id}\n".encode())

    # -- durability and the end --------------------------------------------------------

    def flush_to_disk(self) -> None:
        """``fsync`` the segment, its ``.ack`` and ``.runs`` (and, when new files were
        made, the directory): what they hold now survives a power loss."""
        self._check_open()
        os.fsync(self._wfd if self._wfd >= 0 else self._rfd)
        for fd in (self._ack_fd, self._runs_fd):
            if fd >= 0:
                os.fsync(fd)
        if self._dir_dirty:
            _fsync_directory(os.path.dirname(self.path) or ".")
            self._dir_dirty = False

    def remove(self) -> None:
        """Delete the segment's files, then release the lock. Does nothing in a process
        forked from the one that holds the segment (the files are the parent's)."""
        if self._lock_fd < 0:
            return
        for suffix in (SEG, ACK, RUNS, ERR):  # the .seg first: never a .seg without its .ack
            _unlink_quietly(self._stem + suffix)
        self.close()

    def close(self) -> None:
        """Release the lock and close the files, which stay (to be replayed by whoever
        claims them next). Does nothing the second time, or in a forked child."""
        if self._lock_fd < 0:
            return
        fds = {
            self._wfd,
            self._rfd,
            self._ack_fd,
            self._runs_fd,
            self._ack_read_fd,
            self._err_fd,
            self._lock_fd,
        } - {-1}
        self._wfd = self._rfd = self._ack_fd = self._runs_fd = self._lock_fd = -1
        self._ack_read_fd = self._err_fd = -1
        _live.discard(self)
        _close_quietly(*fds)  # closing the last descriptor of the .seg releases the lock

    def _check_open(self) -> None:
        if self._rfd < 0:
            self._not_writable()
            raise OSError(errno.EBADF, f"spool segment {self.path} is closed")

    def _after_fork_in_child(self) -> None:
        # the descriptors share the parent's open file descriptions, lock included: close
        # this process's copies (the lock stays with the parent's), never flock(LOCK_UN)
        fds = {
            self._wfd,
            self._rfd,
            self._ack_fd,
            self._runs_fd,
            self._ack_read_fd,
            self._err_fd,
            self._lock_fd,
        } - {-1}
        self._wfd = self._rfd = self._ack_fd = self._runs_fd = self._lock_fd = -1
        self._ack_read_fd = self._err_fd = -1
        _close_quietly(*fds)

    def __repr__(self) -> str:
        state = "open" if self._lock_fd >= 0 else "closed"
        return f"<SpoolSegment {self.path} end={self.end} {state}>"


def claim_orphans(directory: str, tracking_uri: str | None = None) -> list[SpoolSegment]:
    """Lock and return, oldest first, the segments in ``directory`` that no live process
    holds, whose records are bound for ``tracking_uri`` (any, when None).

    The caller owns what it gets: it must :meth:`~SpoolSegment.remove` or
    :meth:`~SpoolSegment.close` each. On the way, it removes 0-byte segments, and the
    leftovers of segments already removed or never finished; a segment whose header cannot
    be read is left in place, with a warning naming it.
    """
    _require_flock()
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    candidates: list[tuple[int, str, str]] = []
    for name in names:
        path = os.path.join(directory, name)
        if name.endswith(SEG):
            stem = name[: -len(SEG)]
            created = stem.split("-", 1)[0]
            candidates.append((int(created) if created.isdigit() else 0, name, path))
        elif name.endswith((ACK, RUNS, ERR)):
            if not os.path.exists(path[: path.rindex(".")] + SEG):
                # its .seg was removed first, and whoever removed it stopped before this
                _unlink_quietly(path)
        elif name.endswith(NEW):
            _remove_dead_new(path)
    claimed: list[SpoolSegment] = []
    for _created, _name, path in sorted(candidates):
        segment = _claim(path, tracking_uri)
        if segment is not None:
            claimed.append(segment)
    return claimed


def _claim(path: str, tracking_uri: str | None) -> SpoolSegment | None:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        if os.fstat(fd).st_size == 0:
            # no header: never a live writer's (it names its file .seg once the header is
            # in), so nothing is lost
            if _lock_if_still_named(fd, path) and os.fstat(fd).st_size == 0:
                _unlink_quietly(path)
                _logger.info("removed the empty spool segment %s", path)
            os.close(fd)
            return None
        header = _read_header(fd, path)
        if header is None or (tracking_uri is not None and header[0] != tracking_uri):
            os.close(fd)
            return None
        if not _lock_if_still_named(fd, path):
            os.close(fd)  # a live writer's, another claimer's, or gone
            return None
        uri, created, header_end = header
        segment = SpoolSegment(
            path, uri, created, header_end, os.fstat(fd).st_size, write_fd=-1, read_fd=fd, lock_fd=fd
        )
    except BaseException:
        _close_quietly(fd)
        raise
    try:
        segment._load_ack()
    except BaseException:
        segment.close()
        raise
    return segment


def _lock_if_still_named(fd: int, path: str) -> bool:
    """Take the lock on ``fd`` without waiting; False if somebody holds it, or if ``path``
    no longer names that file (a replayer removed it before letting go of it)."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (now.st_ino, now.st_dev) == (held.st_ino, held.st_dev)


def _read_header(fd: int, path: str) -> tuple[str, int, int] | None:
    """(tracking_uri, created ms, header length) of a segment; None, with a warning once
    per process, when its first line is not a header."""
    data = b""
    while b"\n" not in data and len(data) < _MAX_HEADER:
        more = os.pread(fd, 4096, len(data))
        if not more:
            break
        data += more
    line, newline, _rest = data.partition(b"\n")
    problem = None
    if not newline:
        problem = "its first line has no end"
    elif not line.startswith(MAGIC):
        problem = f"it does not start with {MAGIC.decode().strip()!r}"
    else:
        try:
            meta: Any = json.loads(line[len(MAGIC) :])
        except ValueError:
            meta = None
        if not isinstance(meta, dict) or not isinstance(meta.get("tracking_uri"), str):
            problem = "its header is not the JSON object with a tracking_uri it should be"
        else:
            created = meta.get("created")
            return meta["tracking_uri"], created if isinstance(created, int) else 0, len(line) + 1
    if path not in _warned:
        _warned.add(path)
        _logger.warning(
            "spool segment %s is not readable (%s); it is left in place and not replayed."
            " Look at it, then move it away or delete it",
            path,
            problem,
        )
    return None


def _remove_dead_new(path: str) -> None:
    """Remove a ``.new`` file whose writer died before naming it ``.seg`` (it holds a
    header and no record)."""
    try:
        if time.time() - os.stat(path).st_mtime < _STALE_NEW_SECONDS:
            return
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if _lock_if_still_named(fd, path):
            _unlink_quietly(path)
    finally:
        os.close(fd)


def header_of(path: str) -> dict[str, Any]:
    """The JSON header of the segment at ``path`` (``tracking_uri``, ``pid``, ``created``,
    ``cwd``: the writer's working directory, against which a relative tracking URI such as
    ``sqlite:///mlflow.db`` is meant); ``{}`` if it cannot be read."""
    try:
        with open(path, "rb") as f:
            line = f.readline(_MAX_HEADER)
        meta = json.loads(line[len(MAGIC) :]) if line.startswith(MAGIC) else {}
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def spool_size(directory: str) -> int:
    """Bytes of records in ``directory``'s segments that the store does not hold yet
    (each segment's size less its ``applied_end``)."""
    total = 0
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return 0
    for name in names:
        if name.endswith(SEG):
            total += _unapplied(os.path.join(directory, name))
    return total


def _unapplied(path: str) -> int:
    try:
        size = os.stat(path).st_size
        try:
            with open(path[: -len(SEG)] + ACK, "rb") as f:
                raw = f.read(8)
        except FileNotFoundError:
            raw = b""
        applied = _U64.unpack(raw)[0] if len(raw) == 8 else _header_length(path)
    except FileNotFoundError:  # removed meanwhile
        return 0
    return max(0, size - applied)


def _header_length(path: str) -> int:
    with open(path, "rb") as f:
        first = f.readline(_MAX_HEADER)
    return len(first) if first.startswith(MAGIC) and first.endswith(b"\n") else 0


# -- small helpers -----------------------------------------------------------------------


def _require_flock() -> None:
    if fcntl is None:
        raise OSError(
            errno.ENOTSUP,
            "the async logging spool needs flock(), which this platform lacks;"
            " set TRACKLET_ASYNC_SPOOL=off to log without it",
        )


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _pread_full(fd: int, size: int, offset: int) -> bytes:
    data = os.pread(fd, size, offset)
    if len(data) == size or not data:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        more = os.pread(fd, size - got, offset + got)
        if not more:
            break
        parts.append(more)
        got += len(more)
    return b"".join(parts)


def _fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            os.fsync(fd)
    except OSError:
        pass  # some file systems cannot fsync a directory; the files themselves are synced
    finally:
        os.close(fd)


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _close_quietly(*fds: int) -> None:
    for fd in fds:
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass


def _after_fork_in_child() -> None:
    for segment in list(_live):
        segment._after_fork_in_child()
    _live.clear()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
