"""In-memory copies of files, kept valid by ``os.stat`` instead of re-reading.

A cached value is reused while the file's stat key ``(mtime_ns, size, inode)`` is the
one it was read under, so a change made by another process (tracklet or MLflow) is seen
on the next call. File times advance in clock ticks, so a file read within
:data:`~tracklet_file._fsio.RACY_NS` of its last change is not yet *settled*: it is
checked again next time even if its stat looks the same.

Folders (``params/``, ``tags/``, ``metrics/``, nested for keys with ``/``) are re-listed
only when one of their directories' mtime moved: creating, renaming or deleting an entry
changes its directory's mtime, which a stat of each directory reveals.
"""

from __future__ import annotations

import os
import time
from typing import Any, ClassVar, Generic, TypeVar

from ._fsio import is_settled, read_bytes
from ._layout import load_yaml
from ._metrics import Latest, update_latest

__all__ = [
    "Check",
    "FileState",
    "MetaFile",
    "MetricTree",
    "ParamTree",
    "TagTree",
    "dir_mtime",
    "stat_key",
    "unchanged",
]

V = TypeVar("V")
StatKey = tuple[int, int, int]
#: (path, mtime_ns, size): a stat that must match for a cached copy to be current;
#: size -1 means "a directory, compare the mtime only", mtime -1 "must not exist".
Check = tuple[str, int, int]
_MISSING = -1


def unchanged(checks: list[Check]) -> bool:
    """Whether every path still has its recorded stat: one ``os.stat`` per entry, in a
    tight loop, because a repeat search runs this for thousands of runs."""
    stat = os.stat
    for path, mtime, size in checks:
        try:
            st = stat(path)
        except (FileNotFoundError, NotADirectoryError):
            if mtime != _MISSING:
                return False
            continue
        if st.st_mtime_ns != mtime or (size >= 0 and st.st_size != size):
            return False
    return True


def stat_key(st: os.stat_result) -> StatKey:
    """What identifies one version of a file."""
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def dir_mtime(path: str) -> int:
    """A directory's mtime in ns, or -1 when it does not exist."""
    try:
        return os.stat(path).st_mtime_ns
    except (FileNotFoundError, NotADirectoryError):
        return _MISSING


class MetaFile:
    """A parsed ``meta.yaml``; :meth:`refresh` costs one stat when nothing changed."""

    __slots__ = ("path", "key", "settled", "raw", "data", "version")

    #: How the content is parsed (a subclass may bring a faster parser for its files).
    parse = staticmethod(load_yaml)

    def __init__(self, path: str) -> None:
        self.path = path
        self.key: StatKey | None = None
        self.settled = False
        self.raw = b""
        self.data: dict[str, Any] | None = None
        self.version = 0

    def refresh(self) -> bool:
        """Re-read if the file changed; return whether the content changed.

        :raises FileNotFoundError: the file is gone (the run or experiment moved).
        """
        now = time.time_ns()
        st = os.stat(self.path)
        key = stat_key(st)
        if key == self.key and self.settled:
            return False
        raw = read_bytes(self.path, 0, st.st_size)
        self.key, self.settled = key, is_settled(st.st_mtime_ns, now)
        if raw == self.raw and self.data is not None:
            return False
        self.raw, self.data = raw, self.parse(raw)
        self.version += 1
        return True


class FileState(Generic[V]):
    """One cached file of a folder: its stat key, whether it settled, its parsed value."""

    __slots__ = ("key", "settled", "value")

    def __init__(self, key: StatKey, settled: bool, value: V) -> None:
        self.key = key
        self.settled = settled
        self.value = value


def _scan(top: str) -> tuple[dict[str, int], list[str]]:
    """Directory mtimes and relative file paths under ``top`` (POSIX separators).

    Each directory is stat'ed before it is listed, so an entry added after the listing
    shows as a newer mtime next time rather than being missed.
    """
    dirs: dict[str, int] = {top: dir_mtime(top)}
    files: list[str] = []
    if dirs[top] == _MISSING:
        return dirs, files
    pending = [(top, "")]
    while pending:
        path, prefix = pending.pop()
        try:
            entries = list(os.scandir(path))
        except FileNotFoundError:
            continue
        for entry in entries:
            rel = prefix + entry.name
            if entry.is_dir(follow_symlinks=False):
                dirs[entry.path] = entry.stat(follow_symlinks=False).st_mtime_ns
                pending.append((entry.path, rel + "/"))
            elif not entry.name.startswith(".tmp-"):
                files.append(rel)
    return dirs, files


class _Tree(Generic[V]):
    """A folder of key files kept in memory: ``values()`` maps each key to its value."""

    #: How a settled file is checked for changes: ``"every"`` refresh (its size grows),
    #: ``"periodic"`` (other programs may rewrite it in place, keeping the folder's
    #: mtime: see :meth:`checks`), or ``"never"`` (written once).
    file_checks: ClassVar[str] = "every"

    def __init__(self, top: str) -> None:
        self.top = top
        self.dirs: dict[str, int] | None = None
        self.dirs_settled = False
        self.files: dict[str, FileState[V]] = {}
        self.version = 0

    def refresh(self) -> None:
        """Bring the copy up to date with the disk; bumps :attr:`version` on a change."""
        if self.dirs is None or not self._dirs_unchanged():
            self._rescan()
            return
        changed = False
        for rel, old in list(self.files.items()):
            if self.file_checks != "never" or not old.settled:
                changed |= self._update(rel, old)
        if changed:
            self.version += 1

    def _dirs_unchanged(self) -> bool:
        if not self.dirs_settled:
            return False
        assert self.dirs is not None
        return all(dir_mtime(path) == mtime for path, mtime in self.dirs.items())

    def _rescan(self) -> None:
        now = time.time_ns()
        dirs, rels = _scan(self.top)
        old_files, self.files = self.files, {}
        for rel in rels:
            old = old_files.get(rel)
            if old is not None:
                self.files[rel] = old
            self._update(rel, old)
        self.dirs = dirs
        self.dirs_settled = all(m == _MISSING or is_settled(m, now) for m in dirs.values())
        self.version += 1

    def _update(self, rel: str, old: FileState[V] | None) -> bool:
        path = os.path.join(self.top, rel)
        now = time.time_ns()
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self.files.pop(rel, None)
            return old is not None
        key = stat_key(st)
        if old is not None and old.key == key and old.settled:
            return False
        value = self._read(rel, path, st, old)
        self.files[rel] = FileState(key, self._settled(st, now), value)
        return True

    def _settled(self, st: os.stat_result, now: int) -> bool:
        return is_settled(st.st_mtime_ns, now)

    def checks(self) -> tuple[list[Check], list[Check]] | None:
        """What :func:`unchanged` must stat to prove this folder did not change: the checks
        for every time, and those that may run only now and then (``"periodic"`` files);
        None while something in it is too recent to be trusted on its stat."""
        if self.dirs is None or not self.dirs_settled:
            return None
        always: list[Check] = [(path, mtime, -1) for path, mtime in self.dirs.items()]
        periodic: list[Check] = []
        for rel, state in self.files.items():
            if not state.settled:
                return None
            if self.file_checks != "never":
                check = (os.path.join(self.top, rel), state.key[0], state.key[1])
                (always if self.file_checks == "every" else periodic).append(check)
        return always, periodic

    def _read(self, rel: str, path: str, st: os.stat_result, old: FileState[V] | None) -> V:
        raise NotImplementedError

    def values(self) -> dict[str, V]:
        """Each key (relative path with ``/``) and its value."""
        return {rel: state.value for rel, state in self.files.items()}


class ParamTree(_Tree[str]):
    """``params/``: values are written once, so settled files are never stat'ed again."""

    file_checks = "never"

    def _read(self, rel: str, path: str, st: os.stat_result, old: FileState[str] | None) -> str:
        return read_bytes(path, 0, st.st_size).decode("utf-8")


class TagTree(_Tree[str]):
    """``tags/``: tracklet replaces a tag file (the folder's mtime moves) but MLflow
    rewrites it in place (only the file's does), so the files are checked periodically."""

    file_checks = "periodic"

    def _read(self, rel: str, path: str, st: os.stat_result, old: FileState[str] | None) -> str:
        return read_bytes(path, 0, st.st_size).decode("utf-8")


class MetricTree(_Tree[Latest]):
    """``metrics/``: append-only files; growth is read from where the last read stopped.

    An append changes only the file, not its folder, so tracklet's writers also bump the
    mtime of ``metrics/`` after appending (:func:`~tracklet_file._logging.signal_metrics`):
    a repeat search then proves a run's metrics unchanged with one stat of that folder
    instead of one per metric file. Files are still stat'ed periodically, for appends by
    other programs (MLflow) that do not bump the folder."""

    file_checks = "periodic"

    def _settled(self, st: os.stat_result, now: int) -> bool:
        return True  # appends always grow the size, which the stat key includes

    def _read(self, rel: str, path: str, st: os.stat_result, old: FileState[Latest] | None) -> Latest:
        if old is not None and old.key[2] == st.st_ino and old.key[1] <= st.st_size:
            return update_latest(rel, old.value, read_bytes(path, old.value.consumed, st.st_size))
        return update_latest(rel, Latest(), read_bytes(path, 0, st.st_size))
