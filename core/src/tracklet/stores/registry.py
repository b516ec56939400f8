"""The model registry store contract (implemented by the ``tracklet-registry`` plugin).

Registered models have versions; versions have tags, a stage (deprecated in MLflow)
and aliases. Names and aliases follow MLflow's rules. Every method raises
``RESOURCE_DOES_NOT_EXIST`` for unknown models or versions.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

__all__ = ["RegistryStore"]


class RegistryStore(abc.ABC):
    """Abstract registry store, built from a registry URI."""

    def __init__(self, store_uri: str | None = None) -> None:
        self.store_uri = store_uri

    @abc.abstractmethod
    def create_registered_model(
        self, name: str, tags: Sequence[Any] | None = None, description: str | None = None
    ) -> Any:
        """Create a registered model (``RESOURCE_ALREADY_EXISTS`` if the name is taken)."""

    @abc.abstractmethod
    def get_registered_model(self, name: str) -> Any:
        """The registered model with its latest versions and aliases."""

    @abc.abstractmethod
    def rename_registered_model(self, name: str, new_name: str) -> Any:
        """Rename a model; its versions follow."""

    @abc.abstractmethod
    def update_registered_model(self, name: str, description: str) -> Any:
        """Change a model's description."""

    @abc.abstractmethod
    def delete_registered_model(self, name: str) -> None:
        """Delete a model and all its versions."""

    @abc.abstractmethod
    def search_registered_models(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> Any:
        """Registered models matching a filter, one page at a time."""

    @abc.abstractmethod
    def create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None = None,
        tags: Sequence[Any] | None = None,
        run_link: str | None = None,
        description: str | None = None,
    ) -> Any:
        """Add a version to a model; versions are numbered 1, 2, 3, …"""

    @abc.abstractmethod
    def get_model_version(self, name: str, version: str) -> Any:
        """One version of a model."""

    @abc.abstractmethod
    def update_model_version(self, name: str, version: str, description: str) -> Any:
        """Change a version's description."""

    @abc.abstractmethod
    def delete_model_version(self, name: str, version: str) -> None:
        """Delete one version."""

    @abc.abstractmethod
    def search_model_versions(
        self,
        filter_string: str | None = None,
        max_results: int | None = None,
        order_by: Sequence[str] | None = None,
        page_token: str | None = None,
    ) -> Any:
        """Model versions matching a filter, one page at a time."""

    @abc.abstractmethod
    def set_registered_model_tag(self, name: str, tag: Any) -> None:
        """Set a tag on a model."""

    @abc.abstractmethod
    def delete_registered_model_tag(self, name: str, key: str) -> None:
        """Remove a tag from a model."""

    @abc.abstractmethod
    def set_model_version_tag(self, name: str, version: str, tag: Any) -> None:
        """Set a tag on a version."""

    @abc.abstractmethod
    def delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        """Remove a tag from a version."""

    @abc.abstractmethod
    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        """Point an alias at a version."""

    @abc.abstractmethod
    def delete_registered_model_alias(self, name: str, alias: str) -> None:
        """Remove an alias."""

    @abc.abstractmethod
    def get_model_version_by_alias(self, name: str, alias: str) -> Any:
        """The version an alias points at."""

    @abc.abstractmethod
    def get_model_version_download_uri(self, name: str, version: str) -> str:
        """Where a version's files are."""

    @abc.abstractmethod
    def transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool
    ) -> Any:
        """Move a version to a stage (deprecated by MLflow in favour of aliases)."""

    @abc.abstractmethod
    def get_latest_versions(self, name: str, stages: Sequence[str] | None = None) -> list[Any]:
        """Latest version per stage."""
