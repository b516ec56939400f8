"""Run directories: finding a run by id, and a cached, stat-validated copy of each run.

A repeat ``get_run`` or ``search_runs`` re-reads only what changed since the last call:
``meta.yaml`` by its stat key, ``params/``, ``tags/`` and ``metrics/`` through
:mod:`tracklet_file._cache`, ``inputs/`` by its directory mtime.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from typing import Any

from tracklet.entities import (
    DatasetInput,
    InputTag,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
)
from tracklet.exceptions import RESOURCE_DOES_NOT_EXIST, TrackletException

from ._cache import Check, MetaFile, MetricTree, ParamTree, TagTree, dir_mtime, unchanged
from ._fsio import is_settled, list_dir, read_bytes, subdirs
from ._layout import (
    DATASETS,
    INPUTS,
    META,
    METRICS,
    NOT_EXPERIMENTS,
    NOT_RUNS,
    PARAMS,
    RUN_FOLDERS,
    TAGS,
    TRASH,
    dataset_from_meta,
    load_yaml,
    run_info_from_meta,
)
from ._runs_file import load_runs_file, relative, save_runs_file

__all__ = ["RunIndex", "RunState"]

_logger = logging.getLogger(__name__)
_MAX_CACHED_RUNS = 100_000
#: What a run is built from: info, latest metrics (objects and key -> value), params, tags.
_Parts = tuple[RunInfo, list[Metric], dict[str, float], dict[str, str], dict[str, str]]
#: Seconds a repeat search may go without stat'ing each tag file. Within that time a tag
#: rewritten in place by another program (MLflow does that; tracklet replaces the file,
#: which its folder's mtime shows at once) may still show its old value; get_run always
#: checks them.
IN_PLACE_CHECK_S = 2.0
_RUN_NAME_TAG = "mlflow.runName"
#: The share of an experiment's runs a search must read from their files for it to
#: rewrite the experiment's runs file: reading a run costs ~25 times what saving it does,
#: so a few runs logged to since the last save do not make every search rewrite it.
_RESAVE_SHARE = 0.05


class RunState:
    """One run directory held in memory; :meth:`refresh` then :meth:`run`.

    A lock per run keeps a thread from reading a half-updated copy while another
    thread refreshes it (stores are shared by logging threads).
    """

    def __init__(self, run_dir: str) -> None:
        self.run_dir = run_dir
        self.lock = threading.RLock()
        self.meta = MetaFile(os.path.join(run_dir, META))
        self.params = ParamTree(os.path.join(run_dir, PARAMS))
        self.tags = TagTree(os.path.join(run_dir, TAGS))
        self.metrics = MetricTree(os.path.join(run_dir, METRICS))
        self._inputs_mtime: int | None = None
        self._inputs: list[DatasetInput] = []
        self._inputs_version = 0
        self._built: tuple[int, ...] | None = None
        self._parts: _Parts | None = None
        self._snapshot: Run | None = None
        self._snapshot_of: tuple[int, ...] | None = None  # the parts' signature it was built from
        self._checks: list[Check] | None = None
        self._periodic: list[Check] = []
        self._periodic_at = 0.0
        self._inputs_path = os.path.join(run_dir, INPUTS)

    @property
    def data(self) -> dict[str, Any]:
        """The parsed ``meta.yaml`` (after a refresh)."""
        return self.meta.data or {}

    def refresh(self, thorough: bool = False) -> bool:
        """Bring every part up to date; return whether its files had to be read (False:
        the stats proved the copy current). :raises FileNotFoundError: the run is gone.

        When everything was settled at the last refresh, one stat per recorded path
        (:func:`~tracklet_file._cache.unchanged`) proves nothing changed; tag files are
        included when ``thorough`` or every :data:`IN_PLACE_CHECK_S` seconds."""
        with self.lock:
            if self._checks is not None and unchanged(self._checks):
                now = time.monotonic()
                if not thorough and now - self._periodic_at < IN_PLACE_CHECK_S:
                    return False
                if unchanged(self._periodic):
                    self._periodic_at = now
                    return False
            self._checks = None
            self.meta.refresh()
            self.params.refresh()
            self.tags.refresh()
            self.metrics.refresh()
            self._refresh_inputs()
            self._collect_checks()
            self._periodic_at = time.monotonic()
            return True

    def saved(self) -> dict[str, Any] | None:
        """The copy as an entry of the experiment's runs file (:mod:`tracklet_file._runs_file`):
        ``meta.yaml``'s stat key and content, the params, tags and latest metrics, and the
        checks that prove them current; None while a part is unsettled or the run has
        inputs (read from their own files)."""
        with self.lock:
            meta = self.meta
            if self._checks is None or self._inputs or meta.key is None or self._inputs_mtime is None:
                return None
            self._rebuild_if_changed()
            assert self._parts is not None
            _, metric_objs, _, params, tags = self._parts
            cut = len(self.run_dir) + 1
            return {
                "meta": [*meta.key, meta.data],
                "params": params,
                "tags": tags,
                "metrics": [[m.key, m.value, m.timestamp, m.step] for m in metric_objs],
                "inputs": self._inputs_mtime,
                "checks": [[relative(p, self.run_dir, cut), m, s] for p, m, s in self._checks],
                "periodic": [[relative(p, self.run_dir, cut), m, s] for p, m, s in self._periodic],
            }

    def restore(self, entry: dict[str, Any]) -> None:
        """Take a never-refreshed state to what :meth:`saved` recorded. The next
        :meth:`refresh` checks every recorded stat (tag and metric files included) before
        trusting it; if one changed, the run is read from its files as a new one would be.
        :raises (KeyError, TypeError, ValueError): a malformed entry (the state must then
        be dropped)."""
        with self.lock:
            run_dir = self.run_dir + os.sep
            mtime, size, inode, data = entry["meta"]
            params, tags = entry["params"], entry["tags"]
            if not (isinstance(data, dict) and isinstance(params, dict) and isinstance(tags, dict)):
                raise TypeError("meta, params and tags must be mappings")
            metric_objs = [Metric(k, float(v), int(t), int(step)) for k, v, t, step in entry["metrics"]]
            checks = [(run_dir + p if p else self.run_dir, int(m), int(s)) for p, m, s in entry["checks"]]
            periodic = [(run_dir + p, int(m), int(s)) for p, m, s in entry["periodic"]]
            self._inputs_mtime = int(entry["inputs"])
            self._checks, self._periodic = checks, periodic
            self._periodic_at = -math.inf  # check the periodic files too, at the first refresh
            meta = self.meta
            meta.key, meta.settled, meta.raw, meta.data = (int(mtime), int(size), int(inode)), True, b"", data
            meta.version += 1
            self._parts = _parts(data, metric_objs, params, tags)
            self._built = self._signature()

    def refresh_meta(self) -> None:
        """Bring ``meta.yaml`` alone up to date (the logging path's one stat)."""
        with self.lock:
            self.meta.refresh()

    def _collect_checks(self) -> None:
        meta = self.meta
        if not meta.settled or meta.key is None or self._inputs_mtime is None:
            return
        checks: list[Check] = [(meta.path, meta.key[0], meta.key[1])]
        periodic: list[Check] = []
        for tree in (self.params, self.tags, self.metrics):
            part = tree.checks()
            if part is None:
                return
            checks += part[0]
            periodic += part[1]
        if self._inputs_mtime == -1:
            # Creating inputs/ changes the run folder's mtime: one stat that cannot fail.
            run_dir_mtime = dir_mtime(self.run_dir)
            if not is_settled(run_dir_mtime, time.time_ns()) or os.path.isdir(self._inputs_path):
                return
            checks.append((self.run_dir, run_dir_mtime, -1))
        else:
            checks.append((self._inputs_path, self._inputs_mtime, -1))
        self._checks, self._periodic = checks, periodic

    def run(self) -> Run:
        """A new :class:`Run` built from the cached parts (rebuilt only when they changed)."""
        with self.lock:
            self._rebuild_if_changed()
            assert self._parts is not None
            info, metric_objs, metrics, params, tags = self._parts
            data = RunData.from_dicts(metric_objs, metrics, params, tags)
            return Run(info, data, RunInputs(list(self._inputs)))

    def snapshot(self) -> Run:
        """A cached :class:`Run` shared between calls, for searches to filter and sort without
        building thousands of objects; it must not be handed to callers (use :meth:`run`)."""
        with self.lock:
            # Compared with the parts' own signature, not with whether this call rebuilt
            # them: a get_run (run()) may have rebuilt them since the last snapshot.
            self._rebuild_if_changed()
            if self._snapshot is None or self._snapshot_of != self._built:
                self._snapshot = self.run()
                self._snapshot_of = self._built
            return self._snapshot

    def _signature(self) -> tuple[int, ...]:
        return (
            self.meta.version,
            self.params.version,
            self.tags.version,
            self.metrics.version,
            self._inputs_version,
        )

    def _rebuild_if_changed(self) -> bool:
        signature = self._signature()
        if signature == self._built and self._parts is not None:
            return False
        self._parts = self._build()
        self._built = signature
        return True

    def info(self) -> RunInfo:
        """The run's :class:`RunInfo` from ``meta.yaml`` alone (after :meth:`refresh_meta`);
        an old run without ``run_name`` in it is named by its ``mlflow.runName`` tag."""
        with self.lock:
            info = run_info_from_meta(self.data)
            if info.run_name is None:
                self.tags.refresh()
                name = self.tags.values().get(_RUN_NAME_TAG)
                if name:
                    info = info._copy_with(run_name=name)
            return info

    def _build(self) -> _Parts:
        metric_objs = [s.value.metric for s in self.metrics.files.values() if s.value.metric is not None]
        return _parts(self.data, metric_objs, self.params.values(), self.tags.values())

    def _refresh_inputs(self) -> None:
        now = time.time_ns()
        path = self._inputs_path
        mtime = dir_mtime(path)
        if mtime == self._inputs_mtime:
            return
        self._inputs = _read_inputs(path, os.path.dirname(self.run_dir)) if mtime != -1 else []
        # An unsettled mtime is forgotten, so the next refresh lists the folder again.
        self._inputs_mtime = mtime if mtime == -1 or is_settled(mtime, now) else None
        self._inputs_version += 1


def _parts(
    data: dict[str, Any], metric_objs: list[Metric], params: dict[str, str], tags: dict[str, str]
) -> _Parts:
    """A run's parts from its ``meta.yaml``, latest metrics, params and tags; a run without
    ``run_name`` in ``meta.yaml`` (an old one) is named by its ``mlflow.runName`` tag."""
    info = run_info_from_meta(data)
    if info.run_name is None and tags.get(_RUN_NAME_TAG):
        info = info._copy_with(run_name=tags[_RUN_NAME_TAG])
    return info, metric_objs, {m.key: m.value for m in metric_objs}, params, tags


def _read_inputs(inputs_dir: str, experiment_dir: str) -> list[DatasetInput]:
    # In the folder's listing order, as MLflow reads them: the same folder lists the same
    # inputs in the same order in both tools.
    out = []
    for name in os.listdir(inputs_dir):
        if name.startswith("."):
            continue
        try:
            edge = load_yaml(read_bytes(os.path.join(inputs_dir, name, META)))
        except (FileNotFoundError, NotADirectoryError):
            continue
        if not edge or edge.get("source_type") != "DATASET":
            continue  # model inputs are not tracked by tracklet
        try:
            meta = load_yaml(read_bytes(os.path.join(experiment_dir, DATASETS, edge["source_id"], META)))
        except FileNotFoundError:
            _logger.warning("Dataset %s used by %s is missing; skipped.", edge["source_id"], inputs_dir)
            continue
        if meta:
            tags = [InputTag(k, v) for k, v in (edge.get("tags") or {}).items()]
            out.append(DatasetInput(dataset_from_meta(meta), tags))
    return out


def _consistent(state: RunState, run_id: str, experiment_id: str) -> bool:
    """Whether ``meta.yaml`` agrees with the folders it is in (as MLflow checks)."""
    data = state.meta.data
    if not data:
        return False
    stored_id = str(data.get("run_id") or data.get("run_uuid") or "")
    return stored_id == run_id and str(data.get("experiment_id")) == experiment_id


def _has_run_folders(run_dir: str) -> bool:
    """Whether the run folder has the ``metrics``, ``params`` and ``artifacts`` folders every
    writer creates. MLflow looks a run up by id only where they all are (a guard against a
    ``meta.yaml`` planted in an artifact folder), so a run missing one is not found by id,
    in either tool, though searches still list it."""
    return all(os.path.isdir(os.path.join(run_dir, name)) for name in RUN_FOLDERS)


class RunIndex:
    """Finds run directories by id and keeps a :class:`RunState` for each."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.trash = os.path.join(root, TRASH)
        self._where: dict[str, str] = {}
        self._states: dict[str, RunState] = {}
        self._listed: set[str] = set()  # experiment folders whose runs file was consulted

    def state(self, run_dir: str) -> RunState:
        """The cached state of a run directory (created empty on first use)."""
        state = self._states.get(run_dir)
        if state is None:
            if len(self._states) >= _MAX_CACHED_RUNS:
                self._states.pop(next(iter(self._states)))
            state = self._states[run_dir] = RunState(run_dir)
        return state

    def meta(self, run_id: str) -> RunState:
        """The run's state with a fresh ``meta.yaml`` (one stat when nothing changed).

        :raises TrackletException: ``RESOURCE_DOES_NOT_EXIST`` if no run has this id.
        """
        run_dir = self._where.get(run_id)
        if run_dir is not None:
            state = self.state(run_dir)
            try:
                state.refresh_meta()
                return state
            except FileNotFoundError:  # moved with its experiment, or removed
                self._where.pop(run_id, None)
        return self._locate(run_id)

    def _locate(self, run_id: str) -> RunState:
        for parent in (self.root, self.trash):
            for experiment_id in subdirs(parent):
                if parent == self.root and experiment_id in NOT_EXPERIMENTS:
                    continue
                run_dir = os.path.join(parent, experiment_id, run_id)
                state = self.state(run_dir)
                try:
                    state.refresh_meta()
                except (FileNotFoundError, NotADirectoryError):
                    self._states.pop(run_dir, None)
                    continue
                if _consistent(state, run_id, experiment_id) and _has_run_folders(run_dir):
                    self._where[run_id] = run_dir
                    return state
        raise TrackletException(f"Run '{run_id}' not found", RESOURCE_DOES_NOT_EXIST)

    def runs_in(self, experiment_dir: str) -> list[RunState]:
        """Every readable run of an experiment directory, refreshed.

        The first time this index lists a folder, runs it holds no copy of yet start from
        the experiment's runs file (:mod:`tracklet_file._runs_file`), checked by stat; the
        file is rewritten when at least :data:`_RESAVE_SHARE` of the runs had to be read."""
        experiment_id = os.path.basename(experiment_dir)
        saved = self._saved_runs(experiment_dir)
        out = []
        read = 0
        for entry in list_dir(experiment_dir):
            if entry.name in NOT_RUNS or entry.name.startswith(".") or not entry.is_dir():
                continue
            state = self._states.get(entry.path)
            if state is None:
                state = self._restored(entry.path, saved.get(entry.name))
            try:
                read += state.refresh()
            except (FileNotFoundError, NotADirectoryError):
                self._states.pop(entry.path, None)  # being created, or not a run
                continue
            if _consistent(state, entry.name, experiment_id):
                out.append(state)
            else:
                _logger.debug("Skipping %s: its meta.yaml does not match its folder.", entry.path)
        if out and read >= _RESAVE_SHARE * len(out):
            save_runs_file(experiment_dir, ((os.path.basename(s.run_dir), s.saved()) for s in out))
        return out

    def _saved_runs(self, experiment_dir: str) -> dict[str, Any]:
        """The experiment's runs file, the first time this index lists the folder."""
        if experiment_dir in self._listed:
            return {}
        self._listed.add(experiment_dir)
        return load_runs_file(experiment_dir)

    def _restored(self, run_dir: str, entry: Any) -> RunState:
        state = self.state(run_dir)
        if entry is not None:
            try:
                state.restore(entry)
            except (KeyError, TypeError, ValueError, AttributeError):
                _logger.debug("Ignoring the saved copy of %s: it is malformed.", run_dir)
                del self._states[run_dir]
                state = self.state(run_dir)
        return state

    def forget(self, prefix: str) -> None:
        """Drop what is cached under ``prefix`` (a directory that moved)."""
        for path in [p for p in self._states if p.startswith(prefix)]:
            del self._states[path]
        for run_id in [r for r, p in self._where.items() if p.startswith(prefix)]:
            del self._where[run_id]
