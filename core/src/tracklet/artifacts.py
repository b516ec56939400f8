"""Artifact helpers that take URIs: ``runs:/<run_id>/<path>``, ``models:/<name>/<version>/<path>``
(and the other ``models:/`` forms: ``@alias``, stage, ``latest``, a logged model id) or a
plain artifact URI.

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
from tracklet._runs_artifacts import RunsArtifactRepository, resolve_runs_uri
from tracklet.entities import FileInfo
from tracklet.exceptions import (
    BAD_REQUEST,
    INVALID_PARAMETER_VALUE,
    RESOURCE_DOES_NOT_EXIST,
    TrackletException,
)
from tracklet.stores import ArtifactRepository
from tracklet.uri import get_scheme, is_local_uri, local_path_from_uri, parse_runs_uri, split_models_uri

__all__ = ["download_artifacts", "list_artifacts", "load_dict", "load_image", "load_text"]


def _split_uri(artifact_uri: str) -> tuple[str, str]:
    """A plain artifact URI -> (parent URI, last path component)."""
    parsed = urllib.parse.urlparse(artifact_uri)
    path = parsed.path.rstrip("/")
    if len(parsed.scheme) <= 1:  # a local path (or a Windows drive)
        local = os.path.abspath(artifact_uri)
        return os.path.dirname(local), os.path.basename(local)
    return urllib.parse.urlunparse(parsed._replace(path=posixpath.dirname(path))), posixpath.basename(path)


def _check_arguments(artifact_uri: str | None, run_id: str | None, artifact_path: str | None) -> None:
    if (artifact_uri is None) == (run_id is None):
        raise TrackletException(
            "Exactly one of `run_id` or `artifact_uri` must be specified", INVALID_PARAMETER_VALUE
        )
    if artifact_uri is not None and artifact_path is not None:
        raise TrackletException(
            "`artifact_path` cannot be specified if `artifact_uri` is specified", INVALID_PARAMETER_VALUE
        )


def _locate_model(
    artifact_uri: str, tracking_uri: str | None, registry_uri: str | None = None
) -> tuple[ArtifactRepository, str]:
    """The repository of the model version (or logged model) a ``models:/`` URI names, and
    the sub-path after it (``models:/m/3/a/b`` -> repository of ``models:/m/3``, ``a/b``), as
    MLflow splits it. The ``models`` artifact scheme (served by tracklet-registry) resolves
    the URI through the registry store of ``registry_uri`` (default: the current one)."""
    root, path = split_models_uri(artifact_uri)
    declared = plugins.declared_scheme("artifacts", "models") if registry_uri else None
    if declared is None:
        return plugins.get_artifact_repository(root, tracking_uri), path
    repository = plugins.load_target(declared.target)
    return repository(root, tracking_uri=tracking_uri, registry_uri=registry_uri), path


def _locate(
    artifact_uri: str | None, run_id: str | None, artifact_path: str | None, tracking_uri: str | None
) -> tuple[ArtifactRepository, str]:
    """The repository of the run's artifact root (or of the URI's parent) and the path in it."""
    _check_arguments(artifact_uri, run_id, artifact_path)
    if run_id is not None:
        artifact_uri = f"runs:/{run_id}/{artifact_path or ''}"
    assert artifact_uri is not None
    if get_scheme(artifact_uri) == "runs":
        return resolve_runs_uri(artifact_uri, tracking_uri)
    if get_scheme(artifact_uri) == "models":
        return _locate_model(artifact_uri, tracking_uri)
    parent, name = _split_uri(artifact_uri)
    return plugins.get_artifact_repository(parent, tracking_uri), name


def _locate_for_download(
    artifact_uri: str | None, run_id: str | None, artifact_path: str | None, tracking_uri: str | None
) -> tuple[ArtifactRepository, str]:
    """As MLflow downloads: a URI, or a run's path as ``runs:/<run_id>/<path>``, through the
    repository of its parent, so that ``dst_path`` receives the last component alone
    (``runs:/<id>/d/x.json`` lands in ``<dst_path>/x.json``)."""
    _check_arguments(artifact_uri, run_id, artifact_path)
    if run_id is not None and not artifact_path:
        return _locate(None, run_id, None, tracking_uri)
    uri = artifact_uri if artifact_uri is not None else f"runs:/{run_id}/{artifact_path}"
    if get_scheme(uri) != "runs":
        return _locate(uri, None, None, tracking_uri)
    found_run_id, path = parse_runs_uri(uri)
    parent, name = posixpath.split(path.strip("/"))
    if not parent:
        return resolve_runs_uri(uri, tracking_uri)
    return RunsArtifactRepository(f"runs:/{found_run_id}/{parent}", tracking_uri), name


def download_artifacts(
    artifact_uri: str | None = None,
    run_id: str | None = None,
    artifact_path: str | None = None,
    dst_path: str | None = None,
    tracking_uri: str | None = None,
    registry_uri: str | None = None,
) -> str:
    """Download an artifact file or directory; return its local path (as MLflow: what a
    ``runs:/`` URI or ``run_id`` + ``artifact_path`` names lands as its last component in
    ``dst_path``, or in a new temp dir).

    Without ``dst_path``, a plain local URI or a run's whole local artifact folder is
    returned in place.
    """
    if artifact_uri is not None and get_scheme(artifact_uri) == "models":
        _check_arguments(artifact_uri, run_id, artifact_path)
        repo, path = _locate_model(artifact_uri, tracking_uri, registry_uri)
        return _download(repo, path, dst_path)
    repo, path = _locate_for_download(artifact_uri, run_id, artifact_path, tracking_uri)
    from_runs_uri = bool(artifact_path) if run_id is not None else get_scheme(artifact_uri or "") == "runs"
    if from_runs_uri and dst_path is None:
        # MLflow copies what a runs:/ URI names into a new temp dir, even from a local
        # store: the caller may change or delete the copy without touching the run
        dst_path = tempfile.mkdtemp(prefix="tracklet-")
    try:
        return _download(repo, path, dst_path)
    except TrackletException as e:
        if not from_runs_uri or e.error_code != RESOURCE_DOES_NOT_EXIST:
            raise
        raise TrackletException(
            f"Failed to download artifacts from path {posixpath.basename(path)!r}, "
            "please ensure that the path is correct.",
            RESOURCE_DOES_NOT_EXIST,
        ) from e


def _download(repo: ArtifactRepository, path: str, dst_path: str | None) -> str:
    if dst_path is None:  # a local store's files are returned in place, as MLflow does
        if is_local_uri(repo.artifact_uri):
            local = os.path.join(local_path_from_uri(repo.artifact_uri), *[p for p in path.split("/") if p])
            if os.path.exists(local):
                return local
    else:
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
    the URI's parent (listing ``…/artifacts`` gives ``artifacts/<name>``, and
    ``runs:/<id>/tree/sub`` gives ``sub/<name>``); a ``run_id``'s paths are relative to the
    run's artifact root."""
    _check_arguments(artifact_uri, run_id, artifact_path)
    if artifact_uri is not None:
        repo, path = _locate_for_download(artifact_uri, None, None, tracking_uri)
    else:
        repo, path = _locate(None, run_id, artifact_path, tracking_uri)
    return repo.list_artifacts(path or None)


def _read_bytes(artifact_uri: str) -> bytes:
    with tempfile.TemporaryDirectory(prefix="tracklet-") as tmp:
        with open(download_artifacts(artifact_uri=artifact_uri, dst_path=tmp), "rb") as f:
            return f.read()


def load_text(artifact_uri: str) -> str:
    """An artifact's contents as text (UTF-8; another encoding is BAD_REQUEST, as in MLflow)."""
    try:
        return _read_bytes(artifact_uri).decode("utf-8")
    except UnicodeDecodeError as e:
        raise TrackletException(
            f"Artifact {artifact_uri!r} is not valid UTF-8. To read a file in another encoding, "
            "download it with `mlflow.artifacts.download_artifacts` and open it with the correct "
            "`encoding`.",
            BAD_REQUEST,
        ) from e


def load_dict(artifact_uri: str) -> dict[str, Any]:
    """An artifact's contents parsed as JSON (whatever its extension, as in MLflow: a YAML
    file is refused unless it is also valid JSON)."""
    try:
        return json.loads(load_text(artifact_uri))  # type: ignore[no-any-return]
    except json.JSONDecodeError as e:
        raise TrackletException("Unable to form a JSON object from file content", BAD_REQUEST) from e


def load_image(artifact_uri: str) -> Any:
    """An image artifact as a ``PIL.Image.Image``."""
    import io

    from tracklet.multimedia import _pil

    image = _pil().open(io.BytesIO(_read_bytes(artifact_uri)))
    image.load()
    return image
