"""The ``models:`` artifact scheme: a registered model version's (or a logged model's) files.

``models:/<name>/<version>``, ``models:/<name>@<alias>``, ``models:/<name>/<stage>``,
``models:/<name>/latest`` and ``models:/<model_id>`` are resolved, as MLflow's
``ModelsArtifactRepository`` does, through the registry store of the registry URI (the one
given, else the current one) to the version's download URI — or, for a logged model, to its
artifact location in the tracking store — and every call goes to the artifact repository
of that URI. A sub-path (``models:/m/3/data/x.json``) is split off by the caller
(:func:`tracklet.uri.split_models_uri`), as in MLflow.
"""

from __future__ import annotations

import os
import warnings

import yaml

from tracklet import plugins
from tracklet.client import MlflowClient
from tracklet.entities import FileInfo
from tracklet.stores import ArtifactRepository
from tracklet.uri import is_models_uri, parse_models_uri, split_models_uri

__all__ = ["REGISTERED_MODEL_META_FILE_NAME", "ModelsArtifactRepository"]

#: Written beside a downloaded model's ``MLmodel``: the name and version it came from (MLflow's).
REGISTERED_MODEL_META_FILE_NAME = "registered_model_meta"
_MLMODEL_FILE_NAME = "MLmodel"


def resolve(
    uri: str, tracking_uri: str | None = None, registry_uri: str | None = None
) -> tuple[str | None, str | None, str]:
    """``(name, version, underlying artifact URI)`` of a ``models:/`` URI without sub-path;
    name and version are None for ``models:/<model_id>``."""
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=registry_uri)
    parsed = parse_models_uri(uri)
    if parsed.model_id is not None:
        return None, None, client.get_logged_model(parsed.model_id).artifact_location
    name = str(parsed.name)
    if parsed.version is not None:
        version = parsed.version
    elif parsed.alias is not None:
        version = str(client.get_model_version_by_alias(name, parsed.alias).version)
    else:
        with warnings.catch_warnings():  # MLflow resolves stages without the deprecation warning
            warnings.simplefilter("ignore", FutureWarning)
            latest = client.get_latest_versions(name, None if parsed.stage is None else [parsed.stage])
        if not latest:
            from tracklet.exceptions import TrackletException

            stage = "" if parsed.stage is None else f" and stage '{parsed.stage}'"
            raise TrackletException(f"No versions of model with name '{name}'{stage} found")
        version = str(max(int(v.version) for v in latest))
    return name, version, client.get_model_version_download_uri(name, version)


class ModelsArtifactRepository(ArtifactRepository):
    """Artifacts of a registered model version (or a logged model) named by a ``models:/`` URI.

    Reading only, for a registered version (log with ``register_model`` instead, as MLflow
    says); a logged model (``models:/<model_id>``) may also be written to.
    """

    def __init__(
        self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None
    ) -> None:
        super().__init__(artifact_uri)
        self.is_logged_model_uri = parse_models_uri(artifact_uri).model_id is not None
        self.model_name, self.model_version, underlying = resolve(artifact_uri, tracking_uri, registry_uri)
        self.underlying_uri = underlying
        self.repo = plugins.get_artifact_repository(underlying, tracking_uri)

    @staticmethod
    def is_models_uri(uri: str) -> bool:
        """Whether ``uri`` is a ``models:`` URI (MLflow's method of the same name)."""
        return is_models_uri(uri)

    @staticmethod
    def split_models_uri(uri: str) -> tuple[str, str]:
        """``models:/<name>/<version>/path`` -> (``models:/<name>/<version>``, ``path``), as MLflow."""
        return split_models_uri(uri)

    @staticmethod
    def get_underlying_uri(uri: str) -> str:
        """The artifact URI a ``models:/`` URI stands for (MLflow's method of the same name)."""
        return resolve(uri)[2]

    def log_artifact(self, local_file: str, artifact_path: str | None = None) -> None:
        if self.is_logged_model_uri:
            self.repo.log_artifact(local_file, artifact_path)
            return
        raise ValueError(
            "log_artifact is not supported for models:/<name>/<version> URIs. Use register_model instead."
        )

    def log_artifacts(self, local_dir: str, artifact_path: str | None = None) -> None:
        if self.is_logged_model_uri:
            self.repo.log_artifacts(local_dir, artifact_path)
            return
        raise ValueError(
            "log_artifacts is not supported for models:/<name>/<version> URIs. Use register_model instead."
        )

    def list_artifacts(self, path: str | None = None) -> list[FileInfo]:
        return self.repo.list_artifacts(path)

    def download_artifacts(self, artifact_path: str, dst_path: str | None = None) -> str:
        """Download from the underlying repository; a whole model folder (one holding
        ``MLmodel``) of a registered version gets a ``registered_model_meta`` file naming the
        model and version, as MLflow writes it."""
        local = self.repo.download_artifacts(artifact_path, dst_path)
        if self.model_name is not None and os.path.isdir(local) and _MLMODEL_FILE_NAME in os.listdir(local):
            meta = {"model_name": self.model_name, "model_version": self.model_version}
            with open(os.path.join(local, REGISTERED_MODEL_META_FILE_NAME), "w", encoding="utf-8") as f:
                yaml.safe_dump(meta, f, default_flow_style=False)
        return local

    def _download_file(self, remote_file_path: str, local_path: str) -> None:
        self.repo._download_file(remote_file_path, local_path)

    def delete_artifacts(self, artifact_path: str | None = None) -> None:
        from tracklet.exceptions import NOT_IMPLEMENTED, TrackletException

        raise TrackletException(
            "Deleting a registered model version's files through its models:/ URI is not supported: "
            "delete the model version (MlflowClient.delete_model_version) instead.",
            NOT_IMPLEMENTED,
        )
