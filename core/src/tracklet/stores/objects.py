"""ObjectStoreRepository: the artifact contract on a flat key space (S3, GCS, Azure Blob).

Object stores have no folders, only keys such as ``exp/run/artifacts/model/w.bin``
under a bucket, listed by prefix with ``/`` as the delimiter. Every such store maps
the artifact contract onto keys the same way, so the mapping lives here once and a
plugin for a new store writes four small primitives on whole keys:

* :meth:`~ObjectStoreRepository._put_object` — upload one local file to a key;
* :meth:`~ObjectStoreRepository._get_object` — download one key to a local path,
  raising ``RESOURCE_DOES_NOT_EXIST`` when there is no such key;
* :meth:`~ObjectStoreRepository._list_objects` — the keys under a prefix, one level
  (with sub-prefixes) or all the way down;
* :meth:`~ObjectStoreRepository._delete_objects` — delete keys, missing ones ignored.

What this class gives on top:

* every path is checked by :func:`tracklet.validation.validate_artifact_path` before a
  key is built from it, so no call reaches outside the repository's prefix; names the
  store lists are checked again before they become local paths;
* ``d/gone`` never matches ``d/gone.txt`` (prefixes end in ``/``), and zero-byte
  "directory marker" objects (``folder/``) that consoles create are not listed;
* a whole-tree download costs one recursive listing, not one per folder, and the
  files then transfer on the bounded thread pool with sizes already known;
* a download lands under a temporary name beside its target and is renamed only when
  complete, so a failed transfer never leaves a partial file behind.
"""

from __future__ import annotations

import abc
import contextlib
import logging
import os
import tempfile
from collections.abc import Iterable
from typing import NamedTuple

from tracklet.entities import FileInfo
from tracklet.exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.stores.artifacts import ArtifactRepository
from tracklet.validation import validate_artifact_path

__all__ = ["ListedObject", "ObjectStoreRepository"]

_logger = logging.getLogger(__name__)


class ListedObject(NamedTuple):
    """One entry of a listing: an object (``size`` in bytes) or, in a one-level
    listing, a sub-prefix ending in ``/`` (``size`` None)."""

    key: str
    size: int | None


class ObjectStoreRepository(ArtifactRepository):
    """Artifacts as objects under ``prefix`` (no leading or trailing ``/``; ``""`` for
    the whole bucket). Subclasses parse their URI, call ``super().__init__`` with the
    bucket's prefix, and write the four primitives."""

    #: Object stores answer many requests at once; files transfer this many at a time.
    max_workers = 16

    def __init__(self, artifact_uri: str, prefix: str) -> None:
        super().__init__(artifact_uri)
        try:
            self.prefix = validate_artifact_path(prefix.strip("/"))
        except TrackletException as exc:
            raise TrackletException(
                f"Invalid artifact URI {artifact_uri!r}: {exc.message}", INVALID_PARAMETER_VALUE
            ) from None

    # -- primitives ------------------------------------------------------------------------

    @abc.abstractmethod
    def _put_object(self, local_file: str, key: str, size: int) -> None:
        """Upload ``local_file`` (``size`` bytes) to ``key``, replacing what is there. An
        upload that fails must leave no object (and no partial one) under ``key``."""

    @abc.abstractmethod
    def _get_object(self, key: str, local_path: str, size: int | None) -> None:
        """Write the object ``key`` to ``local_path`` (an empty file the caller made).
        ``size`` is the object's size when a listing already told it. Raise a
        ``TrackletException`` with ``RESOURCE_DOES_NOT_EXIST`` if there is no such key."""

    @abc.abstractmethod
    def _list_objects(self, prefix: str, recursive: bool) -> Iterable[ListedObject]:
        """Objects whose key starts with ``prefix`` (``""`` or ending in ``/``), in any
        order, every page. When not ``recursive``, keys below the next ``/`` are folded
        into sub-prefixes (``size`` None), as a listing with delimiter ``/`` does."""

    @abc.abstractmethod
    def _delete_objects(self, keys: list[str]) -> None:
        """Delete these keys; keys that do not exist are not an error."""

    # -- keys --------------------------------------------------------------------------------

    def _key(self, rel: str) -> str:
        """The key of the root-relative path ``rel`` (already validated)."""
        return f"{self.prefix}/{rel}" if self.prefix and rel else (self.prefix or rel)

    def _folder_prefix(self, rel: str) -> str:
        key = self._key(rel)
        return f"{key}/" if key else ""

    def _relative(self, key: str) -> str | None:
        """The root-relative path of a listed key, or None for a key that is not safe to
        use as a path (written by something else: ``..`` parts, backslashes)."""
        root = self._folder_prefix("")
        rest = key[len(root) :] if key.startswith(root) else None
        if rest is None:
            return None
        try:
            clean = validate_artifact_path(rest)
        except TrackletException:
            clean = ""
        if not clean or clean != rest.rstrip("/"):
            _logger.warning(
                "Skipping the object %r under %s: not a safe artifact path", key, self.artifact_uri
            )
            return None
        return clean

    # -- the contract ------------------------------------------------------------------------

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        folder = validate_artifact_path(artifact_path)
        name = os.path.basename(local_file)
        rel = validate_artifact_path(f"{folder}/{name}" if folder else name)
        self._put_object(local_file, self._key(rel), os.path.getsize(local_file))

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        rel = validate_artifact_path(path)
        infos: dict[str, FileInfo] = {}
        for entry in self._list_objects(self._folder_prefix(rel), recursive=False):
            if entry.key.endswith("/") and entry.size is not None:
                continue  # a directory marker object
            child = self._relative(entry.key)
            if child is None:
                continue
            is_dir = entry.size is None
            infos[child] = FileInfo(child, is_dir, None if is_dir else entry.size)
        return sorted(infos.values(), key=lambda info: info.path)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        rel = validate_artifact_path(remote_file_path)
        self._fetch(self._key(rel), local_path, None)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        rel = validate_artifact_path(artifact_path)
        keys = [entry.key for entry in self._list_objects(self._folder_prefix(rel), recursive=True)]
        if rel:
            keys.append(self._key(rel))
        if keys:
            self._delete_objects(keys)

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        """A tree costs one recursive listing; a single file one listing and one GET."""
        rel = validate_artifact_path(artifact_path)
        dst = os.path.abspath(dst_path) if dst_path else tempfile.mkdtemp(prefix="tracklet-")
        os.makedirs(dst, exist_ok=True)
        files = []
        for entry in self._list_objects(self._folder_prefix(rel), recursive=True):
            child = self._relative(entry.key)
            if child is not None and entry.size is not None and not entry.key.endswith("/"):
                files.append((child, entry))
        target = self._local_target(dst, rel)
        if files or rel == "":
            for folder in {os.path.dirname(self._local_target(dst, child)) for child, _ in files}:
                os.makedirs(folder, exist_ok=True)
            self._run_parallel(
                lambda job: self._fetch(job[1].key, self._local_target(dst, job[0]), job[1].size), files
            )
            os.makedirs(target, exist_ok=True)
            return target
        os.makedirs(os.path.dirname(target), exist_ok=True)
        try:
            self._fetch(self._key(rel), target, None)
        except TrackletException as exc:
            if exc.error_code != RESOURCE_DOES_NOT_EXIST:
                raise
            raise TrackletException(
                f"No artifact at '{rel}' under {self.artifact_uri}", RESOURCE_DOES_NOT_EXIST
            ) from None
        return target

    # -- helpers -------------------------------------------------------------------------------

    def _fetch(self, key: str, local_path: str, size: int | None) -> None:
        """``_get_object`` into a temporary name beside ``local_path``, renamed when whole."""
        folder, name = os.path.split(local_path)
        fd, partial = tempfile.mkstemp(prefix=f".{name[:100]}.", suffix=".part", dir=folder or ".")
        os.close(fd)
        try:
            self._get_object(key, partial, size)
            os.replace(partial, local_path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(partial)
            raise
