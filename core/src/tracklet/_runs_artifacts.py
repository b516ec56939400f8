"""``runs:/<run_id>/<path>`` artifact URIs, resolved through the tracking store."""

from __future__ import annotations

import posixpath

from tracklet import _config, plugins
from tracklet.entities import FileInfo
from tracklet.stores.artifacts import ArtifactRepository
from tracklet.uri import append_to_uri_path, get_scheme, parse_runs_uri
from tracklet.validation import validate_artifact_path


def resolve_runs_uri(uri: str, tracking_uri: str | None = None) -> tuple[ArtifactRepository, str]:
    """(repository of the run's artifact root, path under it) for a ``runs:/`` URI."""
    run_id, path = parse_runs_uri(uri)
    tracking_uri = tracking_uri or _config.get_tracking_uri()
    store = plugins.get_tracking_store(tracking_uri)
    root = store.get_run(run_id).info.artifact_uri or ""
    return plugins.get_artifact_repository(root, tracking_uri), validate_artifact_path(path)


class RunsArtifactRepository(ArtifactRepository):
    """A view of a run's artifacts rooted at ``runs:/<run_id>/<path>``."""

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None) -> None:
        super().__init__(artifact_uri)
        self._repo, self._base = resolve_runs_uri(artifact_uri, tracking_uri)

    @staticmethod
    def is_runs_uri(uri: str) -> bool:
        """Whether ``uri`` is a ``runs:/`` URI."""
        return get_scheme(uri) == "runs"

    @staticmethod
    def get_underlying_uri(runs_uri: str, tracking_uri: str | None = None) -> str:
        """The artifact URI a ``runs:/<run_id>/<path>`` URI stands for (the run's artifact
        root joined with the path), as MLflow's method of the same name gives."""
        repo, path = resolve_runs_uri(runs_uri, tracking_uri)
        return append_to_uri_path(repo.artifact_uri, path) if path else repo.artifact_uri

    def _full(self, path: str | None) -> str:
        rel = validate_artifact_path(path)
        return posixpath.join(self._base, rel) if self._base and rel else (self._base or rel)

    def _relative(self, path: str) -> str:
        return posixpath.relpath(path, self._base) if self._base else path

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        self._repo.log_artifact(local_file, self._full(artifact_path) or None)

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        self._repo.log_artifacts(local_dir, self._full(artifact_path) or None)

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        return [
            FileInfo(self._relative(f.path), f.is_dir, f.file_size)
            for f in self._repo.list_artifacts(self._full(path) or None)
        ]

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        self._repo._download_file(self._full(remote_file_path), local_path)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        self._repo.delete_artifacts(self._full(artifact_path) or None)
