"""FileInfo: one entry of an artifact listing."""

from __future__ import annotations

from typing import Any

from tracklet.entities import _proto
from tracklet.entities._base import TrackletObject


class FileInfo(TrackletObject):
    """A file or directory under a run's artifact root, relative path with ``/``."""

    __slots__ = ("_path", "_is_dir", "_file_size")
    _fields = ("file_size", "is_dir", "path")

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

    def to_proto(self) -> Any:
        """MLflow's wire message ``mlflow.FileInfo`` (needs protobuf); a size of 0 or None is left out."""
        proto = _proto.message("FileInfo")(path=self.path, is_dir=self.is_dir)
        if self.file_size:
            proto.file_size = self.file_size
        return proto

    @classmethod
    def from_proto(cls, proto: Any) -> FileInfo:
        """The entry in an ``mlflow.FileInfo`` message (an unset size reads 0, as in MLflow)."""
        return cls(proto.path, proto.is_dir, proto.file_size)
