"""Crash-safe file primitives of the file registry: atomic replace, folder publish, a lock.

* a whole file (``meta.yaml``, a tag, an alias) is written to a hidden temporary file
  and renamed over its target, so a reader or a ``kill -9`` never sees half of it;
* a new model version is built whole in a hidden folder and renamed to
  ``version-<n>`` in one step;
* writes to one registered model are serialised across processes with an ``flock`` on
  a lock file in its folder, which the OS releases when the holder dies; a process
  forked while a thread holds it does not keep a copy of it.

Temporary files and folders start with ``.tmp-``: MLflow lists only ``version-*``
folders, and the files of ``tags/`` and ``aliases/``, so they never show as data.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import threading
import time
from collections.abc import Iterator

__all__ = [
    "LockedAway",
    "file_lock",
    "list_dir",
    "new_temp_dir",
    "read_text",
    "remove_tree",
    "subdirs",
    "write_atomic",
]

_BINARY = getattr(os, "O_BINARY", 0)
_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY


def _temp_name(staging_dir: str, name: str) -> str:
    base = os.path.basename(name) or "file"
    return os.path.join(staging_dir, f".tmp-{base[:40]}-{os.getpid()}-{os.urandom(6).hex()}")


def write_atomic(path: str, data: str, staging_dir: str) -> None:
    """Replace ``path`` with ``data`` (UTF-8) in one rename.

    ``staging_dir`` is a folder on the same filesystem where a hidden temporary file may
    stand for a moment (never ``tags/`` or ``aliases/``, whose files MLflow lists).
    """
    tmp = _temp_name(staging_dir, path)
    fd = os.open(tmp, _NEW_FILE, 0o666)
    try:
        view = memoryview(data.encode("utf-8"))
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)
    try:
        parent = os.path.dirname(path)
        if parent:
            os.makedirs(parent, exist_ok=True)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def new_temp_dir(parent: str, name: str) -> str:
    """A fresh hidden folder in ``parent`` in which to build ``name`` before publishing it."""
    path = _temp_name(parent, name)
    os.mkdir(path)
    return path


def remove_tree(path: str) -> None:
    """Delete a folder and everything in it (nothing if it is already gone)."""
    shutil.rmtree(path, ignore_errors=True)


def read_text(path: str) -> str | None:
    """The content of a file, None if it does not exist."""
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def list_dir(path: str) -> list[os.DirEntry[str]]:
    """The entries of a directory, ``[]`` if it does not exist."""
    try:
        with os.scandir(path) as it:
            return list(it)
    except (FileNotFoundError, NotADirectoryError):
        return []


def subdirs(path: str) -> list[str]:
    """Names of the subdirectories of ``path``, hidden ones (temporaries) left out."""
    return [e.name for e in list_dir(path) if not e.name.startswith(".") and e.is_dir()]


class LockedAway(Exception):
    """The folder holding a lock file went away (deleted or renamed) before we got it."""


#: Descriptors of the locks this process holds or is taking. A forked child closes its
#: copies: an ``flock`` belongs to the open file, which the child's copy would keep
#: locked after the parent's thread let go.
_lock_fds: set[int] = set()
#: Guards opening and closing those descriptors and is held across a fork, so that a
#: child never gets a lock descriptor the set does not list.
_lock_fds_guard = threading.Lock()


def _close_inherited_lock_fds() -> None:
    for fd in _lock_fds:
        with contextlib.suppress(OSError):
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

    Raises :class:`LockedAway` if the folder of ``path`` does not exist, or stops being
    where it was while we waited (another process renamed or deleted it), so the caller
    never works under a lock that no longer guards the name it asked for.
    """
    while True:
        with _lock_fds_guard:
            try:
                fd = os.open(path, os.O_RDWR | os.O_CREAT | _BINARY, 0o666)
            except (FileNotFoundError, NotADirectoryError):
                raise LockedAway(path) from None
            _lock_fds.add(fd)
        try:
            _lock_fd(fd)
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except (FileNotFoundError, NotADirectoryError):
                raise LockedAway(path) from None
            if same:
                yield
                return
        finally:
            with _lock_fds_guard:
                if fd in _lock_fds:
                    _lock_fds.discard(fd)
                    os.close(fd)  # closing the descriptor releases the lock
        # The file we locked was replaced by another at the same name (the folder was
        # deleted and made again): take the lock of the new one.


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
