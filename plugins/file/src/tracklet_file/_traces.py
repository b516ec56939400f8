"""Traces on a folder, in MLflow 3.17's FileStore layout.

::

    <root>/<exp>/traces/<trace_id>/trace_info.yaml        TraceInfo.to_dict() without
                                                          trace_metadata and tags
    <root>/<exp>/traces/<trace_id>/request_metadata/<key> one metadata entry, the value as is
    <root>/<exp>/traces/<trace_id>/tags/<key>             one tag, the value as is
    <root>/<exp>/traces/<trace_id>/artifacts/traces.json  the spans (the default
                                                          ``mlflow.artifactLocation``,
                                                          written by the client)

MLflow 3 renamed a trace's ``request_metadata`` to ``trace_metadata`` but keeps the old
folder name on disk, and so does this module. A ``trace_info.yaml`` written by MLflow 2
(``request_id``, ``timestamp_ms``, ``status``...) is read as MLflow 3.17 reads it.

Writing, crash- and concurrency-safe like the rest of tracklet-file:

* a new trace's folder is filled first and its ``trace_info.yaml`` written last, with an
  atomic rename: readers (tracklet's and MLflow's) skip a trace folder without
  ``trace_info.yaml``, so a trace appears complete or not at all;
* every later change replaces a whole file atomically (a temporary file in the trace's
  own folder, renamed over the target), and writers of the same trace are serialised by
  an OS lock (``flock``) on that folder itself, released if its holder dies (on
  Windows, on a ``.tracklet.lock`` file in it);
* deleting a trace removes its ``trace_info.yaml`` first (it disappears at once for every
  reader), then the rest.

Reading is cached and stat-validated as runs are (:mod:`tracklet_file._cache`): a repeat
``search_traces`` over 10,000 traces re-reads nothing that did not change, costing one
stat per trace (see :class:`TraceFiles`), and filters shared, already-built
:class:`TraceInfo` objects; only the page returned is copied for the caller. A search
that names no metadata leaves ``request_metadata/`` unread, except for its page.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import datetime
import logging
import os
import re
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tracklet.entities import Experiment, LifecycleStage
from tracklet.exceptions import (
    INVALID_PARAMETER_VALUE,
    INVALID_STATE,
    TrackletException,
)
from tracklet.stores import refusals
from tracklet.stores.traces import (
    ARTIFACT_LOCATION_TAG,
    TraceStore,
    artifact_location_for,
    merge_trace_info,
    no_such_trace,
    no_trace_tag,
)

from ._cache import Check, MetaFile, TagTree, dir_mtime, unchanged
from ._fsio import directory_lock, is_settled, list_dir, subdirs, temp_path, write_atomic
from ._layout import LOCK_FILE, NOT_EXPERIMENTS, TRASH
from ._logging import check_key_paths
from ._traceyaml import dump_trace_info, load_trace_info

if TYPE_CHECKING:
    from tracklet.entities.trace_info import TraceInfo
    from tracklet.search import TraceSearch

    from ._experiments import ExperimentFiles

__all__ = [
    "TRACES",
    "TRACE_INFO",
    "TRACE_METADATA",
    "TRACE_TAGS",
    "FileTraces",
    "TraceIndex",
]

_logger = logging.getLogger(__name__)

#: MLflow's names (FileStore.TRACES_FOLDER_NAME, TRACE_INFO_FILE_NAME,
#: TRACE_TAGS_FOLDER_NAME, TRACE_TRACE_METADATA_FOLDER_NAME).
TRACES = "traces"
TRACE_INFO = "trace_info.yaml"
TRACE_TAGS = "tags"
TRACE_METADATA = "request_metadata"
#: The fields of ``trace_info.yaml`` a :class:`TraceInfo` is built from; others (an
#: MLflow version's additions, assessments) are kept on disk but not read.
_INFO_FIELDS = frozenset(
    {
        "trace_id",
        "client_request_id",
        "trace_location",
        "request_time",
        "execution_duration_ms",
        "state",
        "request_preview",
        "response_preview",
    }
)
_INFO_V2_FIELDS = frozenset({"request_id", "experiment_id", "timestamp_ms", "execution_time_ms", "status"})
#: Seconds a repeat search may go without stat'ing each tag and metadata file (see
#: :data:`tracklet_file._runs.IN_PLACE_CHECK_S`: MLflow rewrites them in place).
IN_PLACE_CHECK_S = 2.0
_MAX_CACHED_TRACES = 200_000


def safe_trace_id(trace_id: str) -> bool:
    """Whether ``trace_id`` can name a folder: one path component, not hidden."""
    return (
        bool(trace_id)
        and not trace_id.startswith(".")
        and "/" not in trace_id
        and "\\" not in trace_id
        and "\0" not in trace_id
        and os.sep not in trace_id
    )


def _text(value: Any) -> bytes:
    # MLflow's FileStore._writeable_value: None is "", anything else its str().
    return ("" if value is None else str(value)).encode("utf-8")


def _info_from_parts(meta: Mapping[str, Any], metadata: dict[str, str], tags: dict[str, str]) -> TraceInfo:
    """A :class:`TraceInfo` from ``trace_info.yaml`` and the two folders, as MLflow 3.17
    reads it (a 2.x file, with ``request_id``, through the 2.x shape)."""
    from tracklet.entities.trace_info import TraceInfo

    if "request_id" in meta:  # MLflow 2's file: TraceInfo.from_dict reads it through TraceInfoV2
        info = TraceInfo.from_dict({k: v for k, v in meta.items() if k in _INFO_V2_FIELDS})
    else:
        fields = {k: v for k, v in meta.items() if k in _INFO_FIELDS}
        request_time = fields.get("request_time")
        if isinstance(request_time, str):
            millis = _utc_millis(request_time)
            if millis is not None:
                fields["request_time"] = millis
        info = TraceInfo.from_dict(fields)
    info.trace_metadata = metadata
    info.tags = tags
    return info


_UTC_TIME = re.compile(r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?Z")


def _utc_millis(text: str) -> int | None:
    """``request_time`` as MLflow writes it (``2026-12-06T00:50:45.465Z``) in epoch ms,
    without ``strptime`` (most of a cold read's cost); None for any other form."""
    match = _UTC_TIME.fullmatch(text)
    if match is None:
        return None
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    try:
        moment = datetime.datetime(year, month, day, hour, minute, second, tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    frac = match.group(7) or ""
    return (int(moment.timestamp()) * 1000) + int((frac + "000000000")[:9]) // 1_000_000


def copy_info(info: TraceInfo) -> TraceInfo:
    """A copy of a cached info the caller may change freely."""
    return dataclasses.replace(
        info,
        trace_location=copy.deepcopy(info.trace_location),
        trace_metadata=dict(info.trace_metadata),
        tags=dict(info.tags),
        assessments=list(info.assessments),
    )


class TraceInfoFile(MetaFile):
    """``trace_info.yaml``, parsed by :func:`tracklet_file._traceyaml.load_trace_info`."""

    __slots__ = ()
    parse = staticmethod(load_trace_info)


class MetadataTree(TagTree):
    """``request_metadata/``: MLflow writes these files once, with the trace, and tracklet
    replaces them whole (which the folder's mtime shows), so a settled file is not
    stat'ed again."""

    file_checks = "never"


class TraceFiles:
    """One trace folder held in memory: ``trace_info.yaml`` and its two key folders.

    Every change tracklet makes to a trace moves the mtime of the trace's folder (files
    are replaced through a temporary file in it, and a deleted tag leaves through it), so
    while everything was settled at the last refresh one stat of the folder proves that no
    tracklet process changed the trace. What other programs change without touching the
    folder (MLflow rewrites a tag file in place and adds tag files in ``tags/``) is
    checked file by file when ``thorough`` (``get_trace_info``) and otherwise every
    :data:`IN_PLACE_CHECK_S` seconds.
    """

    def __init__(self, trace_dir: str) -> None:
        self.trace_dir = trace_dir
        self.lock = threading.RLock()
        self.meta = TraceInfoFile(os.path.join(trace_dir, TRACE_INFO))
        self.tags = TagTree(os.path.join(trace_dir, TRACE_TAGS))
        self.metadata = MetadataTree(os.path.join(trace_dir, TRACE_METADATA))
        self._dir_mtime: int | None = None
        self._periodic: list[Check] = []
        self._periodic_at = 0.0
        self._built: tuple[int, int, int] | None = None
        self._info: TraceInfo | None = None
        #: (folder mtime, info, monotonic deadline of the in-place checks): what
        #: :meth:`TraceIndex.infos_in` may return after one stat, without taking the lock;
        #: None while a refresh is due. Replaced whole, so a reader sees one consistent tuple.
        self.fast: tuple[int, TraceInfo, float, bool] | None = None
        #: Whether ``request_metadata/`` is read (and kept up to date) too. A search whose
        #: filter and order name no metadata leaves it unread, except for the page it
        #: returns: most of a trace's files are metadata files.
        self.with_metadata = False

    def refresh(self, thorough: bool = False, metadata: bool = True) -> None:
        """Bring the copy up to date (``metadata``: its metadata too, from now on).

        :raises FileNotFoundError: no ``trace_info.yaml``."""
        with self.lock:
            if metadata and not self.with_metadata:
                self.with_metadata = True
                self._dir_mtime = None
            if self._dir_mtime is not None and dir_mtime(self.trace_dir) == self._dir_mtime:
                now = time.monotonic()
                if not thorough and now - self._periodic_at < IN_PLACE_CHECK_S:
                    return
                if unchanged(self._periodic):
                    self._periodic_at = now
                    if self._info is not None and self._built is not None:
                        self.fast = (self._dir_mtime, self._info, now + IN_PLACE_CHECK_S, self.with_metadata)
                    return
            self._dir_mtime = None
            self.fast = None
            seen_at = time.time_ns()
            folder_mtime = dir_mtime(self.trace_dir)  # before reading: a later change moves it
            self.meta.refresh()
            self.tags.refresh()
            if self.with_metadata:
                self.metadata.refresh()
            self._collect_checks(folder_mtime, seen_at)
            self._periodic_at = time.monotonic()

    def _collect_checks(self, folder_mtime: int, seen_at: int) -> None:
        meta = self.meta
        if (
            folder_mtime == -1
            or not is_settled(folder_mtime, seen_at)
            or not meta.settled
            or meta.key is None
        ):
            return
        periodic: list[Check] = [(meta.path, meta.key[0], meta.key[1])]
        for tree in (self.tags, self.metadata) if self.with_metadata else (self.tags,):
            part = tree.checks()
            if part is None:
                return
            periodic += part[0] + part[1]
        self._periodic, self._dir_mtime = periodic, folder_mtime

    def snapshot(self) -> TraceInfo | None:
        """The shared, cached info (rebuilt only when a part changed); None when
        ``trace_info.yaml`` cannot be read as one. Never hand it to a caller as is."""
        with self.lock:
            signature = (
                self.meta.version,
                self.tags.version,
                self.metadata.version if self.with_metadata else -1,
            )
            if signature != self._built:
                self._built = signature
                self._info = None
                try:
                    if not self.meta.data:
                        raise ValueError("empty or not a mapping")
                    metadata = self.metadata.values() if self.with_metadata else {}
                    self._info = _info_from_parts(self.meta.data, metadata, self.tags.values())
                except Exception as exc:  # a malformed trace is skipped, as MLflow does
                    _logger.warning(
                        "Malformed trace in '%s': %s",
                        self.trace_dir,
                        exc,
                        exc_info=_logger.isEnabledFor(logging.DEBUG),
                    )
            if self._dir_mtime is not None and self._info is not None:
                self.fast = (
                    self._dir_mtime,
                    self._info,
                    self._periodic_at + IN_PLACE_CHECK_S,
                    self.with_metadata,
                )
            return self._info


class TraceIndex:
    """Finds trace folders by id and keeps a :class:`TraceFiles` for each."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.trash = os.path.join(root, TRASH)
        self._lock = threading.Lock()
        self._where: dict[str, str] = {}
        self._files: dict[str, TraceFiles] = {}
        #: traces/ folder -> (its mtime, the trace folders in it), reused while the mtime holds.
        self._listings: dict[str, tuple[int, list[str]]] = {}

    def files(self, trace_dir: str) -> TraceFiles:
        with self._lock:
            state = self._files.get(trace_dir)
            if state is None:
                if len(self._files) >= _MAX_CACHED_TRACES:
                    self._files.pop(next(iter(self._files)))
                state = self._files[trace_dir] = TraceFiles(trace_dir)
            return state

    def drop(self, trace_dir: str) -> None:
        with self._lock:
            self._files.pop(trace_dir, None)

    def experiment_dirs(self) -> Iterator[str]:
        """Every experiment folder, active ones first (MLflow's lookup order)."""
        for name in subdirs(self.root):
            if name not in NOT_EXPERIMENTS:
                yield os.path.join(self.root, name)
        for name in subdirs(self.trash):
            yield os.path.join(self.trash, name)

    def locate(self, trace_id: str) -> str | None:
        """The folder of the trace (one with a ``trace_info.yaml``), or None."""
        if not safe_trace_id(trace_id):
            return None
        where = self._where.get(trace_id)
        if where is not None and os.path.isfile(os.path.join(where, TRACE_INFO)):
            return where
        for experiment_dir in self.experiment_dirs():
            trace_dir = os.path.join(experiment_dir, TRACES, trace_id)
            if os.path.isfile(os.path.join(trace_dir, TRACE_INFO)):
                self._where[trace_id] = trace_dir
                return trace_dir
        self._where.pop(trace_id, None)
        return None

    def found(self, trace_id: str, trace_dir: str) -> None:
        """Record where a trace was just written."""
        self._where[trace_id] = trace_dir

    def read(self, trace_dir: str, thorough: bool = True, metadata: bool = True) -> TraceInfo | None:
        """The cached info of one trace folder, refreshed; None if it holds no trace.
        Without ``metadata``, its metadata may be left unread (empty)."""
        state = self.files(trace_dir)
        try:
            state.refresh(thorough, metadata)
        except (FileNotFoundError, NotADirectoryError):
            self.drop(trace_dir)
            return None
        return state.snapshot()

    def trace_dirs(self, traces_dir: str) -> list[str]:
        """The trace folders in ``traces_dir`` (hidden ones left out)."""
        now = time.time_ns()
        mtime = dir_mtime(traces_dir)
        if mtime == -1:
            return []
        cached = self._listings.get(traces_dir)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        paths = [e.path for e in list_dir(traces_dir) if not e.name.startswith(".") and e.is_dir()]
        if is_settled(mtime, now):
            self._listings[traces_dir] = (mtime, paths)
        else:
            self._listings.pop(traces_dir, None)
        return paths

    def infos_in(
        self, experiment_dir: str, metadata: bool = True, partial: dict[int, str] | None = None
    ) -> list[TraceInfo]:
        """The shared infos of every readable trace of an experiment folder.

        Without ``metadata``, an info whose metadata was never read comes without it,
        and ``partial`` (if given) maps its ``id()`` to its folder.

        The loop is the warm search's whole cost: a trace whose folder kept its mtime
        (and whose in-place checks are not due) costs one stat, no lock, no call."""
        out: list[TraceInfo] = []
        append = out.append
        stat = os.stat
        files = self._files
        now = time.monotonic()
        for path in self.trace_dirs(os.path.join(experiment_dir, TRACES)):
            state = files.get(path)
            fast = state.fast if state is not None else None
            if fast is not None and now < fast[2] and (fast[3] or not metadata):
                try:
                    if stat(path).st_mtime_ns == fast[0]:
                        append(fast[1])
                        if not fast[3] and partial is not None:
                            partial[id(fast[1])] = path
                        continue
                except OSError:
                    pass
            info = self.read(path, thorough=False, metadata=metadata)
            if info is not None:
                append(info)
                kept = files.get(path)
                if not metadata and partial is not None and (kept is None or not kept.with_metadata):
                    partial[id(info)] = path
        return out


def _names_metadata(node: object) -> bool:
    """Whether a parsed filter or order (any nesting of AST nodes) reads trace metadata."""
    from tracklet.search import METADATA, Comparison, OrderKey

    if isinstance(node, (Comparison, OrderKey)):
        return bool(node.entity_type == METADATA)
    if isinstance(node, (list, tuple)):
        return any(_names_metadata(item) for item in node)
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        return any(_names_metadata(getattr(node, f.name)) for f in dataclasses.fields(node))
    return False


def _lock(trace_dir: str) -> Any:
    return directory_lock(trace_dir, LOCK_FILE)


def _write_plain(path: str, data: bytes) -> None:
    """Write a file of a trace no reader sees yet (no ``trace_info.yaml``)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0), 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _key_path(trace_dir: str, folder: str, key: str) -> str:
    return os.path.join(trace_dir, folder, *key.split("/"))


def _check_keys(trace_dir: str, folder: str, keys: Iterable[str]) -> None:
    keys = list(keys)
    for key in keys:
        parts = key.split("/")
        if not key or any(p in ("", ".", "..") for p in parts) or "\\" in key or "\0" in key:
            raise TrackletException(
                f"Invalid {'tag' if folder == TRACE_TAGS else 'metadata'} name: '{key}'. Names may not be empty, "
                "contain '\\' or path parts '.', '..' or empty ones; use another name.",
                INVALID_PARAMETER_VALUE,
            )
    unique = set(keys)
    for key in unique:
        parent = key.rsplit("/", 1)[0] if "/" in key else None
        while parent is not None:
            if parent in unique:
                raise TrackletException(
                    f"Cannot set both '{parent}' and '{key}' on one trace: in the file store a key is a file, "
                    f"and '{key}' would be inside '{parent}'. Use keys that do not nest.",
                    INVALID_PARAMETER_VALUE,
                )
            parent = parent.rsplit("/", 1)[0] if "/" in parent else None
    check_key_paths(trace_dir, folder, unique)


def _rmtree_quietly(path: str) -> None:
    """Remove a trace's folder; what another process removed first is no error."""
    for dirpath, dirnames, filenames in os.walk(path, topdown=False):
        for name in filenames:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(dirpath, name))
        for name in dirnames:
            sub = os.path.join(dirpath, name)
            with contextlib.suppress(FileNotFoundError, OSError):
                os.unlink(sub) if os.path.islink(sub) else os.rmdir(sub)
    with contextlib.suppress(FileNotFoundError, OSError):
        os.rmdir(path)


class FileTraces(TraceStore):
    """The trace primitives of :class:`tracklet_file.store.FileStore` (a mixin).

    The host class provides ``root`` and ``_experiments``; the index is built on first use.
    """

    root: str
    _experiments: ExperimentFiles
    __trace_index: TraceIndex | None = None

    @property
    def _trace_index(self) -> TraceIndex:
        index = self.__trace_index
        if index is None or index.root != self.root:
            from tracklet.stores.forking import after_fork_in_child

            index = self.__trace_index = TraceIndex(self.root)
            after_fork_in_child(self, FileTraces._reset_traces_after_fork)
        return index

    def _reset_traces_after_fork(self) -> None:
        # A thread of the parent may have held a lock of the index mid-fork.
        self.__trace_index = None

    # -- writing ---------------------------------------------------------------------

    def _start_trace(self, trace_info: TraceInfo) -> TraceInfo:
        """Create the trace, or merge ``trace_info`` over the stored one (an upsert; a
        trace stored in another experiment moves to this one, its folder with it).
        Everything is checked before the first write."""
        trace_id = trace_info.trace_id
        experiment_id = str(trace_info.experiment_id)
        experiment = self._experiments.get(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise refusals.experiment_not_active(experiment_id, experiment.lifecycle_stage)
        index = self._trace_index
        trace_dir = os.path.join(self.root, experiment_id, TRACES, trace_id)
        location = artifact_location_for(experiment.artifact_location, trace_id)
        os.makedirs(trace_dir, exist_ok=True)
        with contextlib.ExitStack() as held:
            held.enter_context(_lock(trace_dir))
            files = index.files(trace_dir)
            stored = self._read_for_update(files)
            if stored is None:
                elsewhere = index.locate(trace_id)
                if elsewhere is not None and elsewhere != trace_dir:
                    held.enter_context(_lock(elsewhere))  # both locks held, then the move
                    files = index.files(elsewhere)
                    stored = self._read_for_update(files)
            source = files.trace_dir if stored is not None else trace_dir
            on_disk = stored
            if stored is not None and source != trace_dir:
                stored = self._moved_info(stored, source, experiment)
            merged = merge_trace_info(stored, trace_info, location)
            new = merged.to_dict()
            metadata: dict[str, str] = new.pop("trace_metadata", None) or {}
            tags: dict[str, str] = new.pop("tags", None) or {}
            new.pop("assessments", None)
            _check_keys(source, TRACE_METADATA, metadata)
            _check_keys(source, TRACE_TAGS, tags)
            if on_disk is not None:
                raw = {**(files.meta.data or {}), **new}  # keeps fields tracklet does not know
                if source != trace_dir:
                    self._move_folder(source, trace_dir)
                # Published: every file is replaced atomically, only those that change.
                for folder, items, old in (
                    (TRACE_METADATA, metadata, on_disk.trace_metadata),
                    (TRACE_TAGS, tags, on_disk.tags),
                ):
                    for key, value in items.items():
                        if old.get(key) != value:
                            write_atomic(_key_path(trace_dir, folder, key), _text(value), trace_dir)
            else:
                # Not yet visible to any reader: plain writes, trace_info.yaml last.
                for folder, items in ((TRACE_METADATA, metadata), (TRACE_TAGS, tags)):
                    os.makedirs(os.path.join(trace_dir, folder), exist_ok=True)
                    for key, value in items.items():
                        _write_plain(_key_path(trace_dir, folder, key), _text(value))
                raw = new
            write_atomic(os.path.join(trace_dir, TRACE_INFO), dump_trace_info(raw), trace_dir)
            index.found(trace_id, trace_dir)
            return merged

    def _read_for_update(self, files: TraceFiles) -> TraceInfo | None:
        """The stored info of a trace folder, re-read (None if it holds no trace yet)."""
        try:
            files.refresh(thorough=True, metadata=True)
        except (FileNotFoundError, NotADirectoryError):
            return None
        info = files.snapshot()
        if info is None and files.meta.data is not None:
            raise TrackletException(
                f"Trace with ID '{os.path.basename(files.trace_dir)}' metadata is in invalid state: "
                f"'{files.meta.path}' cannot be read as a trace; fix or remove that file.",
                INVALID_STATE,
            )
        return info

    def _moved_info(self, stored: TraceInfo, source: str, experiment: Experiment) -> TraceInfo:
        """The stored info of a trace about to move from ``source`` into ``experiment``:
        spans kept in its folder (the default location) move with it, so that location
        becomes the new folder's."""
        moved = copy_info(stored)
        old_experiment = self._experiments.read(os.path.dirname(os.path.dirname(source)))
        if old_experiment is not None and moved.tags.get(ARTIFACT_LOCATION_TAG) == artifact_location_for(
            old_experiment.artifact_location, stored.trace_id
        ):
            moved.tags[ARTIFACT_LOCATION_TAG] = artifact_location_for(
                experiment.artifact_location, stored.trace_id
            )
        return moved

    def _move_folder(self, source: str, target: str) -> None:
        """Move a trace folder's content into ``target`` (an empty folder whose lock the
        caller holds, as it holds the source's)."""
        for entry in list_dir(target):  # what a creation of it that died left
            if entry.name != LOCK_FILE and not entry.name.startswith(".tmp-"):
                if entry.is_dir(follow_symlinks=False):
                    _rmtree_quietly(entry.path)
                else:
                    os.unlink(entry.path)
        for entry in list_dir(source):
            if entry.name != LOCK_FILE and not entry.name.startswith(".tmp-"):
                os.rename(entry.path, os.path.join(target, entry.name))
        self._trace_index.drop(source)
        _rmtree_quietly(source)

    def _trace_dir(self, trace_id: str) -> str:
        trace_dir = self._trace_index.locate(trace_id)
        if trace_dir is None:
            raise no_such_trace(trace_id, full_stop=False)
        return trace_dir

    def _set_trace_tag(self, trace_id: str, key: str, value: str) -> None:
        """Set one tag (the file replaced whole)."""
        trace_dir = self._trace_dir(trace_id)
        _check_keys(trace_dir, TRACE_TAGS, [key])
        write_atomic(_key_path(trace_dir, TRACE_TAGS, key), _text(value), trace_dir)

    def _delete_trace_tag(self, trace_id: str, key: str) -> None:
        """Remove one tag; MLflow's refusal when the trace has no such tag."""
        trace_dir = self._trace_dir(trace_id)
        path = _key_path(trace_dir, TRACE_TAGS, key)
        if not os.path.isfile(path):
            raise no_trace_tag(trace_id, key)
        # Out through the trace's folder, so that its mtime shows the change (TraceFiles).
        leaving = temp_path(trace_dir, path)
        try:
            os.rename(path, leaving)
        except FileNotFoundError:
            raise no_trace_tag(trace_id, key) from None
        os.unlink(leaving)

    def _delete_traces(
        self,
        experiment_id: str,
        max_timestamp_millis: int | None = None,
        max_traces: int | None = None,
        trace_ids: Sequence[str] | None = None,
    ) -> int:
        """Delete the traces named, or those at or before ``max_timestamp_millis``
        (oldest first, at most ``max_traces``); return how many this call deleted."""
        experiment_dir = self._experiments.find(experiment_id)
        if experiment_dir is None:
            return 0
        traces_dir = os.path.join(experiment_dir, TRACES)
        if max_timestamp_millis is not None:
            old = [
                i
                for i in self._trace_index.infos_in(experiment_dir, metadata=False)
                if i.timestamp_ms <= max_timestamp_millis
            ]
            old.sort(key=lambda i: (i.timestamp_ms, i.trace_id))
            if max_traces:
                old = old[:max_traces]
            targets = [i.trace_id for i in old]
        else:
            targets = [t for t in dict.fromkeys(trace_ids or []) if safe_trace_id(t)]
        deleted = 0
        for trace_id in targets:
            trace_dir = os.path.join(traces_dir, trace_id)
            try:
                os.unlink(os.path.join(trace_dir, TRACE_INFO))  # gone for every reader at once
            except (FileNotFoundError, NotADirectoryError):
                continue
            deleted += 1
            self._trace_index.drop(trace_dir)
            _rmtree_quietly(trace_dir)
        return deleted

    # -- reading ---------------------------------------------------------------------

    def _get_trace_info(self, trace_id: str) -> TraceInfo:
        """The stored info (re-read where a file changed)."""
        index = self._trace_index
        trace_dir = self._trace_dir(trace_id)
        info = index.read(trace_dir)
        if info is None:
            raise no_such_trace(trace_id, full_stop=False)
        if info.trace_id != trace_id:
            raise TrackletException(
                f"Trace with ID '{trace_id}' metadata is in invalid state.", INVALID_STATE
            )
        return copy_info(info)

    def _search_traces(self, search: TraceSearch) -> tuple[list[TraceInfo], str | None]:
        """Filter and sort the cached infos; only the page returned is copied (and has
        its metadata read, when the filter and order did not need it)."""
        from tracklet.search import search_traces_in_memory

        metadata = _names_metadata((search.filter, search.order))
        partial: dict[int, str] = {}
        infos = self._trace_infos(search.experiment_ids, metadata, partial)
        page, token = search_traces_in_memory(infos, search)
        out = []
        for info in page:
            path = partial.get(id(info))
            if path is not None:
                info = self._trace_index.read(path, thorough=False) or info
            out.append(copy_info(info))
        return out, token

    def _trace_infos(
        self, experiment_ids: Sequence[str], metadata: bool = True, partial: dict[int, str] | None = None
    ) -> list[TraceInfo]:
        """The shared (never to be changed or handed out) infos of the experiments'
        traces; unknown experiments have none. See :meth:`TraceIndex.infos_in`."""
        out: list[TraceInfo] = []
        for experiment_id in dict.fromkeys(experiment_ids):
            experiment_dir = self._experiments.find(str(experiment_id))
            if experiment_dir is not None:
                out += self._trace_index.infos_in(experiment_dir, metadata, partial)
        return out
