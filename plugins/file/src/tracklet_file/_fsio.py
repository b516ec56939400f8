"""Crash-safe file primitives: atomic replace, exclusive create, one-write appends, a lock.

Everything the store writes goes through here, so the guarantees live in one place:

* a whole file (``meta.yaml``, a param, a tag) is written to a temporary file and
  renamed over its target, so a reader or a ``kill -9`` never sees half of it;
* a metric point is one ``os.write`` on an ``O_APPEND`` descriptor, which the kernel
  applies atomically for one small buffer, even with several writer processes;
* experiment creation is serialised across processes with an OS lock that is released
  when its holder dies;
* a process forked while another thread is in here gets fresh locks, and no copy of a
  held folder lock.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator

from tracklet.stores.forking import after_fork_in_child

__all__ = [
    "Appender",
    "RACY_NS",
    "create_exclusive",
    "directory_lock",
    "file_lock",
    "is_settled",
    "list_dir",
    "read_bytes",
    "subdirs",
    "temp_path",
    "write_atomic",
]

#: A file changed less than this long before we looked at it may change again with the
#: same mtime (file timestamps advance in clock ticks), so a cache entry built from it is
#: re-checked by content instead of trusted on its stat alone.
RACY_NS = 50_000_000

_BINARY = getattr(os, "O_BINARY", 0)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY
_APPEND = os.O_WRONLY | os.O_CREAT | os.O_APPEND | _BINARY
# Errors meaning "this filesystem has no hard links", not "the target exists".
# Large enough for any param, tag or meta.yaml; small enough to allocate cheaply.
_CHUNK = 1 << 16
_NO_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOSYS, errno.EXDEV, errno.EMLINK}


def is_settled(mtime_ns: int, seen_at_ns: int) -> bool:
    """Whether a stat taken at ``seen_at_ns`` can be trusted to reveal any later change."""
    return mtime_ns + RACY_NS < seen_at_ns


def temp_path(staging_dir: str, name: str) -> str:
    """A fresh hidden file name in ``staging_dir`` for building ``name`` before publishing.

    Temporary files never go into ``params/``, ``tags/`` or ``metrics/``, where MLflow
    would list an orphan (left by a crash) as a key.
    """
    base = os.path.basename(name) or "file"
    return os.path.join(staging_dir, f".tmp-{base[:40]}-{os.getpid()}-{os.urandom(6).hex()}")


def _write_new(path: str, data: bytes) -> None:
    fd = os.open(path, _NEW_FILE, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _ensure_parent(path: str) -> None:
    parent = os.path.dirname(path)
    if parent:
        os.makedirs(parent, exist_ok=True)


def write_atomic(path: str, data: bytes, staging_dir: str) -> None:
    """Replace ``path`` with ``data`` in one rename; ``staging_dir`` is on the same filesystem."""
    tmp = temp_path(staging_dir, path)
    _write_new(tmp, data)
    try:
        _ensure_parent(path)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def create_exclusive(path: str, data: bytes, staging_dir: str) -> bool:
    """Create ``path`` holding ``data`` unless it exists; return whether we created it.

    The content is complete before the name appears (a hard link of a finished temp file),
    and two processes racing for the same name cannot both win.
    """
    tmp = temp_path(staging_dir, path)
    _write_new(tmp, data)
    try:
        _ensure_parent(path)
        try:
            os.link(tmp, path)
            return True
        except FileExistsError:
            return False
        except OSError as exc:
            if exc.errno not in _NO_LINKS:
                raise
            if os.path.exists(path):
                return False
            os.replace(tmp, path)
            return True
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def list_dir(path: str) -> list[os.DirEntry[str]]:
    """The entries of a directory, ``[]`` if it does not exist."""
    try:
        with os.scandir(path) as it:
            return list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []


def subdirs(path: str) -> list[str]:
    """Names of the subdirectories of ``path``, hidden ones (``.trash``, temps) left out."""
    return [e.name for e in list_dir(path) if not e.name.startswith(".") and e.is_dir()]


def read_bytes(path: str, offset: int = 0, size_hint: int = -1) -> bytes:
    """The content of ``path`` from ``offset`` on, in as few system calls as possible.

    ``size_hint`` (the size a recent stat showed) sizes the first read; the read goes on
    if the file has grown since.
    """
    fd = os.open(path, os.O_RDONLY | _BINARY)
    try:
        if offset:
            os.lseek(fd, offset, os.SEEK_SET)
        want = size_hint - offset + 1 if size_hint >= offset else _CHUNK
        chunk = os.read(fd, want)
        if len(chunk) < want:  # a short read of a regular file means end of file
            return chunk
        chunks = [chunk]
        while chunk:
            chunk = os.read(fd, _CHUNK)
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def _default_max_open() -> int:
    # One descriptor per metric key keeps a point at one write; take at most an eighth of
    # the process's descriptor limit, leaving the rest to the application.
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    except (ImportError, ValueError, OSError):
        return 64
    if soft == resource.RLIM_INFINITY:
        soft = 1 << 16
    return max(16, min(4096, soft // 8))


class Appender:
    """Appends to files through cached ``O_APPEND`` descriptors (a bounded LRU).

    Keeping the descriptor open makes a metric point cost one ``os.write``; a lock keeps a
    descriptor from being closed by one thread while another writes through it.
    """

    def __init__(self, max_open: int | None = None) -> None:
        self._max_open = max_open or _default_max_open()
        self._fds: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()
        after_fork_in_child(self, Appender.reset_after_fork)

    def append(self, path: str, data: bytes) -> None:
        """Append ``data`` (whole lines) to ``path``, creating it and its parents if needed."""
        self.append_many(((path, data),))

    def append_many(self, items: Iterable[tuple[str, bytes]]) -> None:
        """:meth:`append` for several files, under one acquisition of the lock."""
        with self._lock:
            fds = self._fds
            for path, data in items:
                fd = fds.get(path)
                if fd is None:
                    fd = self._open(path)
                else:
                    fds.move_to_end(path)
                written = os.write(fd, data)
                if written != len(data):  # only on a full disk or a signal: finish the rest
                    view = memoryview(data)[written:]
                    while view:
                        view = view[os.write(fd, view) :]

    def knows(self, path: str) -> bool:
        """Whether ``path`` is open here, so it is known to be a regular file."""
        return path in self._fds

    def _open(self, path: str) -> int:
        try:
            fd = os.open(path, _APPEND, 0o666)
        except FileNotFoundError:
            _ensure_parent(path)
            fd = os.open(path, _APPEND, 0o666)
        self._fds[path] = fd
        while len(self._fds) > self._max_open:
            _, old = self._fds.popitem(last=False)
            os.close(old)
        return fd

    def forget(self, prefix: str) -> None:
        """Close the descriptors of files under ``prefix`` (a directory that is moving)."""
        with self._lock:
            for path in [p for p in self._fds if p.startswith(prefix)]:
                os.close(self._fds.pop(path))

    def close(self) -> None:
        """Close every cached descriptor."""
        with self._lock:
            while self._fds:
                os.close(self._fds.popitem()[1])

    def reset_after_fork(self) -> None:
        """In a forked child: a fresh lock (the parent's may have been held mid-fork)."""
        self._lock = threading.Lock()


#: Descriptors of the folder locks this process holds or is taking. A forked child closes
#: its copies: an ``flock`` belongs to the open file, which the child's copy would keep
#: locked after the parent's thread let go.
_lock_fds: set[int] = set()
#: Guards opening and closing those descriptors, and is held across a fork, so that a
#: child never gets a lock descriptor the set does not list.
_lock_fds_guard = threading.Lock()


def _close_inherited_lock_fds() -> None:
    for fd in _lock_fds:
        os.close(fd)
    _lock_fds.clear()
    _lock_fds_guard.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(
        before=_lock_fds_guard.acquire,
        after_in_parent=_lock_fds_guard.release,
        after_in_child=_close_inherited_lock_fds,
    )


@contextlib.contextmanager
def file_lock(path: str) -> Iterator[None]:
    """Hold an exclusive inter-process lock on ``path`` (created if missing).

    The OS drops the lock when the holder exits, even on ``kill -9``, so no stale lock
    needs breaking; a child forked while a thread holds it does not keep it.
    """
    with _lock_fds_guard:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | _BINARY, 0o666)
        _lock_fds.add(fd)
    try:
        _lock_fd(fd)
        yield
    finally:
        with _lock_fds_guard:
            _lock_fds.discard(fd)
            os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def directory_lock(path: str, lock_name: str) -> Iterator[None]:
    """Hold an exclusive inter-process lock on the directory ``path`` itself, so that no
    lock file is left in it; where directories cannot be locked (Windows), on the file
    ``lock_name`` in it. Released like :func:`file_lock`."""
    directory = getattr(os, "O_DIRECTORY", None)
    if directory is None or sys.platform == "win32":
        with file_lock(os.path.join(path, lock_name)):
            yield
        return
    with _lock_fds_guard:
        fd = os.open(path, os.O_RDONLY | directory)
        _lock_fds.add(fd)
    try:
        _lock_fd(fd)
        yield
    finally:
        with _lock_fds_guard:
            _lock_fds.discard(fd)
            os.close(fd)


if sys.platform == "win32":  # pragma: no cover - exercised on Windows only
    import msvcrt

    def _lock_fd(fd: int) -> None:
        while True:
            try:
                msvcrt.locking(fd, msvcrt.LK_LOCK, 1)
                return
            except OSError:
                time.sleep(0.01)

else:
    import fcntl

    def _lock_fd(fd: int) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX)
