"""The copy primitives of the file registry (capability ``import``): models, versions and
aliases written exactly as given, under the same locks as every other change.

A version number the source gave to a version since deleted is kept as MLflow's file
store keeps a deleted version: a ``version-N`` folder whose stage is
``Deleted_Internal``, hidden from every read, so the next version created gets N + 1.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

from tracklet.entities.model_registry import ModelVersion, RegisteredModel
from tracklet.entities.model_registry.model_version_stages import STAGE_DELETED_INTERNAL
from tracklet.stores.registry import no_such_model_version, no_such_registered_model

from ._fsio import file_lock, list_dir, new_temp_dir, read_text, remove_tree, write_atomic
from ._layout import (
    ALIASES,
    LOCK_FILE,
    META,
    TAGS,
    VERSION_PREFIX,
    dump_yaml,
    load_yaml,
    model_version_meta,
    registered_model_meta,
    safe_join,
    version_dir_name,
)
from ._registry import RegistryFolder

__all__ = ["import_aliases", "import_model", "import_version", "last_version_number"]


def _numbers(folder: str) -> list[int]:
    """Every version number with a folder, deleted versions included."""
    return [
        int(entry.name[len(VERSION_PREFIX) :])
        for entry in list_dir(folder)
        if entry.name.startswith(VERSION_PREFIX) and entry.name[len(VERSION_PREFIX) :].isdigit()
    ]


def last_version_number(registry: RegistryFolder, name: str) -> int:
    folder = registry.model_dir(name)
    if not os.path.exists(os.path.join(folder, META)):
        raise no_such_registered_model(name)
    return max(_numbers(folder), default=0)


def _replace_keys(folder: str, sub: str, values: dict[str, str]) -> None:
    """Make the key files under ``folder/sub`` exactly ``values``."""
    remove_tree(os.path.join(folder, sub))
    for key, value in values.items():
        write_atomic(safe_join(os.path.join(folder, sub), key), value or "", folder)


def _write_version_dir(
    registry: RegistryFolder, name: str, number: int, meta: dict[str, Any], tags: dict[str, str]
) -> None:
    """Write version ``number``'s folder whole: in place when it exists, else staged and
    renamed into place (a reader never sees a version without its meta)."""
    folder = registry.model_dir(name)
    target = os.path.join(folder, version_dir_name(number))
    if os.path.isdir(target):
        _replace_keys(target, TAGS, tags)
        write_atomic(os.path.join(target, META), dump_yaml(meta), target)
        return
    staging = new_temp_dir(folder, version_dir_name(number))
    try:
        _replace_keys(staging, TAGS, tags)
        write_atomic(os.path.join(staging, META), dump_yaml(meta), staging)
        os.rename(staging, target)
    except BaseException:
        remove_tree(staging)
        raise


def import_model(registry: RegistryFolder, model: RegisteredModel, last_version: int) -> None:
    os.makedirs(registry.models, exist_ok=True)
    with file_lock(os.path.join(registry.models, LOCK_FILE)):
        folder = registry.model_dir(model.name)
        os.makedirs(folder, exist_ok=True)
        with file_lock(os.path.join(folder, LOCK_FILE)):
            _replace_keys(folder, TAGS, dict(model.tags))
            aliases = {alias: str(v) for alias, v in registry._aliases(folder).items()}
            meta = registered_model_meta(
                model.name,
                model.creation_timestamp,
                model.last_updated_timestamp,
                model.description,
                aliases,
                model.deployment_job_id,
            )
            write_atomic(os.path.join(folder, META), dump_yaml(meta), folder)
            if last_version > max(_numbers(folder), default=0):
                _write_version_dir(registry, model.name, last_version, _deleted_meta(model, last_version), {})


def _deleted_meta(model: RegisteredModel, number: int) -> dict[str, Any]:
    """A deleted version's meta, as MLflow's file store leaves one."""
    when = int(model.last_updated_timestamp or model.creation_timestamp or 0)
    return model_version_meta(
        name=model.name,
        version=number,
        creation_timestamp=when,
        last_updated_timestamp=when,
        description=None,
        current_stage=STAGE_DELETED_INTERNAL,
        source="REDACTED-SOURCE-PATH",
        storage_location="REDACTED-SOURCE-PATH",
        run_id="REDACTED-RUN-ID",
        run_link="REDACTED-RUN-LINK",
        model_id=None,
    )


@contextlib.contextmanager
def _locked_model(registry: RegistryFolder, name: str) -> Any:
    folder = registry.model_dir(name)
    if not os.path.exists(os.path.join(folder, META)):
        raise no_such_registered_model(name)
    with file_lock(os.path.join(folder, LOCK_FILE)):
        yield folder


def import_version(
    registry: RegistryFolder, version: ModelVersion, number: int, storage_location: str
) -> None:
    meta = model_version_meta(
        name=version.name,
        version=number,
        creation_timestamp=int(version.creation_timestamp),
        last_updated_timestamp=int(version.last_updated_timestamp or version.creation_timestamp),
        description=version.description,
        current_stage=str(version.current_stage),
        source=str(version.source),
        storage_location=storage_location,
        run_id=version.run_id,
        run_link=version.run_link,
        model_id=version.model_id,
        user_id=version.user_id,
        status=version.status or "READY",
        status_message=version.status_message,
    )
    with _locked_model(registry, version.name):
        _write_version_dir(registry, version.name, number, meta, dict(version.tags))


def import_aliases(registry: RegistryFolder, name: str, aliases: dict[str, int]) -> None:
    with _locked_model(registry, name) as folder:
        for number in set(aliases.values()):
            meta = load_yaml(read_text(os.path.join(folder, version_dir_name(number), META)))
            if meta is None or meta.get("current_stage") == STAGE_DELETED_INTERNAL:
                raise no_such_model_version(name, number)
        _replace_keys(folder, ALIASES, {alias: str(number) for alias, number in aliases.items()})
        model_meta = load_yaml(read_text(os.path.join(folder, META))) or {}
        model_meta["aliases"] = {alias: str(number) for alias, number in aliases.items()}
        write_atomic(os.path.join(folder, META), dump_yaml(model_meta), folder)
