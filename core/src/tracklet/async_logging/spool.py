"""The spool: write-ahead files that keep async logging calls until the store holds them.

A call logged with ``synchronous=False`` and the spool on is appended here (copied into a
shared memory map of the file: no system call, most of the time) before the call
returns; the worker sends what it reads back, and records how far it got. A process
that dies leaves its files behind, and any later process (or ``tracklet sync``) replays
them. This module only keeps the files; what a record means is
:mod:`~tracklet.async_logging.records`', and sending them is the worker's and the
replayer's job.

On disk
=======

Every file sits in one directory (created ``0o700`` if missing: it holds run data;
files are ``0o600``), named after one *stem*, ``<created ms>-<pid>-<8 hex>``:

``<stem>.seg``
    Append-only, written by one process through a shared memory map of the file. The
    first line is the header,
    ``#tracklet-spool 1 {"tracking_uri": ..., "pid": ..., "created": <ms>}\\n``
    (compact JSON); then one record per line, each ending in ``\\n``; then zeros to the
    end of the file. The writer grows the file ahead of its records, a *window* at a time
    (64 KiB, doubling up to 8 MiB), so the file's size is not where the records end. No
    record holds a NUL byte (a metric line is checked text; every other record, and the
    header, is JSON, which escapes control characters): the *logical end* of a segment is
    its first NUL byte, or the end of the file (a writer that closes its segment cuts the
    file there). A last line without ``\\n`` before the logical end is a write in progress or
    one cut by a crash: readers never return it, nor anything after it. A copy cut by a
    kill may have stored any of a record's bytes and not others (``memcpy`` may store a
    record's tail before its middle), so such a record has a NUL inside, or no ``\\n``
    before the first NUL: either way the logical end comes before its end.
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
  now, not the process's. The map is ``MAP_SHARED``: its pages *are* the file's pages in
  the page cache, so a byte copied into it is in the file at once, for every reader (who
  reads with ``pread``), with no ``msync``, exactly as if ``os.write`` had written it.
* A full disk: before it copies into a new window, the writer reserves the window's
  blocks with ``posix_fallocate``, so a full disk (or ``RLIMIT_FSIZE``) is an ``OSError``
  raised by the ``append`` that needed the room, before any of its bytes are copied, and
  the segment goes on once there is room. It is never a page fault into a block the file
  system cannot find, which is ``SIGBUS`` and kills the process. Where
  ``posix_fallocate`` does not exist (macOS) or the file system cannot do it, the file is
  grown with ``ftruncate`` (sparse), and there a full disk kills the writer with
  ``SIGBUS`` in the middle of a copy: what returned before is kept, the record being
  copied is cut off (and never read).
* It survives a power loss or a kernel crash only once :meth:`SpoolSegment.flush_to_disk`
  has ``fsync``-ed the segment (and the ``.ack``, and the directory's new entries). The
  worker does so after each applied batch, so a power loss can lose one drain cycle of
  records, and, if the ``.ack``'s last update was lost with it, send again what the store
  had already stored from the region it then thinks is unsent (metrics stored twice). On
  macOS ``fsync`` does not flush the drive's own cache either. (``flush_to_disk``
  ``msync``-s the writer's map first, which Linux does not need but other systems may.)
* A power loss can also leave a ``.seg`` with zeros where records were (pages written
  back and pages not, in any order): readers stop at the first zero, so records after it
  are lost, as records not yet ``fsync``-ed may be. It can leave a cut-off header too.
  A 0-byte ``.seg`` is removed; one whose header cannot be read is left alone with a
  warning naming it (it may hold records someone wants).
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
  are the parent's). The child's copy of the writer's map is unmapped too (``munmap``
  changes only the calling process's address space: the parent's map stays), so the
  child can never write into the parent's records. A child that logs makes its own
  segment.
* Python's ``mmap`` keeps a ``dup`` of the descriptor it maps, the writer's (one more
  descriptor of the locked description): :meth:`SpoolSegment.close` closes the map
  before the descriptors, and the lock goes with the last of them.
* The descriptors are close-on-exec (the map's ``dup`` too), so a subprocess started
  with ``exec`` holds none of them, nor the map.
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
import mmap
import os
import secrets
import stat
import struct
import time
import weakref
from itertools import accumulate
from typing import Any, NoReturn

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
# the writer's windows: the first is 64 KiB (a multiple of every platform's mmap
# granularity, so every window starts on one), each next one twice the last, up to 8 MiB
_FIRST_WINDOW = max(64 << 10, mmap.ALLOCATIONGRANULARITY)
_MAX_WINDOW = max(8 << 20, _FIRST_WINDOW)
# readers look for the logical end in blocks of this size, then of twice the last
_FIRST_READ = 64 << 10
_MAX_READ = 4 << 20

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
    """Bytes written so far, header included: the logical end (the file is longer, zeros
    after it). A plain attribute, kept by :meth:`append`, so that reading it costs
    nothing."""

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
        # the writer's window: a map of the file's bytes [_win_end - _win_len, _win_end),
        # its position at self.end; None if this process does not write the segment
        self._map: mmap.mmap | None = None
        self._win_end = 0
        self._win_len = 0
        self._allocated = end  # the file's size, as far as the writer grew it
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
            # read and write: a shared writable map needs both
            wfd = os.open(new, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
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
            try:
                segment._map_window(0, _round_up(len(header) + 1, _FIRST_WINDOW)).seek(len(header))
            except BaseException:
                _unlink_quietly(segment.path)  # the header alone: nothing is lost
                segment._close(cut=False)
                raise
            return segment
        raise OSError(
            errno.EAGAIN, f"could not make a spool segment in {directory}: its files kept vanishing"
        )

    # -- writing -----------------------------------------------------------------------

    def append(self, data: bytes) -> int:
        """Append ``data`` (whole records, each ending in ``b"\\n"``, none holding a NUL
        byte) and return the new :attr:`end`. The caller serialises appends.

        A copy into the map, most of the time; when the window is full, the file is grown
        by the next one first, so a full disk raises ``OSError`` before anything is
        copied: the file never holds half a record followed by more records.
        """
        try:
            self._map.write(data)  # type: ignore[union-attr]  # None: see _append_slowly
        except (AttributeError, ValueError):  # no map, or no room left in it
            return self._append_slowly(data)
        self.end += len(data)
        return self.end

    def _append_slowly(self, data: bytes) -> int:
        """Append ``data`` where it does not fit in the window: its head goes to what is
        left of this window, its tail to the next, mapped (and the file grown) before
        anything is copied."""
        old = self._map
        if old is None:
            self._refuse()
        end = self.end
        new_end = end + len(data)
        if new_end <= self._win_end:  # it fits: what failed was not the room
            old.write(data)
        else:
            if b"\x00" in data:  # checked here only: not worth its cost on every append
                raise ValueError("a spool record cannot hold a NUL byte: readers take it for the end")
            start = self._win_end
            length = max(min(self._win_len * 2, _MAX_WINDOW), _round_up(new_end - start, _FIRST_WINDOW))
            window = self._map_window(start, length)  # the head's bytes still sit in old
            head = start - end
            view = memoryview(data)
            old.write(view[:head])
            window.write(view[head:])
            old.close()
        self.end = new_end
        return new_end

    def _map_window(self, start: int, length: int) -> mmap.mmap:
        """Grow the file to ``start + length`` with real blocks, map those bytes, and make
        that map the window (the previous one, if any, is left to the caller to close)."""
        if start + length > self._allocated:
            _grow(self._wfd, self._allocated, start + length)
            self._allocated = start + length
        window = mmap.mmap(self._wfd, length, access=mmap.ACCESS_WRITE, offset=start)
        self._map, self._win_end, self._win_len = window, start + length, length
        return window

    def _refuse(self) -> NoReturn:
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
        Stops at the logical end (the first NUL byte), and before a last line that has no
        ``b"\\n"`` there yet. Reads 64 KiB first, and more only while that is all records,
        so a reader that polls the end of a segment copies little.
        """
        self._check_open()
        start = max(start, self.header_end)
        limit = max(limit_bytes, 1)
        buf = _read_until_nul(self._rfd, start, limit)
        cut = buf.rfind(b"\n")
        while cut < 0 and len(buf) >= limit:  # one line longer than limit_bytes
            more = _read_until_nul(self._rfd, start + len(buf), limit)
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
                _logical_end(rfd, header_end, path[: -len(SEG)]),
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
        window = self._map
        if window is not None:  # msync: Linux's fsync writes the map's pages anyway; not all do
            try:
                window.flush()
            except (ValueError, OSError):
                if not window.closed:
                    raise
                # the appending thread moved to the next window (or closed) meanwhile:
                # what was copied into this one is in the file's pages, which fsync writes
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
        self._close(cut=False)

    def close(self) -> None:
        """Release the lock and close the files, which stay (to be replayed by whoever
        claims them next); the writer cuts the ``.seg`` at its logical end first. Does
        nothing the second time, or in a forked child."""
        self._close(cut=True)

    def _close(self, cut: bool) -> None:
        if self._lock_fd < 0:
            return
        window, self._map = self._map, None
        if window is not None:
            window.close()  # before the descriptors: it holds a dup of the writer's
            if cut:
                try:
                    os.ftruncate(self._wfd, self.end)  # the zeros after the records
                except OSError:
                    pass  # they are harmless: readers stop at the first
        fds = self._take_descriptors()
        _live.discard(self)
        _close_quietly(*fds)  # closing the last descriptor of the .seg releases the lock

    def _take_descriptors(self) -> set[int]:
        """This object's open descriptors, which it forgets (the caller closes them)."""
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
        return fds

    def _check_open(self) -> None:
        if self._rfd < 0:
            self._refuse()

    def _after_fork_in_child(self) -> None:
        # the child's copy of the map: unmapping it changes only this process's address
        # space (and closes its copy of mmap's dup of the descriptor)
        window, self._map = self._map, None
        if window is not None:
            window.close()
        # the descriptors share the parent's open file descriptions, lock included: close
        # this process's copies (the lock stays with the parent's), never flock(LOCK_UN)
        _close_quietly(*self._take_descriptors())

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
        end = _logical_end(fd, header_end, path[: -len(SEG)])
        segment = SpoolSegment(path, uri, created, header_end, end, write_fd=-1, read_fd=fd, lock_fd=fd)
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
    while b"\n" not in data and b"\x00" not in data and len(data) < _MAX_HEADER:
        more = os.pread(fd, 4096, len(data))
        if not more:
            break
        data += more
    data = data.partition(b"\x00")[0]  # the logical end: a header has no NUL
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
    (each segment's logical end less its ``applied_end``)."""
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
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:  # removed meanwhile
        return 0
    try:
        header_end = _header_length(path)
        applied = _applied_in_ack(path[: -len(SEG)])
        if applied is None or applied < header_end:
            applied = header_end
        return max(0, _logical_end(fd, header_end, path[: -len(SEG)]) - applied)
    except FileNotFoundError:
        return 0
    finally:
        os.close(fd)


def _header_length(path: str) -> int:
    with open(path, "rb") as f:
        first = f.readline(_MAX_HEADER)
    return len(first) if first.startswith(MAGIC) and first.endswith(b"\n") else 0


def _applied_in_ack(stem: str) -> int | None:
    """``applied_end`` as the ``.ack`` file says (None without one)."""
    try:
        with open(stem + ACK, "rb") as f:
            raw = f.read(8)
    except FileNotFoundError:
        return None
    return _U64.unpack(raw)[0] if len(raw) == 8 else None


def _logical_end(fd: int, header_end: int, stem: str) -> int:
    """Where the records of the segment open as ``fd`` end: its first NUL byte (or the
    end of the file). The search starts at the ``.ack``'s ``applied_end`` when that is a
    line's end (the records before it were read, so they hold no NUL), else at
    ``header_end``; it reads forward in growing blocks."""
    offset = header_end
    applied = _applied_in_ack(stem)
    if applied is not None and applied > header_end and os.pread(fd, 1, applied - 1) == b"\n":
        offset = applied
    block = _FIRST_READ
    while True:
        data = os.pread(fd, block, offset)
        if not data:
            return offset
        nul = data.find(b"\x00")
        if nul >= 0:
            return offset + nul
        offset += len(data)
        block = min(block * 2, _MAX_READ)


def _read_until_nul(fd: int, offset: int, size: int) -> bytes:
    """Up to ``size`` bytes from ``offset``, stopping before the first NUL byte: a block
    of 64 KiB first, then twice as much as read so far while no NUL (nor the end of the
    file) comes."""
    block = min(size, _FIRST_READ)
    data = _pread_full(fd, block, offset)
    nul = data.find(b"\x00")
    if nul >= 0:
        return data[:nul]
    if len(data) < block or block == size:
        return data
    parts = [data]
    got = len(data)
    while got < size:
        block = min(size - got, got)
        more = _pread_full(fd, block, offset + got)
        nul = more.find(b"\x00")
        if nul >= 0:
            parts.append(more[:nul])
            break
        parts.append(more)
        got += len(more)
        if len(more) < block:
            break
    return b"".join(parts)


# -- small helpers -----------------------------------------------------------------------


def _require_flock() -> None:
    if fcntl is None:
        raise OSError(
            errno.ENOTSUP,
            "the async logging spool needs flock(), which this platform lacks;"
            " set TRACKLET_ASYNC_SPOOL=off to log without it",
        )


def _round_up(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def _grow(fd: int, size: int, new_size: int) -> None:
    """Grow the file open as ``fd`` from ``size`` to ``new_size`` bytes of zeros, with real
    blocks where the system can: a full disk is then this call's ``OSError``, not a
    ``SIGBUS`` when the map's page is first written."""
    if hasattr(os, "posix_fallocate"):
        try:
            os.posix_fallocate(fd, size, new_size - size)
            return
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EINVAL):
                raise
    # macOS, or a file system that cannot allocate ahead: a sparse file, whose blocks are
    # found when the map's pages are written; on a full disk that is SIGBUS, which kills
    # the writer mid-copy (what returned before is kept; the cut-off record is never read)
    os.ftruncate(fd, new_size)


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
