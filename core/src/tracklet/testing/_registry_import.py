"""Conformance tests of the registry's copy primitives (capability ``import``).

``tracklet migrate`` copies a registry through :meth:`RegistryStore.import_registered_model`,
:meth:`~RegistryStore.import_model_version` and
:meth:`~RegistryStore.import_registered_model_aliases`, and keeps the numbering with
:meth:`~RegistryStore.get_last_version_number`. These tests check that a store holds
exactly what it was given (numbers with gaps, stages, times, every field, tags and
aliases replaced, not merged), that importing again changes nothing more, that the
model's update time is not touched by its versions, that numbering continues past the
highest number given, and the refusals. Part of
:class:`~tracklet.testing.RegistryStoreSuite`; skipped for a store without ``import``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from tracklet.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from tracklet.stores.registry import RegistryStore
from tracklet.testing._support import raises_code

__all__ = ["RegistryImportTests"]

_F = TypeVar("_F", bound=Callable[..., Any])
_RUN = "fedcba9876543210fedcba9876543210"
_T0 = 1_600_000_000_000


def _requires_import(test: _F) -> _F:
    """Skip the test (with the reason) for a store without capability ``import``."""
    test._tracklet_requires = ("import",)  # type: ignore[attr-defined]
    return test


def _model(
    tags: dict[str, str], description: str | None = "imported", updated: int = _T0 + 500
) -> RegisteredModel:
    return RegisteredModel(
        name="copied",
        creation_timestamp=_T0,
        last_updated_timestamp=updated,
        description=description,
        tags=[RegisteredModelTag(k, v) for k, v in tags.items()],
        aliases=[RegisteredModelAlias("ignored", 1)],  # aliases are imported on their own
    )


def _version(number: int, stage: str, tags: dict[str, str], **fields: Any) -> ModelVersion:
    values: dict[str, Any] = {
        "creation_timestamp": _T0 + number,
        "last_updated_timestamp": _T0 + 100 + number,
        "description": f"version {number}",
        "user_id": "someone",
        "source": f"s3://bucket/copied/{number}",
        "run_id": _RUN,
        "run_link": f"http://runs/{number}",
        "status_message": "fine",
    }
    values.update(fields)
    return ModelVersion(
        name="copied",
        version=number,
        current_stage=stage,
        tags=[ModelVersionTag(k, v) for k, v in tags.items()],
        **values,
    )


def _fields(v: ModelVersion) -> dict[str, Any]:
    return {
        "version": str(v.version),
        "creation_timestamp": v.creation_timestamp,
        "last_updated_timestamp": v.last_updated_timestamp,
        "description": v.description,
        "user_id": v.user_id,
        "current_stage": v.current_stage,
        "source": v.source,
        "run_id": v.run_id,
        "run_link": v.run_link,
        "status": v.status,
        "status_message": v.status_message,
        "tags": dict(v.tags),
        "aliases": sorted(v.aliases),
    }


def _import_all(
    store: RegistryStore, v1_stage: str = "Production", v3_tags: dict[str, str] | None = None
) -> None:
    store.import_registered_model(_model({"team": "ml", "k": "v"}), last_version=4)
    store.import_model_version(_version(1, v1_stage, {"a": "1"}), storage_location="s3://elsewhere/1")
    store.import_model_version(_version(3, "Staging", {"b": "2"} if v3_tags is None else v3_tags))
    store.import_registered_model_aliases("copied", {"champion": 1, "next": "3"})


class RegistryImportTests:
    """Capability ``import``: the copy primitives."""

    @_requires_import
    def test_imported_models_and_versions_read_back_exactly(self, registry_store: RegistryStore) -> None:
        _import_all(registry_store)
        model = registry_store.get_registered_model("copied")
        assert (model.creation_timestamp, model.last_updated_timestamp) == (_T0, _T0 + 500)
        assert model.description == "imported" and model.tags == {"team": "ml", "k": "v"}
        assert {a: str(v) for a, v in model.aliases.items()} == {"champion": "1", "next": "3"}
        assert sorted(str(v.version) for v in model.latest_versions or []) == ["1", "3"]
        one = registry_store.get_model_version("copied", "1")
        assert _fields(one) == {
            "version": "1",
            "creation_timestamp": _T0 + 1,
            "last_updated_timestamp": _T0 + 101,
            "description": "version 1",
            "user_id": "someone",
            "current_stage": "Production",
            "source": "s3://bucket/copied/1",
            "run_id": _RUN,
            "run_link": "http://runs/1",
            "status": "READY",
            "status_message": "fine",
            "tags": {"a": "1"},
            "aliases": ["champion"],
        }
        assert registry_store.get_model_version_download_uri("copied", "1") == "s3://elsewhere/1"
        assert registry_store.get_model_version_download_uri("copied", "3") == "s3://bucket/copied/3"
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.get_model_version("copied", "2")  # a gap stays a gap
        assert registry_store.get_model_version_by_alias("copied", "next").current_stage == "Staging"

    @_requires_import
    def test_numbering_continues_past_the_last_number_given(self, registry_store: RegistryStore) -> None:
        _import_all(registry_store)
        assert registry_store.get_last_version_number("copied") == 4
        created = registry_store.create_model_version("copied", "s3://bucket/new")
        assert str(created.version) == "5"
        assert registry_store.get_last_version_number("copied") == 5

    @_requires_import
    def test_importing_again_replaces_and_adds_nothing(self, registry_store: RegistryStore) -> None:
        _import_all(registry_store)
        _import_all(registry_store)
        registry_store.import_registered_model(_model({"team": "cv"}, description=None, updated=_T0 + 900), 4)
        registry_store.import_model_version(_version(3, "Archived", {"c": "3"}))
        registry_store.import_registered_model_aliases("copied", {"next": 3})
        model = registry_store.get_registered_model("copied")
        assert model.tags == {"team": "cv"} and model.description is None
        assert model.last_updated_timestamp == _T0 + 900
        assert {a: str(v) for a, v in model.aliases.items()} == {"next": "3"}
        three = registry_store.get_model_version("copied", "3")
        assert three.current_stage == "Archived" and dict(three.tags) == {"c": "3"}
        versions = registry_store.search_model_versions("name = 'copied'")
        assert sorted(str(v.version) for v in versions) == ["1", "3"]
        assert registry_store.get_last_version_number("copied") == 4

    @_requires_import
    def test_versions_leave_the_model_update_time(self, registry_store: RegistryStore) -> None:
        registry_store.import_registered_model(_model({}), last_version=0)
        registry_store.import_model_version(_version(1, "None", {}))
        registry_store.import_registered_model_aliases("copied", {"only": 1})
        assert registry_store.get_registered_model("copied").last_updated_timestamp == _T0 + 500
        assert registry_store.get_last_version_number("copied") == 1

    @_requires_import
    def test_import_refusals(self, registry_store: RegistryStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.import_model_version(_version(1, "None", {}))
        registry_store.import_registered_model(_model({}), last_version=0)
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.import_model_version(_version(1, "Limbo", {}))
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.import_model_version(_version(0, "None", {}))
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.import_registered_model_aliases("copied", {"dangling": 7})
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.get_last_version_number("nobody")

    @_requires_import
    def test_last_version_number_counts_deleted_versions(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("counted")
        for i in range(3):
            registry_store.create_model_version("counted", f"s3://bucket/{i}")
        registry_store.delete_model_version("counted", "3")
        assert registry_store.get_last_version_number("counted") == 3
