"""The artifact repository contract: files under one root URI.

A plugin author subclasses :class:`ArtifactRepository` and writes the four
primitives: :meth:`log_artifact`, :meth:`list_artifacts`, :meth:`_download_file`
and :meth:`delete_artifacts`. :meth:`log_artifacts` and :meth:`download_artifacts`
have working defaults (a bounded thread pool); override them for bulk transfers.

Every ``artifact_path`` a caller passes is relative to the repository's root and
goes through :func:`tracklet.validation.validate_artifact_path` first: paths that
could escape the root (``..``, absolute, drive letters, backslashes, as given or once
percent-decoded) are refused with ``INVALID_PARAMETER_VALUE``.
"""

from __future__ import annotations

import abc
import os
import posixpath
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import ClassVar, TypeVar

from tracklet.entities import FileInfo
from tracklet.exceptions import RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.validation import validate_artifact_path

__all__ = ["ArtifactRepository"]

_Job = TypeVar("_Job")


class ArtifactRepository(abc.ABC):
    """Abstract artifact repository rooted at ``artifact_uri``."""

    #: Threads used by the default directory transfers.
    max_workers: ClassVar[int] = 8

    def __init__(self, artifact_uri: str) -> None:
        self.artifact_uri = artifact_uri

    # -- primitives ------------------------------------------------------------------

    @abc.abstractmethod
    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Upload one local file into the directory ``artifact_path`` (root when None)."""

    @abc.abstractmethod
    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Entries directly under ``path`` (one level), sorted by path; ``[]`` if absent.
        Paths in the result are relative to the root; directories have ``file_size`` None."""

    @abc.abstractmethod
    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        """Copy one file (root-relative path) to ``local_path`` (its parent exists)."""

    @abc.abstractmethod
    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete a file or a whole tree (the root when None)."""

    # -- defaults ----------------------------------------------------------------------

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Upload a directory tree under ``artifact_path``, in parallel."""
        base = validate_artifact_path(artifact_path)
        jobs = []
        for root, _dirs, files in os.walk(local_dir):
            rel = os.path.relpath(root, local_dir)
            rel = "" if rel == "." else rel.replace(os.sep, "/")
            for name in files:
                dest = posixpath.join(base, rel) if rel else base
                jobs.append((os.path.join(root, name), dest or None))
        self._run_parallel(lambda job: self.log_artifact(*job), jobs)

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        """Download a file or tree to ``dst_path`` (a new temp dir when None); return the
        local path of what was downloaded."""
        rel = validate_artifact_path(artifact_path)
        dst = os.path.abspath(dst_path) if dst_path else tempfile.mkdtemp(prefix="tracklet-")
        os.makedirs(dst, exist_ok=True)
        if self._is_directory(rel):
            empty: list[str] = []  # empty folders are downloaded too, as MLflow does
            files = list(self._walk_files(rel, empty))
            for f in files:
                os.makedirs(os.path.dirname(self._local_target(dst, f)), exist_ok=True)
            for folder in empty:
                os.makedirs(self._local_target(dst, folder), exist_ok=True)
            self._run_parallel(lambda f: self._download_file(f, self._local_target(dst, f)), files)
            local = self._local_target(dst, rel) if rel else dst
            os.makedirs(local, exist_ok=True)
            return local
        if not self._exists_as_file(rel):
            raise TrackletException(
                f"No artifact at '{rel}' under {self.artifact_uri}", RESOURCE_DOES_NOT_EXIST
            )
        target = self._local_target(dst, rel)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        self._download_file(rel, target)
        return target

    # -- helpers shared by the defaults ------------------------------------------------------

    def _is_directory(self, path: str) -> bool:
        if path == "":
            return True
        parent = posixpath.dirname(path)
        return any(f.path == path and f.is_dir for f in self.list_artifacts(parent or None))

    def _exists_as_file(self, path: str) -> bool:
        parent = posixpath.dirname(path)
        return any(f.path == path and not f.is_dir for f in self.list_artifacts(parent or None))

    def _walk_files(self, path: str, empty: list[str] | None = None) -> list[str]:
        out: list[str] = []
        infos = self.list_artifacts(path or None)
        if not infos and path and empty is not None:
            empty.append(path)
        for info in infos:
            if info.is_dir:
                out.extend(self._walk_files(info.path, empty))
            else:
                out.append(info.path)
        return out

    @staticmethod
    def _local_target(dst: str, rel: str) -> str:
        return os.path.join(dst, *rel.split("/")) if rel else dst

    def _run_parallel(self, fn: Callable[[_Job], object], jobs: Sequence[_Job]) -> None:
        if len(jobs) <= 1:
            for job in jobs:
                fn(job)
            return
        with ThreadPoolExecutor(max_workers=self.max_workers) as pool:
            for future in [pool.submit(fn, job) for job in jobs]:
                future.result()
