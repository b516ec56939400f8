"""FileInfo: one entry of an artifact listing."""

from __future__ import annotations

from tracklet.entities._base import TrackletObject


class FileInfo(TrackletObject):
    """A file or directory under a run's artifact root, relative path with ``/``."""

    __slots__ = ("_path", "_is_dir", "_file_size")
    _fields = ("path", "is_dir", "file_size")

    def __init__(self, path: str, is_dir: bool, file_size: int | None = None) -> None:
        self._path = path
        self._is_dir = is_dir
        self._file_size = file_size

    @property
    def path(self) -> str:
        """Path relative to the artifact root."""
        return self._path

    @property
    def is_dir(self) -> bool:
        """Whether the entry is a directory."""
        return self._is_dir

    @property
    def file_size(self) -> int | None:
        """Size in bytes; None for a directory."""
        return self._file_size
