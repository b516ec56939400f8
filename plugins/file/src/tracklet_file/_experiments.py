"""Experiment directories: reading (cached), creating under a lock, tags, moving to the trash."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Sequence
from typing import Any

from tracklet.entities import Experiment, LifecycleStage
from tracklet.exceptions import (
    RESOURCE_ALREADY_EXISTS,
    TrackletException,
)
from tracklet.stores import refusals
from tracklet.uri import append_to_uri_path, resolve_local_uri
from tracklet.utils.time import now_ms

from ._cache import MetaFile, TagTree
from ._fsio import file_lock, subdirs, write_atomic
from ._layout import (
    LOCK_FILE,
    META,
    NOT_EXPERIMENTS,
    TAGS,
    TRASH,
    dump_yaml,
    experiment_from_meta,
    experiment_meta,
)

__all__ = ["ExperimentFiles"]

_logger = logging.getLogger(__name__)
DEFAULT_ID = Experiment.DEFAULT_EXPERIMENT_ID


class ExperimentFiles:
    """The experiments of one root folder: ``<root>/<id>/`` and ``<root>/.trash/<id>/``."""

    def __init__(self, root: str, artifact_root: str) -> None:
        self.root = root
        self.trash = os.path.join(root, TRASH)
        self.artifact_root = artifact_root
        self._cache: dict[str, tuple[MetaFile, TagTree]] = {}
        self._read_lock = threading.RLock()  # threads share the cached copies

    # -- reading ---------------------------------------------------------------------------

    def lock(self) -> Any:
        """The inter-process lock that serialises creating, renaming and moving experiments."""
        return file_lock(os.path.join(self.root, LOCK_FILE))

    def find(self, experiment_id: str) -> str | None:
        """The directory of an experiment (active first, then deleted), or None."""
        for parent in (self.root, self.trash):
            path = os.path.join(parent, experiment_id)
            if os.path.isfile(os.path.join(path, META)):
                return path
        return None

    def get(self, experiment_id: str) -> Experiment:
        """The experiment with this id. :raises: ``RESOURCE_DOES_NOT_EXIST``."""
        path = self.find(experiment_id) if experiment_id not in NOT_EXPERIMENTS else None
        experiment = self.read(path) if path else None
        if experiment is None:
            raise refusals.no_such_experiment(experiment_id)
        return experiment

    def read(self, path: str) -> Experiment | None:
        """The experiment stored in ``path``, or None if it is not a readable experiment."""
        with self._read_lock:
            return self._read(path)

    def _read(self, path: str) -> Experiment | None:
        entry = self._cache.get(path)
        if entry is None:
            entry = self._cache[path] = (
                MetaFile(os.path.join(path, META)),
                TagTree(os.path.join(path, TAGS)),
            )
        meta, tags = entry
        try:
            meta.refresh()
            tags.refresh()
        except (FileNotFoundError, NotADirectoryError):
            self._cache.pop(path, None)
            return None
        data = meta.data
        if not data or str(data.get("experiment_id")) != os.path.basename(path):
            _logger.debug("Skipping %s: no meta.yaml naming this experiment.", path)
            return None
        # The folder decides: an experiment in the trash is deleted, whatever a write
        # interrupted between the two steps of a delete left in its meta.yaml.
        stage = LifecycleStage.DELETED if os.path.dirname(path) == self.trash else LifecycleStage.ACTIVE
        return experiment_from_meta({**data, "lifecycle_stage": stage}, tags.values())

    def scan(self, deleted: bool) -> list[Experiment]:
        """Active (or deleted) experiments, in directory order."""
        parent = self.trash if deleted else self.root
        out = []
        for name in subdirs(parent):
            if deleted or name not in NOT_EXPERIMENTS:
                experiment = self.read(os.path.join(parent, name))
                if experiment is not None:
                    out.append(experiment)
        return out

    def all(self) -> list[Experiment]:
        """Every experiment, active and deleted."""
        return self.scan(False) + self.scan(True)

    # -- writing ---------------------------------------------------------------------------

    def check_name_free(self, name: str, ignore_id: str | None = None) -> None:
        """:raises: ``RESOURCE_ALREADY_EXISTS`` if an experiment (even deleted) has ``name``."""
        for experiment in self.all():
            if experiment.name == name and experiment.experiment_id != ignore_id:
                deleted = experiment.lifecycle_stage == LifecycleStage.DELETED
                hint = (
                    " in deleted state. Restore it, or remove it from the .trash folder, to "
                    "use this name again"
                    if deleted
                    else ""
                )
                raise TrackletException(f"Experiment '{name}' already exists{hint}.", RESOURCE_ALREADY_EXISTS)

    def create(
        self,
        name: str,
        artifact_location: str | None,
        tags: Sequence[Any],
        experiment_id: str | None = None,
    ) -> str:
        """Create an experiment (caller holds :meth:`lock`); tags first, ``meta.yaml`` last,
        so the experiment appears complete or not at all."""
        experiment_id, path = self._make_dir(experiment_id)
        location = (
            resolve_local_uri(artifact_location)
            if artifact_location
            else append_to_uri_path(self.artifact_root, experiment_id)
        )
        for tag in tags:
            self.write_tag(path, tag.key, tag.value)
        now = now_ms()
        experiment = Experiment(experiment_id, name, location, LifecycleStage.ACTIVE, None, now, now)
        self.write_meta(path, experiment_meta(experiment))
        return experiment_id

    def _make_dir(self, wanted: str | None) -> tuple[str, str]:
        candidate = int(wanted) if wanted is not None else self._next_id()
        while True:
            path = os.path.join(self.root, str(candidate))
            try:
                os.mkdir(path)
                return str(candidate), path
            except FileExistsError:
                if wanted is not None:
                    raise
                candidate += 1  # taken by a writer that does not use our lock

    def _next_id(self) -> int:
        used = [int(n) for p in (self.root, self.trash) for n in subdirs(p) if n.isdigit()]
        return max(used, default=0) + 1

    def write_meta(self, path: str, data: dict[str, Any]) -> None:
        """Replace an experiment's ``meta.yaml`` atomically."""
        write_atomic(os.path.join(path, META), dump_yaml(data), path)

    def update_meta(self, path: str, **changes: Any) -> None:
        """Rewrite ``meta.yaml`` with some fields changed, keeping fields we do not know."""
        meta = MetaFile(os.path.join(path, META))
        meta.refresh()
        self.write_meta(path, {**(meta.data or {}), **changes, "last_update_time": now_ms()})

    def write_tag(self, path: str, key: str, value: Any) -> None:
        """Set one experiment tag (the file is replaced whole)."""
        data = ("" if value is None else str(value)).encode("utf-8")
        write_atomic(os.path.join(path, TAGS, *key.split("/")), data, path)

    def ensure_default(self) -> None:
        """Create the root, its trash and, in an empty root, the Default experiment ``0``."""
        os.makedirs(self.trash, exist_ok=True)
        if self.find(DEFAULT_ID) or any(n not in NOT_EXPERIMENTS for n in subdirs(self.root)):
            return
        with self.lock():
            if self.find(DEFAULT_ID) is None and not os.path.exists(os.path.join(self.root, DEFAULT_ID)):
                self.create(Experiment.DEFAULT_EXPERIMENT_NAME, None, [], DEFAULT_ID)

    def forget(self, path: str) -> None:
        """Drop the cache of a directory that moved."""
        self._cache.pop(path, None)
