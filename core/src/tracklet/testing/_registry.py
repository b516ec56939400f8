"""RegistryStoreSuite: the conformance tests of a model registry store.

Inherit :class:`RegistryStoreSuite` and define a ``registry_store`` fixture returning a
new, empty :class:`~tracklet.stores.registry.RegistryStore` for each test::

    class TestMyRegistry(RegistryStoreSuite):
        @pytest.fixture
        def registry_store(self, tmp_path):
            return MyRegistryStore(store_uri=str(tmp_path))

Covered: registered models (create, get, update, rename moving versions, tags and
aliases, delete cascading), versions numbered 1..N (never reused, several threads at
once; several processes at once with capability ``concurrent_versions``), stages and
``archive_existing_versions``, ``get_latest_versions`` per stage, tags, aliases (moved,
removed with their version, reserved names), download URIs, ``models:/`` sources,
``copy_model_version``, both searches (filters, ``OR``, order, paging across pages,
bad requests), the copy primitives with capability ``import``
(:mod:`tracklet.testing._registry_import`), and for every refusal its error code, the shared wording of
:mod:`tracklet.stores.registry` and that it changed nothing.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import pytest

from tracklet.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
)
from tracklet.exceptions import TrackletException
from tracklet.stores.registry import (
    CAPABILITIES,
    RegistryStore,
    alias_not_found,
    no_such_model_version,
    no_such_registered_model,
    registered_model_exists,
)
from tracklet.testing import _registry_workers
from tracklet.testing._registry_import import RegistryImportTests
from tracklet.testing._registry_workers import RegistrySpec
from tracklet.testing._support import check_capabilities, pages, raises_code, says

_F = TypeVar("_F", bound=Callable[..., Any])

_BAD_MODEL_NAMES: list[Any] = ["", "   ", None, "a/b", "a:b", "..", "./x"]
_RUN_ID = "0123456789abcdef0123456789abcdef"


def requires_registry(*capabilities: str) -> Callable[[_F], _F]:
    """Mark a registry suite test as needing capabilities of
    :data:`tracklet.stores.registry.CAPABILITIES` (skipped, with the reason, otherwise)."""
    unknown = set(capabilities) - CAPABILITIES
    if unknown:
        raise ValueError(f"Unknown registry capabilities {sorted(unknown)}; known: {sorted(CAPABILITIES)}")

    def mark(test: _F) -> _F:
        test._tracklet_requires = capabilities  # type: ignore[attr-defined]
        return test

    return mark


def registry_state(store: RegistryStore) -> dict[str, Any]:
    """Everything observable about a registry: its models (description, tags, aliases)
    and every live version (stage, description, source, run, tags, aliases)."""
    models = [
        m
        for page in pages(lambda t: store.search_registered_models(max_results=1000, page_token=t))
        for m in page
    ]
    versions = [
        v
        for page in pages(lambda t: store.search_model_versions(max_results=10_000, page_token=t))
        for v in page
    ]
    return {
        "models": sorted(
            (m.name, m.description or "", tuple(sorted(m.tags.items())), tuple(sorted(m.aliases.items())))
            for m in models
        ),
        "versions": sorted(
            (
                v.name,
                int(v.version),
                v.current_stage,
                v.description or "",
                v.source,
                v.run_id or "",
                tuple(sorted(v.tags.items())),
                tuple(sorted(v.aliases)),
            )
            for v in versions
        ),
    }


def _in_processes(function: Any, arguments: list[tuple[Any, ...]]) -> list[Any]:
    with multiprocessing.get_context("spawn").Pool(len(arguments)) as pool:
        return pool.starmap(function, arguments)


def _aliases(model: RegisteredModel) -> dict[str, str]:
    """A model's aliases with their versions as strings (MLflow's SQL store gives ints)."""
    return {alias: str(version) for alias, version in model.aliases.items()}


class RegisteredModelTests:
    """Registered models: create, get, update, rename, delete, tags."""

    def test_create_registered_model_returns_and_stores_it(self, registry_store: RegistryStore) -> None:
        created = registry_store.create_registered_model(
            "model-a", tags=[RegisteredModelTag("team", "vision")], description="first"
        )
        assert isinstance(created, RegisteredModel)
        assert created.name == "model-a"
        assert created.description == "first"
        assert created.tags == {"team": "vision"}
        assert isinstance(created.creation_timestamp, int)
        got = registry_store.get_registered_model("model-a")
        assert got.name == "model-a" and got.description == "first"
        assert got.tags == {"team": "vision"}
        assert got.aliases == {}
        assert list(got.latest_versions or []) == []
        assert got.creation_timestamp == created.creation_timestamp
        assert isinstance(got.last_updated_timestamp, int)

    def test_create_without_description_or_tags(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("plain")
        got = registry_store.get_registered_model("plain")
        assert not got.description and got.tags == {}

    def test_duplicate_name_is_refused(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("taken", description="original")
        before = registry_state(registry_store)
        with raises_code("RESOURCE_ALREADY_EXISTS") as excinfo:
            registry_store.create_registered_model("taken", description="other")
        assert says(excinfo, registered_model_exists("taken").message)
        assert registry_state(registry_store) == before

    @pytest.mark.parametrize(
        "name", _BAD_MODEL_NAMES, ids=["empty", "blank", "none", "slash", "colon", "dots", "dot-path"]
    )
    def test_invalid_model_name_is_refused(self, registry_store: RegistryStore, name: Any) -> None:
        before = registry_state(registry_store)
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.create_registered_model(name)
        assert registry_state(registry_store) == before

    def test_names_with_spaces_dots_and_unicode_are_accepted(self, registry_store: RegistryStore) -> None:
        for name in ("my model", "model.v2", "modèle-é", "a_b-c"):
            registry_store.create_registered_model(name)
            assert registry_store.get_registered_model(name).name == name

    def test_invalid_tag_on_create_is_refused(self, registry_store: RegistryStore) -> None:
        before = registry_state(registry_store)
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.create_registered_model("m", tags=[RegisteredModelTag("../bad", "v")])
        assert registry_state(registry_store) == before

    def test_get_unknown_model(self, registry_store: RegistryStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST") as excinfo:
            registry_store.get_registered_model("nope")
        assert says(excinfo, no_such_registered_model("nope").message)

    def test_update_description(self, registry_store: RegistryStore) -> None:
        created = registry_store.create_registered_model("m", description="old")
        updated = registry_store.update_registered_model("m", "new")
        assert updated.name == "m" and updated.description == "new"
        got = registry_store.get_registered_model("m")
        assert got.description == "new"
        assert (got.last_updated_timestamp or 0) >= (created.last_updated_timestamp or 0)

    def test_update_unknown_model(self, registry_store: RegistryStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.update_registered_model("nope", "d")

    def test_rename_moves_versions_tags_and_aliases(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("old", tags=[RegisteredModelTag("k", "v")], description="d")
        registry_store.create_model_version("old", "file:///src/1", tags=[ModelVersionTag("vk", "vv")])
        registry_store.create_model_version("old", "file:///src/2")
        registry_store.set_registered_model_alias("old", "champion", "2")
        renamed = registry_store.rename_registered_model("old", "new")
        assert renamed.name == "new"
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.get_registered_model("old")
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.get_model_version("old", "1")
        got = registry_store.get_registered_model("new")
        assert got.description == "d" and got.tags == {"k": "v"} and _aliases(got) == {"champion": "2"}
        first = registry_store.get_model_version("new", "1")
        assert first.name == "new" and first.source == "file:///src/1" and first.tags == {"vk": "vv"}
        assert str(registry_store.get_model_version_by_alias("new", "champion").version) == "2"
        assert {v.name for v in registry_store.search_model_versions()} == {"new"}
        assert str(registry_store.create_model_version("new", "file:///src/3").version) == "3"

    def test_rename_onto_a_taken_name_is_refused(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("a")
        registry_store.create_model_version("a", "file:///a")
        registry_store.create_registered_model("b")
        before = registry_state(registry_store)
        with raises_code("RESOURCE_ALREADY_EXISTS") as excinfo:
            registry_store.rename_registered_model("a", "b")
        # MLflow's SQL store appends the database's error to these words
        message = excinfo.value.message.removeprefix("RESOURCE_ALREADY_EXISTS: ")
        assert message.startswith(registered_model_exists("b").message)
        assert registry_state(registry_store) == before

    def test_rename_unknown_model(self, registry_store: RegistryStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.rename_registered_model("nope", "other")

    @pytest.mark.parametrize("new_name", ["", None, "a/b"], ids=["empty", "none", "slash"])
    def test_rename_to_an_invalid_name_is_refused(self, registry_store: RegistryStore, new_name: Any) -> None:
        registry_store.create_registered_model("a")
        before = registry_state(registry_store)
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.rename_registered_model("a", new_name)
        assert registry_state(registry_store) == before

    def test_delete_cascades_to_versions_tags_and_aliases(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m", tags=[RegisteredModelTag("k", "v")])
        registry_store.create_model_version("m", "file:///1", tags=[ModelVersionTag("a", "b")])
        registry_store.create_model_version("m", "file:///2")
        registry_store.set_registered_model_alias("m", "prod", "1")
        registry_store.create_registered_model("other")
        registry_store.create_model_version("other", "file:///o")
        registry_store.delete_registered_model("m")
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.get_registered_model("m")
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.get_model_version("m", "1")
        assert [m.name for m in registry_store.search_registered_models()] == ["other"]
        assert [(v.name, str(v.version)) for v in registry_store.search_model_versions()] == [("other", "1")]
        registry_store.create_registered_model("m")
        again = registry_store.get_registered_model("m")
        assert again.tags == {} and again.aliases == {}
        assert str(registry_store.create_model_version("m", "file:///new").version) == "1"

    def test_delete_unknown_model(self, registry_store: RegistryStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST") as excinfo:
            registry_store.delete_registered_model("nope")
        assert says(excinfo, no_such_registered_model("nope").message)

    def test_model_tags_set_overwrite_delete(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        registry_store.set_registered_model_tag("m", RegisteredModelTag("a", "1"))
        registry_store.set_registered_model_tag("m", RegisteredModelTag("b", "2"))
        registry_store.set_registered_model_tag("m", RegisteredModelTag("a", "3"))
        assert registry_store.get_registered_model("m").tags == {"a": "3", "b": "2"}
        registry_store.delete_registered_model_tag("m", "a")
        assert registry_store.get_registered_model("m").tags == {"b": "2"}
        registry_store.delete_registered_model_tag("m", "never-set")
        assert registry_store.get_registered_model("m").tags == {"b": "2"}

    def test_long_tag_values_are_kept(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        value = "v" * 5000
        registry_store.set_registered_model_tag("m", RegisteredModelTag("long", value))
        assert registry_store.get_registered_model("m").tags["long"] == value

    @pytest.mark.parametrize(
        ("key", "value"),
        [("../escape", "v"), ("", "v"), (None, "v"), ("k" * 251, "v"), ("k", "v" * 100_001)],
        ids=["path", "empty", "none", "long-key", "long-value"],
    )
    def test_invalid_model_tag_is_refused(self, registry_store: RegistryStore, key: Any, value: Any) -> None:
        registry_store.create_registered_model("m")
        before = registry_state(registry_store)
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.set_registered_model_tag("m", RegisteredModelTag(key, value))
        assert registry_state(registry_store) == before

    def test_tags_of_unknown_model(self, registry_store: RegistryStore) -> None:
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.set_registered_model_tag("nope", RegisteredModelTag("a", "b"))
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.delete_registered_model_tag("nope", "a")


class ModelVersionTests:
    """Versions: numbering, fields, update, delete, tags, download URIs, sources."""

    def test_create_model_version_returns_and_stores_it(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        created = registry_store.create_model_version(
            "m",
            "file:///models/m/1",
            run_id=_RUN_ID,
            tags=[ModelVersionTag("k", "v")],
            run_link="http://example.com/run",
            description="first",
        )
        assert isinstance(created, ModelVersion)
        assert created.name == "m" and str(created.version) == "1"
        got = registry_store.get_model_version("m", "1")
        for version in (created, got):
            assert version.source == "file:///models/m/1"
            assert version.run_id == _RUN_ID
            assert version.run_link == "http://example.com/run"
            assert version.description == "first"
            assert version.tags == {"k": "v"}
            assert version.status == "READY"
            assert version.current_stage == "None"
            assert version.aliases == []
            assert isinstance(version.creation_timestamp, int)
        assert str(got.version) == "1"

    def test_versions_are_numbered_from_one_and_never_reused(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        numbers = [str(registry_store.create_model_version("m", f"file:///{i}").version) for i in range(3)]
        assert numbers == ["1", "2", "3"]
        registry_store.delete_model_version("m", "3")
        assert str(registry_store.create_model_version("m", "file:///4").version) == "4"

    def test_versions_are_numbered_per_model(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("a")
        registry_store.create_registered_model("b")
        registry_store.create_model_version("a", "file:///a1")
        registry_store.create_model_version("a", "file:///a2")
        assert str(registry_store.create_model_version("b", "file:///b1").version) == "1"

    def test_version_of_unknown_model_is_refused(self, registry_store: RegistryStore) -> None:
        before = registry_state(registry_store)
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.create_model_version("nope", "file:///x")
        assert registry_state(registry_store) == before

    def test_version_numbers_may_be_given_as_ints(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "file:///1")
        assert str(registry_store.get_model_version("m", 1).version) == "1"  # type: ignore[arg-type]

    @pytest.mark.parametrize("version", ["abc", "1.5", "", None], ids=["word", "float", "empty", "none"])
    def test_non_integer_version_is_refused(self, registry_store: RegistryStore, version: Any) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "file:///1")
        with raises_code("INVALID_PARAMETER_VALUE") as excinfo:
            registry_store.get_model_version("m", version)
        assert says(excinfo, f"Parameter 'version' must be an integer, got '{version}'.")

    def test_get_unknown_version(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "file:///1")
        with raises_code("RESOURCE_DOES_NOT_EXIST") as excinfo:
            registry_store.get_model_version("m", "7")
        assert says(excinfo, no_such_model_version("m", "7").message)
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.get_model_version("nope", "1")

    def test_update_version_description(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "file:///1", description="old")
        updated = registry_store.update_model_version("m", "1", "new")
        assert str(updated.version) == "1" and updated.description == "new"
        assert registry_store.get_model_version("m", "1").description == "new"
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.update_model_version("m", "9", "x")

    def test_delete_version(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "file:///1")
        registry_store.create_model_version("m", "file:///2")
        registry_store.delete_model_version("m", "1")
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.get_model_version("m", "1")
        assert [str(v.version) for v in registry_store.search_model_versions("name = 'm'")] == ["2"]
        assert [str(v.version) for v in registry_store.get_latest_versions("m")] == ["2"]
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.delete_model_version("m", "1")

    def test_download_uri_is_the_source(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "s3://bucket/path/model")
        assert registry_store.get_model_version_download_uri("m", "1") == "s3://bucket/path/model"
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.get_model_version_download_uri("m", "2")

    def test_models_uri_source_downloads_from_the_version_it_names(
        self, registry_store: RegistryStore
    ) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "s3://bucket/the/files")
        registry_store.create_registered_model("copy")
        created = registry_store.create_model_version("copy", "models:/m/1")
        assert created.source == "models:/m/1"
        assert registry_store.get_model_version_download_uri("copy", "1") == "s3://bucket/the/files"

    def test_version_tags_set_overwrite_delete(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "file:///1")
        registry_store.set_model_version_tag("m", "1", ModelVersionTag("a", "1"))
        registry_store.set_model_version_tag("m", "1", ModelVersionTag("b", "2"))
        registry_store.set_model_version_tag("m", "1", ModelVersionTag("a", "3"))
        assert registry_store.get_model_version("m", "1").tags == {"a": "3", "b": "2"}
        registry_store.delete_model_version_tag("m", "1", "a")
        registry_store.delete_model_version_tag("m", "1", "never-set")
        assert registry_store.get_model_version("m", "1").tags == {"b": "2"}

    @pytest.mark.parametrize(
        ("key", "value"),
        [("../x", "v"), ("k", None), ("k" * 251, "v")],
        ids=["path", "none-value", "long-key"],
    )
    def test_invalid_version_tag_is_refused(
        self, registry_store: RegistryStore, key: Any, value: Any
    ) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "file:///1")
        before = registry_state(registry_store)
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.set_model_version_tag("m", "1", ModelVersionTag(key, value))
        assert registry_state(registry_store) == before

    def test_tags_of_unknown_version(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.set_model_version_tag("m", "1", ModelVersionTag("a", "b"))
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.delete_model_version_tag("m", "1", "a")

    def test_threads_creating_versions_get_one_to_n_without_gaps(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("busy")
        threads, per_thread = 6, 5
        results: list[str] = []
        errors: list[BaseException] = []
        lock = threading.Lock()

        def work(worker: int) -> None:
            try:
                for i in range(per_thread):
                    version = str(
                        registry_store.create_model_version("busy", f"file:///t{worker}/{i}").version
                    )
                    with lock:
                        results.append(version)
            except BaseException as error:  # reported below
                errors.append(error)

        started = [threading.Thread(target=work, args=(w,)) for w in range(threads)]
        for thread in started:
            thread.start()
        for thread in started:
            thread.join()
        assert not errors, errors
        assert sorted(int(v) for v in results) == list(range(1, threads * per_thread + 1))

    def registry_reopen_spec(self, registry_store: RegistryStore) -> RegistrySpec:
        """How a child process opens the store under test: ``("module:Class", store_uri)``,
        built as ``Class(store_uri=...)``. Override when your class cannot be rebuilt so."""
        cls = type(registry_store)
        return f"{cls.__module__}:{cls.__qualname__}", registry_store.store_uri

    @requires_registry("concurrent_versions")
    def test_processes_creating_versions_get_one_to_n_without_gaps(
        self, registry_store: RegistryStore
    ) -> None:
        registry_store.create_registered_model("shared")
        workers, per_worker = 4, 5
        spec = self.registry_reopen_spec(registry_store)
        results = _in_processes(
            _registry_workers.create_versions, [(spec, "shared", w, per_worker) for w in range(workers)]
        )
        numbers = sorted(int(v) for result in results for v in result)
        assert numbers == list(range(1, workers * per_worker + 1))
        stored = registry_store.search_model_versions("name = 'shared'")
        assert sorted(int(v.version) for v in stored) == numbers


class StageTests:
    """Stages (MLflow's deprecated workflow) and get_latest_versions."""

    def _model_with_versions(self, store: RegistryStore, count: int) -> None:
        store.create_registered_model("m")
        for i in range(count):
            store.create_model_version("m", f"file:///{i + 1}")

    def test_transition_canonicalises_the_stage(self, registry_store: RegistryStore) -> None:
        self._model_with_versions(registry_store, 1)
        moved = registry_store.transition_model_version_stage("m", "1", "staging", False)
        assert moved.current_stage == "Staging"
        assert registry_store.get_model_version("m", "1").current_stage == "Staging"
        registry_store.transition_model_version_stage("m", "1", "PRODUCTION", False)
        assert registry_store.get_model_version("m", "1").current_stage == "Production"

    def test_invalid_stage_is_refused(self, registry_store: RegistryStore) -> None:
        self._model_with_versions(registry_store, 1)
        before = registry_state(registry_store)
        with raises_code("INVALID_PARAMETER_VALUE") as excinfo:
            registry_store.transition_model_version_stage("m", "1", "Prod", False)
        assert says(
            excinfo,
            "Invalid Model Version stage: Prod. Value must be one of None, Staging, Production, Archived.",
        )
        assert registry_state(registry_store) == before

    def test_archive_existing_versions(self, registry_store: RegistryStore) -> None:
        self._model_with_versions(registry_store, 4)
        registry_store.transition_model_version_stage("m", "1", "Production", False)
        registry_store.transition_model_version_stage("m", "2", "Production", False)
        registry_store.transition_model_version_stage("m", "3", "Staging", False)
        registry_store.transition_model_version_stage("m", "4", "Production", True)
        stages = {str(v.version): v.current_stage for v in registry_store.search_model_versions("name = 'm'")}
        assert stages == {"1": "Archived", "2": "Archived", "3": "Staging", "4": "Production"}

    def test_archive_only_for_active_stages(self, registry_store: RegistryStore) -> None:
        self._model_with_versions(registry_store, 2)
        before = registry_state(registry_store)
        for stage in ("None", "Archived"):
            with raises_code("INVALID_PARAMETER_VALUE"):
                registry_store.transition_model_version_stage("m", "1", stage, True)
        assert registry_state(registry_store) == before

    def test_transition_unknown_version(self, registry_store: RegistryStore) -> None:
        self._model_with_versions(registry_store, 1)
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.transition_model_version_stage("m", "5", "Staging", False)

    def test_latest_versions_per_stage(self, registry_store: RegistryStore) -> None:
        self._model_with_versions(registry_store, 5)
        registry_store.transition_model_version_stage("m", "1", "Production", False)
        registry_store.transition_model_version_stage("m", "2", "Production", False)
        registry_store.transition_model_version_stage("m", "3", "Staging", False)
        every = {(str(v.version), v.current_stage) for v in registry_store.get_latest_versions("m")}
        assert every == {("2", "Production"), ("3", "Staging"), ("5", "None")}
        assert {
            (str(v.version), v.current_stage) for v in registry_store.get_latest_versions("m", [])
        } == every
        production = registry_store.get_latest_versions("m", ["production"])
        assert [(str(v.version), v.current_stage) for v in production] == [("2", "Production")]
        assert registry_store.get_latest_versions("m", ["Archived"]) == []
        latest = registry_store.get_registered_model("m").latest_versions or []
        assert {(str(v.version), v.current_stage) for v in latest} == every

    def test_latest_versions_refusals(self, registry_store: RegistryStore) -> None:
        self._model_with_versions(registry_store, 1)
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.get_latest_versions("m", ["Nope"])
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.get_latest_versions("nope")


class AliasTests:
    """Aliases: set, move, delete, reserved names, removed with their version."""

    def test_set_and_get_alias(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "file:///1")
        registry_store.create_model_version("m", "file:///2")
        registry_store.set_registered_model_alias("m", "champion", "1")
        by_alias = registry_store.get_model_version_by_alias("m", "champion")
        assert str(by_alias.version) == "1" and "champion" in by_alias.aliases
        assert registry_store.get_model_version("m", "1").aliases == ["champion"]
        assert _aliases(registry_store.get_registered_model("m")) == {"champion": "1"}

    def test_setting_an_alias_again_moves_it(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "file:///1")
        registry_store.create_model_version("m", "file:///2")
        registry_store.set_registered_model_alias("m", "champion", "1")
        registry_store.set_registered_model_alias("m", "champion", "2")
        assert str(registry_store.get_model_version_by_alias("m", "champion").version) == "2"
        assert registry_store.get_model_version("m", "1").aliases == []
        assert _aliases(registry_store.get_registered_model("m")) == {"champion": "2"}

    def test_delete_alias(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "file:///1")
        registry_store.set_registered_model_alias("m", "champion", "1")
        registry_store.delete_registered_model_alias("m", "champion")
        assert registry_store.get_registered_model("m").aliases == {}
        with raises_code("INVALID_PARAMETER_VALUE") as excinfo:
            registry_store.get_model_version_by_alias("m", "champion")
        assert says(excinfo, alias_not_found("champion").message)
        registry_store.delete_registered_model_alias("m", "never-set")

    def test_deleting_a_version_removes_its_aliases(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "file:///1")
        registry_store.create_model_version("m", "file:///2")
        registry_store.set_registered_model_alias("m", "a", "1")
        registry_store.set_registered_model_alias("m", "b", "1")
        registry_store.set_registered_model_alias("m", "c", "2")
        registry_store.delete_model_version("m", "1")
        assert _aliases(registry_store.get_registered_model("m")) == {"c": "2"}
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.get_model_version_by_alias("m", "a")

    @pytest.mark.parametrize(
        "alias", ["latest", "LATEST", "v1", "V12", "", "has space", "a/b", "x" * 256], ids=str
    )
    def test_invalid_alias_is_refused(self, registry_store: RegistryStore, alias: str) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "file:///1")
        before = registry_state(registry_store)
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.set_registered_model_alias("m", alias, "1")
        assert registry_state(registry_store) == before

    def test_alias_to_unknown_version_or_model(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        registry_store.create_model_version("m", "file:///1")
        before = registry_state(registry_store)
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.set_registered_model_alias("m", "champion", "3")
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.set_registered_model_alias("nope", "champion", "1")
        with raises_code("RESOURCE_DOES_NOT_EXIST"):
            registry_store.delete_registered_model_alias("nope", "champion")
        assert registry_state(registry_store) == before

    def test_latest_alias_is_the_highest_version(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("m")
        for i in range(3):
            registry_store.create_model_version("m", f"file:///{i}")
        registry_store.transition_model_version_stage("m", "1", "Production", False)
        assert str(registry_store.get_model_version_by_alias("m", "latest").version) == "3"


class CopyTests:
    """copy_model_version into a new or an existing model."""

    def test_copy_into_a_new_model(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("src")
        source = registry_store.create_model_version(
            "src", "s3://b/files", run_id=_RUN_ID, tags=[ModelVersionTag("k", "v")], description="d"
        )
        copy = registry_store.copy_model_version(source, "dst")
        assert copy.name == "dst" and str(copy.version) == "1"
        assert copy.source == "models:/src/1"
        assert copy.tags == {"k": "v"} and copy.description == "d" and copy.run_id == _RUN_ID
        assert registry_store.get_registered_model("dst").name == "dst"
        assert registry_store.get_model_version_download_uri("dst", "1") == "s3://b/files"

    def test_copy_into_an_existing_model(self, registry_store: RegistryStore) -> None:
        registry_store.create_registered_model("src")
        source = registry_store.create_model_version("src", "s3://b/files")
        registry_store.create_registered_model("dst")
        registry_store.create_model_version("dst", "s3://b/other")
        assert str(registry_store.copy_model_version(source, "dst").version) == "2"


# name: (description, tags, versions: list of (run_id, tags))
_MODELS: dict[str, tuple[str, dict[str, str], list[tuple[str, dict[str, str]]]]] = {
    "alpha": ("first", {"team": "vision"}, [("run-a", {"fw": "torch"}), ("run-b", {})]),
    "beta": ("", {"team": "nlp"}, [("run-a", {"fw": "jax"})]),
    "gamma-Big": ("", {}, [("run-c", {"fw": "torch"}), ("run-c", {}), ("run-d", {})]),
    "delta-x": ("", {"team": "vision", "tier": "gold"}, []),
}


class RegistrySearchTests:
    """search_registered_models and search_model_versions."""

    def _populate(self, store: RegistryStore) -> None:
        for name, (description, tags, versions) in _MODELS.items():
            store.create_registered_model(
                name,
                tags=[RegisteredModelTag(k, v) for k, v in tags.items()],
                description=description or None,
            )
            for i, (run_id, version_tags) in enumerate(versions):
                store.create_model_version(
                    name,
                    f"s3://bucket/{name}/{i + 1}",
                    run_id=run_id,
                    tags=[ModelVersionTag(k, v) for k, v in version_tags.items()],
                )

    @pytest.mark.parametrize(
        ("filter_string", "expected"),
        [
            (None, ["alpha", "beta", "delta-x", "gamma-Big"]),
            ("", ["alpha", "beta", "delta-x", "gamma-Big"]),
            ("name = 'alpha'", ["alpha"]),
            ("name != 'alpha'", ["beta", "delta-x", "gamma-Big"]),
            ("name LIKE '%a'", ["alpha", "beta"]),
            ("name ILIKE 'G%BIG'", ["gamma-Big"]),
            ("name LIKE '%big'", []),
            ("name LIKE '%Big'", ["gamma-Big"]),
            ("name IN ('beta', 'delta-x')", ["beta", "delta-x"]),
            ("tags.team = 'vision'", ["alpha", "delta-x"]),
            ("tags.team = 'vision' AND tags.tier = 'gold'", ["delta-x"]),
        ],
    )
    def test_filter_registered_models(
        self, registry_store: RegistryStore, filter_string: str | None, expected: list[str]
    ) -> None:
        self._populate(registry_store)
        found = registry_store.search_registered_models(filter_string)
        assert [m.name for m in found] == expected

    def test_or_and_parentheses(self, registry_store: RegistryStore) -> None:
        """tracklet's OR and parentheses (MLflow's own stores refuse them)."""
        self._populate(registry_store)
        found = registry_store.search_registered_models("tags.team LIKE 'n%' OR name = 'gamma-Big'")
        assert [m.name for m in found] == ["beta", "gamma-Big"]
        found = registry_store.search_registered_models(
            "(name = 'alpha' OR name = 'beta') AND tags.team = 'nlp'"
        )
        assert [m.name for m in found] == ["beta"]
        versions = registry_store.search_model_versions("tags.fw = 'jax' OR run_id = 'run-d'")
        assert {(v.name, int(v.version)) for v in versions} == {("beta", 1), ("gamma-Big", 3)}

    def test_registered_model_order_and_pages(self, registry_store: RegistryStore) -> None:
        self._populate(registry_store)
        every = pages(lambda t: registry_store.search_registered_models(max_results=1, page_token=t))
        assert [m.name for page in every for m in page] == ["alpha", "beta", "delta-x", "gamma-Big"]
        assert all(len(page) == 1 for page in every)
        desc = registry_store.search_registered_models(order_by=["name DESC"])
        assert [m.name for m in desc] == ["gamma-Big", "delta-x", "beta", "alpha"]
        first = registry_store.search_registered_models(max_results=3)
        assert len(first) == 3 and first.token
        last = registry_store.search_registered_models(max_results=3, page_token=first.token)
        assert [m.name for m in last] == ["gamma-Big"] and not last.token

    def test_search_results_carry_latest_versions(self, registry_store: RegistryStore) -> None:
        self._populate(registry_store)
        (alpha,) = registry_store.search_registered_models("name = 'alpha'")
        assert [str(v.version) for v in alpha.latest_versions or []] == ["2"]
        assert alpha.tags == {"team": "vision"} and alpha.description == "first"

    @pytest.mark.parametrize(
        ("filter_string", "expected"),
        [
            ("name = 'alpha'", {("alpha", 1), ("alpha", 2)}),
            ("run_id = 'run-c'", {("gamma-Big", 1), ("gamma-Big", 2)}),
            ("run_id IN ('run-b', 'run-d')", {("alpha", 2), ("gamma-Big", 3)}),
            ("version_number >= 2", {("alpha", 2), ("gamma-Big", 2), ("gamma-Big", 3)}),
            ("name = 'gamma-Big' AND version_number < 3", {("gamma-Big", 1), ("gamma-Big", 2)}),
            ("source_path = 's3://bucket/beta/1'", {("beta", 1)}),
            ("source_path LIKE '%/alpha/%'", {("alpha", 1), ("alpha", 2)}),
            ("tags.fw = 'torch'", {("alpha", 1), ("gamma-Big", 1)}),
            ("name = 'delta-x'", set()),
        ],
    )
    def test_filter_model_versions(
        self, registry_store: RegistryStore, filter_string: str, expected: set[tuple[str, int]]
    ) -> None:
        self._populate(registry_store)
        found = registry_store.search_model_versions(filter_string)
        assert {(v.name, int(v.version)) for v in found} == expected

    def test_model_version_order_and_pages(self, registry_store: RegistryStore) -> None:
        """Without an order: ``last_updated_timestamp DESC, name ASC, version_number DESC``
        (MLflow's file and SQL stores' default)."""
        self._populate(registry_store)
        registry_store.update_model_version("beta", "1", "touched last")
        found = registry_store.search_model_versions()
        stamps = {(v.name, str(v.version)): v.last_updated_timestamp or 0 for v in found}
        expected = sorted(stamps, key=lambda k: (-stamps[k], k[0], -int(k[1])))
        assert [(v.name, str(v.version)) for v in found] == expected
        every = pages(lambda t: registry_store.search_model_versions(max_results=4, page_token=t))
        assert [len(p) for p in every] == [4, 2]
        assert [(v.name, str(v.version)) for page in every for v in page] == expected
        ordered = registry_store.search_model_versions(order_by=["version_number ASC", "name DESC"])
        assert [(v.name, str(v.version)) for v in ordered] == [
            ("gamma-Big", "1"),
            ("beta", "1"),
            ("alpha", "1"),
            ("gamma-Big", "2"),
            ("alpha", "2"),
            ("gamma-Big", "3"),
        ]
        by_name = registry_store.search_model_versions(order_by=["name DESC"])
        assert [(v.name, str(v.version)) for v in by_name] == [
            ("gamma-Big", "3"),
            ("gamma-Big", "2"),
            ("gamma-Big", "1"),
            ("beta", "1"),
            ("alpha", "2"),
            ("alpha", "1"),
        ]

    @pytest.mark.parametrize(
        "filter_string",
        ["name = ", "foo = 'a'", "metrics.acc > 1", "name = 'a' AND", "version_number = 'x'", "name >> 'a'"],
    )
    def test_bad_model_version_filter_is_refused(
        self, registry_store: RegistryStore, filter_string: str
    ) -> None:
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.search_model_versions(filter_string)

    @pytest.mark.parametrize(
        "filter_string", ["run_id = 'x'", "version_number > 1", "name =", "params.a = 'b'"]
    )
    def test_bad_registered_model_filter_is_refused(
        self, registry_store: RegistryStore, filter_string: str
    ) -> None:
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.search_registered_models(filter_string)

    @pytest.mark.parametrize(
        "order_by", [["run_id"], ["name", "name DESC"], ["name SIDEWAYS"], ["tags.x"]], ids=str
    )
    def test_bad_order_by_is_refused(self, registry_store: RegistryStore, order_by: list[str]) -> None:
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.search_registered_models(order_by=order_by)
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.search_model_versions(order_by=order_by)

    @pytest.mark.parametrize("max_results", [0, -1, 1001, "10"], ids=str)
    def test_bad_max_results_for_models(self, registry_store: RegistryStore, max_results: Any) -> None:
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.search_registered_models(max_results=max_results)

    @pytest.mark.parametrize("max_results", [0, 200_001], ids=str)
    def test_bad_max_results_for_versions(self, registry_store: RegistryStore, max_results: Any) -> None:
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.search_model_versions(max_results=max_results)

    @pytest.mark.parametrize("token", ["not a token!", "bm90IGpzb24="], ids=["not-base64", "not-json"])
    def test_bad_page_token_is_refused(self, registry_store: RegistryStore, token: str) -> None:
        self._populate(registry_store)
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.search_registered_models(page_token=token)
        with raises_code("INVALID_PARAMETER_VALUE"):
            registry_store.search_model_versions(page_token=token)


class RegistryStoreSuite(
    RegisteredModelTests,
    ModelVersionTests,
    StageTests,
    AliasTests,
    CopyTests,
    RegistrySearchTests,
    RegistryImportTests,
):
    """Inherit this and define a ``registry_store`` fixture returning a new, empty
    :class:`~tracklet.stores.registry.RegistryStore`; every test above runs on it.
    Tests of a capability the store does not declare are skipped with the reason."""

    @pytest.fixture
    def registry_store(self) -> RegistryStore:
        """Override: a fresh, empty registry store for each test."""
        pytest.fail(
            f"{type(self).__name__} must define a `registry_store` fixture returning a new RegistryStore"
        )

    @pytest.fixture(autouse=True)
    def _tracklet_registry_capabilities(self, request: pytest.FixtureRequest) -> None:
        check_capabilities(request, "registry_store")

    def test_store_is_a_registry_store(self, registry_store: RegistryStore) -> None:
        assert isinstance(registry_store, RegistryStore)

    def test_declared_capabilities_are_known(self, registry_store: RegistryStore) -> None:
        declared = frozenset(registry_store.capabilities)
        assert declared <= CAPABILITIES, f"unknown capabilities {sorted(declared - CAPABILITIES)}"

    def test_a_new_store_is_empty(self, registry_store: RegistryStore) -> None:
        assert list(registry_store.search_registered_models()) == []
        assert list(registry_store.search_model_versions()) == []

    def test_errors_are_tracklet_exceptions(self, registry_store: RegistryStore) -> None:
        with pytest.raises(TrackletException):
            registry_store.get_registered_model("missing")
