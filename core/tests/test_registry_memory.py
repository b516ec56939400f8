"""The registry conformance suites run against tiny reference stores written here, so the
suites are proven before the plugin stores run them.

``ReferenceRegistry`` keeps its state in one JSON file (locked with ``flock`` for each
call), so several processes share it and the ``concurrent_versions`` test runs too.
``ReferenceLoggedModels`` keeps logged models in memory next to a minimal tracking store.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tracklet import search
from tracklet.entities import (
    Experiment,
    LifecycleStage,
    LoggedModel,
    LoggedModelParameter,
    LoggedModelStatus,
    LoggedModelTag,
    PagedList,
    Run,
    RunData,
    RunInfo,
)
from tracklet.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from tracklet.exceptions import RESOURCE_DOES_NOT_EXIST, TrackletException
from tracklet.stores import TrackingStore
from tracklet.stores.registry import (
    LoggedModelStore,
    RegistryStore,
    alias_not_found,
    logged_model_experiment_not_active,
    no_logged_model_tag,
    no_such_logged_model,
    no_such_model_version,
    no_such_registered_model,
    registered_model_exists,
)
from tracklet.testing import LoggedModelStoreSuite, RegistryStoreSuite

_THREAD_LOCK = threading.Lock()


class ReferenceRegistry(RegistryStore):
    """A registry in one JSON file: every call locks the file, reads, changes, writes."""

    capabilities = frozenset({"concurrent_versions"})

    def __init__(self, store_uri: str | None = None) -> None:
        super().__init__(store_uri)
        assert store_uri is not None
        self.path = Path(store_uri)

    @contextlib.contextmanager
    def _state(self, write: bool = False) -> Iterator[dict[str, Any]]:
        with _THREAD_LOCK, open(str(self.path) + ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                state = json.loads(self.path.read_text()) if self.path.exists() else {"models": {}}
                yield state
                if write:
                    tmp = self.path.with_suffix(".tmp")
                    tmp.write_text(json.dumps(state))
                    os.replace(tmp, self.path)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    # -- reading ---------------------------------------------------------------------------

    @staticmethod
    def _model(state: dict[str, Any], name: str) -> dict[str, Any]:
        if name not in state["models"]:
            raise no_such_registered_model(name)
        model: dict[str, Any] = state["models"][name]
        return model

    @classmethod
    def _raw_version(cls, state: dict[str, Any], name: str, version: str) -> dict[str, Any]:
        model = cls._model(state, name)
        if version not in model["versions"]:
            raise no_such_model_version(name, version)
        raw: dict[str, Any] = model["versions"][version]
        return raw

    @staticmethod
    def _to_version(name: str, number: str, model: dict[str, Any]) -> ModelVersion:
        raw = model["versions"][number]
        return ModelVersion(
            name,
            number,
            raw["creation"],
            raw["updated"],
            raw["description"],
            None,
            raw["stage"],
            raw["source"],
            raw["run_id"],
            tags=[ModelVersionTag(k, v) for k, v in raw["tags"].items()],
            run_link=raw["run_link"],
            aliases=sorted(a for a, v in model["aliases"].items() if v == number),
            model_id=raw["model_id"],
        )

    @classmethod
    def _latest(cls, name: str, model: dict[str, Any], stages: list[str]) -> list[ModelVersion]:
        best: dict[str, str] = {}
        for number, raw in model["versions"].items():
            if raw["stage"] in stages and int(number) > int(best.get(raw["stage"], "0")):
                best[raw["stage"]] = number
        return [cls._to_version(name, n, model) for n in sorted(best.values(), key=int)]

    @classmethod
    def _to_model(cls, name: str, model: dict[str, Any]) -> RegisteredModel:
        return RegisteredModel(
            name,
            model["creation"],
            model["updated"],
            model["description"],
            cls._latest(name, model, ["None", "Staging", "Production", "Archived"]),
            [RegisteredModelTag(k, v) for k, v in model["tags"].items()],
            [RegisteredModelAlias(a, v) for a, v in model["aliases"].items()],
        )

    # -- primitives ------------------------------------------------------------------------

    def _create_registered_model(
        self,
        name: str,
        tags: list[RegisteredModelTag],
        description: str | None,
        deployment_job_id: str | None,
    ) -> RegisteredModel:
        now = _now()
        with self._state(write=True) as state:
            if name in state["models"]:
                raise registered_model_exists(name)
            state["models"][name] = model = {
                "creation": now,
                "updated": now,
                "description": description,
                "tags": {t.key: t.value for t in tags},
                "aliases": {},
                "next": 1,
                "versions": {},
            }
            return self._to_model(name, model)

    def _update_registered_model(
        self, name: str, description: str | None, deployment_job_id: str | None
    ) -> RegisteredModel:
        with self._state(write=True) as state:
            model = self._model(state, name)
            model["description"], model["updated"] = description, _now()
            return self._to_model(name, model)

    def _rename_registered_model(self, name: str, new_name: str) -> RegisteredModel:
        with self._state(write=True) as state:
            model = self._model(state, name)
            if new_name in state["models"]:
                raise registered_model_exists(new_name)
            state["models"][new_name] = state["models"].pop(name)
            model["updated"] = _now()
            return self._to_model(new_name, model)

    def _delete_registered_model(self, name: str) -> None:
        with self._state(write=True) as state:
            self._model(state, name)
            del state["models"][name]

    def _search_registered_models(
        self, filter_string: str | None, max_results: int, order_by: list[str], page_token: str | None
    ) -> PagedList[RegisteredModel]:
        with self._state() as state:
            models = [self._to_model(n, m) for n, m in state["models"].items()]
        return search.filter_registered_models(models, filter_string, order_by, max_results, page_token)

    def _get_registered_model(self, name: str) -> RegisteredModel:
        with self._state() as state:
            return self._to_model(name, self._model(state, name))

    def _get_latest_versions(self, name: str, stages: list[str]) -> list[ModelVersion]:
        with self._state() as state:
            return self._latest(name, self._model(state, name), stages)

    def _set_registered_model_tag(self, name: str, tag: RegisteredModelTag) -> None:
        with self._state(write=True) as state:
            self._model(state, name)["tags"][tag.key] = tag.value

    def _delete_registered_model_tag(self, name: str, key: str) -> None:
        with self._state(write=True) as state:
            self._model(state, name)["tags"].pop(key, None)

    def _create_model_version(
        self,
        name: str,
        source: str,
        run_id: str | None,
        tags: list[ModelVersionTag],
        run_link: str | None,
        description: str | None,
        model_id: str | None,
        storage_location: str,
    ) -> ModelVersion:
        now = _now()
        with self._state(write=True) as state:
            model = self._model(state, name)
            number = str(model["next"])
            model["next"] += 1
            model["updated"] = now
            model["versions"][number] = {
                "creation": now,
                "updated": now,
                "description": description,
                "source": source,
                "storage": storage_location,
                "run_id": run_id,
                "run_link": run_link,
                "stage": "None",
                "tags": {t.key: t.value for t in tags},
                "model_id": model_id,
            }
            return self._to_version(name, number, model)

    def _update_model_version(self, name: str, version: str, description: str | None) -> ModelVersion:
        with self._state(write=True) as state:
            raw = self._raw_version(state, name, version)
            raw["description"], raw["updated"] = description, _now()
            return self._to_version(name, version, state["models"][name])

    def _transition_model_version_stage(
        self, name: str, version: str, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        with self._state(write=True) as state:
            raw = self._raw_version(state, name, version)
            model = state["models"][name]
            if archive_existing_versions:
                for number, other in model["versions"].items():
                    if number != version and other["stage"] == stage:
                        other["stage"] = "Archived"
            raw["stage"], raw["updated"] = stage, _now()
            return self._to_version(name, version, model)

    def _delete_model_version(self, name: str, version: str) -> None:
        with self._state(write=True) as state:
            self._raw_version(state, name, version)
            model = state["models"][name]
            del model["versions"][version]
            model["aliases"] = {a: v for a, v in model["aliases"].items() if v != version}

    def _get_model_version(self, name: str, version: str) -> ModelVersion:
        with self._state() as state:
            self._raw_version(state, name, version)
            return self._to_version(name, version, state["models"][name])

    def _get_model_version_download_uri(self, name: str, version: str) -> str:
        with self._state() as state:
            raw = self._raw_version(state, name, version)
            return str(raw["storage"] or raw["source"])

    def _search_model_versions(
        self, filter_string: str | None, max_results: int, order_by: list[str], page_token: str | None
    ) -> PagedList[ModelVersion]:
        with self._state() as state:
            versions = [
                self._to_version(name, number, model)
                for name, model in state["models"].items()
                for number in model["versions"]
            ]
        return search.filter_model_versions(versions, filter_string, order_by, max_results, page_token)

    def _set_model_version_tag(self, name: str, version: str, tag: ModelVersionTag) -> None:
        with self._state(write=True) as state:
            self._raw_version(state, name, version)["tags"][tag.key] = tag.value

    def _delete_model_version_tag(self, name: str, version: str, key: str) -> None:
        with self._state(write=True) as state:
            self._raw_version(state, name, version)["tags"].pop(key, None)

    def _set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        with self._state(write=True) as state:
            self._raw_version(state, name, version)
            state["models"][name]["aliases"][alias] = version

    def _delete_registered_model_alias(self, name: str, alias: str) -> None:
        with self._state(write=True) as state:
            self._model(state, name)["aliases"].pop(alias, None)

    def _get_model_version_by_alias(self, name: str, alias: str) -> ModelVersion:
        with self._state() as state:
            model = self._model(state, name)
            if alias not in model["aliases"]:
                raise alias_not_found(alias)
            return self._to_version(name, model["aliases"][alias], model)


def _now() -> int:
    import time

    return int(time.time() * 1000)


class MiniTracking(TrackingStore):
    """Just enough of a tracking store for the logged-model suite: experiments and runs."""

    def __init__(self, store_uri: str | None = None, artifact_uri: str | None = None) -> None:
        super().__init__(store_uri, artifact_uri)
        self.experiments: dict[str, Experiment] = {"0": Experiment("0", "Default", "mem://artifacts/0")}
        self.runs: dict[str, Run] = {}

    def _create_experiment(self, name: str, artifact_location: str | None, tags: Any) -> str:
        experiment_id = str(len(self.experiments))
        location = artifact_location or f"mem://artifacts/{experiment_id}"
        self.experiments[experiment_id] = Experiment(experiment_id, name, location)
        return experiment_id

    def _get_experiment(self, experiment_id: str) -> Experiment:
        if experiment_id not in self.experiments:
            raise TrackletException(f"No Experiment with id={experiment_id} exists", RESOURCE_DOES_NOT_EXIST)
        return self.experiments[experiment_id]

    def _delete_experiment(self, experiment_id: str) -> None:
        old = self._get_experiment(experiment_id)
        self.experiments[experiment_id] = Experiment(
            old.experiment_id, old.name, old.artifact_location, LifecycleStage.DELETED
        )

    def _create_run(
        self, experiment_id: str, user_id: str | None, start_time: int | None, tags: Any, run_name: str | None
    ) -> Run:
        run_id = uuid.uuid4().hex
        info = RunInfo(
            run_id, experiment_id, user_id or "", "RUNNING", start_time or 0, None, "ACTIVE", "", run_name
        )
        self.runs[run_id] = run = Run(info, RunData())
        return run


MiniTracking.__abstractmethods__ = frozenset()


class ReferenceLoggedModels(LoggedModelStore):
    """Logged models in memory, experiments read from a :class:`MiniTracking`."""

    def __init__(self, tracking: MiniTracking) -> None:
        self.tracking = tracking
        self.models: dict[str, tuple[LoggedModel, bool]] = {}  # id -> (model, deleted)
        self.lock = threading.Lock()

    def _find(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        found = self.models.get(model_id)
        if found is None or (found[1] and not allow_deleted):
            raise no_such_logged_model(model_id)
        return found[0]

    def _create_logged_model(
        self,
        experiment_id: str,
        name: str,
        source_run_id: str | None,
        tags: list[LoggedModelTag],
        params: list[LoggedModelParameter],
        model_type: str | None,
    ) -> LoggedModel:
        experiment = self.tracking.get_experiment(experiment_id)
        if experiment.lifecycle_stage != LifecycleStage.ACTIVE:
            raise logged_model_experiment_not_active(experiment_id)
        model_id = f"m-{uuid.uuid4().hex}"
        now = _now()
        model = LoggedModel(
            experiment_id,
            model_id,
            name,
            f"{experiment.artifact_location.rstrip('/')}/models/{model_id}/artifacts",
            now,
            now,
            model_type,
            source_run_id,
            LoggedModelStatus.PENDING,
            tags=tags,
            params=params,
            metrics=[],
        )
        with self.lock:
            self.models[model_id] = (model, False)
        return model

    def _get_logged_model(self, model_id: str, allow_deleted: bool) -> LoggedModel:
        return self._find(model_id, allow_deleted)

    def _finalize_logged_model(self, model_id: str, status: LoggedModelStatus) -> LoggedModel:
        model = self._find(model_id)
        model.status = status
        model.last_updated_timestamp = _now()
        return model

    def _delete_logged_model(self, model_id: str) -> None:
        self.models[model_id] = (self._find(model_id), True)

    def _set_logged_model_tags(self, model_id: str, tags: list[LoggedModelTag]) -> None:
        model = self._find(model_id)
        for tag in tags:
            model.tags[tag.key] = tag.value

    def _delete_logged_model_tag(self, model_id: str, key: str) -> None:
        model = self._find(model_id)
        if key not in model.tags:
            raise no_logged_model_tag(model_id, key)
        del model.tags[key]

    def _log_logged_model_params(self, model_id: str, params: list[LoggedModelParameter]) -> None:
        model = self._find(model_id)
        for param in params:
            model.params[param.key] = param.value

    def _search_logged_models(
        self,
        experiment_ids: list[str],
        filter_string: str | None,
        datasets: list[dict[str, Any]],
        max_results: int,
        order_by: list[dict[str, Any]],
        page_token: str | None,
    ) -> PagedList[LoggedModel]:
        live = [m for m, deleted in self.models.values() if not deleted and m.experiment_id in experiment_ids]
        return search.filter_logged_models(
            live, filter_string, datasets, order_by, max_results, page_token, experiment_ids
        )


class TestReferenceRegistry(RegistryStoreSuite):
    @pytest.fixture
    def registry_store(self, tmp_path: Path) -> ReferenceRegistry:
        return ReferenceRegistry(store_uri=str(tmp_path / "registry.json"))


class TestReferenceLoggedModels(LoggedModelStoreSuite):
    @pytest.fixture
    def tracking_store(self) -> MiniTracking:
        return MiniTracking()

    @pytest.fixture
    def logged_model_store(self, tracking_store: MiniTracking) -> ReferenceLoggedModels:
        return ReferenceLoggedModels(tracking_store)
