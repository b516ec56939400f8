"""MemoryArtifactRepository: artifacts as bytes in a process-wide dict, like an object store.

tracklet builds a new repository object for every artifact call (and for ``runs:/``
URIs, at roots below a run's), so the files cannot live in the object: they live in
one module-level "bucket" keyed by full path, ``<name>/<experiment>/<run>/artifacts/
<file>``, and a repository is a view of the keys under its root. Folders are not
stored, only implied by the keys, exactly as in S3 or GCS — which makes this the
template for an object-store plugin: replace the dict with the SDK's calls.

Only the four primitives are written here; ``log_artifacts`` and
``download_artifacts`` come from :class:`~tracklet.stores.ArtifactRepository`.
"""

from __future__ import annotations

import os
import threading

from tracklet.entities import FileInfo
from tracklet.exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.stores import ArtifactRepository
from tracklet.validation import validate_artifact_path

__all__ = ["MemoryArtifactRepository"]

SCHEME = "memory://"

_bucket: dict[str, bytes] = {}  # full key -> content, shared by every repository
_bucket_lock = threading.Lock()


def _new_lock_after_fork() -> None:
    # A forked child gets a copy of the bucket, and of the lock in whatever state another
    # thread of the parent left it: locked forever, if it was held at the fork.
    global _bucket_lock
    _bucket_lock = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_lock_after_fork)


class MemoryArtifactRepository(ArtifactRepository):
    """Artifact repository rooted at ``memory://<name>/<path>``."""

    def __init__(self, artifact_uri: str) -> None:
        if not artifact_uri.startswith(SCHEME):
            raise TrackletException(
                f"Invalid artifact URI {artifact_uri!r}: expected {SCHEME}<name>[/<path>].",
                INVALID_PARAMETER_VALUE,
            )
        super().__init__(artifact_uri)
        self._root = artifact_uri[len(SCHEME) :].strip("/")

    def _key(self, path: str | None) -> str:
        """The bucket key of a root-relative path, refusing paths that leave the root."""
        rel = validate_artifact_path(path)
        return f"{self._root}/{rel}" if rel else self._root

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Store one local file under ``artifact_path``."""
        folder = validate_artifact_path(artifact_path)
        name = os.path.basename(local_file)
        key = self._key(f"{folder}/{name}" if folder else name)  # the file name is checked too
        with open(local_file, "rb") as f:
            content = f.read()
        with _bucket_lock:
            _bucket[key] = content

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Files and implied folders directly under ``path``, sorted."""
        rel = validate_artifact_path(path)
        prefix = self._key(rel) + "/"
        files: dict[str, int] = {}
        folders: set[str] = set()
        with _bucket_lock:
            for key, content in _bucket.items():
                if key.startswith(prefix):
                    head, slash, _rest = key[len(prefix) :].partition("/")
                    if slash:
                        folders.add(head)
                    else:
                        files[head] = len(content)
        base = f"{rel}/" if rel else ""
        infos = [FileInfo(base + name, False, size) for name, size in files.items()]
        infos += [FileInfo(base + name, True, None) for name in folders]
        return sorted(infos, key=lambda info: info.path)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        """Write one stored file to ``local_path``."""
        key = self._key(remote_file_path)
        with _bucket_lock:
            content = _bucket.get(key)
        if content is None:
            raise TrackletException(
                f"No artifact at '{remote_file_path}' under {self.artifact_uri}", RESOURCE_DOES_NOT_EXIST
            )
        with open(local_path, "wb") as f:
            f.write(content)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete a file or everything under a folder (the whole root when None)."""
        key = self._key(artifact_path)
        with _bucket_lock:
            for stored in [k for k in _bucket if k == key or k.startswith(key + "/")]:
                del _bucket[stored]
