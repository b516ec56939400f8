"""Registered models and model versions in an ``mlruns`` folder (MLflow's layout).

Every change to one registered model happens under that model's lock file, so
concurrent processes see whole changes in order and number versions 1, 2, 3, ... with no
gap and no duplicate. Creating, renaming and deleting a model also hold the registry's
lock (``models/.tracklet.lock``), always taken before a model's lock.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tracklet.entities.model_registry import (
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelAlias,
    RegisteredModelTag,
)
from tracklet.entities.model_registry.model_version_stages import (
    ALL_STAGES,
    STAGE_ARCHIVED,
    STAGE_DELETED_INTERNAL,
    STAGE_NONE,
)
from tracklet.stores.registry import (
    alias_not_found,
    no_such_model_version,
    no_such_registered_model,
    registered_model_exists,
)
from tracklet.utils.time import now_ms

from ._fsio import (
    LockedAway,
    file_lock,
    list_dir,
    new_temp_dir,
    read_text,
    remove_tree,
    subdirs,
    write_atomic,
)
from ._layout import (
    ALIASES,
    LOCK_FILE,
    META,
    MODELS,
    TAGS,
    VERSION_PREFIX,
    dump_yaml,
    key_files,
    load_yaml,
    model_version_meta,
    registered_model_meta,
    safe_join,
    version_dir_name,
)

__all__ = ["LoggedModelData", "RegistryFolder"]

#: ``model_id -> (params, metrics)`` of a logged model, or None when it is not found:
#: a model version shows the params and metrics of the logged model it was made from.
LoggedModelData = Callable[[str], "tuple[dict[str, str], list[Any]] | None"]


class RegistryFolder:
    """The ``models/`` folder of an ``mlruns`` root."""

    def __init__(self, root: str, logged_model_data: LoggedModelData | None = None) -> None:
        self.root = root
        self.models = os.path.join(root, MODELS)
        self._logged_model_data = logged_model_data

    # -- paths and locks -------------------------------------------------------------

    def model_dir(self, name: str) -> str:
        return os.path.join(self.models, name)

    def _version_dir(self, name: str, version: int) -> str:
        return os.path.join(self.models, name, version_dir_name(version))

    @contextlib.contextmanager
    def _registry_lock(self) -> Iterator[None]:
        os.makedirs(self.models, exist_ok=True)
        with file_lock(os.path.join(self.models, LOCK_FILE)):
            yield

    @contextlib.contextmanager
    def _model_lock(self, name: str) -> Iterator[str]:
        """Hold ``name``'s lock; yields its folder. Refuses an unknown model."""
        folder = self.model_dir(name)
        try:
            with file_lock(os.path.join(folder, LOCK_FILE)):
                if not os.path.exists(os.path.join(folder, META)):
                    raise no_such_registered_model(name)
                yield folder
        except LockedAway:
            raise no_such_registered_model(name) from None

    # -- reading ---------------------------------------------------------------------

    def _read_model_meta(self, folder: str) -> dict[str, Any] | None:
        return load_yaml(read_text(os.path.join(folder, META)))

    def _aliases(self, folder: str) -> dict[str, str]:
        return {alias: version.strip() for alias, version in key_files(os.path.join(folder, ALIASES)).items()}

    def _version_entity(
        self, name: str, meta: dict[str, Any], folder: str, aliases: dict[str, str]
    ) -> ModelVersion:
        version = int(meta.get("version") or os.path.basename(folder)[len(VERSION_PREFIX) :])
        tags = key_files(os.path.join(folder, TAGS))
        params: Any = None
        metrics: Any = None
        model_id = meta.get("model_id")
        if model_id and self._logged_model_data is not None:
            found = self._logged_model_data(str(model_id))
            if found is not None:
                params, metrics = found
        return ModelVersion(
            name=name,
            version=int(version),  # as MLflow's local stores give it (its REST store: a string)
            creation_timestamp=meta.get("creation_timestamp"),  # type: ignore[arg-type]
            last_updated_timestamp=meta.get("last_updated_timestamp"),
            description=meta.get("description"),
            user_id=meta.get("user_id"),
            current_stage=meta.get("current_stage"),
            source=meta.get("source"),
            run_id=meta.get("run_id"),
            status=meta.get("status") or "READY",
            status_message=meta.get("status_message"),
            tags=[ModelVersionTag(k, v) for k, v in tags.items()],
            run_link=meta.get("run_link"),
            aliases=[alias for alias, v in aliases.items() if v == str(version)],
            model_id=model_id,
            params=params,
            metrics=metrics,
        )

    def _version_metas(self, folder: str) -> list[tuple[str, dict[str, Any]]]:
        """``(version folder, meta)`` of every version of a model, deleted ones included."""
        found = []
        for entry in list_dir(folder):
            if entry.name.startswith(VERSION_PREFIX) and entry.is_dir():
                meta = load_yaml(read_text(os.path.join(entry.path, META)))
                if meta is not None:
                    found.append((entry.path, meta))
        return found

    def _live_versions(self, name: str, folder: str) -> list[ModelVersion]:
        aliases = self._aliases(folder)
        return [
            self._version_entity(name, meta, path, aliases)
            for path, meta in self._version_metas(folder)
            if meta.get("current_stage") != STAGE_DELETED_INTERNAL
        ]

    def _latest_per_stage(
        self, versions: Sequence[ModelVersion], stages: Sequence[str]
    ) -> list[ModelVersion]:
        latest: dict[str, ModelVersion] = {}
        for mv in versions:
            stage = mv.current_stage or ""
            if stage in stages and (stage not in latest or int(latest[stage].version) < int(mv.version)):
                latest[stage] = mv
        return [latest[stage] for stage in stages if stage in latest]

    def _model_entity(self, name: str, folder: str) -> RegisteredModel | None:
        meta = self._read_model_meta(folder)
        if meta is None:
            return None
        aliases = self._aliases(folder)
        versions = self._live_versions(name, folder)
        return RegisteredModel(
            name=name,
            creation_timestamp=meta.get("creation_timestamp"),
            last_updated_timestamp=meta.get("last_updated_timestamp"),
            description=meta.get("description"),
            latest_versions=self._latest_per_stage(versions, ALL_STAGES),
            tags=[RegisteredModelTag(k, v) for k, v in key_files(os.path.join(folder, TAGS)).items()],
            aliases=[RegisteredModelAlias(alias, version) for alias, version in aliases.items()],
            deployment_job_id=meta.get("deployment_job_id"),
        )

    def get_model(self, name: str) -> RegisteredModel:
        model = self._model_entity(name, self.model_dir(name))
        if model is None:
            raise no_such_registered_model(name)
        return model

    def _names(self, only: set[str] | None) -> list[str]:
        """The model folders to read: all of them, or those of ``only`` that exist."""
        if only is None:
            return subdirs(self.models)
        return [
            n
            for n in sorted(only)
            if n
            and not n.startswith(".")
            and "/" not in n
            and os.sep not in n
            and os.path.isdir(self.model_dir(n))
        ]

    def list_models(self, only: set[str] | None = None) -> list[RegisteredModel]:
        """Every registered model, or those named in ``only`` (a folder without
        ``meta.yaml`` is not one yet)."""
        models = []
        for name in self._names(only):
            model = self._model_entity(name, self.model_dir(name))
            if model is not None:
                models.append(model)
        return models

    def list_versions(self, only: set[str] | None = None) -> list[ModelVersion]:
        """Every model version not deleted, of every registered model or of those named in
        ``only``."""
        versions: list[ModelVersion] = []
        for name in self._names(only):
            folder = self.model_dir(name)
            if os.path.exists(os.path.join(folder, META)):
                versions.extend(self._live_versions(name, folder))
        return versions

    def latest_versions(self, name: str, stages: Sequence[str]) -> list[ModelVersion]:
        folder = self.model_dir(name)
        if not os.path.exists(os.path.join(folder, META)):
            raise no_such_registered_model(name)
        return self._latest_per_stage(self._live_versions(name, folder), stages)

    def _version_meta(self, name: str, version: int) -> tuple[str, dict[str, Any]]:
        folder = self.model_dir(name)
        if not os.path.exists(os.path.join(folder, META)):
            raise no_such_registered_model(name)
        path = self._version_dir(name, version)
        meta = load_yaml(read_text(os.path.join(path, META)))
        if meta is None or meta.get("current_stage") == STAGE_DELETED_INTERNAL:
            raise no_such_model_version(name, version)
        return path, meta

    def get_version(self, name: str, version: int) -> ModelVersion:
        path, meta = self._version_meta(name, version)
        return self._version_entity(name, meta, path, self._aliases(self.model_dir(name)))

    def download_uri(self, name: str, version: int) -> str:
        _path, meta = self._version_meta(name, version)
        return str(meta.get("storage_location") or meta.get("source") or "")

    def version_by_alias(self, name: str, alias: str) -> ModelVersion:
        folder = self.model_dir(name)
        if not os.path.exists(os.path.join(folder, META)):
            raise no_such_registered_model(name)
        target = self._aliases(folder).get(alias)
        if target is None:
            raise alias_not_found(alias)
        return self.get_version(name, int(target))

    # -- writing: registered models ----------------------------------------------------

    def _write_model_meta(self, folder: str, meta: dict[str, Any]) -> None:
        write_atomic(os.path.join(folder, META), dump_yaml(meta), folder)

    def _touch_model(self, folder: str, when: int, **changes: Any) -> dict[str, Any]:
        """Rewrite a model's ``meta.yaml`` with a new update time (and ``changes``)."""
        meta = self._read_model_meta(folder) or {}
        meta.update(changes)
        meta["last_updated_timestamp"] = when
        meta["aliases"] = self._aliases(folder)
        self._write_model_meta(folder, meta)
        return meta

    def create_model(
        self,
        name: str,
        tags: Sequence[RegisteredModelTag],
        description: str | None,
        deployment_job_id: str | None = None,
    ) -> RegisteredModel:
        with self._registry_lock():
            folder = self.model_dir(name)
            if os.path.exists(os.path.join(folder, META)):
                raise registered_model_exists(name)
            if os.path.isdir(folder):  # left by a crash before its meta.yaml was written
                remove_tree(folder)  # or after it was removed by a delete
            os.makedirs(folder, exist_ok=True)
            with file_lock(os.path.join(folder, LOCK_FILE)):
                now = now_ms()
                for tag in tags:
                    write_atomic(safe_join(os.path.join(folder, TAGS), tag.key), tag.value or "", folder)
                # meta.yaml last: the model exists for readers once it is there
                self._write_model_meta(
                    folder, registered_model_meta(name, now, now, description, {}, deployment_job_id)
                )
        return self.get_model(name)

    def update_model(
        self, name: str, description: str | None, deployment_job_id: str | None = None
    ) -> RegisteredModel:
        with self._model_lock(name) as folder:
            changes: dict[str, Any] = {"description": description}
            if deployment_job_id is not None:
                changes["deployment_job_id"] = deployment_job_id or None
            self._touch_model(folder, now_ms(), **changes)
        return self.get_model(name)

    def rename_model(self, name: str, new_name: str) -> RegisteredModel:
        with self._registry_lock(), self._model_lock(name) as folder:
            target = self.model_dir(new_name)
            if os.path.exists(os.path.join(target, META)):
                raise registered_model_exists(new_name)
            if os.path.isdir(target):  # an empty folder left by a crash
                remove_tree(target)
            os.rename(folder, target)
            now = now_ms()
            # the folder name is what readers trust; the metas follow
            self._touch_model(target, now, name=new_name)
            for path, meta in self._version_metas(target):
                meta["name"] = new_name
                meta["last_updated_timestamp"] = now
                write_atomic(os.path.join(path, META), dump_yaml(meta), path)
        return self.get_model(new_name)

    def delete_model(self, name: str) -> None:
        with self._registry_lock(), self._model_lock(name) as folder:
            # Without its meta.yaml the folder is no model any more (one atomic step); what
            # a crash leaves of the rest is cleared by the next create of the name.
            os.remove(os.path.join(folder, META))
            remove_tree(folder)

    def set_model_tag(self, name: str, key: str, value: str) -> None:
        with self._model_lock(name) as folder:
            write_atomic(safe_join(os.path.join(folder, TAGS), key), value, folder)
            self._touch_model(folder, now_ms())

    def delete_model_tag(self, name: str, key: str) -> None:
        with self._model_lock(name) as folder:
            path = safe_join(os.path.join(folder, TAGS), key)
            if os.path.isfile(path):
                os.remove(path)
                self._touch_model(folder, now_ms())

    # -- writing: versions ---------------------------------------------------------------

    def create_version(
        self,
        name: str,
        source: str,
        storage_location: str,
        run_id: str | None,
        tags: Sequence[ModelVersionTag],
        run_link: str | None,
        description: str | None,
        model_id: str | None,
    ) -> ModelVersion:
        with self._model_lock(name) as folder:
            numbers = [int(meta.get("version") or 0) for _path, meta in self._version_metas(folder)]
            numbers += [
                int(entry.name[len(VERSION_PREFIX) :])
                for entry in list_dir(folder)
                if entry.name.startswith(VERSION_PREFIX) and entry.name[len(VERSION_PREFIX) :].isdigit()
            ]
            version = max(numbers, default=0) + 1
            now = now_ms()
            staging = new_temp_dir(folder, version_dir_name(version))
            try:
                for tag in tags:
                    write_atomic(safe_join(os.path.join(staging, TAGS), tag.key), tag.value or "", staging)
                meta = model_version_meta(
                    name=name,
                    version=version,
                    creation_timestamp=now,
                    last_updated_timestamp=now,
                    description=description,
                    current_stage=STAGE_NONE,
                    source=source,
                    storage_location=storage_location,
                    run_id=run_id,
                    run_link=run_link,
                    model_id=model_id,
                )
                write_atomic(os.path.join(staging, META), dump_yaml(meta), staging)
                os.rename(staging, self._version_dir(name, version))
            except BaseException:
                remove_tree(staging)
                raise
            self._touch_model(folder, now)
        return self.get_version(name, version)

    def _rewrite_version(self, name: str, version: int, when: int, **changes: Any) -> None:
        path, meta = self._version_meta(name, version)
        meta.update(changes)
        meta["last_updated_timestamp"] = when
        write_atomic(os.path.join(path, META), dump_yaml(meta), path)

    def update_version(self, name: str, version: int, description: str | None) -> ModelVersion:
        with self._model_lock(name):
            self._rewrite_version(name, version, now_ms(), description=description)
        return self.get_version(name, version)

    def transition_stage(
        self, name: str, version: int, stage: str, archive_existing_versions: bool
    ) -> ModelVersion:
        """Move a version to ``stage`` (canonical spelling); with ``archive_existing_versions``
        the other versions in that stage go to Archived."""
        with self._model_lock(name) as folder:
            self._version_meta(name, version)  # refuses an unknown version before any change
            now = now_ms()
            if archive_existing_versions:
                for path, meta in self._version_metas(folder):
                    if int(meta.get("version") or 0) != version and meta.get("current_stage") == stage:
                        meta["current_stage"] = STAGE_ARCHIVED
                        meta["last_updated_timestamp"] = now
                        write_atomic(os.path.join(path, META), dump_yaml(meta), path)
            self._rewrite_version(name, version, now, current_stage=stage)
            self._touch_model(folder, now)
        return self.get_version(name, version)

    def delete_version(self, name: str, version: int) -> None:
        """Mark a version deleted (its number is never given again) and drop its aliases."""
        with self._model_lock(name) as folder:
            now = now_ms()
            self._rewrite_version(name, version, now, current_stage=STAGE_DELETED_INTERNAL)
            for alias, target in self._aliases(folder).items():
                if target == str(version):
                    with contextlib.suppress(FileNotFoundError):
                        os.remove(safe_join(os.path.join(folder, ALIASES), alias))
            self._touch_model(folder, now)

    def set_version_tag(self, name: str, version: int, key: str, value: str) -> None:
        with self._model_lock(name) as folder:
            path, _meta = self._version_meta(name, version)
            write_atomic(safe_join(os.path.join(path, TAGS), key), value, path)
            self._touch_model(folder, now_ms())

    def delete_version_tag(self, name: str, version: int, key: str) -> None:
        with self._model_lock(name) as folder:
            path, _meta = self._version_meta(name, version)
            tag_path = safe_join(os.path.join(path, TAGS), key)
            if os.path.isfile(tag_path):
                os.remove(tag_path)
                self._touch_model(folder, now_ms())

    # -- writing: aliases ----------------------------------------------------------------

    def set_alias(self, name: str, alias: str, version: int) -> None:
        with self._model_lock(name) as folder:
            self._version_meta(name, version)
            write_atomic(safe_join(os.path.join(folder, ALIASES), alias), str(version), folder)
            self._touch_model(folder, now_ms())

    def delete_alias(self, name: str, alias: str) -> None:
        with self._model_lock(name) as folder:
            path = safe_join(os.path.join(folder, ALIASES), alias)
            if os.path.isfile(path):
                os.remove(path)
                self._touch_model(folder, now_ms())
