"""Copying one run's artifact tree between two repositories, file by file.

Each file goes through a temporary folder (nothing is held in memory, a tree may not fit
on disk at once) and is skipped when the destination already holds a file of that path and
size: a copy started again after a kill does not send again what arrived whole.
"""

from __future__ import annotations

import dataclasses
import os
import posixpath
import shutil
import tempfile
from concurrent.futures import Executor

from tracklet.stores import ArtifactRepository

__all__ = ["TreeCopy", "copy_tree", "list_tree", "repository"]


@dataclasses.dataclass
class TreeCopy:
    """What one tree copy did."""

    files: int = 0
    bytes: int = 0
    skipped: int = 0


def repository(uri: str, tracking_uri: str) -> ArtifactRepository:
    """The repository at ``uri``; ``tracking_uri`` resolves ``mlflow-artifacts:`` and
    ``runs:`` URIs against the right server or store."""
    from tracklet.plugins import get_artifact_repository

    return get_artifact_repository(uri, tracking_uri=tracking_uri)


def list_tree(repo: ArtifactRepository) -> dict[str, int | None]:
    """Every file under the repository's root: path relative to it -> size (None if the
    repository does not say). A root that does not exist holds nothing."""
    found: dict[str, int | None] = {}
    folders: list[str | None] = [None]
    while folders:
        folder = folders.pop()
        for info in repo.list_artifacts(folder):
            if info.is_dir:
                folders.append(info.path)
            else:
                found[info.path] = info.file_size
    return found


def copy_tree(src: ArtifactRepository, dst: ArtifactRepository, pool: Executor) -> TreeCopy:
    """Copy every file of ``src`` to the same path in ``dst`` (files of another size are
    overwritten), ``pool`` sending several at once; returns when all arrived."""
    wanted = list_tree(src)
    result = TreeCopy()
    if not wanted:
        return result
    there = list_tree(dst)
    todo = []
    for path, size in sorted(wanted.items()):
        if path in there and size is not None and there[path] == size:
            result.skipped += 1
        else:
            todo.append(path)
    for future in [pool.submit(_copy_file, src, dst, path) for path in todo]:
        result.bytes += future.result()
        result.files += 1
    return result


def _copy_file(src: ArtifactRepository, dst: ArtifactRepository, path: str) -> int:
    folder = tempfile.mkdtemp(prefix="tracklet-migrate-")
    try:
        local = src.download_artifacts(path, dst_path=folder)
        size = os.path.getsize(local)
        dst.log_artifact(local, posixpath.dirname(path) or None)
        return size
    finally:
        shutil.rmtree(folder, ignore_errors=True)
