"""LocalArtifactRepository: artifacts as plain files under a local folder.

Every ``artifact_path`` is checked twice: :func:`tracklet.validation.validate_artifact_path`
refuses ``..``, absolute paths and their encoded forms, and the real path (symlinks
resolved) must stay inside the repository's root, so a symlink pointing out of the root
cannot be used to read or write elsewhere.
"""

from __future__ import annotations

import contextlib
import os
import shutil

from tracklet.entities import FileInfo
from tracklet.exceptions import INVALID_PARAMETER_VALUE, RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.stores import ArtifactRepository
from tracklet.uri import local_path_from_uri
from tracklet.validation import validate_artifact_path

__all__ = ["LocalArtifactRepository"]

# A file being published by log_artifact; never listed. MLflow's own prefix, so MLflow
# hides our half-copied files too, and refuses artifacts named like them.
_STAGING_PREFIX = ".artifact.uploading."


class LocalArtifactRepository(ArtifactRepository):
    """Artifact repository on a local folder (a plain path or a ``file:`` URI)."""

    def __init__(self, artifact_uri: str) -> None:
        if not artifact_uri:
            # An empty root would be the current directory. A run whose meta.yaml records no
            # artifact_uri (hand-made or damaged) gets here; MLflow fails on it too.
            raise TrackletException(
                "Invalid artifact URI '': an artifact location is required (a run without one "
                "has no artifacts; set 'artifact_uri' in its meta.yaml to read them).",
                INVALID_PARAMETER_VALUE,
            )
        super().__init__(artifact_uri)
        self.artifact_dir = local_path_from_uri(artifact_uri)

    # -- paths -----------------------------------------------------------------------------

    def _local(self, artifact_path: str | None) -> tuple[str, str]:
        """(clean relative path, absolute local path), refusing anything outside the root."""
        rel = validate_artifact_path(artifact_path)
        local = os.path.join(self.artifact_dir, *rel.split("/")) if rel else self.artifact_dir
        root = os.path.realpath(self.artifact_dir)
        real = os.path.realpath(local)
        if real != root and not real.startswith(root.rstrip(os.sep) + os.sep):
            raise TrackletException(
                f"Invalid artifact path '{rel}': it resolves to '{real}', outside the artifact "
                f"root '{root}' (through a symbolic link).",
                INVALID_PARAMETER_VALUE,
            )
        return rel, local

    # -- primitives ----------------------------------------------------------------------------

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        """Copy one file into ``artifact_path``; readers see the whole file or none of it."""
        name = os.path.basename(local_file)
        if name.startswith(_STAGING_PREFIX):
            raise TrackletException(
                f"Invalid artifact file name '{name}': names starting with '{_STAGING_PREFIX}' "
                "are reserved for files being uploaded.",
                INVALID_PARAMETER_VALUE,
            )
        _, directory = self._local(artifact_path)
        os.makedirs(directory, exist_ok=True)
        target = os.path.join(directory, name)
        self._local(os.path.relpath(target, self.artifact_dir).replace(os.sep, "/"))
        with contextlib.suppress(FileNotFoundError):
            if os.path.samefile(local_file, target):
                return
        staging = os.path.join(directory, _STAGING_PREFIX + os.urandom(8).hex())
        try:
            shutil.copyfile(local_file, staging)
            os.replace(staging, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(staging)
            raise

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        """Copy a directory tree under ``artifact_path`` (plain file copies)."""
        base_rel, base = self._local(artifact_path)
        for root, _dirs, files in os.walk(local_dir):
            rel = os.path.relpath(root, local_dir)
            if rel == ".":
                target_dir = base
            else:  # one check per directory: an existing symlinked folder may point out
                rel = rel.replace(os.sep, "/")
                _, target_dir = self._local(f"{base_rel}/{rel}" if base_rel else rel)
            os.makedirs(target_dir, exist_ok=True)
            for name in files:
                shutil.copyfile(os.path.join(root, name), os.path.join(target_dir, name))

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        """Entries directly under ``path``, sorted; directories have ``file_size`` None."""
        rel, local = self._local(path)
        if not os.path.isdir(local):
            return []
        prefix = rel + "/" if rel else ""
        infos = []
        with os.scandir(local) as entries:
            for entry in entries:
                if entry.name.startswith(_STAGING_PREFIX):
                    continue
                if entry.is_dir():
                    infos.append(FileInfo(prefix + entry.name, True, None))
                else:
                    infos.append(FileInfo(prefix + entry.name, False, entry.stat().st_size))
        return sorted(infos, key=lambda info: info.path)

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        """Copy one artifact file to ``local_path``."""
        rel, local = self._local(remote_file_path)
        if not os.path.isfile(local):
            raise TrackletException(f"No such artifact: '{rel}'", RESOURCE_DOES_NOT_EXIST)
        shutil.copyfile(local, local_path)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        """Delete a file or a tree (the whole root when None); nothing to delete is fine."""
        _, local = self._local(artifact_path)
        if os.path.islink(local) or os.path.isfile(local):
            os.unlink(local)
        elif os.path.isdir(local):
            shutil.rmtree(local)

    # -- faster defaults ---------------------------------------------------------------------------

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        """With ``dst_path``, copy there; without, return the artifact's own local path
        (as MLflow does: the files are already on this machine)."""
        rel, local = self._local(artifact_path)
        if not rel and dst_path is not None and not os.path.isdir(local):
            # MLflow: nothing to download from a root that does not exist (a run of a deleted
            # experiment, a run that logged nothing elsewhere) is the empty destination.
            return os.path.abspath(dst_path)
        if not os.path.exists(local):
            raise TrackletException(
                f"No artifact at '{rel}' under {self.artifact_uri}", RESOURCE_DOES_NOT_EXIST
            )
        if dst_path is None:
            return os.path.abspath(local)
        dst = os.path.abspath(dst_path)
        target = os.path.join(dst, *rel.split("/")) if rel else dst
        if os.path.isdir(local):
            self._copy_tree_out(rel, local, target)
            return target
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(local, target)
        return target

    def _copy_tree_out(self, rel: str, local: str, target: str) -> None:
        # Each file is checked like any artifact path, so a symlink inside the tree that
        # points out of the root is refused rather than followed.
        for root, _dirs, files in os.walk(local):
            sub = os.path.relpath(root, local)
            out_dir = target if sub == "." else os.path.join(target, sub)
            os.makedirs(out_dir, exist_ok=True)
            for name in files:
                if name.startswith(_STAGING_PREFIX):
                    continue
                path = os.path.join(root, name)
                self._local(os.path.relpath(path, self.artifact_dir).replace(os.sep, "/"))
                shutil.copyfile(path, os.path.join(out_dir, name))
