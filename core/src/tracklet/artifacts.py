"""Artifact helpers that take URIs: ``runs:/<run_id>/<path>`` or a plain artifact URI.

``download_artifacts``, ``list_artifacts``, ``load_text``, ``load_dict``, ``load_image``
as in ``mlflow.artifacts``.
"""

from __future__ import annotations

import json
import os
import posixpath
import tempfile
import urllib.parse
from typing import Any

from tracklet import plugins
from tracklet._runs_artifacts import resolve_runs_uri
from tracklet.entities import FileInfo
from tracklet.exceptions import INVALID_PARAMETER_VALUE, TrackletException
from tracklet.stores import ArtifactRepository
from tracklet.uri import get_scheme, is_local_uri, local_path_from_uri

__all__ = ["download_artifacts", "list_artifacts", "load_dict", "load_image", "load_text"]


def _split_uri(artifact_uri: str) -> tuple[str, str]:
    """A plain artifact URI -> (parent URI, last path component)."""
    parsed = urllib.parse.urlparse(artifact_uri)
    path = parsed.path.rstrip("/")
    if len(parsed.scheme) <= 1:  # a local path (or a Windows drive)
        local = os.path.abspath(artifact_uri)
        return os.path.dirname(local), os.path.basename(local)
    return urllib.parse.urlunparse(parsed._replace(path=posixpath.dirname(path))), posixpath.basename(path)


def _locate(
    artifact_uri: str | None, run_id: str | None, artifact_path: str | None, tracking_uri: str | None
) -> tuple[ArtifactRepository, str]:
    if (artifact_uri is None) == (run_id is None):
        raise TrackletException(
            "Exactly one of 'artifact_uri' or 'run_id' must be specified.", INVALID_PARAMETER_VALUE
        )
    if artifact_uri is not None and artifact_path is not None:
        raise TrackletException(
            "'artifact_path' goes with 'run_id'; with 'artifact_uri', put the path in the URI.",
            INVALID_PARAMETER_VALUE,
        )
    if run_id is not None:
        artifact_uri = f"runs:/{run_id}/{artifact_path or ''}"
    assert artifact_uri is not None
    if get_scheme(artifact_uri) == "runs":
        return resolve_runs_uri(artifact_uri, tracking_uri)
    parent, name = _split_uri(artifact_uri)
    return plugins.get_artifact_repository(parent, tracking_uri), name


def download_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    dst_path: str | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> str:
    """Download an artifact file or directory; return its local path.

    Without ``dst_path``, artifacts already on the local file system are returned in place.
    """
    repo, path = _locate(artifact_uri, run_id, artifact_path, tracking_uri)
    if dst_path is None and is_local_uri(repo.artifact_uri):
        local = os.path.join(local_path_from_uri(repo.artifact_uri), *[p for p in path.split("/") if p])
        if os.path.exists(local):
            return local
    if dst_path is not None:
        os.makedirs(dst_path, exist_ok=True)
        if not path and not repo.list_artifacts(None):
            # MLflow: a root with nothing in it (a run that never logged, or whose folder
            # went with its deleted experiment) downloads as the empty destination
            return os.path.abspath(dst_path)
    return repo.download_artifacts(path, dst_path)


def list_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    tracking_uri: str | None = None,
) -> list[FileInfo]:
    """Artifacts directly under a URI (or a run's path); as in MLflow, paths are relative to
    the URI's parent (listing ``…/artifacts`` gives ``artifacts/<name>``)."""
    repo, path = _locate(artifact_uri, run_id, artifact_path, tracking_uri)
    return repo.list_artifacts(path or None)


def _read_bytes(artifact_uri: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="tracklet-") as tmp:
        with open(download_artifacts(artifact_uri=artifact_uri, dst_path=tmp), "rb") as f:
            return f.read()


def load_text(artifact_uri: str) -> str:
    """An artifact's contents as text (UTF-8)."""
    return _read_bytes(artifact_uri).decode("utf-8")


def load_dict(artifact_uri: str) -> dict[str, Any]:
    """An artifact's contents parsed as JSON (or YAML for ``.yaml``/``.yml``)."""
    text = load_text(artifact_uri)
    if artifact_uri.endswith((".yaml", ".yml")):
        import yaml

        return yaml.safe_load(text)  # type: ignore[no-any-return]
    try:
        return json.loads(text)  # type: ignore[no-any-return]
    except json.JSONDecodeError as e:
        raise TrackletException(
            f"Unable to form a JSON object from {artifact_uri}: {e}", INVALID_PARAMETER_VALUE
        ) from e


def load_image(artifact_uri: str) -> Any:
    """An image artifact as a ``PIL.Image.Image``."""
    import io

    from tracklet.multimedia import _pil

    image = _pil().open(io.BytesIO(_read_bytes(artifact_uri)))
    image.load()
    return image
